package content

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/uni-mail/postvakt/engine/mime"
	"github.com/uni-mail/postvakt/engine/spool"
)

// FindingKind is what the attachment walker found.
type FindingKind string

// The finding kinds, from worst to mildest.
const (
	FindingVirus     FindingKind = "virus"     // EICAR or a clamd signature
	FindingForbidden FindingKind = "forbidden" // forbidden file extension
	FindingEncrypted FindingKind = "encrypted" // encrypted archive entry: suspect
	FindingCorrupt   FindingKind = "corrupt"   // archive that does not open, or an entry that lies about its size: suspect
	// FindingUninspectable: some content could not be inspected (broken
	// MIME structure, the scan's byte, entry or depth budget, its
	// deadline): suspect, never clean.
	FindingUninspectable FindingKind = "uninspectable"
)

// Finding is one thing the walker found, with the part's file name and,
// inside an archive, the entry's path ("a.zip/b.exe").
type Finding struct {
	Kind FindingKind
	Name string
	Info string
}

// eicar is the EICAR anti-virus test file (https://www.eicar.org); it is
// assembled from two halves so this source file is not itself flagged.
var eicar = []byte(`X5O!P%@AP[4\PZX54(P^)7CC)7}$` + `EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`)

// EICARSignature is the name the built-in detector reports.
const EICARSignature = "Eicar-Test-Signature"

// HasEICAR reports whether b contains the EICAR test string.
func HasEICAR(b []byte) bool { return bytes.Contains(b, eicar) }

// eicarWriter looks for the EICAR string in a stream, across writes.
type eicarWriter struct {
	tail  []byte // the last len(eicar)-1 bytes seen
	found bool
}

func (e *eicarWriter) Write(p []byte) (int, error) {
	if e.found {
		return len(p), nil
	}
	keep := len(eicar) - 1
	if len(e.tail) > 0 {
		joint := append(e.tail, p[:min(len(p), keep)]...)
		if bytes.Contains(joint, eicar) {
			e.found = true
			return len(p), nil
		}
	}
	if bytes.Contains(p, eicar) {
		e.found = true
		return len(p), nil
	}
	if len(p) >= keep {
		e.tail = append(e.tail[:0], p[len(p)-keep:]...)
	} else {
		e.tail = append(e.tail, p...)
		if len(e.tail) > keep {
			e.tail = e.tail[len(e.tail)-keep:]
		}
	}
	return len(p), nil
}

// AttachmentPolicy inspects MIME parts.
type AttachmentPolicy struct {
	forbidden  map[string]bool
	archives   bool
	maxDepth   int
	maxEntries int
}

// NewAttachmentPolicy builds the policy from the configuration.
func NewAttachmentPolicy(c AttachmentConfig) *AttachmentPolicy {
	p := &AttachmentPolicy{forbidden: map[string]bool{}, archives: c.ScanArchives, maxDepth: c.MaxArchiveDepth,
		maxEntries: c.MaxArchiveEntries}
	if p.maxEntries <= 0 {
		p.maxEntries = 1000
	}
	for _, e := range c.ForbiddenExtensions {
		p.forbidden[strings.ToLower(e)] = true
	}
	return p
}

// Forbidden reports whether name has a forbidden extension. Trailing dots
// and spaces are ignored ("x.exe. " runs as x.exe on Windows).
func (p *AttachmentPolicy) Forbidden(name string) bool {
	name = strings.ToLower(strings.TrimRight(name, ". \t"))
	return p.forbidden[path.Ext(strings.ReplaceAll(name, "\\", "/"))]
}

// The budget errors: the scan stops and the message is uninspectable.
var (
	errScanBytes   = errors.New("scan budget exceeded: decoded and decompressed bytes")
	errScanEntries = errors.New("scan budget exceeded: archive entries")
	errScanTime    = errors.New("scan deadline passed")
)

func isBudget(err error) bool {
	return errors.Is(err, errScanBytes) || errors.Is(err, errScanEntries) || errors.Is(err, errScanTime)
}

