package main

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// An import allocates fast and keeps little: most of what it allocates
// (lines' events, records written and dropped) is garbage within a batch,
// while its live heap (the open messages and sessions, the abuse detector's
// windows) stays at a few tens of MB for a million lines. Collecting every
// time the heap grew by twice the live heap (GOGC=200) then collects every
// few tens of MB, each collection marking the same live heap again.
//
// importGCPercent and importGCHeadroom set how often an import collects:
// never before the heap grew by importGCHeadroom since the last
// collection, and with a larger live heap as with GOGC=importGCPercent.
// So an import holds at most importGCHeadroom more heap than with
// GOGC=importGCPercent, and no more than that once its live heap passes
// importGCHeadroom*100/importGCPercent. A GOGC in the environment turns
// this off (docs/collectors.md, "Backfill").
const (
	importGCPercent  = 200
	importGCHeadroom = 128 << 20
)

// gcHeadroom sets the GC percent after every collection from the live
// heap it left (runtime/metrics), until stopped.
type gcHeadroom struct {
	percent  int
	headroom uint64
	mu       sync.Mutex
	stopped  bool
	old      int
	sample   []metrics.Sample
}

// startImportGC applies importGCPercent and importGCHeadroom until the
// returned function is called, which restores the GC percent before.
func startImportGC() (stop func()) { return startGCHeadroom(importGCPercent, importGCHeadroom) }

// startGCHeadroom lets the heap grow by the larger of headroom and percent
// of the live heap between collections until the returned function is
// called, which restores the GC percent before.
func startGCHeadroom(percent int, headroom uint64) (stop func()) {
	g := &gcHeadroom{percent: percent, headroom: headroom,
		sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/heap/objects:bytes"},
			{Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}}
	g.mu.Lock()
	g.old = debug.SetGCPercent(g.gcPercent())
	g.arm()
	g.mu.Unlock()
	return func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if !g.stopped {
			g.stopped = true
			debug.SetGCPercent(g.old)
		}
	}
}

// gcPercent is the GC percent for the live heap the last collection left.
func (g *gcHeadroom) gcPercent() int {
	metrics.Read(g.sample)
	live := g.sample[0].Value.Uint64()
	if live == 0 { // no collection yet: what the heap holds now
		live = g.sample[1].Value.Uint64()
	}
	return headroomGCPercent(g.percent, g.headroom, live+g.sample[2].Value.Uint64()+g.sample[3].Value.Uint64())
}

// headroomGCPercent is the GC percent that lets the heap grow by the larger
// of headroom and percent of base between collections. The runtime applies
// the percent to the live heap plus the goroutines' stacks and the globals
// (base); a base under the runtime's 4 MB minimum heap counts as 4 MB.
func headroomGCPercent(percent int, headroom, base uint64) int {
	base = max(base, 4<<20)
	return max(percent, int(headroom*100/base))
}

// gcSentinel is allocated to learn of the next collection: its cleanup
// runs after the first collection that finds it unreachable.
type gcSentinel struct{ _ *int }

// arm sets up the cleanup that runs after the next collection; g.mu held.
func (g *gcHeadroom) arm() {
	runtime.AddCleanup(new(gcSentinel), func(g *gcHeadroom) {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.stopped {
			return
		}
		debug.SetGCPercent(g.gcPercent())
		g.arm()
	}, g)
}
