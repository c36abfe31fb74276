package attack

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"hash/crc32"
	"strings"
	"time"
)

// EICAR is the anti-virus test file (https://www.eicar.org), split so that
// this source file is not itself flagged.
var EICAR = []byte(`X5O!P%@AP[4\PZX54(P^)7CC)7}$` + `EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`)

// mzStub is the start of a Windows executable (the "MZ" header), the
// content of the forbidden evil.exe.
var mzStub = append([]byte("MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"), bytes.Repeat([]byte{0}, 48)...)

// deflated compresses b at the best level.
func deflated(b []byte) []byte {
	var out bytes.Buffer
	w, _ := flate.NewWriter(&out, flate.BestCompression)
	_, _ = w.Write(b)
	_ = w.Close()
	return out.Bytes()
}

// rawEntry is one zip entry whose header the builder writes as given, so
// that it can lie about the size.
type rawEntry struct {
	name         string
	data         []byte // the real content
	declaredSize uint64 // written as the uncompressed size; 0: the real one
}

// zipOf builds a zip archive of entries, each deflated.
func zipOf(entries []rawEntry) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		comp := deflated(e.data)
		size := e.declaredSize
		if size == 0 {
			size = uint64(len(e.data))
		}
		w, err := zw.CreateRaw(&zip.FileHeader{Name: e.name, Method: zip.Deflate, CRC32: crc32.ChecksumIEEE(e.data),
			CompressedSize64: uint64(len(comp)), UncompressedSize64: size, Modified: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			panic(err)
		}
		_, _ = w.Write(comp)
	}
	_ = zw.Close()
	return buf.Bytes()
}

// ZipBomb is the zip bomb of the issue: an archive of outer entries, each
// an archive of inner entries of entryBytes zeros — 8 × 64 × 16 MiB is
// 8 GiB once unpacked. Unpacked is the ground truth of its size.
type ZipBomb struct {
	Archive  []byte
	Unpacked int64
}

// NewZipBomb builds outer × inner × entryBytes.
func NewZipBomb(outer, inner int, entryBytes int) ZipBomb {
	zeros := make([]byte, entryBytes)
	comp := deflated(zeros)
	crc := crc32.ChecksumIEEE(zeros)
	// The inner archive: inner entries that share one compressed body.
	var mid bytes.Buffer
	zw := zip.NewWriter(&mid)
	for i := range inner {
		w, err := zw.CreateRaw(&zip.FileHeader{Name: fmt.Sprintf("data%02d.bin", i), Method: zip.Deflate, CRC32: crc,
			CompressedSize64: uint64(len(comp)), UncompressedSize64: uint64(entryBytes)})
		if err != nil {
			panic(err)
		}
		_, _ = w.Write(comp)
	}
	_ = zw.Close()
	var entries []rawEntry
	for i := range outer {
		entries = append(entries, rawEntry{name: fmt.Sprintf("part%d.zip", i), data: mid.Bytes()})
	}
	return ZipBomb{Archive: zipOf(entries), Unpacked: int64(outer) * int64(inner) * int64(entryBytes)}
}

// mimeMessage wraps parts in a multipart/mixed message from sender.
func mimeMessage(from, to, subject, preamble string, parts ...string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\nTo: %s\nSubject: %s\nDate: %s\nMessage-ID: <%d.attack@else.example>\nMIME-Version: 1.0\n"+
		"Content-Type: multipart/mixed; boundary=\"=b1=\"\n\n%s\n", from, to, subject, time.Now().Format(time.RFC1123Z), time.Now().UnixNano(), preamble)
	for _, p := range parts {
		b.WriteString("--=b1=\n" + p + "\n")
	}
	b.WriteString("--=b1=--\n")
	return crlf(b.String())
}

// attachment is a base64 attachment part.
func attachment(name, ctype string, data []byte) string {
	enc := base64.StdEncoding.EncodeToString(data)
	var lines []string
	for len(enc) > 76 {
		lines, enc = append(lines, enc[:76]), enc[76:]
	}
	lines = append(lines, enc)
	return fmt.Sprintf("Content-Type: %s; name=\"%s\"\nContent-Disposition: attachment; filename=\"%s\"\nContent-Transfer-Encoding: base64\n\n%s",
		ctype, name, name, strings.Join(lines, "\n"))
}

// ZipBombMessage is the zip bomb as an attachment, from sender.
func ZipBombMessage(z ZipBomb, from string) []byte {
	return mimeMessage(from, Mailbox, "Invoice 2026-113", "Your invoice.",
		"Content-Type: text/plain\n\nPlease find the invoice attached.", attachment("invoice.zip", "application/zip", z.Archive))
}

// BrokenHeaderMessages are messages whose dangerous part follows a part
// with a malformed header (a header line without a colon, RFC 5322 §2.2):
// a tolerant parser (Python's email package) still finds the part.
func BrokenHeaderMessages(from string) map[string][]byte {
	broken := "Content-Type: text/plain\nThis header line has no colon\n\nPlease see the attachment."
	return map[string][]byte{
		"broken header, then evil.exe": mimeMessage(from, Mailbox, "Payment", "", broken,
			attachment("evil.exe", "application/octet-stream", mzStub)),
		"broken header, then EICAR": mimeMessage(from, Mailbox, "Payment", "", broken,
			attachment("readme.txt", "text/plain", EICAR)),
	}
}

// LyingZipMessages are archives whose entries declare sizes they do not
// have: over the scanner's 16 MiB entry limit while holding EICAR or a
// nested executable.
func LyingZipMessages(from string) map[string][]byte {
	nested := zipOf([]rawEntry{{name: "setup.exe", data: mzStub}})
	return map[string][]byte{
		"entry declares 17 MiB, holds EICAR": mimeMessage(from, Mailbox, "Scan", "",
			attachment("scan.zip", "application/zip", zipOf([]rawEntry{{name: "scan.txt", data: EICAR, declaredSize: 17 << 20}}))),
		"entry declares 20 MiB, holds a zip with setup.exe": mimeMessage(from, Mailbox, "Update", "",
			attachment("update.zip", "application/zip", zipOf([]rawEntry{{name: "update.zip", data: nested, declaredSize: 20 << 20}}))),
		"entry declares 10 bytes, holds EICAR": mimeMessage(from, Mailbox, "Scan", "",
			attachment("small.zip", "application/zip", zipOf([]rawEntry{{name: "small.txt", data: append(bytes.Repeat([]byte(" "), 4096), EICAR...), declaredSize: 10}}))),
	}
}

// LargeMessage is a message of about size bytes: a base64 attachment of
// random data, as a large document would be.
func LargeMessage(size int) []byte {
	raw := make([]byte, size*3/4)
	_, _ = rand.Read(raw)
	return mimeMessage("big@else.example", Mailbox, "Large document", "", "Content-Type: text/plain\n\nAttached.",
		attachment("document.pdf", "application/pdf", raw))
}
