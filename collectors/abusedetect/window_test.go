package abusedetect

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"
)

// plainWindow is window's times, weights and addresses as prune kept them
// before windowShift: sliced off at the front, always.
type plainWindow struct {
	times   []time.Time
	weights []int
	addrs   []string
	sum     int
}

func (w *plainWindow) prune(t time.Time, win time.Duration) {
	n := 0
	for n < len(w.times) && t.Sub(w.times[n]) > win {
		w.sum -= w.weights[n]
		n++
	}
	w.times, w.weights, w.addrs = w.times[n:], w.weights[n:], w.addrs[n:]
}

func (w *plainWindow) add(t time.Time, weight int, addr string) {
	w.times = append(w.times, t)
	w.weights = append(w.weights, weight)
	w.addrs = append(w.addrs, addr)
	w.sum += weight
}

// TestWindowPruneAsSlicedOff: a window whose prune moves a few events to
// the front of its arrays holds the same events, weights, addresses and
// sum as one sliced off at the front, and its counts and addresses say
// the same, over windows of a few events and of many, emptied now and
// then; the addresses pruned are not kept.
func TestWindowPruneAsSlicedOff(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const win = 10 * time.Minute
	for round := range 40 {
		var w window
		var p plainWindow
		now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
		// a few events a window, or many
		gap := time.Duration(1+rng.IntN(300)) * time.Second
		if round%4 == 0 {
			gap = time.Duration(1+rng.IntN(5)) * time.Second
		}
		shifted := 0
		for i := range 3000 {
			now = now.Add(time.Duration(rng.Int64N(int64(2 * gap))))
			if rng.IntN(200) == 0 {
				now = now.Add(2 * win) // all of it pruned
			}
			addr := "127.0.0." + strconv.Itoa(rng.IntN(12))
			before := cap(w.times) - len(w.times)
			w.prune(now, win)
			p.prune(now, win)
			if cap(w.times)-len(w.times) > before {
				shifted++
			}
			weight := 1 + rng.IntN(3)
			w.add(now, weight, addr, "")
			p.add(now, weight, addr)
			if !slices.Equal(w.times, p.times) || !slices.Equal(w.weights, p.weights) || !slices.Equal(w.addrs, p.addrs) || w.sum != p.sum {
				t.Fatalf("round %d event %d: window %v %v %v %d, sliced off %v %v %v %d", round, i,
					w.times, w.weights, w.addrs, w.sum, p.times, p.weights, p.addrs, p.sum)
			}
			if tail := w.addrs[len(w.addrs):cap(w.addrs)]; slices.ContainsFunc(tail, func(a string) bool { return a != "" }) {
				t.Fatalf("round %d event %d: pruned addresses kept past the window: %q", round, i, tail)
			}
		}
		if round%4 != 0 && shifted == 0 {
			t.Fatalf("round %d: no prune moved events to the front: the test says little", round)
		}
	}
}
