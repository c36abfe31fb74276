// Package notice owns outage and maintenance notices: their states
// (outage: investigating → identified → monitoring → resolved; maintenance:
// scheduled → in_progress → completed, or cancelled), the announcement
// e-mails to the announce list (e.g. itss-announce) rendered from embedded
// English and Norwegian templates and threaded on the first announcement's
// Message-ID (RFC 5322 §3.6.4), reminders before planned maintenance, the
// outbox that retries failed sends, and the public status page and Atom
// feed (RFC 4287). It also carries the small SMTP client and message
// composer that the ticket service uses for its acknowledgements.
package notice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Kinds of notice.
const (
	KindOutage      = "outage"
	KindMaintenance = "maintenance"
)

// Outage states, in order.
const (
	Investigating = "investigating"
	Identified    = "identified"
	Monitoring    = "monitoring"
	Resolved      = "resolved"
)

// Maintenance states, in order.
const (
	Scheduled  = "scheduled"
	InProgress = "in_progress"
	Completed  = "completed"
	Cancelled  = "cancelled"
)

// Update kinds.
const (
	UpdateState    = "state"    // a state change (the first one opens the notice)
	UpdateNote     = "update"   // news without a state change
	UpdateReminder = "reminder" // a reminder before planned maintenance
	// UpdateWithdrawn records the withdrawal of a notice made by mistake
	// (Service.Withdraw); it is not announced.
	UpdateWithdrawn = "withdrawn"
)

// States returns the states of a kind, in order.
func States(kind string) []string {
	if kind == KindMaintenance {
		return []string{Scheduled, InProgress, Completed, Cancelled}
	}
	return []string{Investigating, Identified, Monitoring, Resolved}
}

// Final reports whether state ends a notice.
func Final(state string) bool {
	return state == Resolved || state == Completed || state == Cancelled
}

// Sentinel errors.
var (
	ErrInvalid    = errors.New("invalid notice")
	ErrTransition = errors.New("state change not allowed")
	ErrNotFound   = errors.New("notice not found")
	ErrWithdrawn  = errors.New("notice withdrawn")
)

// CanMove reports whether a notice of kind may go from one state to
// another: forward or back among the open states, into a final state, and
// never out of one. Maintenance may not go back to scheduled once started.
func CanMove(kind, from, to string) bool {
	if from == to || Final(from) || !slices.Contains(States(kind), to) {
		return false
	}
	if kind == KindMaintenance && to == Scheduled {
		return false
	}
	return true
}

