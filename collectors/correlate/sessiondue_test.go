package correlate

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// TestSessionsEndAsAScanWould: the sweep ends, through sessionsDue, exactly
// the Dovecot sessions last seen more than the horizon ago, as a scan of
// every session would: sessions seen again later (also with an earlier
// time, the log's lines being out of order), keys used again after they
// ended, and a Restore in the middle.
func TestSessionsEndAsAScanWould(t *testing.T) {
	c := New(Options{})
	rng := rand.New(rand.NewPCG(1, 2))
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	model := map[skey]time.Time{} // the sessions and when they were last seen
	now := t0
	for minute := range 600 {
		for range 40 {
			k := skey{"imap" + strconv.Itoa(rng.IntN(2)), "s" + strconv.Itoa(rng.IntN(3000))}
			// mostly now, sometimes a few minutes behind
			at := now.Add(-time.Duration(rng.IntN(2000)) * time.Millisecond)
			if rng.IntN(10) == 0 {
				at = now.Add(-time.Duration(rng.IntN(600)) * time.Second)
			}
			c.bindSession(k.host, k.session, "imap", at)
			model[k] = at
		}
		now = now.Add(time.Minute)
		c.now = now
		c.sweep(false)
		cut := now.Add(-c.opts.Horizon)
		for k, at := range model {
			if at.Before(cut) {
				delete(model, k)
			}
		}
		if len(c.sessions) != len(model) {
			t.Fatalf("minute %d: %d sessions, a scan keeps %d", minute, len(c.sessions), len(model))
		}
		for k, at := range model {
			if ss, ok := c.sessions[k]; !ok || !ss.seen.Equal(at) {
				t.Fatalf("minute %d: session %v: %v %v, want seen %v", minute, k, ss, ok, at)
			}
		}
		if len(c.sessionsDue) < len(c.sessions) {
			t.Fatalf("minute %d: %d sessions due for %d sessions", minute, len(c.sessionsDue), len(c.sessions))
		}
		if minute == 300 {
			st, err := c.State(true)
			if err != nil {
				t.Fatal(err)
			}
			r := New(Options{})
			if err := r.Restore(st.Global, st.Put); err != nil {
				t.Fatal(err)
			}
			if len(r.sessionsDue) != len(r.sessions) || len(r.sessions) != len(model) {
				t.Fatalf("restored: %d sessions due for %d sessions (%d kept)", len(r.sessionsDue), len(r.sessions), len(model))
			}
			c = r
		}
	}
	if len(model) == 0 || len(model) > 3000*2 {
		t.Fatalf("%d sessions at the end: the test says nothing", len(model))
	}
	c.sweep(true)
	if len(c.sessions) != 0 || len(c.sessionsDue) != 0 {
		t.Fatalf("after the final sweep: %d sessions, %d due", len(c.sessions), len(c.sessionsDue))
	}
}
