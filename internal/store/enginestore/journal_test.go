package enginestore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/event"
	"github.com/uni-mail/postvakt/engine/quarantine"
	"github.com/uni-mail/postvakt/engine/queue"
	"github.com/uni-mail/postvakt/engine/store"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
)

// journal records what the store journals, and can fail on demand.
type journal struct {
	evs  []string
	fail bool
}

func (j *journal) write(_ context.Context, tx *storage.Tx, evs []event.Event) error {
	if tx == nil {
		return errors.New("no transaction")
	}
	if j.fail {
		return errors.New("journal down")
	}
	for _, ev := range evs {
		switch e := ev.(type) {
		case *event.Transaction:
			j.evs = append(j.evs, "tx "+e.QueueID)
		case *event.Recipient:
			j.evs = append(j.evs, fmt.Sprintf("rcpt %s %s %s", e.QueueID, e.Outcome, e.Target))
		case *event.Relay:
			s := fmt.Sprintf("relay %s/%s %s %s", e.Node, e.QueueID, e.Step, e.Target)
			if e.Reply != "" {
				s += " (" + e.Reply + ")"
			}
			if e.DSNFor != "" {
				s += " dsn-for " + e.DSNFor
			}
			j.evs = append(j.evs, s)
		case *event.Quarantine:
			j.evs = append(j.evs, fmt.Sprintf("quarantine %s/%s %s %s %s", e.Node, e.QueueID, e.Step, strings.Join(e.Rcpts, ","), strings.Join(e.Mailboxes, ",")))
		}
	}
	return nil
}

func (j *journal) take() string {
	s := strings.Join(j.evs, "; ")
	j.evs = nil
	return s
}

