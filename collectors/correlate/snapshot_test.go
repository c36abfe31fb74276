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
	"open": "kept", "finished": "kept", "sessions": "kept", "pending": "kept", "pendingAt": "kept", "smtpdSASL": "kept",
	"pos": "kept", "now": "kept", "lastSweep": "kept", "graceAt": "kept", "finishedMin": "kept", "sum": "kept", "events": "kept",
	"emitted": "left out: serves the Orphans counter only", "emittedBits": "left out: serves the Orphans counter only",
	"errs": "transient", "words": "cache",
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

// TestSnapshotRestoreEqualsOneRun feeds the sample once in one go, and
// again with the Correlator snapshot and restored into a fresh one every
// few hundred events: the sinks see the same records in the same order,
// and the counters end equal.
func TestSnapshotRestoreEqualsOneRun(t *testing.T) {
	t.Parallel()
	evs := loadSample(t, "postfix.log", "syslog-mail.log")
	run := func(every int) ([]record, Summary) {
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
		}
		c := New(opts)
		for i, ev := range evs {
			if every > 0 && i > 0 && i%every == 0 {
				snap, err := c.Snapshot()
				if err != nil {
					t.Fatal(err)
				}
				c = New(opts)
				if err := c.Restore(snap); err != nil {
					t.Fatal(err)
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
	want, wantSum := run(0)
	if len(want) < 1000 {
		t.Fatalf("only %d records", len(want))
	}
	for _, every := range []int{97, 1000} {
		got, gotSum := run(every)
		// times come back from the snapshot as the same instants
		if d := cmp.Diff(want, got, cmp.Comparer(func(a, b Message) bool { return fmt.Sprint(a) == fmt.Sprint(b) || msgEqual(a, b) })); d != "" {
			t.Errorf("restored every %d events: records differ (-one run +restored):\n%s", every, d)
		}
		if d := cmp.Diff(wantSum, gotSum); d != "" {
			t.Errorf("restored every %d events: counters differ:\n%s", every, d)
		}
	}
}

// msgEqual compares two records by content, times as instants.
func msgEqual(a, b Message) bool {
	return cmp.Equal(a, b, cmp.Comparer(func(x, y Filter) bool { return fmt.Sprint(x) == fmt.Sprint(y) }))
}

func TestRestoreRefusesOtherVersions(t *testing.T) {
	c := New(Options{})
	if err := c.Restore([]byte("not a snapshot")); err == nil {
		t.Error("garbage restored")
	}
}
