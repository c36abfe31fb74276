// Package incident owns on-call incidents: opening them (from Alertmanager,
// heartbeats or by hand), escalation policies as pure functions of
// (policy, state, time), the step that fires what is due from timers kept
// in the database (Tick; the loop that calls it is oncall/alerting's), and
// acknowledge and resolve, which are idempotent and race-free because
// every state change is a conditional UPDATE.
//
// Paging is behind Notifier (package page implements the channels), people
// behind Roster (package team), and fault tickets behind IncidentTicketer
// (oncall/alerting's TicketLink implements it with the ticket service);
// when it is nil no ticket is opened.
package incident

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Status is an incident's state, a closed set.
type Status string

// The Status values. An incident moves triggered → acknowledged → resolved
// or triggered → resolved, never back.
const (
	StatusTriggered    Status = "triggered"
	StatusAcknowledged Status = "acknowledged"
	StatusResolved     Status = "resolved"
)

// Statuses lists every Status.
func Statuses() []Status { return []Status{StatusTriggered, StatusAcknowledged, StatusResolved} }

// Severity values postvakt knows; others are kept as given.
const (
	SeverityCritical = "critical"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)

// Alert is one alert of an incident, keyed by its fingerprint
// (Alertmanager's, or the heartbeat's name).
type Alert struct {
	Fingerprint string            `json:"fingerprint"`
	Status      string            `json:"status"` // firing or resolved
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"starts_at"`
	EndsAt      time.Time         `json:"ends_at"`
}

// Incident is an incident as stored.
type Incident struct {
	ID          int64             `json:"id"`
	Key         string            `json:"key"`    // e.g. "alertmanager/<receiver>/<groupKey>", "heartbeat/<name>"
	Source      string            `json:"source"` // alertmanager, heartbeat, api, cli
	Title       string            `json:"title"`
	Summary     string            `json:"summary"`
	Severity    string            `json:"severity"`
	Status      Status            `json:"status"`
	Policy      string            `json:"policy"`
	State       State             `json:"-"`
	NextAt      time.Time         `json:"next_at,omitzero"`
	OpenedAt    time.Time         `json:"opened_at"`
	AckedAt     time.Time         `json:"acked_at,omitzero"`
	AckedBy     string            `json:"acked_by,omitempty"`
	ResolvedAt  time.Time         `json:"resolved_at,omitzero"`
	ResolvedBy  string            `json:"resolved_by,omitempty"`
	TicketID    string            `json:"ticket_id,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	ExternalURL string            `json:"external_url,omitempty"`
	UpdatedAt   time.Time         `json:"updated_at"`
	Alerts      []Alert           `json:"alerts,omitempty"`
	// Assignee is the member who owns the incident after a reassignment
	// (Service.Reassign); empty while nobody was named.
	Assignee string `json:"assignee,omitempty"`
}

// Event is one line of an incident's timeline.
type Event struct {
	IncidentID int64     `json:"incident_id"`
	At         time.Time `json:"at"`
	Kind       string    `json:"kind"` // opened, held, paged, escalated, acknowledged, resolved, ticket, reassigned, note
	Actor      string    `json:"actor,omitempty"`
	Detail     string    `json:"detail,omitempty"`
}

// Filter selects incidents for List.
type Filter struct {
	Status []Status
	Since  time.Time // opened at or after
	Limit  int
}

