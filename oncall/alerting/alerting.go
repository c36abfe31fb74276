// Package alerting owns how the signals postvakt watches become on-call
// incidents, and the loop that keeps those incidents moving:
//
//   - An Alertmanager group (webhook payload version 4, or Grafana
//     alerting's version 1, keyed grafana/<orgId>/…) whose alertname a
//     heartbeat watches is a beat of that heartbeat. The rest of the group
//     opens or updates the incident keyed by (receiver, groupKey) while an
//     alert fires, and resolves it when none does. Its title is the
//     alertname, with the number of firing alerts when more than one; its
//     summary is the group's summary or description annotation, else the
//     first alert's summary; its severity is the highest of info < warning
//     < critical among the firing alerts' severity labels and the group's,
//     warning when none is given; its policy is the group's
//     postvakt_policy label when that names a policy.
//   - An abuse finding of the collectors opens one incident per kind and
//     subject until resolved, critical for a burst and warning otherwise,
//     with the finding's runbook.
//   - A probe problem opens one incident per probe key (per replica when
//     every replica probes), labelled with the service so the incident is
//     found by service; the probe's recovery resolves it.
//   - Fault tickets and incidents meet in TicketLink (link.go).
//
// Service.Run is the capability's one loop: every interval it fires the
// due escalation steps (timers kept in the database, so they survive a
// restart), sends the later pages of members' contact rules, checks
// heartbeats, announces handovers and reminds about
// undecided swap requests.
//
// Payload: https://prometheus.io/docs/alerting/latest/configuration/#webhook_config
package alerting

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/oncall/alertmanager"
	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/oncall/page"
	"github.com/uni-mail/postvakt/oncall/team"
)

// Incidents is what the service needs of package incident.
type Incidents interface {
	Trigger(ctx context.Context, tr incident.Trigger) (incident.Incident, bool, error)
	ResolveKey(ctx context.Context, key string, alerts []incident.Alert, by string) (incident.Incident, bool, error)
	// Tick fires every escalation step that is due.
	Tick(ctx context.Context) error
}

// Heartbeats is what the service needs of package heartbeat's Monitor.
type Heartbeats interface {
	// Start gives every heartbeat its row: one never seen is timed from now.
	Start(ctx context.Context) error
	// BeatAlertname records a beat of every heartbeat watching alertname
	// and reports whether one does.
	BeatAlertname(ctx context.Context, alertname string) (bool, error)
	// Check opens and resolves the incidents of late heartbeats.
	Check(ctx context.Context) error
}

// Handovers announces handovers (package handover's Announcer).
type Handovers interface {
	Check(ctx context.Context) error
}

// Swaps reminds about undecided swap requests (package team's Team).
type Swaps interface {
	RemindSwaps(ctx context.Context, r team.Reminders, send func(context.Context, ...page.Message) error, now time.Time) error
}

// Shifts keeps the record of the shifts as they are held (package team's
// Team).
type Shifts interface {
	RecordShifts(ctx context.Context, now time.Time) error
}

// Options configure a Service.
type Options struct {
	Incidents  Incidents
	Heartbeats Heartbeats
	// Policies are the escalation policies a group's postvakt_policy label
	// may name.
	Policies map[string]incident.Policy
	// AlertmanagerPolicy is the policy of groups that name none.
	AlertmanagerPolicy string
	// Handovers announces handovers; nil announces none.
	Handovers Handovers
	// Swaps, Reminders and Send remind about undecided swap requests; a
	// nil Swaps reminds of none.
	Swaps     Swaps
	Reminders team.Reminders
	Send      func(ctx context.Context, msgs ...page.Message) error
	// Shifts records the shifts as they start and end; nil records none.
	Shifts Shifts
	// FollowUp sends the pages of members' contact rules that have come
	// due (page.Dispatcher.FollowUp); nil sends none.
	FollowUp func(ctx context.Context) error
	// Interval is how often Run looks for due work.
	Interval time.Duration
	// Location is the service time zone (config/timezone) of the times in
	// incident summaries; nil: UTC.
	Location *time.Location
	Logger   *slog.Logger
	Now      func() time.Time
}