// TestConformanceEngineJournal: with a journal, every change of the mail
// store, the relay queue and the quarantine writes its step in the same
// database transaction — a failing journal fails the change and leaves
// the store as it was (docs/collectors.md, "The engine").
func TestConformanceEngineJournal(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
		st := enginestore.New(db)
		j := &journal{}
		st.SetJournal(j.write, func() time.Time { return now })

		// the mail commit writes the message's own events
		body := []byte("Subject: x\r\n\r\nx\r\n")
		m := &store.Message{QueueID: "Q1", ReceivedAt: now, Node: "n1", Listener: "submission", MailFrom: "a@uni.example",
			Rcpts: []string{"x@remote.example"}, Body: body, BodyHash: store.Hash(body),
			Deliveries: []store.Delivery{{Rcpt: "x@remote.example", Remote: "x@remote.example"}}}
		m.Events = []event.Event{&event.Transaction{QueueID: "Q1"}, &event.Recipient{QueueID: "Q1", Outcome: event.OutcomeQueued, Target: "x@remote.example"}}
		if err := st.MailCommit(ctx, []*store.Message{m}); err != nil {
			t.Fatal(err)
		}
		if got := j.take(); got != "tx Q1; rcpt Q1 queued x@remote.example" {
			t.Errorf("commit journaled %q", got)
		}
		es, _ := st.QueueList(ctx, queue.Filter{})
		if len(es) != 1 || es[0].Node != "n1" || es[0].Listener != "submission" {
			t.Fatalf("entry %+v", es)
		}
		id := es[0].ID

		// a failing journal fails the change: nothing changes
		j.fail = true
		if err := st.QueueDelivered(ctx, id, queue.Attempt{At: now, Result: queue.ResultSent}); err == nil {
			t.Error("delivered with a failing journal")
		}
		if _, err := st.QueueHold(ctx, queue.Filter{QueueID: "Q1"}, "mass_mailing_held"); err == nil {
			t.Error("held with a failing journal")
		}
		m2 := *m
		m2.QueueID = "Q9"
		if err := st.MailCommit(ctx, []*store.Message{&m2}); err == nil {
			t.Error("committed with a failing journal")
		}
		j.fail = false
		if es, _ := st.QueueList(ctx, queue.Filter{}); len(es) != 1 || es[0].State != queue.StateQueued {
			t.Fatalf("after failed changes: %+v", es)
		}

		steps := []struct {
			do   func() error
			want string
		}{
			{func() error {
				_, err := st.QueueHold(ctx, queue.Filter{QueueID: "Q1"}, "mass_mailing_held")
				return err
			},
				"relay n1/Q1 held x@remote.example (mass_mailing_held)"},
			{func() error { _, err := st.QueueRelease(ctx, queue.Filter{QueueID: "Q1"}, now); return err },
				"relay n1/Q1 released x@remote.example"},
			{func() error {
				return st.QueueDeferred(ctx, id, 1, now.Add(time.Minute), queue.Attempt{At: now, Result: queue.ResultDeferred, Reply: "451 4.7.1 later"})
			}, "relay n1/Q1 deferred x@remote.example (451 4.7.1 later)"},
			{func() error {
				return st.QueueEnqueue(ctx, []byte("dsn"), now, []queue.NewEntry{{QueueID: "D1", Node: "n1", Rcpt: "a@uni.example", Target: "a@uni.example", DSNFor: "Q1"}})
			}, "relay n1/D1 queued a@uni.example dsn-for Q1"},
			{func() error {
				return st.QueueDelivered(ctx, id, queue.Attempt{At: now, Result: queue.ResultBounced, Reply: "550 5.1.1 no such user"})
			}, "relay n1/Q1 bounced x@remote.example (550 5.1.1 no such user)"},
			{func() error { _, err := st.QueueDelete(ctx, queue.Filter{QueueID: "D1"}); return err },
				"relay n1/D1 deleted a@uni.example (deleted by a postmaster)"},
		}
		for i, s := range steps {
			if err := s.do(); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if got := j.take(); got != s.want {
				t.Errorf("step %d journaled %q, want %q", i, got, s.want)
			}
		}

		// the quarantine: added, deleted, expired, released
		dir := newDirectory(t, st, now)
		if err := dir.AddDomain(ctx, "uni.example"); err != nil {
			t.Fatal(err)
		}
		if _, err := dir.AddMailbox(ctx, directory.NewMailbox{Address: "ola@uni.example"}); err != nil {
			t.Fatal(err)
		}
		svc := &quarantine.Service{Store: st, Directory: dir, Clock: func() time.Time { return now }, Retention: time.Hour}
		add := func(qid string, at time.Time) int64 {
			id, err := svc.Add(ctx, &quarantine.Item{QueueID: qid, Node: "n1", At: at, Reason: quarantine.ReasonVirus, MailFrom: "e@ext.example",
				Rcpts: []string{"ola@uni.example", "x@remote.example"}, MessageID: "<v@ext.example>", Body: []byte("x")})
			if err != nil {
				t.Fatal(err)
			}
			return id
		}
		q1, q2 := add("V1", now), add("V2", now.Add(-2*time.Hour))
		add("V3", now)
		if got := j.take(); got != "quarantine n1/V1 quarantined ola@uni.example,x@remote.example ; quarantine n1/V2 quarantined ola@uni.example,x@remote.example ; quarantine n1/V3 quarantined ola@uni.example,x@remote.example " {
			t.Errorf("added: %q", got)
		}
		if n, err := svc.Expire(ctx); n != 1 || err != nil {
			t.Fatalf("expire %d %v", n, err)
		}
		if got := j.take(); got != "quarantine n1/V2 expired ola@uni.example,x@remote.example " {
			t.Errorf("expired: %q", got)
		}
		_ = q2
		if err := svc.Delete(ctx, q1); err != nil {
			t.Fatal(err)
		}
		if got := j.take(); got != "quarantine n1/V1 deleted ola@uni.example,x@remote.example " {
			t.Errorf("deleted: %q", got)
		}
		items, _ := svc.List(ctx, quarantine.Filter{})
		if len(items) != 1 || items[0].MessageID != "<v@ext.example>" || items[0].Node != "n1" {
			t.Fatalf("left: %+v", items)
		}
		if _, err := svc.Release(ctx, items[0].ID); err != nil {
			t.Fatal(err)
		}
		if got := j.take(); got != "relay n1/V3 queued x@remote.example; quarantine n1/V3 released ola@uni.example,x@remote.example ola@uni.example" {
			t.Errorf("released: %q", got)
		}
	})
}
