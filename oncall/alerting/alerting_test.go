package alerting

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/oncall/alertmanager"
	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/oncall/page"
	"github.com/uni-mail/postvakt/oncall/rota"
	"github.com/uni-mail/postvakt/oncall/team"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

// incidents records what the service asks of package incident.
type incidents struct {
	mu       sync.Mutex
	triggers []incident.Trigger
	resolved []string // keys
	ticks    int
}

func (f *incidents) Trigger(_ context.Context, tr incident.Trigger) (incident.Incident, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.triggers = append(f.triggers, tr)
	return incident.Incident{Key: tr.Key}, true, nil
}

func (f *incidents) ResolveKey(_ context.Context, key string, _ []incident.Alert, by string) (incident.Incident, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resolved = append(f.resolved, key+" by "+by)
	return incident.Incident{Key: key}, true, nil
}

func (f *incidents) Tick(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ticks++
	return nil
}

// heartbeats is a Heartbeats of function fields.
type heartbeats struct {
	start   func() error
	beat    func(name string) (bool, error)
	checked int
	mu      sync.Mutex
}

func (h *heartbeats) Start(context.Context) error {
	if h.start == nil {
		return nil
	}
	return h.start()
}

func (h *heartbeats) BeatAlertname(_ context.Context, name string) (bool, error) {
	if h.beat == nil {
		return false, nil
	}
	return h.beat(name)
}

func (h *heartbeats) Check(context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checked++
	return nil
}

func alert(status, name, severity string) alertmanager.Alert {
	return alertmanager.Alert{Status: status, Fingerprint: name + "/" + severity,
		Labels: map[string]string{"alertname": name, "severity": severity}}
}

