// Package abusedetect detects abuse in the collectors' stream of logins and
// messages (docs/collectors.md, "Abuse detection"): an account sending more
// messages or recipients in a window than a person does (a phished account
// sending spam), single messages to more recipients than the mass-mailing
// limit (20 at the Swedish MX, above which a whitelisting routine applies),
// authentication failures per client IP and per user (password guessing),
// and one user logging in from many IPs.
//
// Each finding is an Alert with a runbook ID (runbooks/outgoing-spam-burst,
// runbooks/auth-brute-force) handed to an AlertSink, which the on-call
// capability implements, and counted in a metric. Windows run on event
// time, so logs replayed from the past detect what happened then. A key
// (user or IP) alerts once per window per kind, not once per event.
//
// It watches the logs of every mail server, after the fact, and only
// reports; the engine's own limits on submission, which refuse and hold
// mail as it arrives, are engine/sendlimit (see its package comment for why
// the two are apart).
package abusedetect

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/uni-mail/postvakt/config/validate"
)

// Kind names a finding. The set is closed and is a metric label.
type Kind string

// The kinds of finding.
const (
	KindSendMessages       Kind = "send_messages"        // messages per account per window
	KindSendRecipients     Kind = "send_recipients"      // recipients per account per window
	KindManyRecipients     Kind = "many_recipients"      // one message to more than the limit
	KindAuthFailuresIP     Kind = "auth_failures_ip"     // failed logins from one IP per window
	KindAuthFailuresUser   Kind = "auth_failures_user"   // failed logins for one user per window
	KindLoginManyAddresses Kind = "login_many_addresses" // successful logins of one user from many IPs
)

// Kinds lists every Kind.
func Kinds() []Kind {
	return []Kind{KindSendMessages, KindSendRecipients, KindManyRecipients, KindAuthFailuresIP, KindAuthFailuresUser, KindLoginManyAddresses}
}

// Runbook IDs (files in runbooks/).
const (
	RunbookSpamBurst  = "outgoing-spam-burst"
	RunbookBruteForce = "auth-brute-force"
)

// Runbook returns the runbook for a kind.
func (k Kind) Runbook() string {
	switch k {
	case KindSendMessages, KindSendRecipients, KindManyRecipients:
		return RunbookSpamBurst
	}
	return RunbookBruteForce
}

// Alert is one finding.
type Alert struct {
	Kind      Kind
	Runbook   string
	Subject   string // the account or the client IP
	Count     int
	Threshold int
	Window    time.Duration // 0 for single-message findings
	At        time.Time     // event time of the event that crossed the threshold
	Node      string
	Summary   string // one line for a page
}

// AlertSink receives findings; the on-call capability implements it.
// Alert must not block for long: it runs on the ingestion path.
type AlertSink interface {
	Alert(ctx context.Context, a Alert) error
}

// AlertSinkFunc adapts a function to AlertSink.
type AlertSinkFunc func(ctx context.Context, a Alert) error

// Alert calls f.
func (f AlertSinkFunc) Alert(ctx context.Context, a Alert) error { return f(ctx, a) }

