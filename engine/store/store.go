// Package store owns local delivery's durability: the message model the
// engine commits (one content-addressed body, the transaction record, one
// reference per mailbox, relay-queue entries for remote targets), the Store
// interface the database implements, and the group committer that batches
// concurrent sessions' commits into one database transaction, so a 250 reply
// always follows a durable commit (RFC 5321 §4.5.4... §6.1: a server that
// says 250 takes responsibility for the message) without one fsync per
// message.
package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/uni-mail/postvakt/engine/event"
)

// Message is one accepted transaction ready to commit.
type Message struct {
	QueueID    string
	ReceivedAt time.Time
	Node       string
	Listener   string
	ClientIP   string
	HELO       string
	AuthUser   string
	MailFrom   string
	Rcpts      []string // envelope recipients as accepted
	MessageID  string
	Subject    string
	HeaderFrom string
	// Body is the message as stored (with our Received: header); BodyHash
	// is its hex SHA-256 (see Hash).
	Body     []byte
	BodyHash string
	// Truncated, when some delivery is truncated, is the From and Subject
	// only version of the message and its hash.
	Truncated     []byte
	TruncatedHash string
	Deliveries    []Delivery
	// Events are the mail events that record this message in the
	// transaction log (the transaction and each recipient's outcome): a
	// store with a journal writes them in the same database transaction
	// as the message, so an acknowledged message is never missing from
	// the log (docs/collectors.md, "The engine").
	Events []event.Event
}

// Delivery is one copy: to a local mailbox or to the relay queue.
type Delivery struct {
	Rcpt      string // the envelope recipient it came from
	MailboxID int64  // local mailbox, or 0
	Mailbox   string // its permanent address (for events and logs)
	Remote    string // remote address for the relay queue, or ""
	Truncated bool   // store Message.Truncated rather than Body
}

// Size is the stored size of d's copy.
func (m *Message) Size(d Delivery) int64 {
	if d.Truncated {
		return int64(len(m.Truncated))
	}
	return int64(len(m.Body))
}