// inspection is one message's scan: its budget (decoded and decompressed
// bytes, archive entries, the deadline of its context) checked on every
// read, and what it found. Its archive walk reads entries as streams and
// puts an archive that must be opened (zip needs random access) in scratch
// space: memory up to the spool threshold, then disk.
type inspection struct {
	ctx      context.Context
	policy   *AttachmentPolicy
	scratch  *spool.Spool
	left     int64 // bytes that may still be decoded or decompressed
	entries  int   // archive entries that may still be opened
	findings []Finding
	stop     error // the budget error that ended the scan
}

func (in *inspection) add(f Finding) { in.findings = append(in.findings, f) }

// metered counts every read against the byte budget and checks the
// deadline.
type metered struct {
	in *inspection
	r  io.Reader
}

func (m *metered) Read(p []byte) (int, error) {
	if m.in.stop != nil {
		return 0, m.in.stop
	}
	if m.in.ctx.Err() != nil {
		m.in.stop = errScanTime
		return 0, errScanTime
	}
	if int64(len(p)) > m.in.left+1 {
		p = p[:m.in.left+1]
	}
	n, err := m.r.Read(p)
	m.in.left -= int64(n)
	if m.in.left < 0 {
		m.in.stop = errScanBytes
		return n, errScanBytes
	}
	return n, err
}

func (in *inspection) meter(r io.Reader) io.Reader { return &metered{in: in, r: r} }

// part inspects one MIME part: a forbidden file name, EICAR in its content
// and, for a zip archive, its entries. text, when non-nil, receives the
// decoded content too.
func (in *inspection) part(p *mime.Part, text io.Writer) {
	pol := in.policy
	name := p.Filename
	if name != "" && pol.Forbidden(name) {
		in.add(Finding{Kind: FindingForbidden, Name: name})
	}
	br := bufio.NewReader(in.meter(p.Body))
	head, _ := br.Peek(4)
	ev := &eicarWriter{}
	w := []io.Writer{ev}
	var arch *spool.File
	if pol.archives && isZip(name, p.ContentType, head) {
		arch = in.scratch.Create()
		defer arch.Close()
		w = append(w, arch)
	}
	if text != nil {
		w = append(w, text)
	}
	_, err := io.Copy(io.MultiWriter(w...), br)
	if ev.found {
		in.add(Finding{Kind: FindingVirus, Name: name, Info: EICARSignature})
	}
	switch {
	case isBudget(err):
		return
	case err != nil && arch != nil && arch.Err() != nil:
		in.add(Finding{Kind: FindingUninspectable, Name: name, Info: "scratch space: " + err.Error()})
		return
	}
	if arch != nil {
		if name == "" {
			name = fmt.Sprintf("part%d.zip", p.Index)
		}
		in.zip(name, arch, arch.Size(), 0)
	}
}

func isZip(name, ct string, b []byte) bool {
	return strings.HasSuffix(strings.ToLower(name), ".zip") || ct == "application/zip" ||
		ct == "application/x-zip-compressed" || bytes.HasPrefix(b, []byte("PK\x03\x04"))
}

