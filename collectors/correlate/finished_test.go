package correlate

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFinishedPassAsAScanWould: the pass over finished records that looks
// only at the items due while they are in order and exact, and the sweep
// that finds idle records and those to compact from live, emit the same
// records at the same lines in the same order, and compact the same, as
// the pass and the sweep that look at every record (scanFinished,
// scanOpen), over random input: lines a few seconds out
// of order, messages reopened by a late link and finished again, records
// merged or emitted away while they wait (a copy linked, a queue ID used
// again), and a Restore in the middle.
func TestFinishedPassAsAScanWould(t *testing.T) {
	for seed := range uint64(12) {
		t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) { finishedPassAsAScanWould(t, seed) })
	}
}

func finishedPassAsAScanWould(t *testing.T, seed uint64) {
	var got, want []string
	sink := func(out *[]string, c **Correlator) MessageSink {
		return MessageSinkFunc(func(m *Message) error {
			*out = append(*out, fmt.Sprintf("%s %s %s %d", (*c).now.Format(time.TimeOnly), m.Queues[0].ID, m.State, len(m.Queues)))
			return nil
		})
	}
	var fast, scan *Correlator
	fast = New(Options{Messages: sink(&got, &fast)})
	scan = New(Options{Messages: sink(&want, &scan)})
	scan.scanFinished, scan.scanOpen = true, true
	rng := rand.New(rand.NewPCG(seed, 7))
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	qid := func(i int) string { return "Q" + strconv.Itoa(i) }
	next, reopened, merged, exact := 0, 0, 0, 0
	// the first seeds: lines in order but for a few, and fewer links (as
	// in a log, where the items are mostly in order and exact), two of
	// them with few lines a minute; the others: many of each
	disorder, links, gap := 300, 1, 700
	switch {
	case seed >= 6:
		disorder, links = 8, 3
	case seed >= 4:
		gap, links = 40000, 4 // quiet: finished is often empty
	}
	var started []int // queue IDs started, some finished
	// mostly one of the last few: a message is reopened and finished
	// again while it waits
	pick := func() int {
		if rng.IntN(4) == 0 {
			return started[rng.IntN(len(started))]
		}
		return started[len(started)-1-rng.IntN(min(len(started), 40))]
	}
	do := func(f func(c *Correlator)) {
		for _, c := range []*Correlator{fast, scan} {
			f(c)
			if now.After(c.now) {
				c.now = now
			}
			c.sweep(false)
		}
	}
	for step := range 60000 {
		now = now.Add(time.Duration(rng.IntN(gap)) * time.Millisecond)
		at := now
		if rng.IntN(disorder) == 0 {
			at = now.Add(-time.Duration(rng.IntN(5000)) * time.Millisecond) // out of order
		}
		// no two lines at the same time: the records the idle sweep
		// emits at once go in the order of their FirstSeen, ties in
		// the order of a map
		at = at.Add(time.Duration(step))
		switch r := rng.IntN(20); {
		case r < 6 || len(started) < 10:
			i := next
			if rng.IntN(50) == 0 && next > 100 {
				i = next - 1 - rng.IntN(100) // a queue ID used again
			} else {
				next++
			}
			started = append(started, i)
			do(func(c *Correlator) { c.start("mx", qid(i), at, OriginSMTP) })
		case r < 14:
			i := pick()
			do(func(c *Correlator) { c.endQueue("mx", qid(i), at, false) })
		case r < 14+links:
			// a copy linked to its original, which may be finished
			// already (reopened) or be a record of its own (merged)
			p, ch := pick(), pick()
			if rng.IntN(2) == 0 {
				ch = next
				next++
				started = append(started, ch)
			}
			if p == ch {
				break
			}
			if e := fast.open[qkey{"mx", qid(p)}]; e != nil && !e.done.IsZero() {
				reopened++
			}
			if e := fast.open[qkey{"mx", qid(ch)}]; e != nil && !e.done.IsZero() {
				merged++
			}
			do(func(c *Correlator) { c.link("mx", qid(p), qid(ch), at, rng.IntN(2) == 0) })
		default:
			do(func(*Correlator) {}) // time passes
		}
		if len(started) > 4000 {
			started = started[2000:]
		}
		if step == 30000 {
			st, err := fast.State(true)
			if err != nil {
				t.Fatal(err)
			}
			r := New(Options{Messages: sink(&got, &fast)})
			if err := r.Restore(st.Global, st.Put); err != nil {
				t.Fatal(err)
			}
			fast = r
			st, err = scan.State(true)
			if err != nil {
				t.Fatal(err)
			}
			r = New(Options{Messages: sink(&want, &scan)})
			if err := r.Restore(st.Global, st.Put); err != nil {
				t.Fatal(err)
			}
			r.scanFinished, r.scanOpen = true, true
			scan = r
		}
		if fast.finishedExact && fast.finishedSorted {
			exact++
		}
		if len(got) != len(want) {
			t.Fatalf("step %d: %d records emitted, the scan emits %d", step, len(got), len(want))
		}
		// and the same passes to come: the same records waiting, in the
		// same order, and the same time for the next pass
		if !fast.finishedMin.Equal(scan.finishedMin) {
			t.Fatalf("step %d: next pass after %v, the scan's after %v", step, fast.finishedMin, scan.finishedMin)
		}
		if !sameWaiting(fast, scan) {
			t.Fatalf("step %d: waiting %s, the scan's %s", step, waiting(fast), waiting(scan))
		}
		if step%4000 == 0 {
			if f, s := held(fast), held(scan); f != s {
				t.Fatalf("step %d: held %s, the scan's %s", step, f, s)
			}
		}
	}
	fast.sweep(true)
	scan.sweep(true)
	if len(got) != len(want) {
		t.Fatalf("%d records emitted, the scan emits %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("record %d: %q, the scan emits %q", i, got[i], want[i])
		}
	}
	if len(got) < 10000 || reopened < 20 || merged < 20 || exact < 100 {
		t.Fatalf("%d records, %d reopened, %d merged while finished, %d steps in order and exact: the test says little",
			len(got), reopened, merged, exact)
	}
	t.Logf("%d records, %d reopened, %d merged while finished, %d steps in order and exact", len(got), reopened, merged, exact)
}

