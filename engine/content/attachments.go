package content

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/uni-mail/postvakt/engine/mime"
)

// FindingKind is what the attachment walker found.
type FindingKind string

// The finding kinds, from worst to mildest.
const (
	FindingVirus     FindingKind = "virus"     // EICAR or a clamd signature
	FindingForbidden FindingKind = "forbidden" // forbidden file extension
	FindingEncrypted FindingKind = "encrypted" // encrypted archive entry: suspect
	FindingCorrupt   FindingKind = "corrupt"   // archive that does not open: suspect
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

// AttachmentPolicy inspects MIME parts.
type AttachmentPolicy struct {
	forbidden  map[string]bool
	archives   bool
	maxDepth   int
	maxEntries int
	// maxEntryBytes bounds what is decompressed to look inside nested
	// archives and for EICAR (zip bombs).
	maxEntryBytes int64
}

// NewAttachmentPolicy builds the policy from the configuration.
func NewAttachmentPolicy(c AttachmentConfig) *AttachmentPolicy {
	p := &AttachmentPolicy{forbidden: map[string]bool{}, archives: c.ScanArchives, maxDepth: c.MaxArchiveDepth,
		maxEntries: c.MaxArchiveEntries, maxEntryBytes: 16 << 20}
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

// Inspect returns the findings for one part: EICAR in the body, a
// forbidden file name, and inside zip archives forbidden, encrypted or
// corrupt entries and EICAR.
func (p *AttachmentPolicy) Inspect(part *mime.Part) []Finding {
	var out []Finding
	name := part.Filename
	if HasEICAR(part.Body) {
		out = append(out, Finding{Kind: FindingVirus, Name: name, Info: EICARSignature})
	}
	if name != "" && p.Forbidden(name) {
		out = append(out, Finding{Kind: FindingForbidden, Name: name})
	}
	if p.archives && isZip(name, part.ContentType, part.Body) {
		out = append(out, p.zip(name, part.Body, 0)...)
	}
	return out
}

func isZip(name, ct string, b []byte) bool {
	return strings.HasSuffix(strings.ToLower(name), ".zip") || ct == "application/zip" ||
		ct == "application/x-zip-compressed" || bytes.HasPrefix(b, []byte("PK\x03\x04"))
}

func (p *AttachmentPolicy) zip(name string, b []byte, depth int) (out []Finding) {
	defer func() {
		// archive/zip is robust, but a corrupt archive must never take the
		// session down with it.
		if r := recover(); r != nil {
			out = append(out, Finding{Kind: FindingCorrupt, Name: name, Info: fmt.Sprint("panic: ", r)})
		}
	}()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return []Finding{{Kind: FindingCorrupt, Name: name, Info: err.Error()}}
	}
	if len(zr.File) > p.maxEntries {
		return []Finding{{Kind: FindingCorrupt, Name: name, Info: fmt.Sprintf("%d entries", len(zr.File))}}
	}
	for _, f := range zr.File {
		entry := name + "/" + f.Name
		if f.Flags&0x1 != 0 {
			// APPNOTE.TXT 4.4.4 bit 0: the entry is encrypted.
			out = append(out, Finding{Kind: FindingEncrypted, Name: entry})
			continue
		}
		if p.Forbidden(f.Name) {
			out = append(out, Finding{Kind: FindingForbidden, Name: entry})
		}
		if f.FileInfo().IsDir() || f.UncompressedSize64 > uint64(p.maxEntryBytes) {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			out = append(out, Finding{Kind: FindingCorrupt, Name: entry, Info: err.Error()})
			continue
		}
		var buf bytes.Buffer
		_, err = buf.ReadFrom(io.LimitReader(rc, p.maxEntryBytes+1))
		rc.Close()
		if err == nil && int64(buf.Len()) > p.maxEntryBytes {
			err = fmt.Errorf("entry larger than declared (%d bytes)", f.UncompressedSize64)
		}
		if err != nil {
			out = append(out, Finding{Kind: FindingCorrupt, Name: entry, Info: err.Error()})
			continue
		}
		if HasEICAR(buf.Bytes()) {
			out = append(out, Finding{Kind: FindingVirus, Name: entry, Info: EICARSignature})
		}
		if depth+1 <= p.maxDepth && isZip(f.Name, "", buf.Bytes()) {
			out = append(out, p.zip(entry, buf.Bytes(), depth+1)...)
		}
	}
	return out
}
