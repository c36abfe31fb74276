// Package alertmanager owns postvakt's Alertmanager webhook receiver: it
// checks the bearer token, limits the body, decodes webhook payload
// version 4 (unknown fields tolerated, as Alertmanager adds fields within
// a version) or Grafana-managed alerting's webhook, version 1 (the same
// shape with orgId, state, title, message and per-alert values and
// dashboard, panel and silence links), stores the group in a durable inbox (the database) and only
// then answers 202; when it cannot store it, it answers 503 so that
// Alertmanager sends it again (Alertmanager retries a webhook on 5xx and
// not on 2xx). A worker hands the stored groups to a Sink in the order
// they came, per group, retrying what fails until it is handled: a page
// survives a database outage, a crash and a restart. Incidents are keyed
// by (receiver, groupKey); alerts by fingerprint.
//
// Payload: https://prometheus.io/docs/alerting/latest/configuration/#webhook_config
// and https://grafana.com/docs/grafana/latest/alerting/configure-notifications/manage-contact-points/integrations/webhook-notifier/
package alertmanager

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Message is the webhook payload: Alertmanager's version 4, or Grafana
// alerting's version 1 (the fields after ExternalURL).
type Message struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"` // firing or resolved
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []Alert           `json:"alerts"`
	// Grafana alerting (version 1) only.
	OrgID   int64  `json:"orgId,omitempty"`
	State   string `json:"state,omitempty"` // alerting, ok
	Title   string `json:"title,omitempty"`
	Message string `json:"message,omitempty"`
}

// Grafana reports whether m is Grafana alerting's payload (version 1).
func (m Message) Grafana() bool { return m.Version == VersionGrafana }

// The payload versions Decode accepts.
const (
	VersionAlertmanager = "4"
	VersionGrafana      = "1"
)

// Alert is one alert of a Message.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
	// Grafana alerting (version 1) only: the query values that fired
	// (by reference ID; null when a query has no value) and links.
	Values       map[string]*float64 `json:"values,omitempty"`
	ValueString  string              `json:"valueString,omitempty"`
	DashboardURL string              `json:"dashboardURL,omitempty"`
	PanelURL     string              `json:"panelURL,omitempty"`
	SilenceURL   string              `json:"silenceURL,omitempty"`
}

// Decoding errors.
var (
	ErrVersion = errors.New("unsupported webhook version")
	ErrPayload = errors.New("invalid webhook payload")
)

// Limits of Decode.
const (
	MaxAlerts   = 10000
	MaxKeyBytes = 4096
)

// Decode parses a webhook body: JSON of version "4" (Alertmanager) or "1"
// (Grafana alerting) with a groupKey, a receiver, a status of firing or
// resolved and alerts with fingerprints.
func Decode(body []byte) (Message, error) {
	var m Message
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("%w: %v", ErrPayload, err)
	}
	if dec.More() {
		return m, fmt.Errorf("%w: trailing data", ErrPayload)
	}
	if m.Version != VersionAlertmanager && m.Version != VersionGrafana {
		return m, fmt.Errorf("%w %q (want 4, or 1 from Grafana alerting)", ErrVersion, m.Version)
	}
	if len(m.Title) > MaxKeyBytes || len(m.Message) > 64<<10 {
		return m, fmt.Errorf("%w: title or message too long", ErrPayload)
	}
	switch {
	case m.GroupKey == "" || len(m.GroupKey) > MaxKeyBytes:
		return m, fmt.Errorf("%w: groupKey missing or too long", ErrPayload)
	case m.Receiver == "" || len(m.Receiver) > 256:
		return m, fmt.Errorf("%w: receiver missing or too long", ErrPayload)
	case m.Status != "firing" && m.Status != "resolved":
		return m, fmt.Errorf("%w: status %q", ErrPayload, m.Status)
	case len(m.Alerts) > MaxAlerts:
		return m, fmt.Errorf("%w: %d alerts", ErrPayload, len(m.Alerts))
	}
	for i, a := range m.Alerts {
		if a.Status != "firing" && a.Status != "resolved" {
			return m, fmt.Errorf("%w: alerts[%d].status %q", ErrPayload, i, a.Status)
		}
		if a.Fingerprint == "" || len(a.Fingerprint) > 256 {
			return m, fmt.Errorf("%w: alerts[%d].fingerprint missing or too long", ErrPayload, i)
		}
	}
	return m, nil
}

