package correlate

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/uni-mail/postvakt/collectors/logparse"
)

// snapshotFields are the Correlator's fields and how Snapshot treats them:
// a field added to the Correlator must be added here, and to Snapshot and
// Restore unless it is configuration or a cache, or a restart of `serve`
// would lose it (TestSnapshotCoversEveryField fails until then).
var snapshotFields = map[string]string{
	"opts": "configuration (New)", "filters": "configuration (New)",
	"open": "kept", "finished": "kept", "sessions": "kept", "amavisKeys": "a cache of Summary.Amavis keys", "sessionsDue": "made again from sessions by Restore", "pending": "kept", "pendingAt": "kept", "smtpd": "kept",
	"amavis": "kept", "releases": "kept", "eximLogins": "kept", "resent": "kept", "filterClients": "kept",
	"pos": "kept", "now": "kept", "lastSweep": "kept", "graceAt": "kept", "finishedMin": "kept", "sum": "kept", "events": "kept",
	"emitted": "left out: serves the Orphans counter only", "emittedBits": "left out: serves the Orphans counter only",
	"errs": "transient", "words": "cache", "nextID": "kept", "chg": "what changed since the last State",
	"finishedSorted": "found again by the first pass after Restore", "finishedExact": "found again by the first pass after Restore",
	"finishedDropped": "none after Restore: the state holds no record merged or emitted away", "passing": "transient",
	"scanFinished": "set by a test", "scanOpen": "set by a test", "live": "made again from open by Restore",
}

func TestSnapshotCoversEveryField(t *testing.T) {
	typ := reflect.TypeOf(Correlator{})
	for i := range typ.NumField() {
		if name := typ.Field(i).Name; snapshotFields[name] == "" {
			t.Errorf("Correlator.%s: add it to Snapshot and Restore (snapshot.go), or say in snapshotFields why not", name)
		}
	}
}

// record is what a sink saw, comparable across runs.
type record struct {
	Kind string
	Msg  *Message
	Rej  string
	Lg   *Login
}

// stored applies States as a store does: the global part replaced, the
// items put and deleted.
type stored struct {
	global []byte
	items  map[string][]byte
}

func (s *stored) apply(st Saved) {
	if st.Full || s.items == nil {
		s.items = map[string][]byte{}
	}
	for k, b := range st.Put {
		s.items[k] = b
	}
	for _, k := range st.Delete {
		delete(s.items, k)
	}
	s.global = st.Global
}

// TestSnapshotRestoreEqualsOneRun feeds the sample once in one go, and
// again committing the Correlator's changes every few events and
// restoring a fresh Correlator from what was committed every few hundred:
// the sinks see the same records in the same order, the counters end
// equal, and what the changes add up to is at every commit the whole
// state (no change of a record goes untracked).
func TestSnapshotRestoreEqualsOneRun(t *testing.T) {
	t.Parallel()
	for _, in := range []struct {
		name string
		evs  func(t *testing.T) []logparse.Event
	}{
		{"sample", func(t *testing.T) []logparse.Event { return loadSample(t, "postfix.log", "syslog-mail.log") }},
		// split amavis lines, quarantine releases, SMTP AUTH sessions
		{"postfix corpus", func(t *testing.T) []logparse.Event { return corpusEvents(t, "postfix", postfixCorpus) }},
		{"exim corpus", func(t *testing.T) []logparse.Event { return corpusEvents(t, "exim", []string{"mainlog"}) }},
	} {
		t.Run(in.name, func(t *testing.T) {
			t.Parallel()
			snapshotRestoreEqualsOneRun(t, in.evs(t))
		})
	}
}

func snapshotRestoreEqualsOneRun(t *testing.T, evs []logparse.Event) {
	run := func(commitEvery, restartEvery int) ([]record, Summary) {
		var out []record
		opts := Options{
			Messages: MessageSinkFunc(func(m *Message) error {
				c := *m
				out = append(out, record{Kind: "message", Msg: &c})
				return nil
			}),
			Rejects: RejectSinkFunc(func(r *logparse.Reject) error {
				out = append(out, record{Kind: "reject", Rej: fmt.Sprint(*r)})
				return nil
			}),
			Logins: LoginSinkFunc(func(l Login) error { out = append(out, record{Kind: "login", Lg: &l}); return nil }),
			Warnings: WarningSinkFunc(func(w Warning) error {
				out = append(out, record{Kind: "warning", Rej: fmt.Sprint(w)})
				return nil
			}),
		}
		c := New(opts)
		var st stored
		for i, ev := range evs {
			if commitEvery > 0 && i > 0 && i%commitEvery == 0 {
				d, err := c.State(false)
				if err != nil {
					t.Fatal(err)
				}
				st.apply(d)
				if i%(commitEvery*131) == 0 {
					// the changes add up to the whole state
					full, err := c.State(true)
					if err != nil {
						t.Fatal(err)
					}
					if diff := cmp.Diff(stringsOf(full.Put), stringsOf(st.items)); diff != "" {
						t.Fatalf("event %d: the committed changes differ from the state (-state +changes):\n%s", i, diff)
					}
				}
				if i%restartEvery == 0 {
					c = New(opts)
					if err := c.Restore(st.global, st.items); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := c.Add(ev); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
		s := c.Summary()
		s.Orphans = 0 // not kept across a restore (snapshotFields)
		return out, s
	}
	want, wantSum := run(0, 0)
	if len(want) < 100 {
		t.Fatalf("only %d records", len(want))
	}
	for _, c := range []struct{ commit, restart int }{{3, 3 * 37}, {7, 7 * 131}, {50, 500}, {97, 97 * 11}} {
		got, gotSum := run(c.commit, c.restart)
		// times come back from the state as the same instants
		if d := cmp.Diff(want, got, cmp.Comparer(func(a, b Message) bool { return fmt.Sprint(a) == fmt.Sprint(b) || msgEqual(a, b) })); d != "" {
			t.Errorf("committed every %d, restarted every %d events: records differ (-one run +restored):\n%s", c.commit, c.restart, d)
		}
		if d := cmp.Diff(wantSum, gotSum); d != "" {
			t.Errorf("committed every %d, restarted every %d events: counters differ:\n%s", c.commit, c.restart, d)
		}
	}
}

func stringsOf(m map[string][]byte) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}

// msgEqual compares two records by content, times as instants.
func msgEqual(a, b Message) bool {
	return cmp.Equal(a, b, cmp.Comparer(func(x, y Filter) bool { return fmt.Sprint(x) == fmt.Sprint(y) }))
}

func TestRestoreRefusesOtherVersions(t *testing.T) {
	c := New(Options{})
	if err := c.Restore([]byte("not a state"), nil); err == nil {
		t.Error("garbage restored")
	}
}
