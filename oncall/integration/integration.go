// Package integration owns postvakt's generic webhook intake: any system
// that can POST JSON (a monitoring tool, a script, a cron job) opens and
// resolves on-call incidents through a named integration with its own
// bearer token, at POST /api/v1/integrations/{name}/events.
//
// The event is a small JSON object (Event, docs/oncall.md "Intake"):
// summary and dedup_key are required; status firing (the default) opens
// the incident keyed integration/<name>/<dedup_key> or adds to the open
// one, resolved resolves it. The token is checked against its SHA-256
// (the configuration keeps only the hash), the body is bounded, and a
// malformed event is refused before anything is stored.
package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/uni-mail/postvakt/oncall/incident"
)

// Event is the body of POST /api/v1/integrations/{name}/events.
type Event struct {
	// Summary is the incident's title (required, at most 500 bytes).
	Summary string `json:"summary"`
	// Severity is critical, warning (the default) or info.
	Severity string `json:"severity,omitempty"`
	// Service names what is affected (a label of the incident).
	Service string `json:"service,omitempty"`
	// DedupKey identifies the problem: events with the same key update,
	// then resolve, one incident (required, at most 256 bytes).
	DedupKey string `json:"dedup_key"`
	// Status is firing (the default) or resolved.
	Status string `json:"status,omitempty"`
	// Details are shown with the incident (at most 50 entries).
	Details map[string]string `json:"details,omitempty"`
	// Link is a URL for more (http or https).
	Link string `json:"link,omitempty"`
}

// Status values of an Event.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// Limits of an Event.
const (
	MaxSummary  = 500
	MaxDedupKey = 256
	MaxDetails  = 50
	MaxDetail   = 2000
)

// ErrEvent marks an event that is not valid.
var ErrEvent = errors.New("invalid event")

// Decode parses and checks an event: one JSON object with no unknown
// fields and no trailing data.
func Decode(body []byte) (Event, error) {
	var e Event
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return e, fmt.Errorf("%w: %v", ErrEvent, err)
	}
	if dec.More() {
		return e, fmt.Errorf("%w: trailing data after the object", ErrEvent)
	}
	if e.Status == "" {
		e.Status = StatusFiring
	}
	e.Severity = strings.ToLower(e.Severity)
	if e.Severity == "" {
		e.Severity = incident.SeverityWarning
	}
	switch {
	case strings.TrimSpace(e.Summary) == "" || len(e.Summary) > MaxSummary:
		return e, fmt.Errorf("%w: summary is required, at most %d bytes", ErrEvent, MaxSummary)
	case e.DedupKey == "" || len(e.DedupKey) > MaxDedupKey || !utf8.ValidString(e.DedupKey):
		return e, fmt.Errorf("%w: dedup_key is required, at most %d bytes", ErrEvent, MaxDedupKey)
	case e.Status != StatusFiring && e.Status != StatusResolved:
		return e, fmt.Errorf("%w: status %q: want firing or resolved", ErrEvent, e.Status)
	case e.Severity != incident.SeverityCritical && e.Severity != incident.SeverityWarning && e.Severity != incident.SeverityInfo:
		return e, fmt.Errorf("%w: severity %q: want critical, warning or info", ErrEvent, e.Severity)
	case len(e.Service) > 100:
		return e, fmt.Errorf("%w: service longer than 100 bytes", ErrEvent)
	case len(e.Details) > MaxDetails:
		return e, fmt.Errorf("%w: %d details, at most %d", ErrEvent, len(e.Details), MaxDetails)
	case e.Link != "" && !strings.HasPrefix(e.Link, "https://") && !strings.HasPrefix(e.Link, "http://"):
		return e, fmt.Errorf("%w: link must be an http or https URL", ErrEvent)
	}
	for k, v := range e.Details {
		if k == "" || len(k) > 100 || len(v) > MaxDetail {
			return e, fmt.Errorf("%w: details key %q: keys 1–100 bytes, values at most %d", ErrEvent, k, MaxDetail)
		}
	}
	return e, nil
}

// Spec is one configured integration (oncall.integrations).
type Spec struct {
	// Name is the {name} of the route: letters, digits, '-' and '_'.
	Name string `yaml:"name"`
	// TokenSHA256 is the hex SHA-256 of the integration's bearer token;
	// postvakt never holds the token itself.
	TokenSHA256 string `yaml:"token_sha256"`
	// Policy is the escalation policy of its incidents; empty: the default.
	Policy string `yaml:"policy"`
	// MaxBodyBytes bounds an event; default 64 KiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
}

var nameRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// Validate names the first problem of s.
func (s Spec) Validate() error {
	if !nameRe.MatchString(s.Name) {
		return fmt.Errorf("name %q: letters, digits, '-' and '_', 1–64", s.Name)
	}
	if b, err := hex.DecodeString(s.TokenSHA256); err != nil || len(b) != sha256.Size {
		return fmt.Errorf("token_sha256: want 64 hex digits (printf %%s TOKEN | sha256sum)")
	}
	if s.MaxBodyBytes != 0 && (s.MaxBodyBytes < 1024 || s.MaxBodyBytes > 1<<20) {
		return fmt.Errorf("max_body_bytes %d: between 1024 and 1048576", s.MaxBodyBytes)
	}
	return nil
}

// Incidents is what the intake needs of package incident.
type Incidents interface {
	Trigger(ctx context.Context, tr incident.Trigger) (incident.Incident, bool, error)
	ResolveKey(ctx context.Context, key string, alerts []incident.Alert, by string) (incident.Incident, bool, error)
}

