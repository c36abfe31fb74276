package content_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/content"
	"github.com/uni-mail/postvakt/engine/smtpserver"
)

// rawEntry is a zip entry written as given: its data already compressed
// (or stored) and its header free to lie.
type rawEntry struct {
	name       string
	method     uint16
	data       []byte // as stored in the archive
	crc        uint32
	size       uint64 // the declared uncompressed size
	compressed uint64 // 0: len(data)
}

func rawZip(t testing.TB, entries ...rawEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range entries {
		cs := e.compressed
		if cs == 0 {
			cs = uint64(len(e.data))
		}
		w, err := zw.CreateRaw(&zip.FileHeader{Name: e.name, Method: e.method, CRC32: e.crc, CompressedSize64: cs, UncompressedSize64: e.size})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// zipBomb is the archive of the hostile-load report: 8 archives nested in
// one, each of 64 entries of 16 MiB of zeros (8 GiB inflated). The 16 MiB
// are deflated once and the compressed bytes reused.
func zipBomb(t testing.TB) []byte {
	t.Helper()
	var raw bytes.Buffer
	fw, _ := flate.NewWriter(&raw, flate.BestCompression)
	zeros := make([]byte, 1<<20)
	crc := uint32(0)
	for range 16 {
		fw.Write(zeros)
		crc = crc32.Update(crc, crc32.IEEETable, zeros)
	}
	fw.Close()
	var entries []rawEntry
	for i := range 64 {
		entries = append(entries, rawEntry{name: fmt.Sprintf("data%02d.bin", i), method: zip.Deflate, data: raw.Bytes(), crc: crc, size: 16 << 20})
	}
	inner := rawZip(t, entries...)
	files := map[string][]byte{}
	for i := range 8 {
		files[fmt.Sprintf("part%d.zip", i)] = inner
	}
	return zipOf(t, files, false)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestZipBomb: the bomb is quarantined as not fully inspectable within the
// scan's deadline (content.limits.timeout) using under 2 CPU-seconds
// (content.limits.max_scan_bytes bounds what is inflated). Not parallel:
// it measures the process's CPU time.
func TestZipBomb(t *testing.T) {
	f := newScanner(t, nil)
	bomb := zipBomb(t)
	msg := withAttachment("invoice.zip", bomb)
	cpu0, start := cpuTime(), time.Now()
	out := scan(t, f, mxEnv, msg)
	cpu, wall := cpuTime()-cpu0, time.Since(start)
	t.Logf("zip bomb: %d-byte message (8 × 64 × 16 MiB nested, 8 GiB inflated): %s, %s CPU, %s wall", len(msg), out.Reason, cpu.Round(time.Millisecond), wall.Round(time.Millisecond))
	if out.Verdict != content.VerdictSuspect || out.Action != smtpserver.Discard || out.QuarantineID == 0 {
		t.Fatalf("zip bomb: %+v, want quarantined as suspect", out)
	}
	if !strings.Contains(out.Reason, "uninspectable") || !strings.Contains(out.Reason, "scan budget") {
		t.Fatalf("reason %q", out.Reason)
	}
	if cpu > 2*time.Second || wall > content.Default().Limits.Timeout {
		t.Fatalf("zip bomb took %s CPU, %s wall", cpu, wall)
	}
}

// brokenHeader is a message whose first part's header is malformed (a
// field without a colon), followed by an .exe and EICAR that mail readers
// (and Python's email package) still find.
func brokenHeader() []byte {
	return []byte("From: Sender <sender@ext.example>\r\nTo: user@uni.example\r\nSubject: Invoice\r\nDate: Mon, 23 Nov 2026 09:00:00 +0100\r\n" +
		"Message-ID: <broken.1@ext.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain\r\nContent-Disposition inline\r\n\r\nPlease see the attachment.\r\n" +
		"--b1\r\nContent-Type: application/octet-stream; name=\"evil.exe\"\r\nContent-Disposition: attachment; filename=\"evil.exe\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAA=\r\n" +
		"--b1\r\nContent-Type: text/plain; name=\"readme.txt\"\r\nContent-Disposition: attachment; filename=\"readme.txt\"\r\n\r\n" + eicar + "\r\n" +
		"--b1--\r\n")
}

// TestBrokenPartHeader: a malformed part header must not hide the parts
// after it; the message cannot be fully inspected and is quarantined as
// suspect (content.limits.on_uninspectable), or refused when so
// configured — never delivered as clean.
func TestBrokenPartHeader(t *testing.T) {
	t.Parallel()
	msg := brokenHeader()
	if py, err := exec.LookPath("python3"); err == nil {
		// The evil part is really there for a mail reader.
		cmd := exec.Command(py, "-c", "import email,sys\nm=email.message_from_binary_file(sys.stdin.buffer)\nprint(' '.join(str(p.get_filename()) for p in m.walk()))")
		cmd.Stdin = bytes.NewReader(msg)
		b, err := cmd.Output()
		if err != nil || !strings.Contains(string(b), "evil.exe") || !strings.Contains(string(b), "readme.txt") {
			t.Fatalf("python's email parser: %q, %v", b, err)
		}
	} else if os.Getenv("POSTVAKT_REQUIRE_TOOLS") == "1" {
		t.Fatal("python3 not installed")
	}
	f := newScanner(t, nil)
	out := scan(t, f, mxEnv, msg)
	if out.Action == smtpserver.Accept || out.Verdict == content.VerdictClean {
		t.Fatalf("broken part header: %+v, delivered", out)
	}
	if out.Verdict != content.VerdictSuspect || out.QuarantineID == 0 || !strings.Contains(out.Reason, "malformed MIME") {
		t.Fatalf("broken part header: %+v, want quarantined as suspect", out)
	}
	r := newScanner(t, func(c *content.Config, _ *content.Options) { c.Limits.OnUninspectable = "reject" })
	if out := scan(t, r, mxEnv, msg); out.Action != smtpserver.Reject || out.Verdict != content.VerdictSuspect {
		t.Fatalf("on_uninspectable reject: %+v", out)
	}
}

// TestLyingZip: archive entries whose headers lie about their size are
// inspected all the same (as a stream, within the scan's byte budget), and
// an archive that does not match its own directory is suspect.
func TestLyingZip(t *testing.T) {
	t.Parallel()
	f := newScanner(t, nil)
	e := []byte(eicar)
	crc := crc32.ChecksumIEEE(e)
	exe := zipOf(t, map[string][]byte{"run.exe": []byte("MZ")}, false)
	for _, tc := range []struct {
		name    string
		zip     []byte
		verdict content.Verdict
		action  smtpserver.Action
	}{
		// Declared over 16 MiB: once skipped unread, EICAR and all.
		{"EICAR declared 17 MiB", rawZip(t, rawEntry{name: "report.txt", method: zip.Store, data: e, crc: crc, size: 17 << 20}),
			content.VerdictVirus, smtpserver.Discard},
		{"nested .exe declared 20 MiB", rawZip(t, rawEntry{name: "inner.zip", method: zip.Store, data: exe, crc: crc32.ChecksumIEEE(exe), size: 20 << 20}),
			content.VerdictBanned, smtpserver.Reject},
		// More bytes than declared.
		{"entry larger than declared", rawZip(t, rawEntry{name: "notes.txt", method: zip.Store, data: bytes.Repeat([]byte("x"), 4096), crc: 0, size: 10}),
			content.VerdictSuspect, smtpserver.Discard},
		{"directory claims 300000 entries", append(rawZip(t)[:0:0], claimEntries(rawZip(t, rawEntry{name: "a.txt", method: zip.Store, data: []byte("a"), crc: crc32.ChecksumIEEE([]byte("a")), size: 1}), 60000)...),
			content.VerdictSuspect, smtpserver.Discard},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := scan(t, f, mxEnv, withAttachment("archive.zip", tc.zip))
			if out.Verdict != tc.verdict || out.Action != tc.action {
				t.Fatalf("%+v, want %s/%v", out, tc.verdict, tc.action)
			}
		})
	}
}

// claimEntries rewrites the entry counts of a zip's end of central
// directory record (APPNOTE.TXT 4.3.16) to n.
func claimEntries(z []byte, n uint16) []byte {
	i := bytes.LastIndex(z, []byte("PK\x05\x06"))
	z[i+8], z[i+9] = byte(n), byte(n>>8)
	z[i+10], z[i+11] = byte(n), byte(n>>8)
	return z
}

// TestScanBudget: archive entries over content.limits.max_entries and
// archives nested deeper than content.attachments.max_archive_depth make
// the message uninspectable (once they passed as clean, unread).
func TestScanBudget(t *testing.T) {
	t.Parallel()
	small := func(n int) []byte {
		files := map[string][]byte{}
		for i := range n {
			files[fmt.Sprintf("f%d.txt", i)] = []byte("x")
		}
		return zipOf(t, files, false)
	}
	f := newScanner(t, func(c *content.Config, _ *content.Options) { c.Limits.MaxEntries = 10 })
	many := zipOf(t, map[string][]byte{"a.zip": small(5), "b.zip": small(5), "c.zip": small(5)}, false)
	if out := scan(t, f, mxEnv, withAttachment("many.zip", many)); out.Verdict != content.VerdictSuspect || !strings.Contains(out.Reason, "archive entries") {
		t.Fatalf("entries over budget: %+v", out)
	}
	deep := zipOf(t, map[string][]byte{"clean.txt": []byte("x")}, false)
	for i := range 4 {
		deep = zipOf(t, map[string][]byte{fmt.Sprintf("level%d.zip", i): deep}, false)
	}
	d := newScanner(t, nil)
	if out := scan(t, d, mxEnv, withAttachment("deep.zip", deep)); out.Verdict != content.VerdictSuspect || !strings.Contains(out.Reason, "nested deeper") {
		t.Fatalf("archive nested too deep: %+v", out)
	}
	// Within budget, the same structures are clean.
	if out := scan(t, d, mxEnv, withAttachment("few.zip", zipOf(t, map[string][]byte{"a.zip": small(3)}, false))); out.Verdict != content.VerdictClean {
		t.Fatalf("within budget: %+v", out)
	}
}