// Store is what the package needs of the database (internal/store/oncallstore).
type Store interface {
	// CreateIncident stores a new incident and returns it with its ID; an
	// open incident with the same Key yields an error wrapping ErrConflict.
	CreateIncident(ctx context.Context, inc Incident) (Incident, error)
	// OpenIncidentByKey returns the unresolved incident with key, or ErrNotFound.
	OpenIncidentByKey(ctx context.Context, key string) (Incident, error)
	// GetIncident returns an incident with its alerts, or ErrNotFound.
	GetIncident(ctx context.Context, id int64) (Incident, error)
	ListIncidents(ctx context.Context, f Filter) ([]Incident, error)
	UpsertAlerts(ctx context.Context, id int64, alerts []Alert, now time.Time) error
	// DueIncidents lists triggered incidents whose next_at is at or before now.
	DueIncidents(ctx context.Context, now time.Time, limit int) ([]Incident, error)
	// AdvanceIncident moves a triggered incident from state from to state
	// to with the given next_at (zero: none) only if it is still triggered
	// and at from; it reports whether it did.
	AdvanceIncident(ctx context.Context, id int64, from, to State, nextAt, now time.Time) (bool, error)
	// AckIncident acknowledges a triggered incident; false when it was not triggered.
	AckIncident(ctx context.Context, id int64, by string, at time.Time) (bool, error)
	// ResolveIncident resolves an unresolved incident; false when it was resolved.
	ResolveIncident(ctx context.Context, id int64, by string, at time.Time) (bool, error)
	SetIncidentTicket(ctx context.Context, id int64, ticketID string) error
	AddIncidentEvent(ctx context.Context, e Event) error
	IncidentEvents(ctx context.Context, id int64) ([]Event, error)
	CountIncidents(ctx context.Context) (map[Status]int, error)
	// PagedMembers lists the members paged for an incident.
	PagedMembers(ctx context.Context, id int64) ([]string, error)
	// SetIncidentAssignee names the member who owns an unresolved
	// incident; false when it was resolved.
	SetIncidentAssignee(ctx context.Context, id int64, member string, at time.Time) (bool, error)
	// IncidentDeliveries lists the messages sent (or tried) for an
	// incident, oldest first: the page log.
	IncidentDeliveries(ctx context.Context, id int64) ([]Delivery, error)
}

// IncidentTicketer opens and resolves the fault ticket of an incident. The
// tickets capability implements it; a nil IncidentTicketer opens none.
type IncidentTicketer interface {
	OpenForIncident(ctx context.Context, inc Incident) (ticketID string, err error)
	ResolveForIncident(ctx context.Context, inc Incident, ticketID string) error
}

// Roster resolves a step's targets to member IDs (package team).
type Roster interface {
	// Resolve returns the member IDs a target stands for in rota at the
	// instant at; TargetChannel resolves to none.
	Resolve(ctx context.Context, rota string, t Target, at time.Time) ([]string, error)
	// Cover returns the rota's operator cover, nil when it has none.
	Cover(rota string) Cover
}

// NotificationKind says why people are told about an incident.
type NotificationKind string

// The NotificationKind values; a closed set fit for metric labels.
const (
	NotifyPage         NotificationKind = "page"
	NotifyAcknowledged NotificationKind = "acknowledged"
	NotifyResolved     NotificationKind = "resolved"
)

// Notification is what the Notifier sends: a page for a step, or the news
// that an incident was acknowledged or resolved.
type Notification struct {
	Kind     NotificationKind
	Incident Incident
	Members  []string // member IDs to reach directly
	Channel  bool     // also post to the team channel
	Round    int
	Step     int
	Actor    string // who acknowledged or resolved, or paged by hand
	// Manual names a page by hand (Service.Page, Service.Reassign): its
	// messages are deduplicated under it instead of the round and step,
	// so that a page by hand never stands in for a step of the policy.
	Manual string
	// Note is the text of a page by hand, added to the message.
	Note string
}

// Notifier sends notifications (package page). It returns once every
// channel has been tried; a failure of one channel does not stop the others.
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// NotifierFunc adapts a function to Notifier.
type NotifierFunc func(ctx context.Context, n Notification) error

// Notify calls f.
func (f NotifierFunc) Notify(ctx context.Context, n Notification) error { return f(ctx, n) }

// Options configure a Service.
type Options struct {
	Store    Store
	Policies map[string]Policy
	// DefaultPolicy is the policy of a Trigger that names none (abuse
	// findings, probes).
	DefaultPolicy string
	Roster        Roster
	Notifier      Notifier
	Ticketer      IncidentTicketer // optional
	Logger        *slog.Logger
	Now           func() time.Time
	// Registerer takes the package's metrics; nil registers none.
	Registerer prometheus.Registerer
	// KeepTicketOpen leaves the linked ticket as it is when an incident
	// resolves (oncall.resolve_ticket_with_incident: false); by default
	// resolving the incident resolves its ticket.
	KeepTicketOpen bool
}

// Service opens, escalates, acknowledges and resolves incidents.
type Service struct {
	opts        Options
	timeToAck   prometheus.Histogram
	escalations prometheus.Counter
	opened      *prometheus.CounterVec
}

// NewService returns a Service and registers its metrics.
func NewService(opts Options) (*Service, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Service{
		opts: opts,
		timeToAck: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "postvakt_oncall_time_to_acknowledge_seconds",
			Help:    "Time from an incident's opening to its acknowledgement.",
			Buckets: []float64{30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400},
		}),
		escalations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "postvakt_oncall_escalations_total",
			Help: "Escalation steps fired after an incident's first step (later steps and repeated rounds).",
		}),
		opened: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "postvakt_oncall_incidents_opened_total",
			Help: "Incidents opened, by source.",
		}, []string{"source"}),
	}
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{s.timeToAck, s.escalations, s.opened, &openCollector{store: opts.Store}} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("register incident metrics: %w", err)
			}
		}
	}
	return s, nil
}

