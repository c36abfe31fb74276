package ticketstore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/pgtest"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/ticketstore"
	"github.com/uni-mail/postvakt/oncall/calendar"
	"github.com/uni-mail/postvakt/oncall/notice"
	"github.com/uni-mail/postvakt/oncall/sla"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// testClock is the injected clock of the ticket tests.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

var london = func() *time.Location { l, _ := time.LoadLocation("Europe/London"); return l }()

func lon(y int, m time.Month, d, hh, mm int) time.Time { return calendar.At(london, y, m, d, hh, mm) }

// ukSLA is the UK submission SLA: 09:00–17:00 on working days in England,
// response within one business hour, best effort outside.
func ukSLA() sla.Config {
	return sla.Config{
		Policies: []sla.Policy{{
			Name: "uk",
			Calendar: calendar.Spec{Name: "uk-hours", TimeZone: "Europe/London",
				Hours: []calendar.Hours{{Days: []string{"mon-fri"}, Start: "09:00", End: "17:00"}}, Countries: []string{"gb"}},
			Response: time.Hour, Resolution: 8 * time.Hour, OutsideHours: sla.BestEffort, Time: sla.Business,
			PauseStates: []string{"waiting"}, WarnPercent: 75,
		}},
		DefaultPolicy: "uk",
	}
}

type pageLog struct {
	mu    sync.Mutex
	pages []tickets.PageRequest
	fail  bool
}

func (p *pageLog) Page(_ context.Context, r tickets.PageRequest) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail {
		return errors.New("pager down")
	}
	p.pages = append(p.pages, r)
	return nil
}

func (p *pageLog) list() []tickets.PageRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]tickets.PageRequest(nil), p.pages...)
}

type ticketEnv struct {
	svc   *tickets.Service
	clock *testClock
	pager *pageLog
}

func newTicketEnv(t *testing.T, db *storage.DB, start time.Time, mailer notice.Sender, mut func(*tickets.Options)) ticketEnv {
	t.Helper()
	cfg := tickets.DefaultConfig()
	cfg.FaultAddress = "feil@uni.example"
	cfg.ReminderEvery = 0
	env := ticketEnv{clock: &testClock{t: start}, pager: &pageLog{}}
	o := tickets.Options{
		Config: cfg, SLA: ukSLA(), Store: ticketstore.New(db), Pager: env.pager, Mailer: mailer, Now: env.clock.Now,
		OnCall: tickets.OnCallFunc(func(context.Context, time.Time) (string, error) { return "ana", nil }),
	}
	if mut != nil {
		mut(&o)
	}
	svc, err := tickets.New(o)
	if err != nil {
		t.Fatal(err)
	}
	env.svc = svc
	return env
}