func TestGroupTitle(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		m    alertmanager.Message
		want string
	}{
		{"common alertname", alertmanager.Message{CommonLabels: map[string]string{"alertname": "MailQueueHigh"},
			Alerts: []alertmanager.Alert{alert("firing", "MailQueueHigh", "")}}, "MailQueueHigh"},
		{"grouped by alertname", alertmanager.Message{GroupLabels: map[string]string{"alertname": "DiskFull"}}, "DiskFull"},
		{"no alertname", alertmanager.Message{}, "Alert group"},
		{"several firing", alertmanager.Message{CommonLabels: map[string]string{"alertname": "Down"},
			Alerts: []alertmanager.Alert{alert("firing", "Down", ""), alert("firing", "Down", ""), alert("resolved", "Down", "")}}, "Down (2 alerts)"},
	} {
		if got := groupTitle(c.m); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestGroupSummary(t *testing.T) {
	t.Parallel()
	first := alertmanager.Alert{Annotations: map[string]string{"summary": "first alert"}}
	for _, c := range []struct {
		name string
		m    alertmanager.Message
		want string
	}{
		{"summary", alertmanager.Message{CommonAnnotations: map[string]string{"summary": "s", "description": "d"}, Alerts: []alertmanager.Alert{first}}, "s"},
		{"description", alertmanager.Message{CommonAnnotations: map[string]string{"description": "d"}, Alerts: []alertmanager.Alert{first}}, "d"},
		{"first alert's summary", alertmanager.Message{Alerts: []alertmanager.Alert{{}, first}}, "first alert"},
		{"none", alertmanager.Message{}, ""},
	} {
		if got := groupSummary(c.m); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestGroupSeverity: the highest of info < warning < critical among the
// firing alerts and the group's, warning when none is given.
func TestGroupSeverity(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		common string
		alerts []alertmanager.Alert
		want   string
	}{
		{"none given", "", []alertmanager.Alert{alert("firing", "a", "")}, "warning"},
		{"common only", "info", nil, "info"},
		{"highest firing wins", "", []alertmanager.Alert{alert("firing", "a", "info"), alert("firing", "a", "critical"), alert("firing", "a", "warning")}, "critical"},
		{"above the common one", "warning", []alertmanager.Alert{alert("firing", "a", "critical")}, "critical"},
		{"not below the common one", "critical", []alertmanager.Alert{alert("firing", "a", "info")}, "critical"},
		{"resolved alerts do not count", "", []alertmanager.Alert{alert("resolved", "a", "critical"), alert("firing", "a", "info")}, "info"},
		{"labels are case-insensitive", "", []alertmanager.Alert{alert("firing", "a", "CRITICAL")}, "critical"},
		{"unknown severities rank below info", "", []alertmanager.Alert{alert("firing", "a", "page"), alert("firing", "a", "info")}, "info"},
		{"an unknown common one is kept", "page", []alertmanager.Alert{alert("firing", "a", "other")}, "page"},
	} {
		m := alertmanager.Message{CommonLabels: map[string]string{"severity": c.common}, Alerts: c.alerts}
		if got := groupSeverity(m); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

func TestHandleGroup(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var beats []string
	hb := &heartbeats{beat: func(name string) (bool, error) {
		beats = append(beats, name)
		return name == "Watchdog", nil
	}}
	inc := &incidents{}
	svc := New(Options{Incidents: inc, Heartbeats: hb, AlertmanagerPolicy: "mail",
		Policies: map[string]incident.Policy{"mail": {Name: "mail"}, "db": {Name: "db"}}})
	group := func(status string, labels map[string]string, alerts ...alertmanager.Alert) alertmanager.Message {
		return alertmanager.Message{Version: "4", Receiver: "postvakt", GroupKey: "{}:{alertname=\"X\"}", Status: status,
			CommonLabels: labels, ExternalURL: "http://am", Alerts: alerts}
	}

	// A group of heartbeat alerts only beats and opens nothing.
	if err := svc.HandleGroup(ctx, group("firing", nil, alert("firing", "Watchdog", ""))); err != nil {
		t.Fatal(err)
	}
	if len(inc.triggers) != 0 || len(beats) != 1 {
		t.Fatalf("heartbeat group: triggers %+v, beats %v", inc.triggers, beats)
	}
	// A firing group opens the incident keyed by receiver and groupKey,
	// without the heartbeat's alert, on the policy its label names.
	m := group("firing", map[string]string{"alertname": "MailQueueHigh", "postvakt_policy": "db"},
		alert("firing", "MailQueueHigh", "critical"), alert("firing", "Watchdog", ""))
	if err := svc.HandleGroup(ctx, m); err != nil {
		t.Fatal(err)
	}
	tr := inc.triggers[0]
	if tr.Key != "alertmanager/postvakt/"+m.GroupKey || tr.Source != "alertmanager" || tr.Actor != "alertmanager" || tr.Policy != "db" ||
		tr.Severity != "critical" || tr.Title != "MailQueueHigh" || len(tr.Alerts) != 1 || tr.ExternalURL != "http://am" {
		t.Fatalf("trigger %+v", tr)
	}
	// A policy label that names no policy falls back to the receiver's.
	if err := svc.HandleGroup(ctx, group("firing", map[string]string{"postvakt_policy": "nope"}, alert("firing", "A", ""))); err != nil {
		t.Fatal(err)
	}
	if p := inc.triggers[1].Policy; p != "mail" {
		t.Fatalf("policy %q, want mail", p)
	}
	// A resolved group resolves the incident by its key.
	if err := svc.HandleGroup(ctx, group("resolved", nil, alert("resolved", "MailQueueHigh", "critical"))); err != nil {
		t.Fatal(err)
	}
	if len(inc.resolved) != 1 || inc.resolved[0] != "alertmanager/postvakt/"+m.GroupKey+" by alertmanager" {
		t.Fatalf("resolved %v", inc.resolved)
	}
	// A failing heartbeat store fails the group (Alertmanager's retry
	// brings it again).
	hb.beat = func(string) (bool, error) { return false, errors.New("db down") }
	if err := svc.HandleGroup(ctx, m); err == nil {
		t.Fatal("no error from a failing heartbeat store")
	}
}

func TestAbuseSeverity(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)
	f := AbuseFinding{Kind: "send_messages", Runbook: "outgoing-spam-burst", Subject: "ola@uni.example", Count: 120, Threshold: 100,
		At: at, Node: "mx1", Summary: "ola sent 120 messages in 10m"}
	tr := abuseTrigger(f, nil)
	if tr.Key != "abuse/send_messages/ola@uni.example" || tr.Source != "abuse" || tr.Actor != "collectors" || tr.Severity != "warning" ||
		tr.Title != f.Summary || tr.Labels["kind"] != "send_messages" || tr.Labels["runbook"] != "outgoing-spam-burst" ||
		tr.Summary != "send_messages: 120 (threshold 100) at 2026-11-23 09:30:00 UTC on mx1; runbook outgoing-spam-burst" {
		t.Fatalf("trigger %+v", tr)
	}
	// a finding with its account, addresses, evidence and severity
	g := AbuseFinding{Kind: "login_after_failures", Runbook: "account-compromise", Severity: "critical", Subject: "rita@uni.example",
		Account: "rita@uni.example", Addresses: []string{"192.0.2.24", "192.0.2.21"}, Count: 12, Threshold: 5,
		First: at.Add(-time.Minute), At: at, Node: "imap", Summary: "rita@uni.example logged in from 192.0.2.24",
		Evidence: []string{"line 1", "line 2"}}
	tr = abuseTrigger(g, time.UTC)
	if tr.Severity != "critical" || tr.Key != "abuse/login_after_failures/rita@uni.example" || tr.Labels["account"] != "rita@uni.example" ||
		!strings.Contains(tr.Summary, "account rita@uni.example; addresses 192.0.2.24, 192.0.2.21") || len(tr.Alerts) != 1 ||
		tr.Alerts[0].Annotations["evidence"] != "line 1\nline 2" || !tr.Alerts[0].StartsAt.Equal(g.First) {
		t.Fatalf("trigger %+v", tr)
	}
	f.Kind = "send_burst"
	if oslo, _ := time.LoadLocation("Europe/Oslo"); !strings.Contains(abuseTrigger(f, oslo).Summary, "at 2026-11-23 10:30:00 CET on mx1") {
		t.Errorf("in the service zone: %s", abuseTrigger(f, oslo).Summary)
	}
	if tr := abuseTrigger(f, nil); tr.Severity != "critical" {
		t.Fatalf("a burst: severity %q, want critical", tr.Severity)
	}
	inc := &incidents{}
	if err := New(Options{Incidents: inc}).Abuse(context.Background(), f); err != nil || len(inc.triggers) != 1 {
		t.Fatalf("Abuse: %v %+v", err, inc.triggers)
	}
}

func TestProbeIncidents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	inc := &incidents{}
	svc := New(Options{Incidents: inc})
	a := ProbeProblem{Key: "probe/mx1-smtp", Severity: "critical", Title: "SMTP on mx1 down", Summary: "connect refused",
		Service: "smtp", Node: "mx1", Kind: "down", Runbook: "RB-SMTP"}

	single := svc.Probes("")
	if err := single.Raise(ctx, a); err != nil {
		t.Fatal(err)
	}
	tr := inc.triggers[0]
	if tr.Key != "probe/mx1-smtp" || tr.Source != "probe" || tr.Actor != "probes" || tr.Severity != "critical" || tr.Title != a.Title ||
		tr.Summary != "connect refused (runbook RB-SMTP)" || tr.Labels["service"] != "smtp" || tr.Labels["kind"] != "down" ||
		tr.Labels["runbook"] != "RB-SMTP" || tr.Labels["node"] != "mx1" || tr.Labels["replica"] != "" {
		t.Fatalf("trigger %+v", tr)
	}
	// Each replica keeps its own incidents when every replica probes.
	every := svc.Probes("node-b")
	a.Node = ""
	if err := every.Raise(ctx, a); err != nil {
		t.Fatal(err)
	}
	tr = inc.triggers[1]
	if _, hasNode := tr.Labels["node"]; tr.Key != "probe/mx1-smtp@node-b" || tr.Labels["replica"] != "node-b" || hasNode {
		t.Fatalf("trigger of a replica %+v", tr)
	}
	if err := every.Recover(ctx, "probe/mx1-smtp"); err != nil {
		t.Fatal(err)
	}
	if err := single.Recover(ctx, "probe/mx1-smtp"); err != nil {
		t.Fatal(err)
	}
	if strings.Join(inc.resolved, ",") != "probe/mx1-smtp@node-b by probes,probe/mx1-smtp by probes" {
		t.Fatalf("resolved %v", inc.resolved)
	}
}

// TestRunLoop: Run starts the heartbeats, then each round fires due
// escalation steps, checks heartbeats, announces handovers and reminds
// about swaps, until its context ends.
func TestRunLoop(t *testing.T) {
	t.Parallel()
	inc, hb := &incidents{}, &heartbeats{}
	var mu sync.Mutex
	var handovers, reminders int
	var sent team.Reminders
	svc := New(Options{Incidents: inc, Heartbeats: hb, Interval: 5 * time.Millisecond,
		Handovers: handoversFunc(func(context.Context) error { mu.Lock(); handovers++; mu.Unlock(); return nil }),
		Swaps: swapsFunc(func(r team.Reminders) error {
			mu.Lock()
			reminders++
			sent = r
			mu.Unlock()
			return errors.New("logged, not fatal")
		}),
		Reminders: team.Reminders{Every: time.Hour}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		inc.mu.Lock()
		n := inc.ticks
		inc.mu.Unlock()
		if n >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the loop did not tick three times")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if hb.checked < 3 || handovers < 3 || reminders < 3 || sent.Every != time.Hour {
		t.Fatalf("heartbeat checks %d, handovers %d, reminders %d (%+v)", hb.checked, handovers, reminders, sent)
	}

	// A heartbeat store that cannot start stops the loop with an error.
	failing := New(Options{Incidents: &incidents{}, Heartbeats: &heartbeats{start: func() error { return errors.New("no db") }}})
	if err := failing.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "oncall heartbeats") {
		t.Fatalf("Run with a failing start: %v", err)
	}
}

type handoversFunc func(context.Context) error

func (f handoversFunc) Check(ctx context.Context) error { return f(ctx) }

type swapsFunc func(team.Reminders) error

func (f swapsFunc) RemindSwaps(_ context.Context, r team.Reminders, _ func(context.Context, ...page.Message) error, _ time.Time) error {
	return f(r)
}

// TestSLAPage: an SLA page opens an incident keyed by its dedup key,
// critical when it escalates (a breach) and warning otherwise; before the
// incident service is bound it is logged only.
func TestSLAPage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	due := time.Date(2026, 11, 24, 11, 0, 0, 0, time.UTC)
	req := tickets.PageRequest{Kind: tickets.PageWarning, TicketID: "42", Service: "smtp", Severity: "critical", Clock: "response",
		Due: due, DedupKey: "42/response/warn", Message: "Ticket 42 response due", URL: "https://ops/tickets/42"}
	link := NewTicketLink(LinkOptions{})
	if err := link.Page(ctx, req); err != nil {
		t.Fatalf("page before on-call is bound: %v", err)
	}
	inc := &incidents{}
	link.BindOnCall(inc, nil)
	if err := link.Page(ctx, req); err != nil {
		t.Fatal(err)
	}
	req.Kind, req.Escalate, req.DedupKey = tickets.PageBreach, true, "42/response/breach"
	if err := link.Page(ctx, req); err != nil {
		t.Fatal(err)
	}
	if len(inc.triggers) != 2 {
		t.Fatalf("triggers %+v", inc.triggers)
	}
	w, b := inc.triggers[0], inc.triggers[1]
	if w.Key != "sla/42/response/warn" || w.Source != SourceSLA || w.Severity != "warning" || w.Title != req.Message || w.Actor != "sla" ||
		w.ExternalURL != req.URL || w.Summary != "Ticket 42 (smtp, critical): response due Tue 2026-11-24 11:00 UTC" ||
		w.Labels["ticket"] != "42" || w.Labels["clock"] != "response" || w.Labels["kind"] != tickets.PageWarning {
		t.Fatalf("warning %+v", w)
	}
	if b.Key != "sla/42/response/breach" || b.Severity != "critical" || b.Labels["kind"] != tickets.PageBreach {
		t.Fatalf("breach %+v", b)
	}
}

// ticketService records the tickets the link opens, resolves,
// acknowledges and assigns.
type ticketService struct {
	opened   []tickets.IncidentInfo
	resolved []string
	acked    []string
	assigned []string
}

func (f *ticketService) AckForIncident(_ context.Context, id, incidentID, by string) (bool, error) {
	f.acked = append(f.acked, id+"/"+incidentID+"/"+by)
	return true, nil
}

func (f *ticketService) AssignForIncident(_ context.Context, id, member, by string) error {
	f.assigned = append(f.assigned, id+"/"+member+"/"+by)
	return nil
}

func (f *ticketService) OpenForIncident(_ context.Context, in tickets.IncidentInfo) (string, error) {
	f.opened = append(f.opened, in)
	return "T" + in.ID, nil
}

func (f *ticketService) ResolveForIncident(_ context.Context, id string, at time.Time) error {
	f.resolved = append(f.resolved, id+"@"+at.Format(time.RFC3339))
	return nil
}

// TestIncidentTickets: an incident opens a ticket with its severity when
// the tickets know it, warning as major, its service label when it names
// a ticket service; an SLA page's incident opens none; resolving resolves.
func TestIncidentTickets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	opened := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	now := opened.Add(time.Hour)
	link := NewTicketLink(LinkOptions{Severities: []string{"critical", "major", "minor"}, Services: []string{"smtp", "imap"},
		Now: func() time.Time { return now }})
	if id, err := link.OpenForIncident(ctx, incident.Incident{ID: 1}); id != "" || err != nil {
		t.Fatalf("before the ticket service is bound: %q %v", id, err)
	}
	ts := &ticketService{}
	link.BindTickets(ts)
	for _, c := range []struct {
		name              string
		inc               incident.Incident
		severity, service string
	}{
		{"known severity and service", incident.Incident{Severity: "critical", Labels: map[string]string{"service": "smtp"}}, "critical", "smtp"},
		{"warning is major", incident.Incident{Severity: "warning"}, "major", ""},
		{"unknown severity and service: the defaults", incident.Incident{Severity: "info", Labels: map[string]string{"service": "fax"}}, "", ""},
	} {
		c.inc.ID, c.inc.Title, c.inc.Summary, c.inc.OpenedAt, c.inc.Source = 7, "MX down", "refused", opened, "alertmanager"
		ts.opened = nil
		id, err := link.OpenForIncident(ctx, c.inc)
		if err != nil || id != "T7" || len(ts.opened) != 1 {
			t.Fatalf("%s: %q %v %+v", c.name, id, err, ts.opened)
		}
		in := ts.opened[0]
		if in.ID != "7" || in.Title != "MX down" || in.Summary != "refused" || !in.StartedAt.Equal(opened) ||
			in.Severity != c.severity || in.Service != c.service {
			t.Errorf("%s: %+v, want severity %q service %q", c.name, in, c.severity, c.service)
		}
	}
	// Without "major" among the tickets' severities a warning takes the default.
	noMajor := NewTicketLink(LinkOptions{Severities: []string{"critical", "minor"}})
	noMajor.BindTickets(ts)
	ts.opened = nil
	if _, err := noMajor.OpenForIncident(ctx, incident.Incident{ID: 8, Severity: "warning"}); err != nil || ts.opened[0].Severity != "" {
		t.Fatalf("warning without major: %v %+v", err, ts.opened)
	}
	// The incident of an SLA page opens no ticket: the ticket exists.
	ts.opened = nil
	if id, err := link.OpenForIncident(ctx, incident.Incident{ID: 9, Source: SourceSLA, Severity: "critical"}); id != "" || err != nil || len(ts.opened) != 0 {
		t.Fatalf("SLA incident: %q %v %+v", id, err, ts.opened)
	}
	// Resolving resolves the ticket at the incident's resolution, or now.
	resolved := opened.Add(30 * time.Minute)
	if err := link.ResolveForIncident(ctx, incident.Incident{ResolvedAt: resolved}, "T7"); err != nil {
		t.Fatal(err)
	}
	if err := link.ResolveForIncident(ctx, incident.Incident{}, "T8"); err != nil {
		t.Fatal(err)
	}
	if err := link.ResolveForIncident(ctx, incident.Incident{}, ""); err != nil {
		t.Fatal(err)
	}
	if strings.Join(ts.resolved, ",") != "T7@2026-11-24T10:30:00Z,T8@2026-11-24T11:00:00Z" {
		t.Fatalf("resolved %v", ts.resolved)
	}
}