// Trigger is a request to open an incident or update the open one with
// the same Key.
type Trigger struct {
	Key         string
	Source      string
	Title       string
	Summary     string
	Severity    string
	Policy      string
	Labels      map[string]string
	ExternalURL string
	Alerts      []Alert
	Actor       string
}

// Trigger opens an incident, or updates the unresolved one with the same
// key (its alerts; no new page). A new incident gets a ticket when a
// ticketer is configured and its first step fires at once when due.
func (s *Service) Trigger(ctx context.Context, tr Trigger) (Incident, bool, error) {
	now := s.opts.Now()
	if tr.Key == "" {
		return Incident{}, false, errors.New("trigger: empty key")
	}
	if tr.Policy == "" {
		tr.Policy = s.opts.DefaultPolicy
	}
	pol, ok := s.opts.Policies[tr.Policy]
	if !ok {
		return Incident{}, false, fmt.Errorf("trigger %s: unknown escalation policy %q", tr.Key, tr.Policy)
	}
	if tr.Severity == "" {
		tr.Severity = SeverityWarning
	}
	tr.Severity = strings.ToLower(tr.Severity)
	for attempt := 0; attempt < 3; attempt++ {
		cur, err := s.opts.Store.OpenIncidentByKey(ctx, tr.Key)
		if err == nil {
			if len(tr.Alerts) > 0 {
				if err := s.opts.Store.UpsertAlerts(ctx, cur.ID, tr.Alerts, now); err != nil {
					return cur, false, err
				}
			}
			inc, err := s.opts.Store.GetIncident(ctx, cur.ID)
			return inc, false, err
		}
		if !errors.Is(err, ErrNotFound) {
			return Incident{}, false, err
		}
		st := State{RoundStart: now}
		st, next, ok := pol.Next(st, tr.Severity, s.cover(pol))
		inc := Incident{
			Key: tr.Key, Source: tr.Source, Title: tr.Title, Summary: tr.Summary, Severity: tr.Severity,
			Status: StatusTriggered, Policy: pol.Name, State: st, OpenedAt: now, UpdatedAt: now,
			Labels: tr.Labels, ExternalURL: tr.ExternalURL,
		}
		if ok {
			inc.NextAt = next
		}
		inc, err = s.opts.Store.CreateIncident(ctx, inc)
		if errors.Is(err, ErrConflict) {
			continue // another replica opened it first: update that one
		}
		if err != nil {
			return Incident{}, false, err
		}
		s.opened.WithLabelValues(tr.Source).Inc()
		if len(tr.Alerts) > 0 {
			if err := s.opts.Store.UpsertAlerts(ctx, inc.ID, tr.Alerts, now); err != nil {
				return inc, true, err
			}
		}
		s.event(ctx, inc.ID, "opened", tr.Actor, fmt.Sprintf("source=%s severity=%s policy=%s", tr.Source, tr.Severity, pol.Name))
		if !ok {
			s.event(ctx, inc.ID, "held", "", "outside cover; the policy's out-of-hours rule is quiet")
		} else if next.After(now) {
			s.event(ctx, inc.ID, "held", "", "first page at "+next.Format(time.RFC3339))
		}
		s.openTicket(ctx, &inc)
		if err := s.process(ctx, inc); err != nil {
			s.opts.Logger.Error("incident: first page", "incident", inc.ID, "err", err)
		}
		inc, err = s.opts.Store.GetIncident(ctx, inc.ID)
		return inc, true, err
	}
	return Incident{}, false, fmt.Errorf("trigger %s: %w", tr.Key, ErrConflict)
}

func (s *Service) openTicket(ctx context.Context, inc *Incident) {
	if s.opts.Ticketer == nil {
		return
	}
	id, err := s.opts.Ticketer.OpenForIncident(ctx, *inc)
	if err != nil {
		s.opts.Logger.Error("incident: open ticket", "incident", inc.ID, "err", err)
		s.event(ctx, inc.ID, "ticket", "", "opening the ticket failed")
		return
	}
	if id == "" {
		return
	}
	if err := s.opts.Store.SetIncidentTicket(ctx, inc.ID, id); err != nil {
		s.opts.Logger.Error("incident: store ticket", "incident", inc.ID, "err", err)
		return
	}
	inc.TicketID = id
	s.event(ctx, inc.ID, "ticket", "", "opened ticket "+id)
}

