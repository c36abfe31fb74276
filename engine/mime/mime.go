// Package mime owns the tolerant walk over a message's MIME structure
// (RFC 2045, RFC 2046) that content scanning runs on: every leaf part with
// its decoded body, content type and file name, within limits on nesting
// depth, part count and decoded size, and without failing on broken mail.
// Malformed structure is reported (Summary.Broken) rather than refused:
// deciding what broken mail means is the caller's policy.
package mime

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // RFC 2047 names in other charsets
	"github.com/emersion/go-message/textproto"
)

// Limits bound the walk. Zero fields take the defaults.
type Limits struct {
	MaxDepth     int   // nested multiparts and message/rfc822; default 16
	MaxParts     int   // leaf parts; default 256
	MaxPartBytes int64 // decoded bytes kept per part; default 32 MiB
}

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = 16
	}
	if l.MaxParts <= 0 {
		l.MaxParts = 256
	}
	if l.MaxPartBytes <= 0 {
		l.MaxPartBytes = 32 << 20
	}
	return l
}

// ErrTooDeep and ErrTooManyParts are returned (wrapped) when the message
// exceeds Limits; the parts seen before are still walked.
var (
	ErrTooDeep      = errors.New("mime: nesting too deep")
	ErrTooManyParts = errors.New("mime: too many parts")
)

// Part is one leaf of the MIME tree.
type Part struct {
	Index       int    // 0-based order of the leaf
	Depth       int    // 0 for a single-part message
	ContentType string // lower-case media type, "text/plain" when absent or invalid
	Filename    string // from Content-Disposition filename or Content-Type name; may be empty
	Attachment  bool   // Content-Disposition: attachment, or a file name is present
	Body        []byte // decoded (Content-Transfer-Encoding), at most MaxPartBytes
	Truncated   bool   // Body was cut at MaxPartBytes
}

// Summary describes the whole message.
type Summary struct {
	Header textproto.Header // top-level header
	Parts  int
	// Broken is set when some part could not be parsed as declared (bad
	// boundaries, bad encoding, bad header); the raw bytes were then
	// walked as one opaque part.
	Broken bool
}

// Walk parses msg and calls fn for every leaf part in order. An error from
// fn stops the walk and is returned. Limits violations return an error
// wrapping ErrTooDeep or ErrTooManyParts after walking what fits.
func Walk(msg []byte, lim Limits, fn func(*Part) error) (Summary, error) {
	lim = lim.withDefaults()
	w := &walker{lim: lim, fn: fn}
	br := bufio.NewReader(bytes.NewReader(msg))
	h, err := textproto.ReadHeader(br)
	if err != nil {
		w.sum.Broken = true
		// Treat the whole input as an opaque body.
		return w.sum, w.leaf(textproto.Header{}, bytes.NewReader(msg), 0)
	}
	w.sum.Header = h
	err = w.entity(h, br, 0)
	return w.sum, err
}

type walker struct {
	lim Limits
	fn  func(*Part) error
	sum Summary
}

func (w *walker) entity(h textproto.Header, body io.Reader, depth int) error {
	if depth > w.lim.MaxDepth {
		return fmt.Errorf("%w: depth %d", ErrTooDeep, depth)
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		mt = "text/plain"
		if h.Get("Content-Type") != "" {
			w.sum.Broken = true
		}
	}
	switch {
	case strings.HasPrefix(mt, "multipart/") && params["boundary"] != "":
		// Multipart bodies are not transfer-encoded (RFC 2046 §5.1 allows
		// only 7bit, 8bit and binary), so the raw parts are walked and each
		// leaf decodes its own Content-Transfer-Encoding once.
		mr := textproto.NewMultipartReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				// Bad boundary or part header: stop here, keep what was seen.
				w.sum.Broken = true
				return nil
			}
			if err := w.entity(p.Header, p, depth+1); err != nil {
				return err
			}
		}
	case mt == "message/rfc822" || mt == "message/global":
		dec, err := decoded(h, body)
		if err != nil {
			w.sum.Broken = true
		}
		br := bufio.NewReader(dec)
		ih, err := textproto.ReadHeader(br)
		if err != nil {
			w.sum.Broken = true
			return w.leaf(h, br, depth)
		}
		return w.entity(ih, br, depth+1)
	default:
		return w.leaf(h, body, depth)
	}
}

// decoded undoes the Content-Transfer-Encoding (RFC 2045 §6); an unknown
// encoding yields the raw bytes.
func decoded(h textproto.Header, body io.Reader) (io.Reader, error) {
	e, err := message.New(message.Header{Header: h}, body)
	if err != nil && !message.IsUnknownCharset(err) {
		if e == nil {
			return body, err
		}
		return e.Body, err
	}
	return e.Body, nil
}

func (w *walker) leaf(h textproto.Header, body io.Reader, depth int) error {
	if w.sum.Parts >= w.lim.MaxParts {
		return fmt.Errorf("%w: more than %d", ErrTooManyParts, w.lim.MaxParts)
	}
	p := &Part{Index: w.sum.Parts, Depth: depth, ContentType: "text/plain"}
	w.sum.Parts++
	if mt, params, err := mime.ParseMediaType(h.Get("Content-Type")); err == nil {
		p.ContentType = mt
		p.Filename = decodeWord(params["name"])
	}
	if disp, params, err := mime.ParseMediaType(h.Get("Content-Disposition")); err == nil {
		if fn := decodeWord(params["filename"]); fn != "" {
			p.Filename = fn
		}
		p.Attachment = disp == "attachment"
	}
	if p.Filename != "" {
		p.Attachment = true
	}
	dec, err := decoded(h, body)
	if err != nil {
		w.sum.Broken = true
	}
	b, err := io.ReadAll(io.LimitReader(dec, w.lim.MaxPartBytes+1))
	if err != nil {
		// Bad base64 or quoted-printable: keep what decoded.
		w.sum.Broken = true
	}
	if int64(len(b)) > w.lim.MaxPartBytes {
		b, p.Truncated = b[:w.lim.MaxPartBytes], true
	}
	p.Body = b
	return w.fn(p)
}

// decodeWord decodes RFC 2047 encoded words in a parameter value (common in
// file names although RFC 2231 is the standard; mime.ParseMediaType already
// handles RFC 2231).
func decodeWord(s string) string {
	if !strings.Contains(s, "=?") {
		return s
	}
	d, err := (&mime.WordDecoder{CharsetReader: message.CharsetReader}).DecodeHeader(s)
	if err != nil {
		return s
	}
	return d
}