// fakeTeam answers from a fixed member per rota.
type fakeTeam struct{ rotas map[string]string }

func (f fakeTeam) OnCallAt(_ context.Context, rotaName string, _ time.Time) (rota.Shift, error) {
	m, ok := f.rotas[rotaName]
	if !ok {
		return rota.Shift{}, team.ErrUnknownRota
	}
	return rota.Shift{Member: m}, nil
}

func (f fakeTeam) DefaultRota() string { return "first" }

// TestOnCallAt: the fallback answers until the team is bound; then the
// configured rota, or the team's first.
func TestOnCallAt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	at := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	tm := fakeTeam{rotas: map[string]string{"first": "ana", "second": "bjorn"}}
	if who, err := NewTicketLink(LinkOptions{}).OnCallAt(ctx, at); who != "" || err != nil {
		t.Fatalf("no fallback, no team: %q %v", who, err)
	}
	fallback := tickets.OnCallFunc(func(context.Context, time.Time) (string, error) { return "rota-only", nil })
	def := NewTicketLink(LinkOptions{Fallback: fallback})
	if who, _ := def.OnCallAt(ctx, at); who != "rota-only" {
		t.Fatalf("before binding: %q", who)
	}
	def.BindOnCall(&incidents{}, tm)
	if who, _ := def.OnCallAt(ctx, at); who != "ana" {
		t.Fatalf("the team's first rota: %q", who)
	}
	named := NewTicketLink(LinkOptions{Fallback: fallback, Rota: "second"})
	named.BindOnCall(&incidents{}, tm)
	if who, _ := named.OnCallAt(ctx, at); who != "bjorn" {
		t.Fatalf("the configured rota: %q", who)
	}
	bad := NewTicketLink(LinkOptions{Rota: "none"})
	bad.BindOnCall(&incidents{}, tm)
	if _, err := bad.OnCallAt(ctx, at); !errors.Is(err, team.ErrUnknownRota) {
		t.Fatalf("unknown rota: %v", err)
	}
}