func (s *Service) cover(p Policy) Cover {
	if s.opts.Roster == nil {
		return nil
	}
	return s.opts.Roster.Cover(p.Rota)
}

func (s *Service) event(ctx context.Context, id int64, kind, actor, detail string) {
	if err := s.opts.Store.AddIncidentEvent(ctx, Event{IncidentID: id, At: s.opts.Now(), Kind: kind, Actor: actor, Detail: detail}); err != nil {
		s.opts.Logger.Warn("incident: timeline", "incident", id, "err", err)
	}
}

// Tick fires every step that is due now. The on-call loop
// (oncall/alerting's Service.Run) calls it every escalation interval;
// tests call it with an injected clock.
func (s *Service) Tick(ctx context.Context) error {
	due, err := s.opts.Store.DueIncidents(ctx, s.opts.Now(), 100)
	if err != nil {
		return err
	}
	var errs []error
	for _, inc := range due {
		if err := s.process(ctx, inc); err != nil {
			errs = append(errs, fmt.Errorf("incident %d: %w", inc.ID, err))
		}
	}
	return errors.Join(errs...)
}

// process fires the incident's due steps, one after the other. Each step
// is first claimed by advancing the stored state with a conditional
// UPDATE, so exactly one replica (or loop) fires it; pages are also
// deduplicated by key. A process that dies between the claim and the send
// loses that one page; the next step still fires on time.
func (s *Service) process(ctx context.Context, inc Incident) error {
	pol, ok := s.opts.Policies[inc.Policy]
	if !ok {
		return fmt.Errorf("unknown escalation policy %q", inc.Policy)
	}
	for i := 0; i < 100 && inc.Status == StatusTriggered && !inc.NextAt.IsZero(); i++ {
		now := s.opts.Now()
		if inc.NextAt.After(now) {
			return nil
		}
		st := inc.State
		if st.Step >= len(pol.Steps) || st.Round > pol.Repeat {
			return nil
		}
		dueAt := inc.NextAt
		nextSt, nextAt, ok := pol.Next(pol.Advance(st), inc.Severity, s.cover(pol))
		if !ok {
			nextAt = time.Time{}
		}
		moved, err := s.opts.Store.AdvanceIncident(ctx, inc.ID, st, nextSt, nextAt, now)
		if err != nil || !moved {
			return err // another replica (or the loop) claimed this step
		}
		if st.Step > 0 || st.Round > 0 {
			s.escalations.Inc()
		}
		if err := s.fire(ctx, pol, inc, st, dueAt); err != nil {
			s.opts.Logger.Error("incident: page", "incident", inc.ID, "round", st.Round, "step", st.Step, "err", err)
		}
		inc.State, inc.NextAt = nextSt, nextAt
	}
	return nil
}

func (s *Service) fire(ctx context.Context, pol Policy, inc Incident, st State, at time.Time) error {
	step := pol.Steps[st.Step]
	set := map[string]bool{}
	var members []string
	channel := false
	var errs []error
	for _, tg := range step.Targets {
		if tg.Kind == TargetChannel {
			channel = true
			continue
		}
		ids, err := s.opts.Roster.Resolve(ctx, pol.Rota, tg, at)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, id := range ids {
			if !set[id] {
				set[id] = true
				members = append(members, id)
			}
		}
	}
	kind := "paged"
	if st.Step > 0 || st.Round > 0 {
		kind = "escalated"
	}
	s.event(ctx, inc.ID, kind, "", fmt.Sprintf("round %d step %d: %s", st.Round+1, st.Step+1, describe(members, channel)))
	if s.opts.Notifier != nil && (len(members) > 0 || channel) {
		errs = append(errs, s.opts.Notifier.Notify(ctx, Notification{
			Kind: NotifyPage, Incident: inc, Members: members, Channel: channel, Round: st.Round, Step: st.Step,
		}))
	}
	return errors.Join(errs...)
}

func describe(members []string, channel bool) string {
	parts := append([]string(nil), members...)
	if channel {
		parts = append(parts, "team channel")
	}
	if len(parts) == 0 {
		return "nobody"
	}
	return strings.Join(parts, ", ")
}

