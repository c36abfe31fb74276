package attack

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"io"
	"os"
	"testing"
	"time"
)

// TestZipBombIsWhatItSays: the bomb's archives hold outer × inner entries
// of entryBytes zeros, as NewZipBomb records (the ground truth the suite
// reports), checked by unpacking a small one completely.
func TestZipBombIsWhatItSays(t *testing.T) {
	t.Parallel()
	z := NewZipBomb(3, 4, 1<<20)
	var total int64
	outer, err := zip.NewReader(bytes.NewReader(z.Archive), int64(len(z.Archive)))
	if err != nil || len(outer.File) != 3 {
		t.Fatalf("outer: %v, %d entries", err, len(outer.File))
	}
	for _, f := range outer.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		mid, _ := io.ReadAll(rc)
		rc.Close()
		inner, err := zip.NewReader(bytes.NewReader(mid), int64(len(mid)))
		if err != nil || len(inner.File) != 4 {
			t.Fatalf("%s: %v, %d entries", f.Name, err, len(inner.File))
		}
		for _, g := range inner.File {
			rc, err := g.Open()
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil {
				t.Fatalf("%s/%s: %v", f.Name, g.Name, err)
			}
			total += n
		}
	}
	if total != z.Unpacked || total != 3*4<<20 {
		t.Fatalf("unpacked %d bytes, recorded %d", total, z.Unpacked)
	}
}

// TestLyingZipLies: the entries declare the sizes the attack says, and
// hold what it says.
func TestLyingZipLies(t *testing.T) {
	t.Parallel()
	a := zipOf([]rawEntry{{name: "scan.txt", data: EICAR, declaredSize: 17 << 20}})
	r, err := zip.NewReader(bytes.NewReader(a), int64(len(a)))
	if err != nil || len(r.File) != 1 || r.File[0].UncompressedSize64 != 17<<20 {
		t.Fatalf("%v %+v", err, r.File)
	}
	rc, _ := r.File[0].OpenRaw()
	raw, _ := io.ReadAll(rc)
	if got := inflate(t, raw); !bytes.Equal(got, EICAR) {
		t.Fatalf("entry holds %q", got)
	}
	for name, msg := range LyingZipMessages("x@else.example") {
		if !bytes.Contains(msg, []byte("Content-Type: application/zip")) {
			t.Errorf("%s: no zip attachment", name)
		}
	}
}

func inflate(t *testing.T, raw []byte) []byte {
	t.Helper()
	r := flate.NewReader(bytes.NewReader(raw))
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestProcParsing reads the figures of /proc lines as the kernel writes
// them (proc(5)), and of this very process.
func TestProcParsing(t *testing.T) {
	t.Parallel()
	cpu, err := parseStatCPU("4242 (post vakt) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 130 0 0 20 0 12 0 100 1000000 2000 18446744073709551615")
	if err != nil || cpu != 3800*time.Millisecond {
		t.Fatalf("cpu %v %v, want 3.8s", cpu, err)
	}
	rss, err := parseStatusKB("Name:\tpostvakt\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n", "VmRSS")
	if err != nil || rss != 100<<20 {
		t.Fatalf("rss %d %v", rss, err)
	}
	p := Proc{PID: os.Getpid()}
	if r, err := p.RSS(); err != nil || r <= 0 {
		t.Fatalf("own RSS %d %v", r, err)
	}
	if _, err := p.CPU(); err != nil {
		t.Fatal(err)
	}
}

// TestBrowserTarget resolves Location headers as a browser does.
func TestBrowserTarget(t *testing.T) {
	t.Parallel()
	for loc, host := range map[string]string{"/\t/evil.example/x": "evil.example", `/\evil.example`: "evil.example",
		"/tickets": "127.0.0.1:9780", "https://evil.example/": "evil.example"} {
		u, err := browserTarget("http://127.0.0.1:9780/login", loc)
		if err != nil || u.Host != host {
			t.Errorf("%q: %v %v, want host %s", loc, u, err, host)
		}
	}
}
