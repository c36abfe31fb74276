// Package mime owns the tolerant, streaming walk over a message's MIME
// structure (RFC 2045, RFC 2046) that content scanning runs on: every leaf
// part with its content type, file name and decoded content as a stream,
// within limits on nesting depth, part count and header size, and without
// failing on broken mail. The message is read once, front to back; nothing
// of it is held whole in memory (a part's header of at most MaxHeaderBytes
// at a time). Malformed structure is reported (Summary.Broken, with the
// defects) rather than refused: content after a structural fault may not
// have been walked, and deciding what that means is the caller's policy
// (engine/content treats it as suspect).
package mime

import (
	"bufio"
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
	MaxDepth int // nested multiparts and message/rfc822; default 16
	MaxParts int // leaf parts; default 256
	// MaxHeaderBytes bounds one header section (of the message or of a
	// part) with its boundary line; default 1 MiB. A longer one is a defect.
	MaxHeaderBytes int64
}

func (l Limits) withDefaults() Limits {
	if l.MaxDepth <= 0 {
		l.MaxDepth = 16
	}
	if l.MaxParts <= 0 {
		l.MaxParts = 256
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = 1 << 20
	}
	return l
}

// ErrTooDeep and ErrTooManyParts are returned (wrapped) when the message
// exceeds Limits; the parts seen before are still walked.
var (
	ErrTooDeep      = errors.New("mime: nesting too deep")
	ErrTooManyParts = errors.New("mime: too many parts")
)

// errHeaderTooLong is the defect of a header section over MaxHeaderBytes.
var errHeaderTooLong = errors.New("header section too long")

// Part is one leaf of the MIME tree.
type Part struct {
	Index       int    // 0-based order of the leaf
	Depth       int    // 0 for a single-part message
	ContentType string // lower-case media type, "text/plain" when absent or invalid
	Filename    string // from Content-Disposition filename or Content-Type name; may be empty
	Attachment  bool   // Content-Disposition: attachment, or a file name is present
	// Message numbers the enclosed message (message/rfc822, RFC 2046
	// §5.2.1) the leaf belongs to, innermost first, from 1 in the order
	// the enclosed messages begin; 0 for the top-level message's own
	// parts. MessageHeader is that enclosed message's header.
	Message       int
	MessageHeader textproto.Header
	// Body is the decoded content (Content-Transfer-Encoding undone, text
	// in UTF-8), valid only during the callback; what the callback leaves
	// unread is skipped. A decoding error is also recorded as a defect.
	Body io.Reader
}

// Summary describes the whole message.
type Summary struct {
	Header textproto.Header // top-level header
	Parts  int
	// Broken is set when some part could not be parsed as declared (bad
	// boundaries, bad encoding, bad or oversized header, unparsable
	// Content-Type): content after the fault may not have been walked, or
	// not as a mail reader would show it.
	Broken bool
	// Defects say what was broken (at most 16), for logs.
	Defects []string
}

func (s *Summary) defect(format string, a ...any) {
	s.Broken = true
	if len(s.Defects) < 16 {
		s.Defects = append(s.Defects, fmt.Sprintf(format, a...))
	}
}

// Walk reads the message from r and calls fn for every leaf part in order.
// An error from fn stops the walk and is returned, as is an error reading
// r. Limits violations return an error wrapping ErrTooDeep or
// ErrTooManyParts after walking what fits.
func Walk(r io.Reader, lim Limits, fn func(*Part) error) (Summary, error) {
	lim = lim.withDefaults()
	w := &walker{lim: lim, fn: fn, src: &source{r: r}}
	br := bufio.NewReader(w.src)
	w.src.window(lim.MaxHeaderBytes)
	h, err := textproto.ReadHeader(br)
	w.src.window(0)
	if err := w.src.failed(); err != nil {
		return w.sum, err
	}
	if err != nil {
		w.sum.defect("message header: %v", headerErr(err))
		// Walk the rest as one opaque leaf, so that what follows the
		// broken line is still inspected.
		w.sum.Header = h
		return w.sum, w.leaf(textproto.Header{}, br, 0)
	}
	w.sum.Header = h
	err = w.entity(h, br, 0)
	if serr := w.src.failed(); serr != nil {
		return w.sum, serr
	}
	return w.sum, err
}

// source is the message reader: it counts the bytes a header section may
// take (window) and keeps the first read error, which is the caller's
// (a deadline, a budget), not the message's.
type source struct {
	r      io.Reader
	left   int64 // bytes left in the current window; <0: no window
	err    error
	inWin  bool
	overed bool
}

func (s *source) window(n int64) {
	s.inWin, s.left, s.overed = n > 0, n, false
}

