package enginestore

import (
	"context"
	"time"

	"github.com/uni-mail/postvakt/engine/event"
	"github.com/uni-mail/postvakt/engine/quarantine"
	"github.com/uni-mail/postvakt/engine/queue"
	"github.com/uni-mail/postvakt/internal/storage"
)

// Journal writes the transaction-log records of engine events inside the
// engine's own database transaction (docs/collectors.md, "The engine"):
// the message and its recipients' outcomes with the mail commit that makes
// the 250 reply true, each relay-queue step with the entry's change, each
// quarantine step with the item's. So after a crash the log holds exactly
// what the engine holds. internal/app connects it to the collectors'
// records and the transaction log's store.
type Journal func(ctx context.Context, tx *storage.Tx, evs []event.Event) error

// SetJournal makes the store write the engine's events to j; clock dates
// the steps whose caller gives no time (holds, deletions, expiry). Call it
// before the store is used.
func (s *Store) SetJournal(j Journal, clock func() time.Time) {
	if clock == nil {
		clock = time.Now
	}
	s.journal, s.clock = j, clock
}

// journaling reports whether a journal is set.
func (s *Store) journaling() bool { return s.journal != nil }

func (s *Store) write(ctx context.Context, tx *storage.Tx, evs []event.Event) error {
	if s.journal == nil || len(evs) == 0 {
		return nil
	}
	return s.journal(ctx, tx, evs)
}

// relayEvent is the step of entry e.
func relayEvent(e queue.Entry, step event.RelayStep, at time.Time) *event.Relay {
	return &event.Relay{At: at, Node: e.Node, QueueID: e.QueueID, Listener: e.Listener, ClientIP: e.ClientIP,
		AuthUser: e.AuthUser, MailFrom: e.MailFrom, Rcpt: e.Rcpt, Target: e.Target, Step: step, Attempt: e.Attempts,
		Size: e.Size}
}

// attemptEvent is the step of entry e that attempt a made.
func attemptEvent(e queue.Entry, a queue.Attempt) *event.Relay {
	step := event.RelayDeferred
	switch a.Result {
	case queue.ResultSent:
		step = event.RelayDelivered
	case queue.ResultBounced:
		step = event.RelayBounced
	case queue.ResultExpired:
		step = event.RelayExpired
	}
	ev := relayEvent(e, step, a.At)
	ev.Attempt, ev.Agent, ev.Remote, ev.Code, ev.Enhanced, ev.Reply = e.Attempts+1, a.Agent, a.Remote, a.Code, a.Enhanced, a.Reply
	return ev
}

// quarantineEvent is the step of item it.
func quarantineEvent(it quarantine.Item, step event.QuarantineStep, at time.Time) *event.Quarantine {
	return &event.Quarantine{At: at, Node: it.Node, QueueID: it.QueueID, Step: step, Reason: string(it.Reason), Detail: it.Detail,
		Listener: it.Listener, ClientIP: it.ClientIP, AuthUser: it.AuthUser, MailFrom: it.MailFrom, Rcpts: it.Rcpts,
		MessageID: it.MessageID, Subject: it.Subject, HeaderFrom: it.HeaderFrom, Size: it.Size}
}
