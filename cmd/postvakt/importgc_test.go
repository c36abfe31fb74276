package main

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestHeadroomGCPercent(t *testing.T) {
	for _, c := range []struct {
		base uint64
		want int
	}{
		{0, 3200},       // under the runtime's minimum heap: as 4 MB
		{4 << 20, 3200}, // 128 MB over 4 MB
		{25 << 20, 512}, // a million lines' live heap
		{60 << 20, 213}, // rounded down
		{64 << 20, 200}, // 128 MB is 200 % of 64 MB
		{65 << 20, 200}, // past it, GOGC=200
		{8 << 30, 200},  // far past it
	} {
		if got := headroomGCPercent(importGCPercent, importGCHeadroom, c.base); got != c.want {
			t.Errorf("headroomGCPercent(%d, %d, %d) = %d, want %d", importGCPercent, importGCHeadroom, c.base, got, c.want)
		}
	}
}

// TestStartImportGC: the GC percent follows the live heap after each
// collection while the import runs, and is what it was after.
func TestStartImportGC(t *testing.T) {
	old := debug.SetGCPercent(150)
	defer debug.SetGCPercent(old)
	stop := startImportGC()
	runtime.GC()
	runtime.GC() // the first collection's cleanup ran: set from its live heap
	if p := debug.SetGCPercent(-1); p < importGCPercent {
		t.Errorf("GC percent during the import %d, want at least %d", p, importGCPercent)
	} else {
		debug.SetGCPercent(p)
	}
	stop()
	if p := debug.SetGCPercent(150); p != 150 {
		t.Errorf("GC percent after the import %d, want 150 as before", p)
	}
	stop() // twice: no effect
	runtime.GC()
	runtime.GC()
	if p := debug.SetGCPercent(150); p != 150 {
		t.Errorf("GC percent after a collection past the import %d, want 150", p)
	}
}

// TestImportDryRunCPUProfile: import --cpuprofile writes a profile that
// go tool pprof reads (a gzipped protocol buffer), and the dry run's
// output is the import's.
func TestImportDryRunCPUProfile(t *testing.T) {
	cfg := writeConfig(t, "data_dir: DATADIR\ncollectors:\n  log_timezone: UTC\n")
	prof := filepath.Join(t.TempDir(), "import.prof")
	args := append([]string{"import", "--config", cfg, "--dry-run", "--cpuprofile", prof}, sampleLogs(t)...)
	code, out, errOut := runCLI(t, args...)
	if code != exitOK {
		t.Fatalf("import: %d %s %s", code, out, errOut)
	}
	if !strings.Contains(out, "imported 18692 lines (0 unparsable, 0 unknown)") {
		t.Errorf("import output: %s", out)
	}
	b, err := os.ReadFile(prof)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		t.Fatalf("profile is not gzipped: % x", b[:min(len(b), 8)])
	}
	if code, _, errOut := runCLI(t, append([]string{"import", "--config", cfg, "--dry-run", "--cpuprofile", filepath.Join(t.TempDir(), "no", "such", "dir")}, sampleLogs(t)...)...); code == exitOK || !strings.Contains(errOut, "cpu profile") {
		t.Errorf("profile into a missing directory: %d %s", code, errOut)
	}
}

// TestStartServeGC: serve's small live heap may grow by serveGCHeadroom
// between collections (a GC percent far above the default's), a large one
// by serveGCPercent as with the default, and stop restores the percent.
func TestStartServeGC(t *testing.T) {
	if got, want := headroomGCPercent(serveGCPercent, serveGCHeadroom, 8<<20), 400; got != want {
		t.Errorf("8 MB live: GC percent %d, want %d", got, want)
	}
	if got := headroomGCPercent(serveGCPercent, serveGCHeadroom, 512<<20); got != serveGCPercent {
		t.Errorf("512 MB live: GC percent %d, want %d", got, serveGCPercent)
	}
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	stop := startServeGC()
	runtime.GC()
	runtime.GC()
	var live runtime.MemStats // a test binary's heap: a few MB
	runtime.ReadMemStats(&live)
	if p := debug.SetGCPercent(-1); p <= serveGCPercent {
		t.Errorf("GC percent while serving %d, want more than %d with a heap of %d bytes", p, serveGCPercent, live.HeapAlloc)
	} else {
		debug.SetGCPercent(p)
	}
	stop()
	if p := debug.SetGCPercent(100); p != 100 {
		t.Errorf("GC percent after serve %d, want 100 as before", p)
	}
}