// Key is the incident key of a group: "alertmanager/<receiver>/<groupKey>",
// or "grafana/<orgId>/<receiver>/<groupKey>" for Grafana alerting.
func Key(m Message) string {
	if m.Grafana() {
		return fmt.Sprintf("grafana/%d/%s/%s", m.OrgID, m.Receiver, m.GroupKey)
	}
	return "alertmanager/" + m.Receiver + "/" + m.GroupKey
}

// Source is the incident source of a group: "grafana" or "alertmanager".
func Source(m Message) string {
	if m.Grafana() {
		return "grafana"
	}
	return "alertmanager"
}

// Firing reports whether any alert of m fires.
func Firing(m Message) bool {
	for _, a := range m.Alerts {
		if a.Status == "firing" {
			return true
		}
	}
	return m.Status == "firing" && len(m.Alerts) == 0
}

// Sink handles a decoded group (the wiring opens, updates or resolves the
// incident).
type Sink interface {
	HandleGroup(ctx context.Context, m Message) error
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(ctx context.Context, m Message) error

// HandleGroup calls f.
func (f SinkFunc) HandleGroup(ctx context.Context, m Message) error { return f(ctx, m) }

// Item is one stored webhook group of the inbox.
type Item struct {
	ID int64
	// Key is the group's incident key (Key): items of one key are handled
	// in the order they came.
	Key string
	// Body is the group as JSON (the decoded Message, encoded again).
	Body       []byte
	ReceivedAt time.Time
	// Attempts counts the failed attempts to handle it; NextAt is when it
	// may be tried again.
	Attempts int
	NextAt   time.Time
}

// Inbox keeps the accepted groups durably until they are handled
// (internal/store/oncallstore). Several replicas may share it.
type Inbox interface {
	// AddInboxItem stores a group (ID is assigned) and returns its ID.
	AddInboxItem(ctx context.Context, it Item) (int64, error)
	// PendingInboxItems returns up to limit items not yet handled, oldest
	// first, due or not.
	PendingInboxItems(ctx context.Context, limit int) ([]Item, error)
	// InboxItemDone marks an item handled at.
	InboxItemDone(ctx context.Context, id int64, at time.Time) error
	// InboxItemFailed records a failed attempt: the count, when to try
	// again and the error.
	InboxItemFailed(ctx context.Context, id int64, attempts int, next time.Time, lastErr string) error
	// PruneInbox deletes the items handled before.
	PruneInbox(ctx context.Context, before time.Time) (int64, error)
}

// Options configure a Receiver.
type Options struct {
	// Token is the bearer token Alertmanager sends
	// (http_config.authorization.credentials). Empty refuses every request.
	Token        string
	MaxBodyBytes int64 // default 1 MiB
	// Inbox stores each group before the answer; required.
	Inbox Inbox
	Sink  Sink
	// Lock, when set, makes one worker at a time (across replicas) handle
	// the inbox: it returns an unlock function and whether it got the lock
	// (a database advisory lock). Nil: no lock.
	Lock func(ctx context.Context) (unlock func(), ok bool, err error)
	// Poll is how often the worker looks for groups stored by another
	// replica or left to retry; default 2s. A group this replica stores is
	// handled at once.
	Poll time.Duration
	// StoreTimeout bounds storing one group before the answer; default 10s.
	StoreTimeout time.Duration
	Logger       *slog.Logger
	Registerer   prometheus.Registerer
	Now          func() time.Time
}

// Receiver is the webhook endpoint and the worker of its inbox.
type Receiver struct {
	opts      Options
	wake      chan struct{}
	received  *prometheus.CounterVec
	pending   prometheus.Gauge
	oldest    prometheus.Gauge
	lastPrune time.Time
}

// Results of webhook requests and of handling stored groups: the values of
// the result label of postvakt_oncall_alertmanager_webhooks_total.
var Results = []string{"accepted", "unauthorized", "too_large", "bad_request", "unavailable", "processed", "failed"}

// NewReceiver returns a Receiver; call Run to work its inbox.
func NewReceiver(opts Options) (*Receiver, error) {
	if opts.Inbox == nil {
		return nil, errors.New("alertmanager receiver: no inbox")
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.Poll <= 0 {
		opts.Poll = 2 * time.Second
	}
	if opts.StoreTimeout <= 0 {
		opts.StoreTimeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Receiver{opts: opts, wake: make(chan struct{}, 1),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "postvakt_oncall_alertmanager_webhooks_total",
			Help: "Alertmanager webhook requests and stored groups, by result (accepted: stored, unauthorized, too_large, bad_request, unavailable: not stored, answered 503; processed, failed: an attempt to handle a stored group).",
		}, []string{"result"}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "postvakt_oncall_alertmanager_inbox_pending",
			Help: "Stored Alertmanager groups not yet handled, as the inbox worker last saw them.",
		}),
		oldest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "postvakt_oncall_alertmanager_inbox_oldest_seconds",
			Help: "Age of the oldest stored Alertmanager group not yet handled, as the inbox worker last saw it; 0 when none waits.",
		}),
	}
	// The results are a closed set: export each from zero so that rate()
	// and alert rules see the first increase.
	for _, res := range Results {
		r.received.WithLabelValues(res)
	}
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{r.received, r.pending, r.oldest} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