// Service turns signals into incidents and runs the capability's loop.
type Service struct{ o Options }

var _ alertmanager.Sink = (*Service)(nil)

// New returns a Service.
func New(o Options) *Service {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Interval <= 0 {
		o.Interval = 15 * time.Second
	}
	return &Service{o: o}
}

// Run is the capability's one loop: it starts the heartbeats, then every
// interval until ctx ends records the shifts held, fires due escalation
// steps, checks heartbeats, announces handovers and reminds about swaps. A failing step is logged
// and the others still run.
func (s *Service) Run(ctx context.Context) error {
	if s.o.Heartbeats != nil {
		if err := s.o.Heartbeats.Start(ctx); err != nil {
			return fmt.Errorf("oncall heartbeats: %w", err)
		}
	}
	t := time.NewTicker(s.o.Interval)
	defer t.Stop()
	for {
		s.step(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// step is one round of the loop.
func (s *Service) step(ctx context.Context) {
	logErr := func(what string, err error) {
		if err != nil && ctx.Err() == nil {
			s.o.Logger.Error("oncall: "+what, "err", err)
		}
	}
	if s.o.Shifts != nil {
		logErr("record of shifts", s.o.Shifts.RecordShifts(ctx, s.o.Now()))
	}
	logErr("escalation", s.o.Incidents.Tick(ctx))
	if s.o.FollowUp != nil {
		logErr("contact rules", s.o.FollowUp(ctx))
	}
	if s.o.Heartbeats != nil {
		logErr("heartbeats", s.o.Heartbeats.Check(ctx))
	}
	if s.o.Handovers != nil {
		logErr("handover", s.o.Handovers.Check(ctx))
	}
	if s.o.Swaps != nil {
		logErr("swap reminders", s.o.Swaps.RemindSwaps(ctx, s.o.Reminders, s.o.Send, s.o.Now()))
	}
}

// HandleGroup turns an Alertmanager group into incident work: alerts that
// a heartbeat watches beat it, a firing group opens or updates the
// incident keyed by (receiver, groupKey), a resolved group resolves it.
// It implements alertmanager.Sink.
func (s *Service) HandleGroup(ctx context.Context, m alertmanager.Message) error {
	var alerts []incident.Alert
	var kept []alertmanager.Alert
	for _, a := range m.Alerts {
		if name := a.Labels["alertname"]; name != "" && s.o.Heartbeats != nil {
			if hit, err := s.o.Heartbeats.BeatAlertname(ctx, name); err != nil {
				return err
			} else if hit {
				continue
			}
		}
		kept = append(kept, a)
		alerts = append(alerts, incident.Alert{Fingerprint: a.Fingerprint, Status: a.Status, Labels: a.Labels, Annotations: grafanaLinks(a), StartsAt: a.StartsAt, EndsAt: a.EndsAt})
	}
	if len(kept) == 0 {
		return nil
	}
	m.Alerts = kept
	key, source := alertmanager.Key(m), alertmanager.Source(m)
	if !alertmanager.Firing(m) {
		_, _, err := s.o.Incidents.ResolveKey(ctx, key, alerts, source)
		return err
	}
	_, _, err := s.o.Incidents.Trigger(ctx, incident.Trigger{
		Key: key, Source: source, Title: groupTitle(m), Summary: groupSummary(m), Severity: groupSeverity(m),
		Policy: s.groupPolicy(m), Labels: m.CommonLabels, ExternalURL: m.ExternalURL, Alerts: alerts, Actor: source,
	})
	return err
}

// grafanaLinks is an alert's annotations with Grafana alerting's links
// and values added (grafana_dashboard_url, grafana_panel_url,
// grafana_silence_url, grafana_values), so that the incident keeps them.
func grafanaLinks(a alertmanager.Alert) map[string]string {
	if a.DashboardURL == "" && a.PanelURL == "" && a.SilenceURL == "" && a.ValueString == "" {
		return a.Annotations
	}
	out := make(map[string]string, len(a.Annotations)+4)
	for k, v := range a.Annotations {
		out[k] = v
	}
	for k, v := range map[string]string{"grafana_dashboard_url": a.DashboardURL, "grafana_panel_url": a.PanelURL,
		"grafana_silence_url": a.SilenceURL, "grafana_values": a.ValueString} {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

// groupPolicy is the group's postvakt_policy label when it names a
// policy, else the Alertmanager policy.
func (s *Service) groupPolicy(m alertmanager.Message) string {
	if p := m.CommonLabels["postvakt_policy"]; p != "" {
		if _, ok := s.o.Policies[p]; ok {
			return p
		}
	}
	return s.o.AlertmanagerPolicy
}

// groupTitle is the group's alertname (common, else grouped by), with the
// number of firing alerts when more than one fires.
func groupTitle(m alertmanager.Message) string {
	name := m.CommonLabels["alertname"]
	if name == "" {
		name = m.GroupLabels["alertname"]
	}
	if name == "" {
		name = "Alert group"
	}
	firing := 0
	for _, a := range m.Alerts {
		if a.Status == "firing" {
			firing++
		}
	}
	if firing > 1 {
		return fmt.Sprintf("%s (%d alerts)", name, firing)
	}
	return name
}

// groupSummary is the group's summary or description annotation, else
// the first alert's summary, else (Grafana alerting) the group's title.
func groupSummary(m alertmanager.Message) string {
	for _, k := range []string{"summary", "description"} {
		if v := m.CommonAnnotations[k]; v != "" {
			return v
		}
	}
	for _, a := range m.Alerts {
		if v := a.Annotations["summary"]; v != "" {
			return v
		}
	}
	return m.Title
}

// severityRank orders the severities postvakt knows; others rank 0.
var severityRank = map[string]int{incident.SeverityInfo: 1, incident.SeverityWarning: 2, incident.SeverityCritical: 3}

// groupSeverity is the highest known severity among the firing alerts'
// severity labels, starting from the group's common one; warning when
// there is none.
func groupSeverity(m alertmanager.Message) string {
	best := m.CommonLabels["severity"]
	for _, a := range m.Alerts {
		if s := strings.ToLower(a.Labels["severity"]); a.Status == "firing" && severityRank[s] > severityRank[best] {
			best = s
		}
	}
	if best == "" {
		best = incident.SeverityWarning
	}
	return best
}

// AbuseFinding is a finding of the collectors' abuse detection
// (collectors/abusedetect.Alert, copied by the wiring).
type AbuseFinding struct {
	Kind     string
	Runbook  string
	Severity string // critical, warning or info; empty: by the kind's name
	Subject  string // the account or the client IP
	// Account is the account concerned ("" when none), Addresses the
	// client addresses involved, Evidence the log lines the finding rests
	// on.
	Account   string
	Addresses []string
	Count     int
	Threshold int
	First     time.Time // the first event counted (zero: At)
	At        time.Time
	Node      string
	Summary   string
	Evidence  []string
}

// Abuse raises an abuse finding as an incident, one per kind and subject
// until resolved; a later finding of the same kind and subject adds its
// alert (its addresses and evidence) to the open incident.
func (s *Service) Abuse(ctx context.Context, f AbuseFinding) error {
	_, _, err := s.o.Incidents.Trigger(ctx, abuseTrigger(f, s.o.Location))
	return err
}

// abuseTrigger is the incident of an abuse finding: the finding's own
// severity, or (for findings that name none) critical for a burst, else
// warning. Its alert carries the account, the addresses and the evidence
// lines; times are in loc, the service's time zone.
func abuseTrigger(f AbuseFinding, loc *time.Location) incident.Trigger {
	if loc == nil {
		loc = time.UTC
	}
	sev := strings.ToLower(f.Severity)
	if severityRank[sev] == 0 {
		sev = incident.SeverityWarning
		if strings.Contains(f.Kind, "burst") {
			sev = incident.SeverityCritical
		}
	}
	summary := fmt.Sprintf("%s: %d (threshold %d) at %s on %s; runbook %s", f.Kind, f.Count, f.Threshold, f.At.In(loc).Format("2006-01-02 15:04:05 MST"), f.Node, f.Runbook)
	if f.Account != "" {
		summary += "; account " + f.Account
	}
	if len(f.Addresses) > 0 {
		summary += "; addresses " + strings.Join(f.Addresses, ", ")
	}
	labels := map[string]string{"kind": f.Kind, "runbook": f.Runbook}
	if f.Account != "" {
		labels["account"] = f.Account
	}
	first := f.First
	if first.IsZero() {
		first = f.At
	}
	alert := incident.Alert{
		Fingerprint: fmt.Sprintf("abuse/%s/%s/%d", f.Kind, f.Subject, f.At.UnixNano()),
		Status:      "firing", Labels: labels, StartsAt: first,
		Annotations: map[string]string{"summary": f.Summary, "node": f.Node,
			"addresses": strings.Join(f.Addresses, ", "), "evidence": strings.Join(f.Evidence, "\n")},
	}
	return incident.Trigger{
		Key:    fmt.Sprintf("abuse/%s/%s", f.Kind, f.Subject),
		Source: "abuse", Title: f.Summary, Severity: sev, Actor: "collectors",
		Summary: summary, Labels: labels, Alerts: []incident.Alert{alert},
	}
}

// ProbeProblem is a problem a probe found (collectors/probe.Alert, copied
// by the wiring).
type ProbeProblem struct {
	Key      string
	Severity string // critical (a probe down), warning (certificate, slow loop)
	Title    string
	Summary  string
	Service  string
	Node     string
	Kind     string
	Runbook  string // runbook ID
}

// Probes raises the probes' problems as incidents, the same path the
// Alertmanager receiver takes, labelled with the service so the incident
// is found by service (and not counted again as an outage: the probes'
// own measurements are).
type Probes struct {
	svc *Service
	// replica is appended to the keys when each replica probes, so that
	// one replica's recovery does not resolve what another still sees;
	// empty when one replica probes for all.
	replica string
}

// Probes returns the probes' way in; replica names this replica when
// every replica probes, and is empty when one probes for all.
func (s *Service) Probes(replica string) *Probes { return &Probes{svc: s, replica: replica} }

func (p *Probes) key(k string) string {
	if p.replica == "" {
		return k
	}
	return k + "@" + p.replica
}

// Raise opens (or updates) the incident of a probe problem.
func (p *Probes) Raise(ctx context.Context, a ProbeProblem) error {
	_, _, err := p.svc.o.Incidents.Trigger(ctx, p.trigger(a))
	return err
}

func (p *Probes) trigger(a ProbeProblem) incident.Trigger {
	labels := map[string]string{"service": a.Service, "kind": a.Kind, "runbook": a.Runbook}
	if p.replica != "" {
		labels["replica"] = p.replica
	}
	if a.Node != "" {
		labels["node"] = a.Node
	}
	return incident.Trigger{Key: p.key(a.Key), Source: "probe", Title: a.Title, Severity: a.Severity,
		Summary: a.Summary + " (runbook " + a.Runbook + ")", Labels: labels, Actor: "probes"}
}

// Recover resolves the incident of a probe that recovered.
func (p *Probes) Recover(ctx context.Context, key string) error {
	_, _, err := p.svc.o.Incidents.ResolveKey(ctx, p.key(key), nil, "probes")
	return err
}