// Options configure a Handler.
type Options struct {
	Specs      []Spec
	Incidents  Incidents
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time
}

// Handler serves POST /api/v1/integrations/{name}/events.
type Handler struct {
	o      Options
	specs  map[string]Spec
	events *prometheus.CounterVec
}

// Results of an event: the result label of
// postvakt_oncall_integration_events_total.
var Results = []string{"opened", "updated", "resolved", "unmatched", "unauthorized", "too_large", "bad_request", "failed"}

// New returns a Handler.
func New(o Options) (*Handler, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	h := &Handler{o: o, specs: map[string]Spec{}, events: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "postvakt_oncall_integration_events_total",
		Help: "Events posted to the generic webhook intake, by result (opened, updated, resolved, unmatched: resolved with no open incident; unauthorized, too_large, bad_request: refused; failed: not stored).",
	}, []string{"result"})}
	for _, r := range Results {
		h.events.WithLabelValues(r)
	}
	for _, s := range o.Specs {
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("integration %s: %w", s.Name, err)
		}
		if s.MaxBodyBytes == 0 {
			s.MaxBodyBytes = 64 << 10
		}
		h.specs[s.Name] = s
	}
	if o.Registerer != nil {
		if err := o.Registerer.Register(h.events); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// Reply is the answer to an accepted event.
type Reply struct {
	IncidentID int64  `json:"incident_id,omitempty"`
	Key        string `json:"key"`
	// Result is opened, updated, resolved or unmatched (a resolved event
	// with no open incident).
	Result string `json:"result"`
}

// Key is the incident key of an event of integration name.
func Key(name string, e Event) string { return "integration/" + name + "/" + e.DedupKey }

// ServeHTTP handles one event: 202 with a Reply when it is applied, 401
// for an unknown integration or a wrong token (alike, so names cannot be
// probed), 413 over the size limit, 400 for a malformed event (nothing
// changes), 503 when the incident cannot be stored (send it again).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	spec, ok := h.specs[r.PathValue("name")]
	if !ok || !authorized(r, spec.TokenSHA256) {
		h.events.WithLabelValues("unauthorized").Inc()
		w.Header().Set("WWW-Authenticate", `Bearer realm="postvakt-integration"`)
		reply(w, http.StatusUnauthorized, "unauthorized", "unknown integration, or a missing or wrong bearer token")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, spec.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.events.WithLabelValues("too_large").Inc()
			reply(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("event larger than %d bytes", spec.MaxBodyBytes))
			return
		}
		h.events.WithLabelValues("bad_request").Inc()
		reply(w, http.StatusBadRequest, "bad_request", "cannot read body")
		return
	}
	ev, err := Decode(body)
	if err != nil {
		h.events.WithLabelValues("bad_request").Inc()
		reply(w, http.StatusBadRequest, "bad_request", err.Error())
		return
	}
	out, err := h.apply(r.Context(), spec, ev)
	if err != nil {
		h.events.WithLabelValues("failed").Inc()
		h.o.Logger.Error("integration: event not applied", "integration", spec.Name, "status", ev.Status, "err", err)
		w.Header().Set("Retry-After", "10")
		reply(w, http.StatusServiceUnavailable, "unavailable", "cannot store the event now; send it again")
		return
	}
	h.events.WithLabelValues(out.Result).Inc()
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusAccepted)
	_ = json.NewEncoder(w).Encode(out)
}

func (h *Handler) apply(ctx context.Context, spec Spec, ev Event) (Reply, error) {
	key := Key(spec.Name, ev)
	actor := "integration:" + spec.Name
	alert := incident.Alert{Fingerprint: ev.DedupKey, Status: ev.Status, Labels: map[string]string{"integration": spec.Name},
		Annotations: map[string]string{"summary": ev.Summary}, StartsAt: h.o.Now()}
	for k, v := range ev.Details {
		alert.Annotations[k] = v
	}
	if ev.Service != "" {
		alert.Labels["service"] = ev.Service
	}
	if ev.Status == StatusResolved {
		alert.EndsAt = h.o.Now()
		inc, ok, err := h.o.Incidents.ResolveKey(ctx, key, []incident.Alert{alert}, actor)
		if err != nil {
			return Reply{}, err
		}
		if !ok {
			return Reply{Key: key, Result: "unmatched", IncidentID: inc.ID}, nil
		}
		return Reply{IncidentID: inc.ID, Key: key, Result: "resolved"}, nil
	}
	title := ev.Summary
	if r := []rune(title); len(r) > 200 {
		title = string(r[:199]) + "…"
	}
	inc, created, err := h.o.Incidents.Trigger(ctx, incident.Trigger{Key: key, Source: "integration", Title: title, Summary: ev.Summary,
		Severity: ev.Severity, Policy: spec.Policy, Labels: alert.Labels, ExternalURL: ev.Link, Alerts: []incident.Alert{alert}, Actor: actor})
	if err != nil {
		return Reply{}, err
	}
	res := "updated"
	if created {
		res = "opened"
	}
	return Reply{IncidentID: inc.ID, Key: key, Result: res}, nil
}

// authorized compares the bearer token's SHA-256 with want in constant
// time.
func authorized(r *http.Request, want string) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(tok)))
	got := hex.EncodeToString(sum[:])
	return subtle.ConstantTimeCompare([]byte(got), []byte(strings.ToLower(want))) == 1
}

// reply writes the API's error envelope {"error":{"code","message"}}.
func reply(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	e.Error.Code, e.Error.Message = code, msg
	_ = json.NewEncoder(w).Encode(e)
}
