// Package sendlimit enforces the limits on what an authenticated account
// sends through submission (docs/configuration.md, content.abuse): the
// per-account rate limits over a window (a refused message is deferred,
// 451 4.7.0), the mass-mailing rule (more than N recipients in one message
// needs a sender on the approved list, else the relay queue holds it), the
// hold of a locked account's queued mail, and the alarm event
// (event.Abuse) and metric postvakt_abuse_events_total raised for each. It
// acts on the engine's own submission path, synchronously and on wall-clock
// time; rate state is per node, in memory, while the holds are applied by
// the relay queue that the nodes share. The runbook for an account caught
// here is outgoing-spam-burst.
//
// It is a package of its own, apart from collectors/abusedetect, because
// the two watch different things and answer differently: sendlimit watches
// the messages the engine itself accepts on submission and refuses or
// holds them before they leave; abusedetect watches the log stream of every
// mail server (Postfix, Dovecot, webmail and this engine's events), on
// event time, and only reports what it finds to the on-call. The engine
// must not import the collectors, and the collectors import the engine for
// its event types only (docs/development.md, "Packages"), so one package
// could not serve both.
package sendlimit

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/uni-mail/postvakt/engine/event"
)

// The abuse kinds: the label values of postvakt_abuse_events_total and the
// event.Abuse kinds.
const (
	KindRateLimited     = event.AbuseRateLimited
	KindMassMailingHeld = event.AbuseMassMailingHeld
	KindAccountLocked   = event.AbuseAccountLocked
)

// Options configure a Controller.
type Options struct {
	Window        time.Duration
	MaxMessages   int // per account per window; 0: no limit
	MaxRecipients int // per account per window; 0: no limit
	// MassMailing: more recipients than this in one message needs an
	// approved sender; 0 disables the rule.
	MassMailing int
	Approved    []string
	Node        string
	Clock       func() time.Time
	Events      event.Sink
	Registerer  prometheus.Registerer
}

// Limits are the thresholds of abuse control (content.abuse): SetLimits
// changes them while running.
type Limits struct {
	Window        time.Duration
	MaxMessages   int
	MaxRecipients int
	MassMailing   int
	Approved      []string
}

// limits are Limits ready for use.
type limits struct {
	Limits
	approved map[string]bool
}

func compile(l Limits) *limits {
	if l.Window <= 0 {
		l.Window = time.Minute
	}
	c := &limits{Limits: l, approved: map[string]bool{}}
	for _, a := range l.Approved {
		c.approved[strings.ToLower(a)] = true
	}
	return c
}

// Controller applies the limits and raises the events.
type Controller struct {
	o       Options
	lim     atomic.Pointer[limits]
	counter *prometheus.CounterVec

	mu       sync.Mutex
	accounts map[string]*window
}

type window struct {
	start   time.Time
	msgs    int
	rcpts   int
	alarmed bool
}

