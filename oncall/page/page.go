// Package page owns paging: the Pager interface that every channel
// implements (Slack, e-mail, an HTTP SMS gateway, a generic webhook,
// Mattermost and Teams incoming webhooks), the pipeline of stages every
// page goes through — deduplication by key in the database, fan-out to
// every channel (or the channels a message names), retry with exponential
// backoff while a channel says a failure is retryable — the per-channel
// metrics, and the Dispatcher that turns incident notifications into
// messages for people, by their contact rules (ContactRule).
//
// The design follows Alertmanager's notify package: a notifier answers
// whether its failure is worth retrying, and behaviour is composed from
// small stages rather than built into each channel.
package page

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Kind is why a message is sent; a closed set fit for metric labels.
type Kind string

// The Kind values.
const (
	KindPage         Kind = "page"
	KindAcknowledged Kind = "acknowledged"
	KindResolved     Kind = "resolved"
	KindHandover     Kind = "handover"
	KindSwap         Kind = "swap"
	// KindReminder is a due step of a unit's migration checklist
	// (oncall/units), posted to the team channel.
	KindReminder Kind = "reminder"
)

// Recipient is a person as the channels need them.
type Recipient struct {
	ID       string `json:"id"`
	Name     string `json:"name,omitempty"`
	Email    string `json:"email,omitempty"`
	SlackID  string `json:"slack_id,omitempty"`
	TimeZone string `json:"time_zone,omitempty"`
	// Phone is the number an SMS gateway sends pages to (E.164).
	Phone string `json:"phone,omitempty"`
}

// Message is one thing to tell one person, or the team channel.
type Message struct {
	// Key deduplicates: a message whose key (with the channel's name) was
	// already sent is not sent again, across retries, restarts and replicas.
	Key  string
	Kind Kind
	// To is the person; zero when Channel is set.
	To Recipient
	// Channel posts to the team channel instead of a person.
	Channel    bool
	IncidentID int64
	Severity   string
	Subject    string
	Text       string
	// Link is a link for more (Alertmanager, the incident in the UI).
	Link string
	// AckURL is a signed link that acknowledges the incident (e-mail).
	AckURL string
	// Buttons adds Acknowledge and Resolve buttons (Slack).
	Buttons bool
	// SwapID adds Accept and Decline buttons for a swap request (Slack).
	SwapID int64
	// Channels, when set, are the only channels (by name) the message goes
	// to: a member's contact rules (ContactRule).
	Channels []string
}

// Pager is one channel. Page returns whether a failure is worth retrying
// (a timeout, a 4xx SMTP reply, Slack's rate limit) or not (an unknown
// user, a 5xx SMTP reply). ErrNotApplicable says the channel cannot reach
// this recipient (no Slack ID, no e-mail address); it is not a failure.
type Pager interface {
	Name() string
	Page(ctx context.Context, m Message) (retry bool, err error)
}

// ErrNotApplicable is returned by a Pager that cannot reach a recipient.
var ErrNotApplicable = errors.New("channel does not apply to this recipient")

// Record is a page as the Log stores it.
type Record struct {
	Key        string
	IncidentID int64
	Member     string
	Channel    string
	Kind       Kind
	CreatedAt  time.Time
	FinishedAt time.Time
	Result     string
	Attempts   int
	Error      string
}

// Paged is one member paged for one incident, as the on-call load counts
// it: the first page on any channel, with the incident's acknowledgement.
type Paged struct {
	IncidentID int64
	Member     string
	At         time.Time // the first page
	// IncidentAckedAt is when the incident was acknowledged; zero when
	// never.
	IncidentAckedAt time.Time
}

// AckedAt is when the page was answered: the incident's acknowledgement,
// unless that came before the page (the member was paged after someone
// else had acknowledged); zero when unanswered.
func (p Paged) AckedAt() time.Time {
	if p.IncidentAckedAt.Before(p.At) {
		return time.Time{}
	}
	return p.IncidentAckedAt
}

// Result values of a page; a closed set fit for metric labels.
const (
	ResultSent         = "sent"
	ResultFailed       = "failed"
	ResultDeduplicated = "deduplicated"
	ResultSkipped      = "skipped"
)

// Log is the dedup stage's memory (internal/store/oncallstore).
type Log interface {
	// ClaimPage stores r as pending and returns true, or returns false
	// when a page with r.Key exists.
	ClaimPage(ctx context.Context, r Record) (bool, error)
	// FinishPage records the outcome of a claimed page.
	FinishPage(ctx context.Context, key, result string, attempts int, errText string, at time.Time) error
}

// Backoff is the retry stage's schedule.
type Backoff struct {
	Attempts int           // total tries per channel, default 5
	Initial  time.Duration // first pause, default 1s; doubles each time
	Max      time.Duration // longest pause, default 30s
}

// Delay returns the pause after try n (1-based).
func (b Backoff) Delay(n int) time.Duration {
	d := b.Initial
	for i := 1; i < n; i++ {
		d *= 2
		if d >= b.Max {
			return b.Max
		}
	}
	return min(d, b.Max)
}