// TestConformanceTicketLifecycle: tickets and
// their clocks behave the same on SQLite and PostgreSQL.
func TestConformanceTicketLifecycle(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		e := newTicketEnv(t, db, lon(2026, 11, 24, 10, 0), nil, nil)
		tk, err := e.svc.Open(ctx, tickets.OpenRequest{Title: "Outgoing mail delayed", Service: "smtp",
			Severity: "critical", Reporter: "helpdesk", Symptoms: "queue grows", Actor: "hd1",
			Links: []tickets.Link{{Kind: "runbook", Ref: "RB-SMTP-QUEUE"}}})
		if err != nil {
			t.Fatal(err)
		}
		if tk.ID == 0 || tk.State != tickets.StateNew || tk.Assignee != "ana" || tk.Policy != "uk" || tk.PolicyVersion != ukSLA().Policies[0].Hash() {
			t.Fatalf("opened %+v", tk)
		}
		resp, ok := tk.Clock(sla.KindResponse)
		if !ok || resp.Status != "running" || !resp.Due.Equal(lon(2026, 11, 24, 11, 0)) || !resp.InsideHours {
			t.Fatalf("response clock %+v", resp)
		}
		if len(tk.Links) != 1 || tk.Links[0].Ref != "RB-SMTP-QUEUE" {
			t.Fatalf("links %+v", tk.Links)
		}
		step := func(at time.Time, action, actor string) tickets.Ticket {
			t.Helper()
			e.clock.Set(at)
			out, err := e.svc.Act(ctx, tk.ID, action, tickets.ActRequest{Actor: actor})
			if err != nil {
				t.Fatalf("%s: %v", action, err)
			}
			return out
		}
		// Waiting 10:05–10:25 pauses the clock: due moves by 20 minutes.
		step(lon(2026, 11, 24, 10, 5), tickets.ActWait, "ana")
		tk2 := step(lon(2026, 11, 24, 10, 25), tickets.ActStart, "ana")
		resp, _ = tk2.Clock(sla.KindResponse)
		if resp.Status != "met" || !resp.Stopped.Equal(lon(2026, 11, 24, 10, 25)) || resp.Paused != 20*time.Minute ||
			resp.Business != 5*time.Minute || resp.Raw != 25*time.Minute {
			t.Fatalf("response after start %+v", resp)
		}
		if _, err := e.svc.Act(ctx, tk.ID, tickets.ActAck, tickets.ActRequest{Actor: "ana"}); !errors.Is(err, tickets.ErrTransition) {
			t.Fatalf("ack while investigating: %v", err)
		}
		tk2 = step(lon(2026, 11, 24, 12, 0), tickets.ActResolve, "ana")
		res, _ := tk2.Clock(sla.KindResolution)
		if res.Status != "met" || res.Counted != 100*time.Minute || res.Paused != 20*time.Minute {
			t.Fatalf("resolution %+v", res)
		}
		step(lon(2026, 11, 24, 13, 0), tickets.ActClose, "ana")
		tk2 = step(lon(2026, 11, 24, 14, 0), tickets.ActReopen, "bo")
		if res, _ := tk2.Clock(sla.KindResolution); res.Status != "running" || !tk2.ClosedAt.IsZero() {
			t.Fatalf("after reopen %+v %+v", tk2, res)
		}
		e.clock.Set(lon(2026, 11, 24, 14, 5))
		if _, err := e.svc.Comment(ctx, tk.ID, tickets.CommentRequest{Actor: "bo", Body: "restarted postfix"}); err != nil {
			t.Fatal(err)
		}
		tl, err := e.svc.Timeline(ctx, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, ev := range tl {
			kinds = append(kinds, ev.Kind+":"+ev.Actor+":"+ev.ToState)
		}
		want := "opened:hd1:new state:ana:waiting state:ana:investigating state:ana:resolved state:ana:closed state:bo:investigating comment:bo:"
		if strings.Join(kinds, " ") != want {
			t.Fatalf("timeline\n%s\nwant\n%s", strings.Join(kinds, " "), want)
		}

		// Friday 16:30 → Monday 09:30, stored with the ticket.
		e.clock.Set(lon(2026, 11, 27, 16, 30))
		fri, err := e.svc.Open(ctx, tickets.OpenRequest{Title: "IMAP slow", Service: "imap"})
		if err != nil {
			t.Fatal(err)
		}
		if c, _ := fri.Clock(sla.KindResponse); !c.Due.Equal(lon(2026, 11, 30, 9, 30)) {
			t.Fatalf("friday due %v", c.Due)
		}
		// Saturday: best effort; never breached however late.
		e.clock.Set(lon(2026, 11, 28, 11, 0))
		sat, err := e.svc.Open(ctx, tickets.OpenRequest{Title: "webmail down", Service: "webmail", Severity: "minor"})
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Set(lon(2026, 12, 1, 11, 0))
		if err := e.svc.Tick(ctx, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		sat, _ = e.svc.Get(ctx, sat.ID)
		if c, _ := sat.Clock(sla.KindResponse); c.Status != "best_effort" || !c.BreachedAt.IsZero() || c.Raw != 72*time.Hour {
			t.Fatalf("saturday clock %+v", c)
		}

		// The policy is frozen: a service with a changed policy still runs
		// old tickets on the old version.
		changed := ukSLA()
		changed.Policies[0].Response = 4 * time.Hour
		e2 := newTicketEnv(t, db, e.clock.Now(), nil, func(o *tickets.Options) { o.SLA = changed })
		r, err := e2.svc.Explain(ctx, fri.ID)
		if err != nil {
			t.Fatal(err)
		}
		if c, _ := r.Clock(sla.KindResponse); c.Target != time.Hour || r.Version != ukSLA().Policies[0].Hash() {
			t.Fatalf("frozen policy: target %v version %s", c.Target, r.Version)
		}

		list, err := e.svc.List(ctx, tickets.Filter{Service: "imap"})
		if err != nil || len(list) != 1 || list[0].ID != fri.ID || len(list[0].Clocks) != 2 {
			t.Fatalf("list %v %+v", err, list)
		}
		counts, err := ticketstore.New(db).TicketCounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, c := range counts {
			got[c.Service+"/"+c.Severity+"/"+c.State] = c.N
		}
		if len(got) != 3 || got["smtp/critical/investigating"] != 1 || got["imap/major/new"] != 1 || got["webmail/minor/new"] != 1 {
			t.Fatalf("counts %v", got)
		}
		comp, err := ticketstore.New(db).TicketCompliance(ctx, lon(2026, 11, 1, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		// First ticket: response met; Friday's ticket: breached by the tick
		// on Tuesday (due Monday 09:30).
		m := map[string][2]int{}
		for _, c := range comp {
			m[c.Policy+"/"+c.Clock] = [2]int{c.Met, c.Breached}
		}
		if m["uk/response"] != [2]int{1, 1} {
			t.Fatalf("compliance %+v", comp)
		}
		if _, err := e.svc.Get(ctx, 9999); !errors.Is(err, tickets.ErrNotFound) {
			t.Fatalf("missing ticket: %v", err)
		}
	})
}

// TestConformanceTicketPreBreachPage: a ticket
// left unacknowledged past 75 % of its target pages the on-call, once; the
// breach escalates; a failed page is retried on the next tick.
func TestConformanceTicketPreBreachPage(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		e := newTicketEnv(t, db, lon(2026, 11, 24, 10, 0), nil, nil)
		tk, err := e.svc.Open(ctx, tickets.OpenRequest{Title: "MX rejects mail", Service: "smtp", Severity: "critical"})
		if err != nil {
			t.Fatal(err)
		}
		tick := func(h, m int) {
			t.Helper()
			e.clock.Set(lon(2026, 11, 24, h, m))
			if err := e.svc.Tick(ctx, e.clock.Now()); err != nil {
				t.Fatal(err)
			}
		}
		tick(10, 44)
		if p := e.pager.list(); len(p) != 0 {
			t.Fatalf("paged before 75 %%: %+v", p)
		}
		e.pager.fail = true
		tick(10, 45)
		e.pager.fail = false
		if p := e.pager.list(); len(p) != 0 {
			t.Fatalf("failed page recorded: %+v", p)
		}
		tick(10, 45)
		tick(10, 50)
		p := e.pager.list()
		if len(p) != 1 || p[0].Kind != tickets.PageWarning || p[0].Assignee != "ana" || p[0].TicketID != tickets.ID(tk.ID) ||
			p[0].Clock != sla.KindResponse || !p[0].Due.Equal(lon(2026, 11, 24, 11, 0)) || p[0].Escalate {
			t.Fatalf("pages %+v", p)
		}
		got, _ := e.svc.Get(ctx, tk.ID)
		if c, _ := got.Clock(sla.KindResponse); c.WarnedAt.IsZero() || c.Percent < 75 {
			t.Fatalf("clock after warning %+v", c)
		}
		tick(11, 1)
		tick(11, 2)
		p = e.pager.list()
		if len(p) != 2 || p[1].Kind != tickets.PageBreach || !p[1].Escalate {
			t.Fatalf("pages after breach %+v", p)
		}
		tl, _ := e.svc.Timeline(ctx, tk.ID)
		var evs []string
		for _, ev := range tl {
			evs = append(evs, ev.Kind)
		}
		if strings.Join(evs, ",") != "opened,sla_warning,sla_breach" {
			t.Fatalf("timeline %v", evs)
		}
		// An acknowledged ticket is not paged.
		e.clock.Set(lon(2026, 11, 24, 13, 0))
		tk2, _ := e.svc.Open(ctx, tickets.OpenRequest{Title: "IMAP login fails", Service: "imap"})
		e.clock.Set(lon(2026, 11, 24, 13, 10))
		if _, err := e.svc.Act(ctx, tk2.ID, tickets.ActAck, tickets.ActRequest{Actor: "ana"}); err != nil {
			t.Fatal(err)
		}
		tick(13, 55)
		for _, pg := range e.pager.list()[2:] {
			if pg.TicketID == tickets.ID(tk2.ID) && pg.Clock == sla.KindResponse {
				t.Fatalf("acknowledged ticket paged: %+v", pg)
			}
		}
	})
}