// TestRotaOnCall: the named rota (or the first) by its turns; an unknown
// name is an error; no rotas, no resolver.
func TestRotaOnCall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	specs := []rota.Spec{
		{Name: "ukevakt", Members: []string{"ana", "bjorn"}, Start: "2026-01-05", HandoverWeekday: "monday", HandoverTime: "09:00", TimeZone: "Europe/Oslo"},
		{Name: "backup", Members: []string{"chen", "dag"}, Start: "2026-01-05", HandoverWeekday: "monday", HandoverTime: "09:00", TimeZone: "Europe/Oslo"},
	}
	at := time.Date(2026, 1, 13, 12, 0, 0, 0, time.UTC) // the second turn
	for name, want := range map[string]string{"": "bjorn", "backup": "dag"} {
		r, err := RotaOnCall(specs, name)
		if err != nil {
			t.Fatal(err)
		}
		if who, err := r.OnCallAt(ctx, at); err != nil || who != want {
			t.Errorf("rota %q: %q %v, want %s", name, who, err, want)
		}
	}
	if _, err := RotaOnCall(specs, "nope"); err == nil {
		t.Error("an unknown rota resolves")
	}
	if r, err := RotaOnCall(nil, ""); r != nil || err != nil {
		t.Errorf("no rotas: %v %v", r, err)
	}
}