// held lists the records not emitted or merged away, by queue ID, with
// their times and when they were compacted, and checks live against open.
func held(c *Correlator) string {
	var l []string
	seen := map[*entry]bool{}
	for _, e := range c.open {
		if !e.dead && !seen[e] {
			seen[e] = true
			l = append(l, fmt.Sprintf("%s %v %v %v", e.msg.Queues[0].ID, e.msg.FirstSeen, e.msg.LastSeen, e.compacted))
		}
	}
	if len(c.live) != len(seen) {
		return fmt.Sprintf("%d records live, %d open", len(c.live), len(seen))
	}
	for i, it := range c.live {
		if !seen[it.e] || int(it.e.live) != i || !it.first.Equal(it.e.msg.FirstSeen) || !it.last.Equal(it.e.msg.LastSeen) ||
			!it.compacted.Equal(it.e.compacted) {
			return fmt.Sprintf("live[%d] is not its record's: %+v", i, it)
		}
	}
	slices.Sort(l)
	return strings.Join(l, "\n")
}

// sameWaiting reports whether waiting(a) == waiting(b), without making
// them.
func sameWaiting(a, b *Correlator) bool {
	i, j := 0, 0
	for {
		for i < len(a.finished) && a.finished[i].e.dead {
			i++
		}
		for j < len(b.finished) && b.finished[j].e.dead {
			j++
		}
		if i == len(a.finished) || j == len(b.finished) {
			return i == len(a.finished) && j == len(b.finished)
		}
		if a.finished[i].e.msg.Queues[0].ID != b.finished[j].e.msg.Queues[0].ID {
			return false
		}
		i, j = i+1, j+1
	}
}

// waiting lists the records in finished not emitted or merged away.
func waiting(c *Correlator) string {
	var b []byte
	for _, it := range c.finished {
		if !it.e.dead {
			b = append(append(b, it.e.msg.Queues[0].ID...), ' ')
		}
	}
	return string(b)
}