// Hash is the content address of a body: hex SHA-256.
func Hash(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// StoredMessage is a message in a mailbox.
type StoredMessage struct {
	ID         int64
	MailboxID  int64
	QueueID    string
	BodyHash   string
	Size       int64
	ReceivedAt time.Time
	Truncated  bool
}

// Stats describe the store (a gauge source).
type Stats struct {
	Bodies     int64
	BodyBytes  int64
	Messages   int64
	QueuedMail int64
}

// Store is the durable mailbox store and transaction log.
type Store interface {
	// MailCommit writes msgs in one database transaction: bodies inserted
	// if absent (content-addressed), one transaction-log row per message,
	// one mailbox row per local delivery (adding its size to the mailbox's
	// used bytes), one relay-queue row per remote delivery. It returns
	// only after the commit is durable.
	MailCommit(ctx context.Context, msgs []*Message) error
	// MailMessages lists a mailbox's messages, oldest first.
	MailMessages(ctx context.Context, mailboxID int64) ([]StoredMessage, error)
	// MailBody returns a body by hash, or an error wrapping ErrNotFound.
	MailBody(ctx context.Context, hash string) ([]byte, error)
	// MailQueueIDsByMessageID returns the queue IDs of logged transactions
	// with the given Message-ID header.
	MailQueueIDsByMessageID(ctx context.Context, messageID string) ([]string, error)
	// MailStats counts bodies, messages and queued relay entries.
	MailStats(ctx context.Context) (Stats, error)
	// MailPrune deletes the transaction-log rows received before
	// txBefore (none when it is zero) and the bodies created (or last
	// reused) before bodiesBefore that no mailbox message and no relay
	// queue entry refers to any more. A transaction row may outlive its
	// body: body_hash then only names what was accepted.
	MailPrune(ctx context.Context, txBefore, bodiesBefore time.Time) (Pruned, error)
}

// Pruned counts what MailPrune deleted.
type Pruned struct {
	Transactions int64
	Bodies       int64
	BodyBytes    int64
}

// ErrNotFound is wrapped when a body or message does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrClosed is returned by Commit after Close.
var ErrClosed = errors.New("store: committer closed")

// CommitterOptions tune a Committer.
type CommitterOptions struct {
	// MaxBatch bounds messages per database transaction. Default 64.
	MaxBatch int
	// Workers commit in parallel; keep 1 on SQLite (one writer). Default 1.
	Workers int
	// MaxDelay lets a worker wait this long for more messages before it
	// commits a batch smaller than MaxBatch: a little latency for fewer
	// fsyncs under load. Default 0 (commit what is waiting at once).
	MaxDelay time.Duration
	// OnBatch, when set, observes each batch (size, duration, error) for
	// metrics.
	OnBatch func(n int, d time.Duration, err error)
}

// Committer is the group committer: Commit hands a message to a worker
// that gathers everything waiting (up to MaxBatch) into one MailCommit.
// While one transaction commits, the next batch accumulates, so throughput
// grows with concurrency while each caller still waits for its own durable
// commit.
type Committer struct {
	st   Store
	o    CommitterOptions
	reqs chan *request
	wg   sync.WaitGroup
	mu   sync.RWMutex
	done bool
}

type request struct {
	ctx context.Context
	msg *Message
	res chan error
}

// NewCommitter starts the workers; Close stops them.
func NewCommitter(st Store, o CommitterOptions) *Committer {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 64
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	c := &Committer{st: st, o: o, reqs: make(chan *request, o.MaxBatch*o.Workers*4)}
	for range o.Workers {
		c.wg.Add(1)
		go c.loop()
	}
	return c
}

// Commit durably stores msg, batched with concurrent callers. ctx bounds
// the wait: a cancelled caller gets ctx.Err(), but its message may still
// be committed (the client was not told 250, so at worst a duplicate).
func (c *Committer) Commit(ctx context.Context, msg *Message) error {
	r := &request{ctx: ctx, msg: msg, res: make(chan error, 1)}
	c.mu.RLock()
	if c.done {
		c.mu.RUnlock()
		return ErrClosed
	}
	select {
	case c.reqs <- r:
	case <-ctx.Done():
		c.mu.RUnlock()
		return ctx.Err()
	}
	c.mu.RUnlock()
	select {
	case err := <-r.res:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close commits what is queued and stops the workers.
func (c *Committer) Close() {
	c.mu.Lock()
	if !c.done {
		c.done = true
		close(c.reqs)
	}
	c.mu.Unlock()
	c.wg.Wait()
}

func (c *Committer) loop() {
	defer c.wg.Done()
	batch := make([]*request, 0, c.o.MaxBatch)
	msgs := make([]*Message, 0, c.o.MaxBatch)
	for first := range c.reqs {
		batch = append(batch[:0], first)
		var timeout <-chan time.Time
		var timer *time.Timer
		if c.o.MaxDelay > 0 {
			timer = time.NewTimer(c.o.MaxDelay)
			timeout = timer.C
		}
	gather:
		for len(batch) < c.o.MaxBatch {
			select {
			case r, ok := <-c.reqs:
				if !ok {
					break gather
				}
				batch = append(batch, r)
				continue
			default:
			}
			if timeout == nil {
				break
			}
			select {
			case r, ok := <-c.reqs:
				if !ok {
					break gather
				}
				batch = append(batch, r)
			case <-timeout:
				break gather
			}
		}
		if timer != nil {
			timer.Stop()
		}
		msgs = msgs[:0]
		live := batch[:0]
		for _, r := range batch {
			if r.ctx.Err() != nil {
				r.res <- r.ctx.Err()
				continue
			}
			live = append(live, r)
			msgs = append(msgs, r.msg)
		}
		if len(live) == 0 {
			continue
		}
		start := time.Now()
		// The batch commits under a context that survives any one caller's
		// cancellation: the others still wait for it.
		err := c.st.MailCommit(context.WithoutCancel(live[0].ctx), msgs)
		if c.o.OnBatch != nil {
			c.o.OnBatch(len(live), time.Since(start), err)
		}
		if err != nil && len(live) > 1 {
			// Isolate the failure: commit one by one so one bad message does
			// not fail its neighbours.
			for _, r := range live {
				r.res <- c.st.MailCommit(context.WithoutCancel(r.ctx), []*Message{r.msg})
			}
			continue
		}
		for _, r := range live {
			if err != nil {
				r.res <- fmt.Errorf("commit %s: %w", r.msg.QueueID, err)
			} else {
				r.res <- nil
			}
		}
	}
}