// ServeHTTP accepts a webhook: 202 once the group is stored, 401 on a bad
// token, 413 over the size limit, 400 on a bad payload, 503 when the group
// cannot be stored (Alertmanager retries), 405 for a method other than
// POST; a refusal is an ErrorReply.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		reply(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
		return
	}
	if !r.authorized(req) {
		r.received.WithLabelValues("unauthorized").Inc()
		w.Header().Set("WWW-Authenticate", `Bearer realm="postvakt-alertmanager"`)
		reply(w, http.StatusUnauthorized, "unauthorized", "missing or wrong bearer token")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, r.opts.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			r.received.WithLabelValues("too_large").Inc()
			reply(w, http.StatusRequestEntityTooLarge, "too_large", "request body too large")
			return
		}
		r.received.WithLabelValues("bad_request").Inc()
		reply(w, http.StatusBadRequest, "bad_request", "cannot read body")
		return
	}
	m, err := Decode(body)
	if err != nil {
		r.received.WithLabelValues("bad_request").Inc()
		reply(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	// Encoded again: valid UTF-8 and nothing but the fields postvakt reads.
	stored, err := json.Marshal(m)
	if err == nil {
		ctx, cancel := context.WithTimeout(req.Context(), r.opts.StoreTimeout)
		_, err = r.opts.Inbox.AddInboxItem(ctx, Item{Key: Key(m), Body: stored, ReceivedAt: r.opts.Now(), NextAt: r.opts.Now()})
		cancel()
	}
	if err != nil {
		r.received.WithLabelValues("unavailable").Inc()
		r.opts.Logger.Error("alertmanager: group not stored, answered 503 so that Alertmanager sends it again",
			"receiver", m.Receiver, "status", m.Status, "alerts", len(m.Alerts), "err", err)
		w.Header().Set("Retry-After", "10")
		reply(w, http.StatusServiceUnavailable, "unavailable", "cannot store the alert now; send it again")
		return
	}
	r.received.WithLabelValues("accepted").Inc()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	reply(w, http.StatusAccepted, "", "stored")
}

func (r *Receiver) authorized(req *http.Request) bool {
	if r.opts.Token == "" {
		return false
	}
	scheme, tok, ok := strings.Cut(req.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(r.opts.Token)) == 1
}

// Reply is the receiver's answer: {"status": "stored"} when a group is
// accepted.
type Reply struct {
	Status string `json:"status"`
}

// ErrorReply is the receiver's answer to a request it refuses, in the
// envelope of postvakt's whole API: {"error":{"code":"…","message":"…"}}.
// The codes are unauthorized, too_large, bad_request, unavailable and
// method_not_allowed.
type ErrorReply struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// reply writes an ErrorReply when code is set, else a Reply with msg.
func reply(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	if code == "" {
		_ = json.NewEncoder(w).Encode(Reply{Status: msg})
		return
	}
	var e ErrorReply
	e.Error.Code, e.Error.Message = code, msg
	_ = json.NewEncoder(w).Encode(e)
}

// Limits of the worker.
const (
	// batch is how many pending groups one round reads.
	batch = 500
	// maxBackoff caps the wait between attempts of a failing group: it is
	// retried for as long as it fails, never dropped.
	maxBackoff = 5 * time.Minute
	// keepHandled is how long handled groups stay in the inbox.
	keepHandled = 7 * 24 * time.Hour
)

// Run works the inbox until ctx ends: at once when this replica stored a
// group, and every Poll for groups stored by another replica or due for a
// retry. A round that fails (the database is down) is tried again at the
// next poll.
func (r *Receiver) Run(ctx context.Context) error {
	t := time.NewTicker(r.opts.Poll)
	defer t.Stop()
	for {
		if err := r.Round(ctx); err != nil && ctx.Err() == nil {
			r.opts.Logger.Warn("alertmanager: inbox round failed; trying again", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.wake:
		case <-t.C:
		}
	}
}

// Round handles the pending groups once: oldest first; a group that fails
// is tried again later (with a backoff of 2^attempts seconds up to five
// minutes), and the later groups of its key wait for it, so that a group's
// firing and resolved states are applied in the order they came.
func (r *Receiver) Round(ctx context.Context) error {
	if r.opts.Lock != nil {
		unlock, ok, err := r.opts.Lock(ctx)
		if err != nil {
			return err
		}
		if !ok {
			return nil // another replica works the inbox now
		}
		defer unlock()
	}
	items, err := r.opts.Inbox.PendingInboxItems(ctx, batch)
	if err != nil {
		return err
	}
	now := r.opts.Now()
	r.pending.Set(float64(len(items)))
	if len(items) > 0 {
		r.oldest.Set(now.Sub(items[0].ReceivedAt).Seconds())
	} else {
		r.oldest.Set(0)
	}
	blocked := map[string]bool{}
	var errs []error
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		if blocked[it.Key] {
			continue
		}
		if it.NextAt.After(now) {
			blocked[it.Key] = true
			continue
		}
		handled, err := r.handle(ctx, it)
		if !handled {
			blocked[it.Key] = true
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	if now.Sub(r.lastPrune) > time.Hour {
		if _, err := r.opts.Inbox.PruneInbox(ctx, now.Add(-keepHandled)); err != nil {
			errs = append(errs, err)
		} else {
			r.lastPrune = now
		}
	}
	return errors.Join(errs...)
}

// handle hands one stored group to the sink and records the outcome. It
// reports whether the group was handled, and an error only when the
// outcome could not be recorded.
func (r *Receiver) handle(ctx context.Context, it Item) (bool, error) {
	var m Message
	err := json.Unmarshal(it.Body, &m)
	if err == nil {
		hctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		err = r.opts.Sink.HandleGroup(hctx, m)
		cancel()
	}
	now := r.opts.Now()
	if err == nil {
		r.received.WithLabelValues("processed").Inc()
		// Should this fail, the group is handled again: the sink is
		// idempotent per group (an incident is keyed by its group).
		return true, r.opts.Inbox.InboxItemDone(ctx, it.ID, now)
	}
	r.received.WithLabelValues("failed").Inc()
	attempts := it.Attempts + 1
	wait := maxBackoff
	if attempts < 9 {
		wait = min(time.Duration(1<<attempts)*time.Second, maxBackoff)
	}
	r.opts.Logger.Error("alertmanager: handling a stored group failed; it will be tried again",
		"receiver", m.Receiver, "status", m.Status, "alerts", len(m.Alerts), "attempt", attempts, "retry_in_seconds", wait.Seconds(), "err", err)
	msg := err.Error()
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	return false, r.opts.Inbox.InboxItemFailed(ctx, it.ID, attempts, now.Add(wait), strings.ToValidUTF8(msg, ""))
}