// Config holds the thresholds (the `collectors.abuse` section).
type Config struct {
	Enabled bool          `yaml:"enabled"`
	Window  time.Duration `yaml:"window"`
	// MessagesPerAccount and RecipientsPerAccount: sent through
	// authenticated submission by one account within Window.
	MessagesPerAccount   int `yaml:"messages_per_account"`
	RecipientsPerAccount int `yaml:"recipients_per_account"`
	// RecipientsPerMessage: a message to more recipients than this alerts.
	RecipientsPerMessage int `yaml:"recipients_per_message"`
	// AuthFailuresPerIP and AuthFailuresPerUser within Window.
	AuthFailuresPerIP   int `yaml:"auth_failures_per_ip"`
	AuthFailuresPerUser int `yaml:"auth_failures_per_user"`
	// AddressesPerUser: distinct client IPs one user logs in from within Window.
	AddressesPerUser int `yaml:"addresses_per_user"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Enabled: true, Window: 10 * time.Minute, MessagesPerAccount: 100, RecipientsPerAccount: 300,
		RecipientsPerMessage: 20, AuthFailuresPerIP: 20, AuthFailuresPerUser: 10, AddressesPerUser: 5}
}

// Validate checks the thresholds; the errors are *validate.Error keyed
// relative to the section, joined.
func (c Config) Validate() error {
	var errs []error
	if c.Window < time.Second {
		errs = append(errs, validate.Field("window", c.Window, "must be at least 1s"))
	}
	for _, f := range []struct {
		k string
		v int
	}{{"messages_per_account", c.MessagesPerAccount}, {"recipients_per_account", c.RecipientsPerAccount},
		{"recipients_per_message", c.RecipientsPerMessage}, {"auth_failures_per_ip", c.AuthFailuresPerIP},
		{"auth_failures_per_user", c.AuthFailuresPerUser}, {"addresses_per_user", c.AddressesPerUser}} {
		if f.v < 1 {
			errs = append(errs, validate.Field(f.k, f.v, "must be at least 1"))
		}
	}
	return errors.Join(errs...)
}

// Options configure a Detector.
type Options struct {
	Config     Config
	Sink       AlertSink // nil: only counted
	Registerer prometheus.Registerer
	// OnError is told when the sink fails; nil ignores.
	OnError func(error)
}

// window counts events per key within a sliding window.
type window struct {
	times   []time.Time
	weights []int
	sum     int
	ips     map[string]time.Time // for KindLoginManyAddresses
	quiet   time.Time            // no new alert before this
}

// Detector finds abuse. It is not safe for concurrent use: feed it from
// the ingestion goroutine.
type Detector struct {
	o      Options
	cfg    atomic.Pointer[Config] // o.Config, changed by SetConfig
	state  map[Kind]map[string]*window
	alerts *prometheus.CounterVec
	last   time.Time
}

// New returns a Detector. The metric postvakt_collector_abuse_alerts_total
// is registered on o.Registerer when given.
func New(o Options) (*Detector, error) {
	d := &Detector{o: o, state: map[Kind]map[string]*window{}}
	d.cfg.Store(&o.Config)
	d.alerts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "postvakt_collector_abuse_alerts_total",
		Help: "Abuse findings raised by the collectors, by kind (runbooks outgoing-spam-burst, auth-brute-force).",
	}, []string{"kind"})
	for _, k := range Kinds() {
		d.state[k] = map[string]*window{}
		d.alerts.WithLabelValues(string(k))
	}
	if o.Registerer != nil {
		if err := o.Registerer.Register(d.alerts); err != nil {
			return nil, fmt.Errorf("abuse metrics: %w", err)
		}
	}
	return d, nil
}

// SetConfig changes the thresholds (collectors.abuse, on a reload) for
// the events that follow; counts within the current windows are kept. It
// may be called from any goroutine.
func (d *Detector) SetConfig(c Config) { d.cfg.Store(&c) }

func (d *Detector) config() Config { return *d.cfg.Load() }

// Login is one login outcome.
type Login struct {
	At   time.Time // event time
	Node string    // the server that logged it
	User string
	IP   string // the client
	OK   bool   // the login succeeded
}

// Login observes one login outcome.
func (d *Detector) Login(ctx context.Context, l Login) {
	if !d.config().Enabled {
		return
	}
	d.tick(l.At)
	c := d.config()
	if !l.OK {
		if l.IP != "" {
			d.count(ctx, KindAuthFailuresIP, l.IP, l.At, 1, c.AuthFailuresPerIP, l.Node)
		}
		if l.User != "" {
			d.count(ctx, KindAuthFailuresUser, l.User, l.At, 1, c.AuthFailuresPerUser, l.Node)
		}
		return
	}
	if l.User == "" || l.IP == "" {
		return
	}
	w := d.win(KindLoginManyAddresses, l.User)
	if w.ips == nil {
		w.ips = map[string]time.Time{}
	}
	w.ips[l.IP] = l.At
	for k, t := range w.ips {
		if l.At.Sub(t) > c.Window {
			delete(w.ips, k)
		}
	}
	if len(w.ips) > c.AddressesPerUser && !l.At.Before(w.quiet) {
		w.quiet = l.At.Add(c.Window)
		d.raise(ctx, Alert{Kind: KindLoginManyAddresses, Subject: l.User, Count: len(w.ips), Threshold: c.AddressesPerUser,
			Window: c.Window, At: l.At, Node: l.Node,
			Summary: fmt.Sprintf("%s logged in from %d addresses within %s", l.User, len(w.ips), c.Window)})
	}
}

// Message is one message sent.
type Message struct {
	At   time.Time // event time
	Node string    // the server that logged it

	// User is the authenticated account; "" for unauthenticated mail, which
	// only the recipient limit applies to.
	User       string
	MessageID  string
	Recipients int
}

// Message observes one message sent.
func (d *Detector) Message(ctx context.Context, m Message) {
	if !d.config().Enabled {
		return
	}
	d.tick(m.At)
	c := d.config()
	if m.Recipients > c.RecipientsPerMessage {
		subject := m.User
		if subject == "" {
			subject = "message " + m.MessageID
		}
		d.raise(ctx, Alert{Kind: KindManyRecipients, Subject: subject, Count: m.Recipients, Threshold: c.RecipientsPerMessage,
			At: m.At, Node: m.Node, Summary: fmt.Sprintf("message <%s> from %q to %d recipients (limit %d)", m.MessageID, m.User, m.Recipients, c.RecipientsPerMessage)})
	}
	if m.User == "" {
		return
	}
	d.count(ctx, KindSendMessages, m.User, m.At, 1, c.MessagesPerAccount, m.Node)
	if m.Recipients > 0 {
		d.count(ctx, KindSendRecipients, m.User, m.At, m.Recipients, c.RecipientsPerAccount, m.Node)
	}
}

func (d *Detector) win(k Kind, key string) *window {
	w := d.state[k][key]
	if w == nil {
		w = &window{}
		d.state[k][key] = w
	}
	return w
}

// count adds weight for key at t and alerts when the window's sum exceeds
// the threshold.
func (d *Detector) count(ctx context.Context, k Kind, key string, t time.Time, weight, threshold int, node string) {
	w := d.win(k, key)
	win := d.config().Window
	n := 0
	for n < len(w.times) && t.Sub(w.times[n]) > win {
		w.sum -= w.weights[n]
		n++
	}
	w.times, w.weights = w.times[n:], w.weights[n:]
	w.times = append(w.times, t)
	w.weights = append(w.weights, weight)
	w.sum += weight
	if w.sum > threshold && !t.Before(w.quiet) {
		w.quiet = t.Add(win)
		what := map[Kind]string{KindSendMessages: "messages sent by", KindSendRecipients: "recipients addressed by",
			KindAuthFailuresIP: "failed logins from", KindAuthFailuresUser: "failed logins for"}[k]
		d.raise(ctx, Alert{Kind: k, Subject: key, Count: w.sum, Threshold: threshold, Window: win, At: t, Node: node,
			Summary: fmt.Sprintf("%d %s %s within %s (limit %d)", w.sum, what, key, win, threshold)})
	}
}

func (d *Detector) raise(ctx context.Context, a Alert) {
	a.Runbook = a.Kind.Runbook()
	d.alerts.WithLabelValues(string(a.Kind)).Inc()
	if d.o.Sink == nil {
		return
	}
	if err := d.o.Sink.Alert(ctx, a); err != nil && d.o.OnError != nil {
		d.o.OnError(fmt.Errorf("abuse alert %s %s: %w", a.Kind, a.Subject, err))
	}
}

// tick forgets idle keys once per window of event time, bounding memory.
func (d *Detector) tick(t time.Time) {
	win := d.config().Window
	if t.Sub(d.last) < win {
		return
	}
	d.last = t
	for _, m := range d.state {
		for key, w := range m {
			for ip, seen := range w.ips {
				if t.Sub(seen) > win {
					delete(w.ips, ip)
				}
			}
			idle := len(w.times) == 0 || t.Sub(w.times[len(w.times)-1]) > win
			if idle && len(w.ips) == 0 && !t.Before(w.quiet) {
				delete(m, key)
			}
		}
	}
}
