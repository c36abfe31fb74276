package store

import (
	"bufio"
	"bytes"
	"io"
	"mime"
	"strings"
	"time"
)

// A mailbox's messages as people see them: the header block of a stored
// message (RFC 5322 §2.2, the helpdesk reads no body) and the mailbox as
// an mboxrd file (a departing user's export).

// HeadBytes bounds how much of a body is read for its header block: a
// header longer than this is shown cut.
const HeadBytes = 64 << 10

// MaxHeaderFields bounds the fields parsed from one header block.
const MaxHeaderFields = 1000

// HeaderField is one header field: its name as written and its value
// unfolded, RFC 2047 encoded words decoded where the charset is known.
type HeaderField struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// HeaderBlock is the header block of a message: up to its first empty line
// (or all of b when it has none, e.g. a head cut at HeadBytes).
func HeaderBlock(b []byte) []byte {
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return b
		}
		line := b[i : i+j]
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			return b[:i]
		}
		i += j + 1
	}
	return b
}

// ParseHeader parses the header block at the start of b into its fields,
// in order, at most MaxHeaderFields. Lines that are not fields (no colon)
// are skipped.
func ParseHeader(b []byte) []HeaderField {
	var out []HeaderField
	dec := mime.WordDecoder{}
	flush := func(raw string) {
		name, value, ok := strings.Cut(raw, ":")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, " \t") {
			return
		}
		value = strings.TrimSpace(value)
		if d, err := dec.DecodeHeader(value); err == nil {
			value = d
		}
		out = append(out, HeaderField{Name: name, Value: value})
	}
	var cur strings.Builder
	for _, line := range strings.Split(string(HeaderBlock(b)), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line != "" && (line[0] == ' ' || line[0] == '\t') && cur.Len() > 0 {
			cur.WriteString(" ")
			cur.WriteString(strings.TrimLeft(line, " \t"))
			continue
		}
		if cur.Len() > 0 {
			flush(cur.String())
			cur.Reset()
			if len(out) >= MaxHeaderFields {
				return out
			}
		}
		cur.WriteString(line)
	}
	if cur.Len() > 0 && len(out) < MaxHeaderFields {
		flush(cur.String())
	}
	return out
}

// Get returns the value of the first field named name (any case), or "".
func Get(h []HeaderField, name string) string {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// MboxWriter writes messages as an mboxrd file
// (https://www.loc.gov/preservation/digital/formats/fdd/fdd000385.shtml):
// each message after a "From sender date" line, with lines ending in LF,
// every line that starts with zero or more '>' and "From " quoted with one
// more '>', and an empty line after each message. It holds one line at a
// time, not the mailbox.
type MboxWriter struct {
	w *bufio.Writer
}

// NewMboxWriter writes to w.
func NewMboxWriter(w io.Writer) *MboxWriter { return &MboxWriter{w: bufio.NewWriterSize(w, 64<<10)} }

// Write writes one message: sender is the envelope sender ("" or one with
// spaces becomes MAILER-DAEMON), at its arrival (written in UTC, asctime
// format) and body the message as stored.
func (m *MboxWriter) Write(sender string, at time.Time, body []byte) error {
	if sender == "" || strings.ContainsAny(sender, " \t\r\n") {
		sender = "MAILER-DAEMON"
	}
	m.w.WriteString("From " + sender + " " + at.UTC().Format(time.ANSIC) + "\n")
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if isFromLine(line) {
			m.w.WriteByte('>')
		}
		m.w.Write(line)
		if err := m.w.WriteByte('\n'); err != nil {
			return err
		}
	}
	return m.w.WriteByte('\n')
}

// Flush writes what is buffered.
func (m *MboxWriter) Flush() error { return m.w.Flush() }

// isFromLine reports whether line is ">*From ".
func isFromLine(line []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(line, ">"), []byte("From "))
}