func (s *source) Read(p []byte) (int, error) {
	if s.inWin {
		if s.left <= 0 {
			s.overed = true
			return 0, errHeaderTooLong
		}
		if int64(len(p)) > s.left {
			p = p[:s.left]
		}
	}
	n, err := s.r.Read(p)
	if s.inWin {
		s.left -= int64(n)
	}
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

func (s *source) failed() error { return s.err }

func headerErr(err error) error {
	if errors.Is(err, errHeaderTooLong) {
		return errHeaderTooLong
	}
	return err
}

type walker struct {
	lim Limits
	fn  func(*Part) error
	sum Summary
	src *source
	// msgs are the enclosed messages the walk is inside, innermost last;
	// nmsg counts those begun.
	msgs []enclosed
	nmsg int
}

type enclosed struct {
	n int
	h textproto.Header
}

func (w *walker) entity(h textproto.Header, body io.Reader, depth int) error {
	if depth > w.lim.MaxDepth {
		return fmt.Errorf("%w: depth %d", ErrTooDeep, depth)
	}
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		mt = "text/plain"
		if ct := h.Get("Content-Type"); ct != "" {
			w.sum.defect("unparsable Content-Type %.80q", ct)
			// A reader that makes sense of it may see a structure this
			// walk cannot: look at the raw bytes as one part at least.
			if strings.HasPrefix(strings.ToLower(strings.TrimSpace(ct)), "multipart/") {
				return w.leaf(textproto.Header{}, body, depth)
			}
		}
	}
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		if params["boundary"] == "" {
			w.sum.defect("%s without a boundary", mt)
			return w.leaf(textproto.Header{}, body, depth)
		}
		// Multipart bodies are not transfer-encoded (RFC 2046 §5.1 allows
		// only 7bit, 8bit and binary), so the raw parts are walked and each
		// leaf decodes its own Content-Transfer-Encoding once.
		mr := textproto.NewMultipartReader(body, params["boundary"])
		for {
			w.src.window(w.lim.MaxHeaderBytes)
			p, err := mr.NextPart()
			over := w.src.overed
			w.src.window(0)
			if w.src.failed() != nil {
				return nil
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				// Bad boundary or part header: the rest of this multipart
				// is not walked.
				if over {
					err = errHeaderTooLong
				}
				w.sum.defect("multipart part %d: %v", w.sum.Parts, err)
				return nil
			}
			if err := w.entity(p.Header, p, depth+1); err != nil {
				return err
			}
			if _, err := io.Copy(io.Discard, p); err != nil && w.src.failed() == nil {
				w.sum.defect("multipart part: %v", err)
				return nil
			}
		}
	case mt == "message/rfc822" || mt == "message/global":
		dec, err := decoded(h, body)
		if err != nil {
			w.sum.defect("message part: %v", err)
		}
		br := bufio.NewReader(dec)
		w.src.window(w.lim.MaxHeaderBytes)
		ih, err := textproto.ReadHeader(br)
		w.src.window(0)
		if err != nil {
			if w.src.failed() != nil {
				return nil
			}
			w.sum.defect("enclosed message header: %v", headerErr(err))
			return w.leaf(h, br, depth)
		}
		w.nmsg++
		w.msgs = append(w.msgs, enclosed{n: w.nmsg, h: ih})
		defer func() { w.msgs = w.msgs[:len(w.msgs)-1] }()
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

// decodeWatch records a decoding error of the part's content as a defect.
type decodeWatch struct {
	r   io.Reader
	w   *walker
	idx int
	bad bool
}

func (d *decodeWatch) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && err != io.EOF && !d.bad && d.w.src.failed() == nil {
		d.bad = true
		d.w.sum.defect("part %d content: %v", d.idx, err)
	}
	return n, err
}

func (w *walker) leaf(h textproto.Header, body io.Reader, depth int) error {
	if w.sum.Parts >= w.lim.MaxParts {
		return fmt.Errorf("%w: more than %d", ErrTooManyParts, w.lim.MaxParts)
	}
	p := &Part{Index: w.sum.Parts, Depth: depth, ContentType: "text/plain"}
	if n := len(w.msgs); n > 0 {
		p.Message, p.MessageHeader = w.msgs[n-1].n, w.msgs[n-1].h
	}
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
	} else if d := h.Get("Content-Disposition"); d != "" {
		w.sum.defect("part %d: unparsable Content-Disposition %.80q", p.Index, d)
	}
	if p.Filename != "" {
		p.Attachment = true
	}
	dec, err := decoded(h, body)
	if err != nil {
		w.sum.defect("part %d: %v", p.Index, err)
	}
	p.Body = &decodeWatch{r: dec, w: w, idx: p.Index}
	if err := w.fn(p); err != nil {
		return err
	}
	// Skip what the callback left, raw (no decoding work for bytes no one
	// looks at).
	_, _ = io.Copy(io.Discard, body)
	return nil
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