// New returns a Controller; the metric is registered on o.Registerer when
// set.
func New(o Options) (*Controller, error) {
	if o.Window <= 0 {
		o.Window = time.Minute
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Events == nil {
		o.Events = event.Discard
	}
	c := &Controller{o: o, accounts: map[string]*window{}}
	c.SetLimits(Limits{Window: o.Window, MaxMessages: o.MaxMessages, MaxRecipients: o.MaxRecipients, MassMailing: o.MassMailing, Approved: o.Approved})
	c.counter = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "postvakt_abuse_events_total",
		Help: "Abuse-control events on submission, by kind (rate_limited, mass_mailing_held, account_locked).",
	}, []string{"kind"})
	for _, k := range []string{KindRateLimited, KindMassMailingHeld, KindAccountLocked} {
		c.counter.WithLabelValues(k)
	}
	if o.Registerer != nil {
		if err := o.Registerer.Register(c.counter); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// SetLimits changes the thresholds for the messages that follow (a
// configuration reload); the counts of the current windows are kept.
func (c *Controller) SetLimits(l Limits) { c.lim.Store(compile(l)) }

// Allow counts one message with rcpts recipients from account and reports
// whether it is within the limits. The first refusal in a window raises a
// rate_limited alarm event; every refusal is counted.
func (c *Controller) Allow(account, sender string, rcpts int) bool {
	l := c.lim.Load()
	if account == "" || (l.MaxMessages == 0 && l.MaxRecipients == 0) {
		return true
	}
	now := c.o.Clock()
	account = strings.ToLower(account)
	c.mu.Lock()
	w := c.accounts[account]
	if w == nil || now.Sub(w.start) >= l.Window || now.Before(w.start) {
		w = &window{start: now}
		c.accounts[account] = w
		// Forget idle accounts now and then so the map stays small.
		if len(c.accounts) > 10000 {
			for k, v := range c.accounts {
				if now.Sub(v.start) >= l.Window {
					delete(c.accounts, k)
				}
			}
		}
	}
	over := (l.MaxMessages > 0 && w.msgs+1 > l.MaxMessages) ||
		(l.MaxRecipients > 0 && w.rcpts+rcpts > l.MaxRecipients)
	alarm := false
	if !over {
		w.msgs++
		w.rcpts += rcpts
	} else if !w.alarmed {
		w.alarmed, alarm = true, true
	}
	msgs, total := w.msgs, w.rcpts
	c.mu.Unlock()
	if over {
		c.counter.WithLabelValues(KindRateLimited).Inc()
		if alarm {
			c.o.Events.Emit(&event.Abuse{At: now, Node: c.o.Node, What: KindRateLimited, User: account, Sender: sender,
				Messages: msgs, Rcpts: total, Detail: "submission rate limit exceeded; further mail is deferred"})
		}
	}
	return !over
}

// Approved reports whether sender may send mass mailings.
func (c *Controller) Approved(sender string) bool {
	return c.lim.Load().approved[strings.ToLower(sender)]
}

// MassMailing reports whether a message with rcpts recipients from
// sender must be held (more than the configured number, sender not
// approved).
func (c *Controller) MassMailing(sender string, rcpts int) bool {
	l := c.lim.Load()
	return l.MassMailing > 0 && rcpts > l.MassMailing && !l.approved[strings.ToLower(sender)]
}

// held records that a queued message was held: the alarm event and the
// metric. kind is KindMassMailingHeld or KindAccountLocked.
func (c *Controller) held(kind, user, sender, queueID string, rcpts int) {
	c.counter.WithLabelValues(kind).Inc()
	detail := "queued mail held"
	if kind == KindMassMailingHeld {
		detail = "mass mailing from a sender not on the approved list held for review"
	}
	c.o.Events.Emit(&event.Abuse{At: c.o.Clock(), Node: c.o.Node, What: kind, User: user, Sender: sender,
		QueueID: queueID, Rcpts: rcpts, Detail: detail})
}

// QueueGate returns the relay queue's gate (queue.Gate): entries of a
// locked account are held (account_locked), and a mass mailing from a
// sender not on the approved list is held (mass_mailing_held); both raise
// an alarm event. locked reports whether an account is locked; nil: never.
func (c *Controller) QueueGate(locked func(ctx context.Context, user string) bool) func(ctx context.Context, authUser, sender, queueID string, rcpts int) string {
	return func(ctx context.Context, authUser, sender, queueID string, rcpts int) string {
		if authUser == "" {
			// Only submitted mail is subject to abuse control; forwarded
			// and bounced mail is not.
			return ""
		}
		if locked != nil && locked(ctx, authUser) {
			c.held(KindAccountLocked, authUser, sender, queueID, rcpts)
			return KindAccountLocked
		}
		if c.MassMailing(sender, rcpts) {
			c.held(KindMassMailingHeld, authUser, sender, queueID, rcpts)
			return KindMassMailingHeld
		}
		return ""
	}
}