// Options configure a Pipeline.
type Options struct {
	Pagers     []Pager
	Log        Log // nil: no deduplication across restarts
	Backoff    Backoff
	Logger     *slog.Logger
	Now        func() time.Time
	Registerer prometheus.Registerer
	// Sleep waits between retries; tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Pipeline sends messages through dedup → fan-out → retry.
type Pipeline struct {
	opts  Options
	pages *prometheus.CounterVec
	tries *prometheus.CounterVec
}

// NewPipeline returns a Pipeline and registers its metrics.
func NewPipeline(opts Options) (*Pipeline, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Backoff.Attempts <= 0 {
		opts.Backoff.Attempts = 5
	}
	if opts.Backoff.Initial <= 0 {
		opts.Backoff.Initial = time.Second
	}
	if opts.Backoff.Max <= 0 {
		opts.Backoff.Max = 30 * time.Second
	}
	if opts.Sleep == nil {
		opts.Sleep = sleep
	}
	p := &Pipeline{
		opts: opts,
		pages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "postvakt_oncall_pages_total",
			Help: "Messages to on-call people, by channel, kind and final result (sent, failed, deduplicated, skipped).",
		}, []string{"channel", "kind", "result"}),
		tries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "postvakt_oncall_page_attempts_total",
			Help: "Attempts to send a message, by channel and outcome (ok, retryable, permanent).",
		}, []string{"channel", "outcome"}),
	}
	// Channels, kinds and results are closed sets: export each series from
	// zero so rate() and alert rules see the first page.
	for _, pg := range opts.Pagers {
		for _, k := range []Kind{KindPage, KindAcknowledged, KindResolved, KindHandover, KindSwap, KindReminder} {
			for _, r := range []string{ResultSent, ResultFailed, ResultDeduplicated, ResultSkipped} {
				p.pages.WithLabelValues(pg.Name(), string(k), r)
			}
		}
	}
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(p.pages); err != nil {
			return nil, err
		}
		if err := opts.Registerer.Register(p.tries); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Channels lists the names of the pipeline's pagers.
func (p *Pipeline) Channels() []string {
	out := make([]string, 0, len(p.opts.Pagers))
	for _, pg := range p.opts.Pagers {
		out = append(out, pg.Name())
	}
	return out
}

// Send fans msgs out to every channel at once and returns when all are
// done; the error joins the failures. A channel's failure never stops
// another channel.
func (p *Pipeline) Send(ctx context.Context, msgs ...Message) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, m := range msgs {
		for _, pg := range p.opts.Pagers {
			if len(m.Channels) > 0 && !slices.Contains(m.Channels, pg.Name()) {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := p.sendOne(ctx, pg, m); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (p *Pipeline) sendOne(ctx context.Context, pg Pager, m Message) error {
	ch := pg.Name()
	key := m.Key + "/" + ch
	if p.opts.Log != nil && m.Key != "" {
		fresh, err := p.opts.Log.ClaimPage(ctx, Record{Key: key, IncidentID: m.IncidentID, Member: m.To.ID, Channel: ch, Kind: m.Kind, CreatedAt: p.opts.Now()})
		if err != nil {
			return fmt.Errorf("page %s via %s: dedup: %w", key, ch, err)
		}
		if !fresh {
			p.pages.WithLabelValues(ch, string(m.Kind), ResultDeduplicated).Inc()
			return nil
		}
	}
	var (
		lastErr  error
		attempts int
	)
	for attempts = 1; attempts <= p.opts.Backoff.Attempts; attempts++ {
		retry, err := pg.Page(ctx, m)
		if err == nil {
			p.tries.WithLabelValues(ch, "ok").Inc()
			p.finish(ctx, ch, m, key, ResultSent, attempts, "")
			return nil
		}
		if errors.Is(err, ErrNotApplicable) {
			p.finish(ctx, ch, m, key, ResultSkipped, attempts, "")
			return nil
		}
		lastErr = err
		if !retry {
			p.tries.WithLabelValues(ch, "permanent").Inc()
			break
		}
		p.tries.WithLabelValues(ch, "retryable").Inc()
		if attempts == p.opts.Backoff.Attempts {
			break
		}
		p.opts.Logger.Warn("page: retrying", "channel", ch, "key", key, "attempt", attempts, "err", err)
		if err := p.opts.Sleep(ctx, p.opts.Backoff.Delay(attempts)); err != nil {
			lastErr = errors.Join(lastErr, err)
			break
		}
	}
	attempts = min(attempts, p.opts.Backoff.Attempts)
	p.opts.Logger.Error("page failed", "channel", ch, "key", key, "attempts", attempts, "err", lastErr)
	p.finish(ctx, ch, m, key, ResultFailed, attempts, lastErr.Error())
	return fmt.Errorf("page %s via %s: %w", key, ch, lastErr)
}

func (p *Pipeline) finish(ctx context.Context, ch string, m Message, key, result string, attempts int, errText string) {
	p.pages.WithLabelValues(ch, string(m.Kind), result).Inc()
	if result == ResultSent {
		p.opts.Logger.Info("page sent", "channel", ch, "kind", m.Kind, "member", m.To.ID, "incident", m.IncidentID, "attempts", attempts)
	}
	if p.opts.Log == nil || m.Key == "" {
		return
	}
	if len(errText) > 500 {
		errText = errText[:500]
	}
	// The outcome is recorded even when the caller's context has ended.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := p.opts.Log.FinishPage(ctx, key, result, attempts, errText, p.opts.Now()); err != nil {
		p.opts.Logger.Warn("page: record outcome", "key", key, "err", err)
	}
}
