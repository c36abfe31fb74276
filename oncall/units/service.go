package units

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/oncall/notice"
	"github.com/uni-mail/postvakt/oncall/page"
	"github.com/uni-mail/postvakt/oncall/units/dnscheck"
)

// SystemActor is who postvakt's own actions are recorded as.
const SystemActor = "postvakt"

// Checker checks one domain's MX (dnscheck.Checker).
type Checker interface {
	Check(ctx context.Context, domain string) (dnscheck.Result, error)
}

// Options configure a Service.
type Options struct {
	Config  Config
	Store   Store
	Checker Checker
	// Mailer sends mail to units and reminders; nil: nothing is mailed
	// (the step records say so).
	Mailer notice.Sender
	// Page posts reminders to the on-call channels (page.Pipeline.Send);
	// nil: mail only.
	Page func(ctx context.Context, msgs ...page.Message) error
	// Location is the service time zone: step dates and every time in a
	// mail.
	Location *time.Location
	// Metrics counts reminders and checks; nil: none.
	Metrics *Metrics
	// BaseURL is the service's public URL, for survey links.
	BaseURL string
	Logger  *slog.Logger
	Now     func() time.Time
}

// Service runs the units capability.
type Service struct {
	o     Options
	sched Schedule
}

// New returns a Service; the configuration must be valid.
func New(o Options) (*Service, error) {
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	if o.Store == nil || o.Checker == nil {
		return nil, errors.New("units: a store and a checker are required")
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	st, _ := ParseClockTime(o.Config.StepTime)
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	return &Service{o: o, sched: Schedule{Location: o.Location, StepTime: st, DocumentsBefore: o.Config.DocumentsBefore}}, nil
}

// Schedule is the service's schedule (its zone, step time and offsets).
func (s *Service) Schedule() Schedule { return s.sched }

// Config is the service's configuration.
func (s *Service) Config() Config { return s.o.Config }

// Location is the service time zone.
func (s *Service) Location() *time.Location { return s.o.Location }

func (s *Service) event(u int64, actor, kind, text string) Event {
	return Event{UnitID: u, At: s.o.Now(), Actor: actor, Kind: kind, Text: text}
}

// Create records a new unit; its status is new unless given.
func (s *Service) Create(ctx context.Context, u Unit, actor string) (Unit, error) {
	if u.Status == "" {
		u.Status = StatusNew
	}
	u.ID, u.Survey, u.MigrationAt = 0, nil, time.Time{}
	if err := u.Normalize(); err != nil {
		return u, err
	}
	now := s.o.Now()
	u.CreatedAt, u.UpdatedAt = now, now
	return s.o.Store.CreateUnit(ctx, u, s.event(0, actor, EventCreated, "unit "+u.Name+" recorded"))
}

// Update replaces the unit's editable fields (name, domains, contacts,
// people, quota, services, assignee, notes) with those of in; the status,
// survey and migration date change through their own actions.
func (s *Service) Update(ctx context.Context, id int64, in Unit, actor string) (Unit, error) {
	return s.o.Store.ChangeUnit(ctx, id, func(u *Unit) ([]Event, error) {
		n := *u
		n.Name, n.Domains, n.Leader, n.NetAdmin, n.Contacts = in.Name, in.Domains, in.Leader, in.NetAdmin, in.Contacts
		n.People, n.Quota, n.Services, n.Assignee, n.Notes = in.People, in.Quota, in.Services, in.Assignee, in.Notes
		if err := n.Normalize(); err != nil {
			return nil, err
		}
		n.UpdatedAt = s.o.Now()
		*u = n
		return []Event{s.event(id, actor, EventUpdated, "unit record changed")}, nil
	})
}

// SetStatus sets the status by hand (a unit that joined before postvakt
// is recorded as live, a plan is abandoned back to surveyed).
func (s *Service) SetStatus(ctx context.Context, id int64, st Status, actor string) (Unit, error) {
	if !st.Valid() {
		return Unit{}, fmt.Errorf("%w: status %q: must be one of %s", ErrInvalid, st, statusList())
	}
	return s.o.Store.ChangeUnit(ctx, id, func(u *Unit) ([]Event, error) {
		if u.Status == st {
			return nil, nil
		}
		ev := s.event(id, actor, EventStatus, statusEventText(u.Status, st))
		u.Status, u.UpdatedAt = st, s.o.Now()
		return []Event{ev}, nil
	})
}

// Get returns one unit.
func (s *Service) Get(ctx context.Context, id int64) (Unit, error) { return s.o.Store.GetUnit(ctx, id) }

// List returns the units that match f.
func (s *Service) List(ctx context.Context, f Filter) ([]Unit, error) {
	return s.o.Store.ListUnits(ctx, f)
}

// Store is the service's store, for reading a unit's history, steps,
// checks and work orders.
func (s *Service) Store() Store { return s.o.Store }

// IssueLink makes a one-time survey link for the unit, valid for
// units.survey_link_ttl. When sendTo is an address the link is mailed
// there. The token is in the answer only; the store keeps its hash.
func (s *Service) IssueLink(ctx context.Context, unitID int64, sendTo, actor string) (SurveyLink, error) {
	u, err := s.o.Store.GetUnit(ctx, unitID)
	if err != nil {
		return SurveyLink{}, err
	}
	if sendTo != "" {
		if _, err := mail.ParseAddress(sendTo); err != nil {
			return SurveyLink{}, fmt.Errorf("%w: send_to %q is not an e-mail address", ErrInvalid, sendTo)
		}
		if s.o.BaseURL == "" {
			return SurveyLink{}, fmt.Errorf("%w: http.base_url is not set, so a link cannot be mailed", ErrInvalid)
		}
	}
	token, hash := NewToken()
	now := s.o.Now()
	l, err := s.o.Store.CreateLink(ctx, SurveyLink{UnitID: unitID, TokenHash: hash, CreatedAt: now, CreatedBy: actor,
		ExpiresAt: now.Add(s.o.Config.SurveyLinkTTL)})
	if err != nil {
		return l, err
	}
	l.Token, l.URL = token, s.SurveyURL(token)
	text := fmt.Sprintf("survey link %d made, valid until %s", l.ID, s.when(l.ExpiresAt))
	if sendTo != "" {
		err := s.mail(ctx, []string{sendTo}, "survey_link", renderData{Unit: u, Link: l.URL, Expires: l.ExpiresAt})
		if err != nil {
			text += "; mail to " + sendTo + " failed: " + err.Error()
		} else {
			text += "; mailed to " + sendTo
		}
	}
	return l, s.o.Store.AddEvents(ctx, s.event(unitID, actor, EventLink, text))
}

// SurveyURL is the form's address for token. The token is in the query
// string, which the request log leaves out (internal/server).
func (s *Service) SurveyURL(token string) string { return s.o.BaseURL + "/survey?t=" + token }

// LinkUnit returns the unit a valid, unused link is for — what the form
// shows before it is filled in. A GET does not use the link.
func (s *Service) LinkUnit(ctx context.Context, token string) (Unit, SurveyLink, error) {
	if !WellFormedToken(token) {
		return Unit{}, SurveyLink{}, ErrLinkInvalid
	}
	l, err := s.o.Store.LinkByHash(ctx, HashToken(token))
	if err != nil {
		return Unit{}, l, err
	}
	if !l.UsedAt.IsZero() || !s.o.Now().Before(l.ExpiresAt) {
		return Unit{}, l, ErrLinkInvalid
	}
	u, err := s.o.Store.GetUnit(ctx, l.UnitID)
	return u, l, err
}

// SubmitLink records the survey sent through a one-time link: the survey
// is checked first, then the link is used (once: a second submission, or
// one after expiry, is refused), then the survey is saved.
func (s *Service) SubmitLink(ctx context.Context, token string, sv Survey, from string) (Unit, error) {
	if !WellFormedToken(token) {
		return Unit{}, ErrLinkInvalid
	}
	if err := sv.Normalize(); err != nil {
		return Unit{}, err
	}
	l, err := s.o.Store.UseLink(ctx, HashToken(token), s.o.Now())
	if err != nil {
		return Unit{}, err
	}
	actor := "survey link"
	if sv.NetAdmin.Email != "" {
		actor = "survey link (" + sv.NetAdmin.Email + ")"
	}
	sv.SubmittedBy = "link"
	u, err := s.saveSurvey(ctx, l.UnitID, sv, actor, from)
	if err != nil {
		return u, err
	}
	// Tell the team; the survey is saved whether or not this mail goes.
	if to := s.personAddress(u.Assignee); to != "" {
		d := s.data(u)
		if err := s.mail(ctx, []string{to}, "survey_received", d); err != nil {
			s.o.Logger.Warn("units: survey received mail", "unit", u.ID, "err", err)
		}
	}
	return u, nil
}

// Submit records a survey sent through the API by a team member.
func (s *Service) Submit(ctx context.Context, unitID int64, sv Survey, actor string) (Unit, error) {
	if err := sv.Normalize(); err != nil {
		return Unit{}, err
	}
	sv.SubmittedBy = actor
	return s.saveSurvey(ctx, unitID, sv, actor, "")
}

func (s *Service) saveSurvey(ctx context.Context, unitID int64, sv Survey, actor, from string) (Unit, error) {
	sv.SubmittedAt = s.o.Now()
	u, err := s.o.Store.ChangeUnit(ctx, unitID, func(u *Unit) ([]Event, error) {
		sv.apply(u)
		u.Survey = &sv
		if u.Status == StatusNew {
			u.Status = StatusSurveyed
		}
		u.UpdatedAt = s.o.Now()
		text := "survey received: " + strings.Join(sv.Domains, ", ")
		if from != "" {
			text += " from " + from
		}
		return []Event{s.event(unitID, actor, EventSurvey, text)}, nil
	})
	if err != nil {
		return u, err
	}
	// What is published now, beside what the unit says is published.
	if _, err := s.check(ctx, u, 0, SystemActor); err != nil {
		s.o.Logger.Warn("units: DNS check after the survey", "unit", u.ID, "err", err)
	}
	return u, nil
}

// Plan sets the migration date and replaces the open steps of the
// checklist with those derived from it (Schedule.Plan); steps already done
// are kept. A unit that is live cannot be planned again.
func (s *Service) Plan(ctx context.Context, unitID int64, at time.Time, assignee, actor string) ([]Step, error) {
	if at.IsZero() {
		return nil, fmt.Errorf("%w: a migration date is required", ErrInvalid)
	}
	if !at.After(s.o.Now()) {
		return nil, fmt.Errorf("%w: the migration date %s is in the past", ErrInvalid, s.when(at))
	}
	if at.After(s.o.Now().AddDate(5, 0, 0)) {
		return nil, fmt.Errorf("%w: the migration date %s is more than five years ahead", ErrInvalid, s.when(at))
	}
	assignee = strings.TrimSpace(assignee)
	if err := validAssignee(assignee); err != nil {
		return nil, err
	}
	var prev []Step
	_, err := s.o.Store.ChangeUnit(ctx, unitID, func(u *Unit) ([]Event, error) {
		if u.Status == StatusLive || u.Status == StatusMigrating {
			return nil, fmt.Errorf("%w: unit %d is %s", ErrTransition, unitID, u.Status)
		}
		if len(u.Domains) == 0 {
			return nil, fmt.Errorf("%w: unit %d has no domains to migrate", ErrInvalid, unitID)
		}
		if assignee != "" {
			u.Assignee = assignee
		}
		u.MigrationAt, u.Status, u.UpdatedAt = at, StatusPlanned, s.o.Now()
		assignee = u.Assignee
		return []Event{s.event(unitID, actor, EventPlanned, "migration planned for "+s.when(at)+", led by "+orNobody(u.Assignee))}, nil
	})
	if err != nil {
		return nil, err
	}
	if prev, err = s.o.Store.Steps(ctx, unitID); err != nil {
		return nil, err
	}
	var steps []Step
	for _, st := range s.sched.Plan(at, assignee) {
		if !doneBefore(prev, st) {
			st.UnitID = unitID
			steps = append(steps, st)
		}
	}
	return s.o.Store.ReplaceOpenSteps(ctx, unitID, steps)
}

// doneBefore reports whether a step of st's kind (and follow-up number)
// was already finished under an earlier plan.
func doneBefore(prev []Step, st Step) bool {
	for _, p := range prev {
		if p.Kind == st.Kind && p.Seq == st.Seq && p.State != StepOpen {
			return true
		}
	}
	return false
}

func orNobody(s string) string {
	if s == "" {
		return "nobody yet"
	}
	return s
}

func (s *Service) when(t time.Time) string { return renderData{loc: s.o.Location}.When(t) }

func (s *Service) data(u Unit) renderData {
	return renderData{Unit: u, Survey: u.Survey, Config: s.o.Config, Now: s.o.Now(), loc: s.o.Location,
		TTLAt: s.sched.dayOffset(u.MigrationAt, -2)}
}

// Documents renders the plan's documents for the unit.
func (s *Service) Documents(ctx context.Context, unitID int64) ([]Document, error) {
	u, err := s.o.Store.GetUnit(ctx, unitID)
	if err != nil {
		return nil, err
	}
	return s.documents(u)
}

func (s *Service) documents(u Unit) ([]Document, error) {
	if u.MigrationAt.IsZero() {
		return nil, fmt.Errorf("%w: unit %d has no migration date yet", ErrTransition, u.ID)
	}
	var out []Document
	for _, n := range DocumentNames {
		subj, body, err := render(n, s.data(u))
		if err != nil {
			return nil, err
		}
		out = append(out, Document{Name: n, Title: subj, Text: body})
	}
	return out, nil
}

// SendDocuments mails the plan's documents to the unit's network
// administrator (copy to the assignee) and finishes the documents step.
func (s *Service) SendDocuments(ctx context.Context, unitID int64, actor string) (Step, error) {
	u, err := s.o.Store.GetUnit(ctx, unitID)
	if err != nil {
		return Step{}, err
	}
	docs, err := s.documents(u)
	if err != nil {
		return Step{}, err
	}
	if u.NetAdmin.Email == "" {
		return Step{}, fmt.Errorf("%w: unit %d has no network administrator's address", ErrInvalid, unitID)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Hello %s,\n\nhere is the plan for moving %s onto the central mail service.\n", u.NetAdmin.Name, u.Name)
	for _, d := range docs {
		fmt.Fprintf(&b, "\n\n%s\n%s\n\n%s", d.Title, strings.Repeat("-", len([]rune(d.Title))), d.Text)
	}
	to := []string{u.NetAdmin.Address()}
	if a := s.personAddress(u.Assignee); a != "" {
		to = append(to, a)
	}
	if err := s.send(ctx, to, "Migration plan for "+u.Name, b.String()); err != nil {
		return Step{}, fmt.Errorf("send documents: %w", err)
	}
	return s.finishKind(ctx, unitID, StepDocuments, actor, "documents sent to "+u.NetAdmin.Email)
}

// finishKind finishes the open step of kind (the first one) if there is
// one; the zero Step when none is open.
func (s *Service) finishKind(ctx context.Context, unitID int64, kind StepKind, actor, outcome string) (Step, error) {
	steps, err := s.o.Store.Steps(ctx, unitID)
	if err != nil {
		return Step{}, err
	}
	for _, st := range steps {
		if st.Kind == kind && st.State == StepOpen {
			return s.finish(ctx, st, StepDone, actor, outcome)
		}
	}
	return Step{}, s.o.Store.AddEvents(ctx, s.event(unitID, actor, EventStep, string(kind)+": "+outcome))
}

func (s *Service) finish(ctx context.Context, st Step, state StepState, actor, outcome string) (Step, error) {
	st.State, st.DoneAt, st.DoneBy, st.Outcome = state, s.o.Now(), actor, outcome
	ev := s.event(st.UnitID, actor, EventStep, fmt.Sprintf("%s: %s — %s", st.Label, state, outcome))
	ev.StepID = st.ID
	return s.o.Store.FinishStep(ctx, st, ev)
}

// StepRecord is a person's record of a step's outcome.
type StepRecord struct {
	State   StepState `json:"state"` // done or skipped
	Outcome string    `json:"outcome"`
}

// RecordStep records the outcome of an open step; a monthly follow-up
// done schedules the next one.
func (s *Service) RecordStep(ctx context.Context, stepID int64, r StepRecord, actor string) (Step, error) {
	if r.State == "" {
		r.State = StepDone
	}
	if r.State != StepDone && r.State != StepSkipped {
		return Step{}, fmt.Errorf("%w: state %q: must be done or skipped", ErrInvalid, r.State)
	}
	r.Outcome = strings.TrimSpace(r.Outcome)
	if r.Outcome == "" || len(r.Outcome) > 5000 {
		return Step{}, fmt.Errorf("%w: an outcome of at most 5000 characters is required", ErrInvalid)
	}
	st, err := s.o.Store.GetStep(ctx, stepID)
	if err != nil {
		return st, err
	}
	if st.State != StepOpen {
		return st, fmt.Errorf("%w: step %d is %s", ErrTransition, stepID, st.State)
	}
	done, err := s.finish(ctx, st, r.State, actor, r.Outcome)
	if err != nil {
		return done, err
	}
	if done.Kind == StepFollowUp {
		u, err := s.o.Store.GetUnit(ctx, done.UnitID)
		if err != nil {
			return done, err
		}
		all, err := s.o.Store.Steps(ctx, done.UnitID)
		if err != nil {
			return done, err
		}
		if next, ok := s.sched.NextFollowUp(u.MigrationAt, done, all); ok && u.Status == StatusLive {
			next.UnitID = done.UnitID
			if _, err := s.o.Store.AddStep(ctx, next); err != nil {
				return done, err
			}
		}
	}
	return done, nil
}

// OpenWorkOrder opens the unit's work order to the system administrators
// and mails it to units.sysadmin_address.
func (s *Service) OpenWorkOrder(ctx context.Context, unitID int64, note, actor string) (WorkOrder, error) {
	u, err := s.o.Store.GetUnit(ctx, unitID)
	if err != nil {
		return WorkOrder{}, err
	}
	if len(note) > 10_000 {
		return WorkOrder{}, fmt.Errorf("%w: the note is at most 10000 characters", ErrInvalid)
	}
	w, err := s.o.Store.CreateWorkOrder(ctx, WorkOrder{UnitID: unitID, State: WorkOrderOpen, Title: "Migrate " + u.Name,
		Body: strings.TrimSpace(note), OpenedAt: s.o.Now(), OpenedBy: actor})
	if err != nil {
		return w, err
	}
	text := fmt.Sprintf("work order %d opened", w.ID)
	if to := s.o.Config.SysadminAddress; to != "" {
		d := s.data(u)
		d.Order = w
		if err := s.mail(ctx, []string{to}, "work_order", d); err != nil {
			text += "; mail to " + to + " failed: " + err.Error()
		} else {
			text += "; mailed to " + to
			w.SentTo = to
			if err := s.o.Store.SetWorkOrderSent(ctx, w.ID, to); err != nil {
				return w, err
			}
		}
	}
	ev := s.event(unitID, actor, EventWorkOrder, text)
	return w, s.o.Store.AddEvents(ctx, ev)
}

// WorkOrderResult records the system administrators' result of an open
// work order and finishes the work order step with it.
func (s *Service) WorkOrderResult(ctx context.Context, id int64, state WorkOrderState, result, actor string) (WorkOrder, error) {
	if state != WorkOrderDone && state != WorkOrderFailed {
		return WorkOrder{}, fmt.Errorf("%w: state %q: must be done or failed", ErrInvalid, state)
	}
	result = strings.TrimSpace(result)
	if result == "" || len(result) > 5000 {
		return WorkOrder{}, fmt.Errorf("%w: a result of at most 5000 characters is required", ErrInvalid)
	}
	w, err := s.o.Store.GetWorkOrder(ctx, id)
	if err != nil {
		return w, err
	}
	w.State, w.Result, w.ResultAt, w.ResultBy = state, result, s.o.Now(), actor
	if w, err = s.o.Store.FinishWorkOrder(ctx, w); err != nil {
		return w, err
	}
	outcome := fmt.Sprintf("work order %d %s: %s", w.ID, state, result)
	if state == WorkOrderDone {
		_, err = s.finishKind(ctx, w.UnitID, StepWorkOrder, actor, outcome)
	} else {
		err = s.o.Store.AddEvents(ctx, s.event(w.UnitID, actor, EventWorkOrder, outcome))
	}
	return w, err
}

// AssignStep gives an open step to another person (an e-mail address
// gets the reminder; a name sends it to units.team_address).
func (s *Service) AssignStep(ctx context.Context, stepID int64, assignee, actor string) (Step, error) {
	assignee = strings.TrimSpace(assignee)
	if err := validAssignee(assignee); err != nil {
		return Step{}, err
	}
	st, err := s.o.Store.GetStep(ctx, stepID)
	if err != nil {
		return st, err
	}
	if st.State != StepOpen {
		return st, fmt.Errorf("%w: step %d is %s", ErrTransition, stepID, st.State)
	}
	ev := s.event(st.UnitID, actor, EventStep, fmt.Sprintf("%s: assigned to %s (was %s)", st.Label, orNobody(assignee), orNobody(st.Assignee)))
	ev.StepID = st.ID
	return s.o.Store.AssignStep(ctx, stepID, assignee, ev)
}

// AddRef scopes a ticket or a notice to the unit.
func (s *Service) AddRef(ctx context.Context, unitID int64, kind string, refID int64, actor string) (Ref, error) {
	if kind != RefTicket && kind != RefNotice {
		return Ref{}, fmt.Errorf("%w: kind %q: must be ticket or notice", ErrInvalid, kind)
	}
	if refID <= 0 {
		return Ref{}, fmt.Errorf("%w: a %s id is required", ErrInvalid, kind)
	}
	if _, err := s.o.Store.GetUnit(ctx, unitID); err != nil {
		return Ref{}, err
	}
	r := Ref{UnitID: unitID, Kind: kind, RefID: refID, At: s.o.Now(), Actor: actor}
	if err := s.o.Store.AddRef(ctx, r); err != nil {
		return r, err
	}
	return r, s.o.Store.AddEvents(ctx, s.event(unitID, actor, EventRef, fmt.Sprintf("%s %d scoped to the unit", kind, refID)))
}

// personAddress is where a person's reminders go: the assignee when an
// address, else units.team_address.
func (s *Service) personAddress(assignee string) string {
	if a, err := mail.ParseAddress(assignee); err == nil && strings.Contains(a.Address, "@") {
		return a.String()
	}
	return s.o.Config.TeamAddress
}

// mail renders a template and sends it.
func (s *Service) mail(ctx context.Context, to []string, tmpl string, d renderData) error {
	if d.loc == nil {
		d.loc = s.o.Location
	}
	if d.Now.IsZero() {
		d.Now = s.o.Now()
	}
	d.Config = s.o.Config
	subj, body, err := render(tmpl, d)
	if err != nil {
		return err
	}
	return s.send(ctx, to, subj, body)
}

// ErrNoMailer is returned when mail should go out but no relay is set.
var ErrNoMailer = errors.New("no mail relay configured (notices.relay.addr)")

func (s *Service) send(ctx context.Context, to []string, subject, body string) error {
	var rcpt []string
	for _, a := range to {
		if a != "" {
			rcpt = append(rcpt, a)
		}
	}
	if len(rcpt) == 0 {
		return errors.New("no recipient")
	}
	if s.o.Mailer == nil {
		return ErrNoMailer
	}
	m := notice.Mail{From: s.o.Config.From, To: rcpt, Subject: subject, Date: s.o.Now(),
		MessageID: notice.NewMessageID("unit", notice.DomainOf(s.o.Config.From)), Text: body, AutoSubmitted: true}
	raw, err := m.Bytes()
	if err != nil {
		return err
	}
	env := make([]string, len(rcpt))
	for i, a := range rcpt {
		env[i] = notice.AddressOf(a)
	}
	return s.o.Mailer.Send(ctx, notice.AddressOf(s.o.Config.From), env, raw)
}