// Notice is an outage or maintenance notice with its updates.
type Notice struct {
	ID       int64    `json:"id"`
	Kind     string   `json:"kind"`
	Title    string   `json:"title"`
	Services []string `json:"services"`
	State    string   `json:"state"`
	// Public notices appear on the status page and in the feed.
	Public       bool   `json:"public"`
	Symptoms     string `json:"symptoms"`
	Impact       string `json:"impact"`
	HandlingPlan string `json:"handling_plan"`
	// StartedAt is when the outage began, or the planned start of the
	// maintenance window.
	StartedAt time.Time `json:"started_at"`
	// PlannedEnd is the planned end of a maintenance window.
	PlannedEnd   time.Time `json:"planned_end,omitzero"`
	NextUpdateAt time.Time `json:"next_update_at,omitzero"`
	// EndedAt is when it was resolved, completed or cancelled.
	EndedAt  time.Time `json:"ended_at,omitzero"`
	Language string    `json:"language"`
	// ThreadID is the Message-ID of the first announcement; every later
	// announcement refers to it.
	ThreadID string `json:"thread_id"`
	TicketID string `json:"ticket_id,omitempty"`
	// UnitIDs are the units the notice concerns (Options.Units).
	UnitIDs   []int64   `json:"unit_ids,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	CreatedBy string    `json:"created_by"`
	// WithdrawnAt is when the notice was withdrawn as made by mistake
	// (zero: it stands), WithdrawnBy who did it. A withdrawn notice is on
	// no status page or feed, plans no window and is no outage of the
	// report; its record stays.
	WithdrawnAt time.Time `json:"withdrawn_at,omitzero"`
	WithdrawnBy string    `json:"withdrawn_by,omitempty"`
	Updates     []Update  `json:"updates,omitempty"`
}

// Duration is EndedAt − StartedAt, or zero while open.
func (n Notice) Duration() time.Duration {
	if n.EndedAt.IsZero() || n.StartedAt.IsZero() {
		return 0
	}
	return n.EndedAt.Sub(n.StartedAt)
}

// Ref names the notice in the monthly report and in the probes'
// maintenance windows: "N-12".
func (n Notice) Ref() string { return "N-" + strconv.FormatInt(n.ID, 10) }

// Window is the time a maintenance notice plans the service(s) down for
// (docs/probes.md, "Availability"): from its start to its end or, while it
// is still running, to its planned end; end is zero when neither is known
// (the window runs on). ok is false for an outage notice, which plans
// nothing, and for a cancelled maintenance.
func (n Notice) Window() (start, end time.Time, ok bool) {
	if n.Kind != KindMaintenance || n.State == Cancelled || !n.WithdrawnAt.IsZero() {
		return time.Time{}, time.Time{}, false
	}
	end = n.EndedAt
	if end.IsZero() {
		end = n.PlannedEnd
	}
	return n.StartedAt, end, true
}

// Update is one entry in a notice's history; announced ones are e-mailed.
type Update struct {
	ID        int64     `json:"id"`
	NoticeID  int64     `json:"notice_id"`
	Seq       int       `json:"seq"`
	At        time.Time `json:"at"`
	Actor     string    `json:"actor"`
	Kind      string    `json:"kind"`
	Tag       string    `json:"tag,omitempty"` // e.g. the reminder offset "24h0m0s"
	State     string    `json:"state"`
	Body      string    `json:"body"`
	Announce  bool      `json:"announce"`
	MessageID string    `json:"message_id"`
	SentAt    time.Time `json:"sent_at,omitzero"`
	Attempts  int       `json:"attempts"`
	LastError string    `json:"last_error,omitempty"`
}

// Filter selects notices for List.
type Filter struct {
	PublicOnly bool
	// Since keeps open notices and those ended at or after Since.
	Since time.Time
	Kind  string
	Limit int
}

// Store is what the notice service needs of the database.
type Store interface {
	// NoticeCreate stores n with its first update and returns both with
	// their IDs (update Seq 1).
	NoticeCreate(ctx context.Context, n Notice, first Update) (Notice, error)
	// NoticeChange loads notice id in a transaction, lets fn change it and
	// return an update to append (Seq = last + 1), and stores both.
	NoticeChange(ctx context.Context, id int64, fn func(n *Notice) (*Update, error)) (Notice, error)
	// NoticeGet returns a notice with its updates, or an error wrapping
	// ErrNotFound.
	NoticeGet(ctx context.Context, id int64) (Notice, error)
	// NoticeList returns notices with their updates, newest first.
	NoticeList(ctx context.Context, f Filter) ([]Notice, error)
	// NoticeUnsent returns notices that have announced updates not yet
	// sent with fewer than maxAttempts attempts.
	NoticeUnsent(ctx context.Context, maxAttempts int) ([]Notice, error)
	// NoticeMarkSent records a send attempt of an update: sentAt set on
	// success, lastError on failure; attempts is incremented.
	NoticeMarkSent(ctx context.Context, updateID int64, sentAt time.Time, lastError string) error
}

// Options configure a Service.
type Options struct {
	Config Config
	Store  Store
	Sender Sender
	Logger *slog.Logger
	Now    func() time.Time
	// StatusURL is the public status page, linked from every e-mail.
	StatusURL string
	// Services maps the service IDs of tickets.services to their names;
	// when set, a notice must name known services.
	Services map[string]string
	// Sent counts announcement attempts by result ("ok", "error").
	Sent func(result string)
	// Monitored reports whether any service is monitored (probes). When
	// it says no, the status page with no current notice says that no
	// service is monitored instead of that all operate normally, which
	// nothing would back. nil: not known, the page says the latter.
	Monitored func() bool
	// Health gives the status page each probed service's state and daily
	// availability; nil: the page shows notices only.
	Health Health
	// HealthTTL is how long the status page reuses what Health said
	// (bounded work per request on a public page); 0 means 10 s.
	HealthTTL time.Duration
	// Units scopes notices to units and gives their contacts, who receive
	// every announcement besides the announce list (oncall/units); nil:
	// a notice cannot name units.
	Units Audience
}

// Audience is the units capability as notices see it: the units a notice
// concerns, and the addresses of their leaders, network administrators
// and contacts.
type Audience interface {
	// CheckUnits returns an error wrapping ErrInvalid unless every ID is
	// a unit's.
	CheckUnits(ctx context.Context, ids []int64) error
	// ScopeNotice records that the notice concerns the units.
	ScopeNotice(ctx context.Context, noticeID int64, unitIDs []int64, actor string) error
	// NoticeUnits are the IDs of the units the notice concerns.
	NoticeUnits(ctx context.Context, noticeID int64) ([]int64, error)
	// NoticeRecipients are the addresses of the contacts of the units the
	// notice concerns, without duplicates.
	NoticeRecipients(ctx context.Context, noticeID int64) ([]string, error)
}

// Service creates and changes notices and announces them.
type Service struct {
	o         Options
	cfg       atomic.Pointer[Config] // o.Config, changed by SetConfig
	templates *Templates
	health    healthCache
}

// config is the notices section in force.
func (s *Service) config() Config { return *s.cfg.Load() }

// SetConfig changes the notices section while the service runs (a reload):
// the announce list and sender, language, reminders, status page title and
// recent period, and the zone of times take effect for the next notice,
// update, mail and page. The relay (Options.Sender) is not changed. A
// config that does not validate changes nothing.
func (s *Service) SetConfig(c Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	s.cfg.Store(&c)
	return nil
}

// Config is the notices section in force.
func (s *Service) Config() Config { return s.config() }

// AnnounceTo is the announce list in force (notices.announce_to); empty:
// nothing is e-mailed.
func (s *Service) AnnounceTo() string { return s.config().AnnounceTo }

// MaxAttempts bounds the outbox's retries of one announcement.
const MaxAttempts = 10

// New returns a Service.
func New(o Options) (*Service, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sent == nil {
		o.Sent = func(string) {}
	}
	if o.HealthTTL <= 0 {
		o.HealthTTL = 10 * time.Second
	}
	t, err := LoadTemplates()
	if err != nil {
		return nil, err
	}
	svc := &Service{o: o, templates: t}
	svc.cfg.Store(&o.Config)
	return svc, nil
}

// CreateRequest opens a notice.
type CreateRequest struct {
	Kind         string    `json:"kind"`
	Title        string    `json:"title"`
	Services     []string  `json:"services"`
	Public       *bool     `json:"public"`
	Symptoms     string    `json:"symptoms"`
	Impact       string    `json:"impact"`
	HandlingPlan string    `json:"handling_plan"`
	StartedAt    time.Time `json:"started_at"`
	PlannedEnd   time.Time `json:"planned_end"`
	NextUpdateAt time.Time `json:"next_update_at"`
	Language     string    `json:"language"`
	Body         string    `json:"body"`
	TicketID     string    `json:"ticket_id"`
	// Announce sends the notice to the announce list; default true.
	Announce *bool `json:"announce"`
	// UnitIDs are the units the notice concerns: their leaders,
	// administrators and contacts receive every announcement of it too.
	UnitIDs []int64 `json:"unit_ids"`
	Actor   string  `json:"-"`
}

// ChangeRequest changes a notice: a new state and/or news, and changed
// fields (nil or zero leaves a field as it is).
type ChangeRequest struct {
	State        string     `json:"state"`
	Body         string     `json:"body"`
	Title        *string    `json:"title"`
	Symptoms     *string    `json:"symptoms"`
	Impact       *string    `json:"impact"`
	HandlingPlan *string    `json:"handling_plan"`
	NextUpdateAt *time.Time `json:"next_update_at"`
	Public       *bool      `json:"public"`
	// At is when the state change happened; zero means now.
	At       time.Time `json:"at"`
	Announce *bool     `json:"announce"`
	Actor    string    `json:"-"`
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

func orTrue(b *bool) bool { return b == nil || *b }

// Create stores a new notice and announces it unless told not to.
func (s *Service) Create(ctx context.Context, r CreateRequest) (Notice, error) {
	if len(r.UnitIDs) > 0 {
		r.UnitIDs = slices.Compact(slices.Sorted(slices.Values(r.UnitIDs)))
		if s.o.Units == nil {
			return Notice{}, invalid("unit_ids: units are not available here")
		}
		if len(r.UnitIDs) > 100 {
			return Notice{}, invalid("unit_ids: at most 100 units")
		}
		if err := s.o.Units.CheckUnits(ctx, r.UnitIDs); err != nil {
			return Notice{}, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
	}
	n, u, err := s.draft(r)
	if err != nil {
		return Notice{}, err
	}
	n, err = s.o.Store.NoticeCreate(ctx, n, u)
	if err != nil {
		return Notice{}, fmt.Errorf("create notice: %w", err)
	}
	if len(r.UnitIDs) > 0 {
		if err := s.o.Units.ScopeNotice(ctx, n.ID, r.UnitIDs, r.Actor); err != nil {
			return n, fmt.Errorf("notice %d: scope to units: %w", n.ID, err)
		}
	}
	s.deliver(ctx, n)
	return s.Get(ctx, n.ID)
}

// hasAudience reports whether notice id's announcements go anywhere: the
// announce list is set, or the notice names units.
func (s *Service) hasAudience(ctx context.Context, id int64) (bool, error) {
	if s.config().AnnounceTo != "" || s.o.Units == nil {
		return s.config().AnnounceTo != "", nil
	}
	ids, err := s.o.Units.NoticeUnits(ctx, id)
	return len(ids) > 0, err
}

// recipients are the announce list and the contacts of the units n
// concerns.
func (s *Service) recipients(ctx context.Context, n Notice) ([]string, error) {
	var to []string
	if a := s.config().AnnounceTo; a != "" {
		to = append(to, a)
	}
	if s.o.Units == nil {
		return to, nil
	}
	more, err := s.o.Units.NoticeRecipients(ctx, n.ID)
	if err != nil {
		return nil, fmt.Errorf("the units' contacts: %w", err)
	}
	for _, m := range more {
		if !slices.ContainsFunc(to, func(a string) bool { return strings.EqualFold(AddressOf(a), AddressOf(m)) }) {
			to = append(to, m)
		}
	}
	return to, nil
}

// Preview checks r as Create does and renders the first announcement it
// would send, storing and sending nothing. announce says whether Create
// would e-mail it (announce_to is set and r does not say otherwise).
func (s *Service) Preview(r CreateRequest) (m Mail, announce bool, err error) {
	n, u, err := s.draft(r)
	if err != nil {
		return Mail{}, false, err
	}
	m, err = s.Render(n, u)
	return m, u.Announce, err
}

// draft checks r and builds the notice and its first update.
func (s *Service) draft(r CreateRequest) (Notice, Update, error) {
	now := s.o.Now()
	switch r.Kind {
	case KindOutage, KindMaintenance:
	default:
		return Notice{}, Update{}, invalid("kind %q: must be outage or maintenance", r.Kind)
	}
	if strings.TrimSpace(r.Title) == "" {
		return Notice{}, Update{}, invalid("title is required")
	}
	if len(r.Services) == 0 {
		return Notice{}, Update{}, invalid("at least one service is required")
	}
	for _, svc := range r.Services {
		if len(s.o.Services) > 0 && s.o.Services[svc] == "" {
			return Notice{}, Update{}, invalid("service %q is not one of tickets.services", svc)
		}
	}
	lang := r.Language
	if lang == "" {
		lang = s.config().Language
	}
	if !s.templates.Has(lang) {
		return Notice{}, Update{}, invalid("language %q: must be en or nb", lang)
	}
	state := Investigating
	if r.Kind == KindMaintenance {
		state = Scheduled
		if r.StartedAt.IsZero() {
			return Notice{}, Update{}, invalid("maintenance needs started_at, the planned start")
		}
		if !r.PlannedEnd.IsZero() && !r.PlannedEnd.After(r.StartedAt) {
			return Notice{}, Update{}, invalid("planned_end must be after started_at")
		}
	}
	if r.StartedAt.IsZero() {
		r.StartedAt = now
	}
	domain := DomainOf(s.config().From)
	n := Notice{
		Kind: r.Kind, Title: strings.TrimSpace(r.Title), Services: r.Services, State: state,
		Public: orTrue(r.Public), Symptoms: r.Symptoms, Impact: r.Impact, HandlingPlan: r.HandlingPlan,
		StartedAt: r.StartedAt, PlannedEnd: r.PlannedEnd, NextUpdateAt: r.NextUpdateAt,
		Language: lang, ThreadID: NewMessageID("notice", domain), TicketID: r.TicketID,
		CreatedAt: now, UpdatedAt: now, CreatedBy: r.Actor,
	}
	u := Update{At: now, Actor: r.Actor, Kind: UpdateState, State: state, Body: r.Body,
		Announce: orTrue(r.Announce) && (s.config().AnnounceTo != "" || len(r.UnitIDs) > 0), MessageID: n.ThreadID}
	return n, u, nil
}

// Change applies r to notice id and announces the change unless told not
// to.
func (s *Service) Change(ctx context.Context, id int64, r ChangeRequest) (Notice, error) {
	now := s.o.Now()
	at := r.At
	if at.IsZero() {
		at = now
	}
	domain := DomainOf(s.config().From)
	audience, err := s.hasAudience(ctx, id)
	if err != nil {
		return Notice{}, fmt.Errorf("change notice %d: %w", id, err)
	}
	n, err := s.o.Store.NoticeChange(ctx, id, func(n *Notice) (*Update, error) {
		if !n.WithdrawnAt.IsZero() {
			return nil, fmt.Errorf("%w: notice %d", ErrWithdrawn, n.ID)
		}
		kind := UpdateNote
		if r.State != "" && r.State != n.State {
			if !CanMove(n.Kind, n.State, r.State) {
				return nil, fmt.Errorf("%w: %s notice %d from %s to %s", ErrTransition, n.Kind, n.ID, n.State, r.State)
			}
			n.State, kind = r.State, UpdateState
			if Final(r.State) {
				if at.Before(n.StartedAt) && n.Kind == KindOutage {
					// an end before the start would read "02:48 – 02:30 ()"
					// (a maintenance may be completed or cancelled before
					// its planned start)
					return nil, invalid("at %s is before the start %s", at.UTC().Format(time.RFC3339), n.StartedAt.UTC().Format(time.RFC3339))
				}
				n.EndedAt, n.NextUpdateAt = at, time.Time{}
			}
			if r.State == InProgress && n.StartedAt.After(at) {
				n.StartedAt = at
			}
		} else if Final(n.State) && strings.TrimSpace(r.Body) == "" {
			return nil, fmt.Errorf("%w: notice %d is %s", ErrTransition, n.ID, n.State)
		}
		if r.Title != nil {
			n.Title = *r.Title
		}
		if r.Symptoms != nil {
			n.Symptoms = *r.Symptoms
		}
		if r.Impact != nil {
			n.Impact = *r.Impact
		}
		if r.HandlingPlan != nil {
			n.HandlingPlan = *r.HandlingPlan
		}
		if r.NextUpdateAt != nil {
			n.NextUpdateAt = *r.NextUpdateAt
		}
		if r.Public != nil {
			n.Public = *r.Public
		}
		if kind == UpdateNote && strings.TrimSpace(r.Body) == "" && r.Title == nil && r.Symptoms == nil &&
			r.Impact == nil && r.HandlingPlan == nil && r.NextUpdateAt == nil && r.Public == nil {
			return nil, invalid("nothing to change: give a state, a body or a field")
		}
		n.UpdatedAt = now
		return &Update{At: at, Actor: r.Actor, Kind: kind, State: n.State, Body: r.Body,
			Announce:  orTrue(r.Announce) && audience,
			MessageID: NewMessageID("notice", domain)}, nil
	})
	if err != nil {
		return Notice{}, fmt.Errorf("change notice %d: %w", id, err)
	}
	s.deliver(ctx, n)
	return s.Get(ctx, id)
}

// WithdrawRequest withdraws a notice made by mistake.
type WithdrawRequest struct {
	// Reason is why (kept in the notice's history, not shown publicly).
	Reason string `json:"reason"`
	Actor  string `json:"-"`
}

// Withdraw takes notice id off the status page and its feed at once: a
// notice made by mistake (the wrong service, a test) should not stay
// public for notices.status_recent. The notice and its history are kept
// with a "withdrawn" update saying who and why; nothing is e-mailed. A
// withdrawn maintenance plans no window, and a withdrawn notice is no
// outage of the monthly report. Withdrawing twice is ErrWithdrawn.
func (s *Service) Withdraw(ctx context.Context, id int64, r WithdrawRequest) (Notice, error) {
	now := s.o.Now()
	if len(r.Reason) > 2000 {
		return Notice{}, invalid("reason: at most 2000 bytes")
	}
	n, err := s.o.Store.NoticeChange(ctx, id, func(n *Notice) (*Update, error) {
		if !n.WithdrawnAt.IsZero() {
			return nil, fmt.Errorf("%w: notice %d was withdrawn by %s", ErrWithdrawn, n.ID, n.WithdrawnBy)
		}
		n.WithdrawnAt, n.WithdrawnBy, n.UpdatedAt = now, r.Actor, now
		if !Final(n.State) {
			n.NextUpdateAt = time.Time{}
		}
		return &Update{At: now, Actor: r.Actor, Kind: UpdateWithdrawn, State: n.State, Body: strings.TrimSpace(r.Reason),
			MessageID: NewMessageID("notice", DomainOf(s.config().From))}, nil
	})
	if err != nil {
		return Notice{}, fmt.Errorf("withdraw notice %d: %w", id, err)
	}
	return n, nil
}

// Get returns notice id with the units it concerns.
func (s *Service) Get(ctx context.Context, id int64) (Notice, error) {
	n, err := s.o.Store.NoticeGet(ctx, id)
	if err != nil || s.o.Units == nil {
		return n, err
	}
	n.UnitIDs, err = s.o.Units.NoticeUnits(ctx, id)
	return n, err
}

// List returns notices.
func (s *Service) List(ctx context.Context, f Filter) ([]Notice, error) {
	return s.o.Store.NoticeList(ctx, f)
}

// deliver sends every announced, unsent update of n in order. Failures
// are recorded and left to the outbox (Tick).
func (s *Service) deliver(ctx context.Context, n Notice) {
	if !n.WithdrawnAt.IsZero() {
		return // withdrawn before the outbox sent it: it stays unsent
	}
	for _, u := range n.Updates {
		if !u.Announce || !u.SentAt.IsZero() || u.Attempts >= MaxAttempts {
			continue
		}
		err := s.send(ctx, n, u)
		result, msg, sentAt := "ok", "", s.o.Now()
		if err != nil {
			result, msg, sentAt = "error", err.Error(), time.Time{}
			s.o.Logger.Warn("notice announcement not sent; the outbox retries it", "notice", n.ID, "update", u.Seq, "err", err)
		}
		s.o.Sent(result)
		if err := s.o.Store.NoticeMarkSent(ctx, u.ID, sentAt, msg); err != nil {
			s.o.Logger.Error("record notice send", "notice", n.ID, "err", err)
		}
	}
}

// Render returns the announcement e-mail of update u of n.
func (s *Service) Render(n Notice, u Update) (Mail, error) {
	text, html, subject, err := s.templates.Render(n.Language, s.data(n, u))
	if err != nil {
		return Mail{}, err
	}
	m := Mail{
		From: s.config().From, To: []string{s.config().AnnounceTo}, Subject: subject,
		Date: u.At, MessageID: u.MessageID, Text: text, HTML: html, AutoSubmitted: true,
	}
	if u.MessageID != n.ThreadID {
		m.InReplyTo = []string{n.ThreadID}
		m.References = []string{n.ThreadID}
	}
	return m, nil
}

// send e-mails update u of n to the announce list and the contacts of
// the units n concerns, in the notice's thread (every announcement refers
// to the first by In-Reply-To and References, RFC 5322 §3.6.4).
func (s *Service) send(ctx context.Context, n Notice, u Update) error {
	to, err := s.recipients(ctx, n)
	if err != nil {
		return err
	}
	if len(to) == 0 {
		return errors.New("no recipients: notices.announce_to is empty and the notice names no unit with contacts")
	}
	m, err := s.Render(n, u)
	if err != nil {
		return err
	}
	m.To = to
	b, err := m.Bytes()
	if err != nil {
		return err
	}
	var rcpt []string
	for _, a := range to {
		rcpt = append(rcpt, AddressOf(a))
	}
	return s.o.Sender.Send(ctx, s.config().From, rcpt, b)
}

// Tick sends maintenance reminders that are due and retries unsent
// announcements. It is the body of the notice scheduler job.
func (s *Service) Tick(ctx context.Context, now time.Time) error {
	var errs []error
	open, err := s.o.Store.NoticeList(ctx, Filter{Kind: KindMaintenance, Since: now})
	if err != nil {
		return fmt.Errorf("notice reminders: %w", err)
	}
	for _, n := range open {
		if n.State != Scheduled || !n.WithdrawnAt.IsZero() {
			continue
		}
		// The nearest reminder that is due supersedes earlier ones.
		for _, before := range s.config().sortedReminders() {
			if now.Before(n.StartedAt.Add(-before)) || !now.Before(n.StartedAt) {
				continue
			}
			if hasReminder(n, before) {
				break
			}
			tag, domain := before.String(), DomainOf(s.config().From)
			announce, err := s.hasAudience(ctx, n.ID)
			if err != nil {
				errs = append(errs, err)
				break
			}
			if _, err := s.o.Store.NoticeChange(ctx, n.ID, func(cur *Notice) (*Update, error) {
				if cur.State != Scheduled || hasReminder(*cur, before) || !cur.WithdrawnAt.IsZero() {
					return nil, nil
				}
				return &Update{At: now, Actor: "postvakt", Kind: UpdateReminder, Tag: tag, State: cur.State,
					Announce: announce, MessageID: NewMessageID("notice", domain)}, nil
			}); err != nil {
				errs = append(errs, err)
			}
			break
		}
	}
	pending, err := s.o.Store.NoticeUnsent(ctx, MaxAttempts)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("notice outbox: %w", err))...)
	}
	for _, n := range pending {
		s.deliver(ctx, n)
	}
	return errors.Join(errs...)
}

func hasReminder(n Notice, before time.Duration) bool {
	for _, u := range n.Updates {
		if u.Kind == UpdateReminder && u.Tag == before.String() {
			return true
		}
	}
	return false
}