// zip inspects a zip archive (APPNOTE.TXT): every entry's name, its
// encryption flag, and its content as a stream (EICAR, and nested archives
// up to the configured depth), each byte counted against the scan's
// budget. An entry that decompresses to more than it declares, or fails
// its checksum, makes the archive corrupt; an archive nested deeper than
// the depth makes the message uninspectable.
func (in *inspection) zip(name string, ra io.ReaderAt, size int64, depth int) {
	defer func() {
		// archive/zip is robust, but a corrupt archive must never take the
		// session down with it.
		if r := recover(); r != nil {
			in.add(Finding{Kind: FindingCorrupt, Name: name, Info: fmt.Sprint("panic: ", r)})
		}
	}()
	// Count the entries before archive/zip builds one record per entry of
	// a central directory that may claim hundreds of thousands.
	n, err := zipEntries(ra, size)
	if err != nil {
		in.add(Finding{Kind: FindingCorrupt, Name: name, Info: err.Error()})
		return
	}
	if n > uint64(in.policy.maxEntries) {
		in.add(Finding{Kind: FindingCorrupt, Name: name, Info: fmt.Sprintf("%d entries", n)})
		return
	}
	if n > uint64(in.entries) {
		in.stop = errScanEntries
		return
	}
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		in.add(Finding{Kind: FindingCorrupt, Name: name, Info: err.Error()})
		return
	}
	for _, f := range zr.File {
		if in.stop != nil {
			return
		}
		if in.entries--; in.entries < 0 {
			in.stop = errScanEntries
			return
		}
		entry := name + "/" + f.Name
		if f.Flags&0x1 != 0 {
			// APPNOTE.TXT 4.4.4 bit 0: the entry is encrypted.
			in.add(Finding{Kind: FindingEncrypted, Name: entry})
			continue
		}
		if in.policy.Forbidden(f.Name) {
			in.add(Finding{Kind: FindingForbidden, Name: entry})
		}
		if f.FileInfo().IsDir() {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			// An unsupported method (e.g. Deflate64, bzip2) cannot be read:
			// its content is uninspected.
			in.add(Finding{Kind: FindingCorrupt, Name: entry, Info: err.Error()})
			continue
		}
		in.entry(entry, f.Name, rc, depth)
		rc.Close()
	}
}

// entry reads one archive entry through the budget.
func (in *inspection) entry(entry, fname string, rc io.Reader, depth int) {
	br := bufio.NewReader(in.meter(rc))
	head, _ := br.Peek(4)
	ev := &eicarWriter{}
	w := []io.Writer{ev}
	nested := isZip(fname, "", head)
	var arch *spool.File
	if nested && depth+1 <= in.policy.maxDepth {
		arch = in.scratch.Create()
		defer arch.Close()
		w = append(w, arch)
	}
	_, err := io.Copy(io.MultiWriter(w...), br)
	if ev.found {
		in.add(Finding{Kind: FindingVirus, Name: entry, Info: EICARSignature})
	}
	switch {
	case isBudget(err):
		return
	case err != nil:
		// zip.ErrFormat: more bytes than declared; io.ErrUnexpectedEOF:
		// fewer; ErrChecksum; a broken stream. What was read is still
		// looked into below: a lie about the size hides nothing.
		in.add(Finding{Kind: FindingCorrupt, Name: entry, Info: err.Error()})
	}
	if !nested {
		return
	}
	if arch == nil {
		in.add(Finding{Kind: FindingUninspectable, Name: entry, Info: fmt.Sprintf("archive nested deeper than %d", in.policy.maxDepth)})
		return
	}
	in.zip(entry, arch, arch.Size(), depth+1)
}

// zipEntries reads the number of entries from the end of central directory
// record (APPNOTE.TXT 4.3.16, and 4.3.14 for ZIP64).
func zipEntries(ra io.ReaderAt, size int64) (uint64, error) {
	const eocdLen, maxComment = 22, 65535
	n := min(size, eocdLen+maxComment)
	if n < eocdLen {
		return 0, zip.ErrFormat
	}
	buf := make([]byte, n)
	if _, err := ra.ReadAt(buf, size-n); err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	i := bytes.LastIndex(buf, []byte("PK\x05\x06"))
	if i < 0 || len(buf)-i < eocdLen {
		return 0, zip.ErrFormat
	}
	count := uint64(binary.LittleEndian.Uint16(buf[i+10:]))
	if count != 0xffff {
		return count, nil
	}
	// ZIP64: the locator (20 bytes) precedes the record and points at the
	// ZIP64 end of central directory record.
	if i < 20 || !bytes.Equal(buf[i-20:i-16], []byte("PK\x06\x07")) {
		return count, nil
	}
	off := int64(binary.LittleEndian.Uint64(buf[i-20+8:]))
	var rec [56]byte
	if off < 0 || off > size-56 {
		return 0, zip.ErrFormat
	}
	if _, err := ra.ReadAt(rec[:], off); err != nil {
		return 0, err
	}
	if !bytes.Equal(rec[:4], []byte("PK\x06\x06")) {
		return 0, zip.ErrFormat
	}
	return binary.LittleEndian.Uint64(rec[32:]), nil
}
