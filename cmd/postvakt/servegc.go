package main

// serve allocates per message (the body read, its header parsed, the
// commit's statements encoded) and keeps little: its live heap is some
// MB. With the runtime's default (GOGC=100) it then collects every few
// MB of allocation, at 2,500 messages a second many times a second, and
// the collector took about a fifth of serve's CPU (a CPU profile under
// engine/loadgen/bench.sh). serveGCHeadroom lets the heap grow by at least
// 32 MB between collections; past a live heap of 32 MB it is GOGC=100 as
// before, so the most the process can be made to hold (docs/resources.md)
// does not grow. A GOGC in the environment turns this off.
const (
	serveGCPercent  = 100
	serveGCHeadroom = 32 << 20
)

// startServeGC applies serveGCPercent and serveGCHeadroom until the
// returned function is called.
func startServeGC() (stop func()) { return startGCHeadroom(serveGCPercent, serveGCHeadroom) }
