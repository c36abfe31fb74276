package txlogstore

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/storage"
)

// copyBuf encodes rows in PostgreSQL's binary COPY format
// (https://www.postgresql.org/docs/current/sql-copy.html, "Binary Format")
// for the collectors' three logs. pgx's generic CopyFrom boxed every value
// in an interface and planned its encoding per value: about a third of the
// import's own CPU time. The column types here must match the
// CREATE TABLE statements of the collectors migration exactly (BIGINT: 8
// bytes, INTEGER: 4, SMALLINT: 2, DOUBLE PRECISION: 8, TEXT: the bytes);
// the conformance tests read every column back.
type copyBuf struct {
	b []byte
}

var copyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

func (c *copyBuf) reset() {
	c.b = append(c.b[:0], copyHeader...)
}

func (c *copyBuf) tuple(n int) { c.b = binary.BigEndian.AppendUint16(c.b, uint16(n)) }

func (c *copyBuf) i64(v int64) {
	c.b = binary.BigEndian.AppendUint32(c.b, 8)
	c.b = binary.BigEndian.AppendUint64(c.b, uint64(v))
}

func (c *copyBuf) i32(v int32) {
	c.b = binary.BigEndian.AppendUint32(c.b, 4)
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(v))
}

func (c *copyBuf) i16(v int16) {
	c.b = binary.BigEndian.AppendUint32(c.b, 2)
	c.b = binary.BigEndian.AppendUint16(c.b, uint16(v))
}

func (c *copyBuf) f64(v float64) {
	c.b = binary.BigEndian.AppendUint32(c.b, 8)
	c.b = binary.BigEndian.AppendUint64(c.b, math.Float64bits(v))
}

func (c *copyBuf) text(s string) {
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		s = pgText(s)
	}
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(len(s)))
	c.b = append(c.b, s...)
}

// pgText makes s acceptable as PostgreSQL text: a log line may carry bytes
// that are not UTF-8 (a raw 8-bit subject) or NUL, which would fail the
// whole COPY batch. Invalid bytes become U+FFFD; NULs are dropped.
func pgText(s string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}

// lower writes strings.ToLower(s) without allocating when s is ASCII.
func (c *copyBuf) lower(s string) {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf || s[i] == 0 {
			ascii = false
			break
		}
	}
	if !ascii {
		c.text(strings.ToLower(s))
		return
	}
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(len(s)))
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if 'A' <= ch && ch <= 'Z' {
			ch += 'a' - 'A'
		}
		c.b = append(c.b, ch)
	}
}

func (c *copyBuf) reader() *bytes.Reader {
	c.b = binary.BigEndian.AppendUint16(c.b, 0xffff) // trailer: -1
	return bytes.NewReader(c.b)
}

// txCopy appends r in the order of txColumns (as appendTx).
func (c *copyBuf) txRow(r *txlog.Row) {
	c.tuple(len(txColumns))
	c.i64(storage.Micros(r.Time))
	c.text(r.Node)
	c.text(r.Source)
	c.text(string(r.Direction))
	c.text(r.MsgKey)
	c.text(r.QueueID)
	c.text(r.MessageID)
	c.lower(r.MailFrom)
	c.lower(r.Rcpt)
	c.lower(r.OrigRcpt)
	c.text(r.HeaderFrom)
	c.text(r.Subject)
	c.text(r.HeaderDate)
	c.i64(r.Size)
	c.text(r.ClientIP)
	c.text(r.ClientName)
	c.text(r.Helo)
	c.text(r.AuthUser)
	c.text(r.SpamScore)
	c.text(r.AVVerdict)
	c.text(r.Status)
	c.text(r.Stage)
	c.i32(int32(r.Code))
	c.text(r.DSN)
	c.text(r.Reply)
	c.text(r.Relay)
	c.text(r.Agent)
	c.i16(b2i(r.Handoff))
	c.f64(r.Delay)
	c.text(r.Delays)
}

// msgRow appends m in the order of msgColumns (as appendMsg).
func (c *copyBuf) msgRow(m *txlog.MessageRow) {
	first := ""
	if len(m.QueueIDs) > 0 {
		first = m.QueueIDs[0]
	}
	c.tuple(len(msgColumns))
	c.i64(storage.Micros(m.FirstSeen))
	c.i64(storage.Micros(m.LastSeen))
	c.text(m.Node)
	c.text(m.Source)
	c.text(string(m.Direction))
	c.text(m.MsgKey)
	c.text(m.Origin)
	c.text(m.Service)
	c.text(m.State)
	// queue_ids: strings.Join(m.QueueIDs, " ") without the allocation,
	// unless an ID needs text's cleaning
	n, clean := 0, true
	for i, q := range m.QueueIDs {
		if i > 0 {
			n++
		}
		n += len(q)
		clean = clean && utf8.ValidString(q) && strings.IndexByte(q, 0) < 0
	}
	if clean {
		c.b = binary.BigEndian.AppendUint32(c.b, uint32(n))
		for i, q := range m.QueueIDs {
			if i > 0 {
				c.b = append(c.b, ' ')
			}
			c.b = append(c.b, q...)
		}
	} else {
		c.text(strings.Join(m.QueueIDs, " "))
	}
	c.text(first)
	c.text(m.MessageID)
	c.lower(m.MailFrom)
	c.text(m.HeaderFrom)
	c.text(m.Subject)
	c.text(m.HeaderDate)
	c.i64(m.Size)
	c.i32(int32(m.NRcpt))
	c.text(m.ClientIP)
	c.text(m.ClientName)
	c.text(m.Helo)
	c.text(m.AuthUser)
	c.text(m.SpamScore)
	c.text(m.AVVerdict)
	c.i32(int32(m.Received))
	c.text(m.AuthResults)
	c.text(m.OriginalFrom)
}

// loginRow appends l in the order of loginColumns (as appendLogin).
func (c *copyBuf) loginRow(l *txlog.Login) {
	c.tuple(len(loginColumns))
	c.i64(storage.Micros(l.Time))
	c.text(l.Node)
	c.text(l.Source)
	c.text(l.Service)
	c.text(l.User)
	c.text(l.RemoteIP)
	c.text(l.Method)
	c.text(l.Session)
	c.i16(b2i(l.TLS))
	c.i16(b2i(l.OK))
	c.text(l.Reason)
}