// TestConformanceTicketReminder checks the open-ticket reminder.
func TestConformanceTicketReminder(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		e := newTicketEnv(t, db, lon(2026, 11, 24, 10, 0), nil, func(o *tickets.Options) { o.Config.ReminderEvery = 24 * time.Hour })
		tk, _ := e.svc.Open(ctx, tickets.OpenRequest{Title: "list archive broken", Service: "lists"})
		e.clock.Set(lon(2026, 11, 24, 10, 20))
		if _, err := e.svc.Act(ctx, tk.ID, tickets.ActResolve, tickets.ActRequest{Actor: "ana"}); err != nil {
			t.Fatal(err)
		}
		for _, at := range []time.Time{lon(2026, 11, 25, 9, 0), lon(2026, 11, 25, 10, 0), lon(2026, 11, 25, 11, 0), lon(2026, 11, 28, 10, 0)} {
			e.clock.Set(at)
			if err := e.svc.Tick(ctx, at); err != nil {
				t.Fatal(err)
			}
		}
		var n int
		for _, p := range e.pager.list() {
			if p.Kind == tickets.PageReminder {
				n++
			}
		}
		if n != 1 { // 10:00 the next day; not 11:00; not on a Saturday
			t.Fatalf("reminders %d: %+v", n, e.pager.list())
		}
	})
}