// Ack acknowledges an incident: escalation stops. It is idempotent: a
// second acknowledgement, or one of a resolved incident, changes nothing
// and reports changed false.
func (s *Service) Ack(ctx context.Context, id int64, by string) (Incident, bool, error) {
	now := s.opts.Now()
	changed, err := s.opts.Store.AckIncident(ctx, id, by, now)
	if err != nil {
		return Incident{}, false, err
	}
	inc, err := s.opts.Store.GetIncident(ctx, id)
	if err != nil {
		return inc, false, err
	}
	if changed {
		s.timeToAck.Observe(inc.AckedAt.Sub(inc.OpenedAt).Seconds())
		s.event(ctx, id, "acknowledged", by, "")
		s.ackTicket(ctx, inc, by)
		if s.opts.Notifier != nil {
			members, _ := s.opts.Store.PagedMembers(ctx, id)
			if err := s.opts.Notifier.Notify(ctx, Notification{Kind: NotifyAcknowledged, Incident: inc, Members: members, Channel: true, Actor: by}); err != nil {
				s.opts.Logger.Warn("incident: notify acknowledgement", "incident", id, "err", err)
			}
		}
	}
	return inc, changed, nil
}

// Resolve resolves an incident, tells everyone who was paged, and resolves
// its ticket. It is idempotent like Ack.
func (s *Service) Resolve(ctx context.Context, id int64, by string) (Incident, bool, error) {
	now := s.opts.Now()
	changed, err := s.opts.Store.ResolveIncident(ctx, id, by, now)
	if err != nil {
		return Incident{}, false, err
	}
	inc, err := s.opts.Store.GetIncident(ctx, id)
	if err != nil {
		return inc, false, err
	}
	if !changed {
		return inc, false, nil
	}
	s.event(ctx, id, "resolved", by, "")
	members, err := s.opts.Store.PagedMembers(ctx, id)
	if err != nil {
		s.opts.Logger.Warn("incident: paged members", "incident", id, "err", err)
	}
	if s.opts.Notifier != nil && len(members) > 0 {
		if err := s.opts.Notifier.Notify(ctx, Notification{Kind: NotifyResolved, Incident: inc, Members: members, Channel: true, Actor: by}); err != nil {
			s.opts.Logger.Warn("incident: notify resolution", "incident", id, "err", err)
		}
	}
	s.resolveTicket(ctx, inc)
	return inc, true, nil
}

// ResolveKey resolves the open incident with key, if any, after storing
// the given alerts (their resolved state).
func (s *Service) ResolveKey(ctx context.Context, key string, alerts []Alert, by string) (Incident, bool, error) {
	inc, err := s.opts.Store.OpenIncidentByKey(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return Incident{}, false, nil
	}
	if err != nil {
		return Incident{}, false, err
	}
	if len(alerts) > 0 {
		if err := s.opts.Store.UpsertAlerts(ctx, inc.ID, alerts, s.opts.Now()); err != nil {
			return inc, false, err
		}
	}
	return s.Resolve(ctx, inc.ID, by)
}

// Get returns an incident with its alerts.
func (s *Service) Get(ctx context.Context, id int64) (Incident, error) {
	return s.opts.Store.GetIncident(ctx, id)
}

// List lists incidents.
func (s *Service) List(ctx context.Context, f Filter) ([]Incident, error) {
	return s.opts.Store.ListIncidents(ctx, f)
}

// Events returns an incident's timeline.
func (s *Service) Events(ctx context.Context, id int64) ([]Event, error) {
	return s.opts.Store.IncidentEvents(ctx, id)
}

// Policies lists the configured policy names, sorted.
func (s *Service) Policies() []string {
	out := make([]string, 0, len(s.opts.Policies))
	for n := range s.opts.Policies {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// openCollector exports the number of unresolved incidents by status,
// read from the database at scrape time. When the database cannot be read
// the series are left out of that scrape (missing, not 0) and the rest of
// /metrics is still served: an outage of the database must not blind the
// monitoring that would report it.
type openCollector struct{ store Store }

var openDesc = prometheus.NewDesc("postvakt_oncall_open_incidents", "Incidents not yet resolved, by status.", []string{"status"}, nil)

func (c *openCollector) Describe(ch chan<- *prometheus.Desc) { ch <- openDesc }

func (c *openCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	counts, err := c.store.CountIncidents(ctx)
	if err != nil {
		return
	}
	for _, st := range []Status{StatusTriggered, StatusAcknowledged} {
		ch <- prometheus.MustNewConstMetric(openDesc, prometheus.GaugeValue, float64(counts[st]), string(st))
	}
}
