// Package alertmanager owns postvakt's Alertmanager webhook receiver: it
// checks the bearer token, limits the body, decodes webhook payload
// version 4 (unknown fields tolerated, as Alertmanager adds fields within
// a version), answers 202 at once and hands the group to a Sink on a
// bounded queue worked in the background. Incidents are keyed by
// (receiver, groupKey); alerts by fingerprint.
//
// Payload: https://prometheus.io/docs/alerting/latest/configuration/#webhook_config
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
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Message is the webhook payload, version 4.
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
}

// Alert is one alert of a Message.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
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

// Decode parses a webhook body: JSON of version "4" with a groupKey, a
// receiver, a status of firing or resolved and alerts with fingerprints.
func Decode(body []byte) (Message, error) {
	var m Message
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&m); err != nil {
		return m, fmt.Errorf("%w: %v", ErrPayload, err)
	}
	if dec.More() {
		return m, fmt.Errorf("%w: trailing data", ErrPayload)
	}
	if m.Version != "4" {
		return m, fmt.Errorf("%w %q (want 4)", ErrVersion, m.Version)
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

// Key is the incident key of a group: "alertmanager/<receiver>/<groupKey>".
func Key(m Message) string { return "alertmanager/" + m.Receiver + "/" + m.GroupKey }

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

// Options configure a Receiver.
type Options struct {
	// Token is the bearer token Alertmanager sends
	// (http_config.authorization.credentials). Empty refuses every request.
	Token        string
	MaxBodyBytes int64 // default 1 MiB
	QueueSize    int   // default 256
	Sink         Sink
	Logger       *slog.Logger
	Registerer   prometheus.Registerer
}

// Receiver is the webhook endpoint and its background worker.
type Receiver struct {
	opts     Options
	queue    chan Message
	received *prometheus.CounterVec
	wg       sync.WaitGroup
}

// NewReceiver returns a Receiver; call Run to work its queue.
func NewReceiver(opts Options) (*Receiver, error) {
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 256
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Receiver{opts: opts, queue: make(chan Message, opts.QueueSize),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "postvakt_oncall_alertmanager_webhooks_total",
			Help: "Alertmanager webhook requests, by result (accepted, unauthorized, too_large, bad_request, queue_full, processed, failed).",
		}, []string{"result"})}
	// The results are a closed set: export each from zero so that rate()
	// and alert rules see the first increase.
	for _, res := range []string{"accepted", "unauthorized", "too_large", "bad_request", "queue_full", "processed", "failed"} {
		r.received.WithLabelValues(res)
	}
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(r.received); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// ServeHTTP accepts a webhook: 202 when queued, 401 on a bad token, 413
// over the size limit, 400 on a bad payload, 503 when the queue is full
// (Alertmanager retries), 405 for a method other than POST; a refusal is
// an ErrorReply.
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
	select {
	case r.queue <- m:
		r.received.WithLabelValues("accepted").Inc()
		reply(w, http.StatusAccepted, "", "queued")
	default:
		r.received.WithLabelValues("queue_full").Inc()
		reply(w, http.StatusServiceUnavailable, "unavailable", "queue full, retry later")
	}
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

// Reply is the receiver's answer: {"status": "queued"} when a group is
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

// Run works the queue until ctx ends, then finishes what is queued.
func (r *Receiver) Run(ctx context.Context) error {
	for {
		select {
		case m := <-r.queue:
			r.handle(ctx, m)
		case <-ctx.Done():
			drain := context.WithoutCancel(ctx)
			for {
				select {
				case m := <-r.queue:
					r.handle(drain, m)
				default:
					return nil
				}
			}
		}
	}
}

func (r *Receiver) handle(ctx context.Context, m Message) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	if err := r.opts.Sink.HandleGroup(ctx, m); err != nil {
		r.received.WithLabelValues("failed").Inc()
		r.opts.Logger.Error("alertmanager: handle group", "receiver", m.Receiver, "status", m.Status, "alerts", len(m.Alerts), "err", err)
		return
	}
	r.received.WithLabelValues("processed").Inc()
}
