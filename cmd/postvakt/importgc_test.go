package main

import (
	"runtime"
	"runtime/debug"
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
