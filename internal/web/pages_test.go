package web

import (
	"bytes"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/collectors/trace"
	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/engine/complaint"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/quarantine"
	"github.com/uni-mail/postvakt/engine/store"
	"github.com/uni-mail/postvakt/internal/api/accessapi"
	"github.com/uni-mail/postvakt/internal/api/collectorsapi"
	"github.com/uni-mail/postvakt/internal/api/complaintapi"
	"github.com/uni-mail/postvakt/internal/api/engineapi"
	"github.com/uni-mail/postvakt/internal/api/oncallapi"
	"github.com/uni-mail/postvakt/internal/api/reportapi"
	"github.com/uni-mail/postvakt/internal/api/ticketapi"
	"github.com/uni-mail/postvakt/internal/api/unitapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/webauth"
	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/oncall/notice"
	"github.com/uni-mail/postvakt/oncall/rota"
	"github.com/uni-mail/postvakt/oncall/team"
	"github.com/uni-mail/postvakt/oncall/tickets"
	"github.com/uni-mail/postvakt/oncall/units"
	"github.com/uni-mail/postvakt/reports"
)

// TestPagesRender executes every page template on its typed view: once
// filled with realistic data that takes the rarer branches (a revoked
// token, an unsent update, a forwarding mailbox that may forward out,
// more than 500 quarantined messages), once empty and, where a page has
// them, with its capabilities not configured; each as an admin and as a
// viewer. A field a template names that its view lacks is an execution
// error, which fails the test. The listed strings must appear.
func TestPagesRender(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 10, 30, 0, 0, time.UTC)
	u := &UI{o: Options{Now: func() time.Time { return now }, Location: time.UTC,
		Tickets: tickets.DefaultConfig()}}
	pages, err := u.parsePages()
	if err != nil {
		t.Fatal(err)
	}
	at := func(d time.Duration) time.Time { return now.Add(d) }
	ptr := func(t time.Time) *time.Time { return &t }
	shift := func(member, name string, start time.Time, src rota.Source) oncallapi.ShiftView {
		return oncallapi.ShiftView{Rota: "ukevakt", Member: member, Name: name, Start: start, End: start.Add(7 * 24 * time.Hour), Source: src}
	}
	clocks := []tickets.Clock{
		{Kind: "response", Status: "running", Percent: 42, Due: at(time.Hour)},
		{Kind: "resolution", Status: "stopped", Percent: -3},
	}
	ticket := tickets.Ticket{ID: 7, Title: "IMAP login fails for staff", Service: "imap", Severity: "critical", Source: "helpdesk",
		Reporter: "Kari Nordmann", ReporterEmail: "kari@uni.example", Assignee: "ana", State: tickets.StateAcknowledged,
		Symptoms: "Authentication fails.", HandlingPlan: "Check the proxy.", Policy: "standard", PolicyVersion: "v1a2b",
		NotifiedAt: at(-time.Hour), OpenedAt: at(-time.Hour), Links: []tickets.Link{{Kind: "incident", Ref: "3", Title: "Queue"}, {Kind: "duplicate-of", Ref: "5", Title: "IMAP down"}},
		Clocks: clocks}
	inc := []incident.Incident{
		{ID: 1, Title: "Outbound queue above 5000", Summary: "Seen by Prometheus.", Severity: "critical", Status: incident.StatusTriggered,
			OpenedAt: at(-time.Hour), TicketID: "7"},
		{ID: 2, Title: "Spam score spike", Severity: "warning", Status: incident.StatusAcknowledged, OpenedAt: at(-3 * time.Hour),
			AckedAt: at(-2 * time.Hour), AckedBy: "ana"},
		{ID: 3, Title: "Disk almost full", Severity: "warning", Status: incident.StatusResolved, OpenedAt: at(-50 * time.Hour),
			ResolvedAt: at(-time.Hour), ResolvedBy: "bjorn"},
	}
	outage := notice.Notice{ID: 1, Kind: notice.KindOutage, Title: "IMAP login fails", Services: []string{"imap", "pop"},
		State: notice.Identified, Public: true, Symptoms: "Authentication fails.", Impact: "Staff cannot read mail.",
		HandlingPlan: "Restart the proxy.", StartedAt: at(-time.Hour), NextUpdateAt: at(time.Hour), EndedAt: at(-time.Minute),
		PlannedEnd: at(2 * time.Hour), Language: "en", TicketID: "7", CreatedAt: at(-time.Hour), CreatedBy: "ana",
		Updates: []notice.Update{
			{At: at(-time.Hour), Actor: "ana", Kind: "created", State: notice.Investigating, Body: "Looking into it.", Announce: true, SentAt: at(-time.Hour)},
			{At: at(-time.Minute), Actor: "ana", Kind: "update", State: notice.Identified, Body: "A certificate expired.", Announce: true,
				Attempts: 3, LastError: "relay down"},
			{At: at(0), Actor: "ana", Kind: "update", State: notice.Identified, Announce: true},
		}}
	form := noticeForm{Kind: notice.KindMaintenance, Title: "Upgrade", Symptoms: "None.", Impact: "Short breaks.",
		HandlingPlan: "Rolling.", StartedAt: "2026-11-28T18:00", PlannedEnd: "2026-11-28T22:00", NextUpdateAt: "2026-11-28T20:00",
		Language: "nb", Body: "We upgrade.", TicketID: "7", Services: []string{"imap"}, Public: true, Announce: true}
	mailbox := engineapi.MailboxView{Address: "s001@uni.example", Nickname: "kari.n@uni.example", DisplayName: "Kari Nordmann",
		QuotaBytes: 1 << 30, UsedBytes: 3 << 28, ForwardTo: "kari@example.org", KeepCopy: true, ExternalForwardAllowed: true,
		HasPassword: true, CreatedAt: at(-24 * time.Hour)}
	locked := mailbox
	locked.Locked, locked.LockedReason, locked.ForwardTo = true, "phished", ""
	aliases := []directory.Alias{{Address: "it-support@uni.example", Kind: directory.KindList, Targets: []string{"s001@uni.example", "s002@uni.example"}}}
	items := []quarantine.Item{{ID: 9, At: at(-time.Minute), Reason: "virus", Detail: "Eicar-Test-Signature", ClientIP: "198.51.100.4",
		MailFrom: "bad@spam.example", Rcpts: []string{"s001@uni.example", "s002@uni.example"}, Subject: "Invoice overdue", Size: 2048}}
	hours := []collectorsapi.TrafficHour{{Received: 1, Delivered: 2}, {Received: 3, Logins: 4, Rejected: 1}}
	value := func(f func(collectorsapi.TrafficHour) int64) *sparkline { return spark(hours, f, "x") }
	page := trace.Page{Messages: []trace.Message{{Direction: "inbound", FirstSeen: at(-time.Hour), From: "alice@sender.example",
		MessageID: "<m1@sender.example>", ClientIP: "192.0.2.7", Subject: "Exam results", State: "removed",
		Recipients: []trace.Recipient{{Rcpt: "bob@uni.example", Status: "sent"}, {Rcpt: "eve@uni.example", Status: "bounced", Reason: "550 5.1.1 user unknown"}},
		Summary:    "greylisted 2×, then delivered", Attempts: []trace.Attempt{{Time: at(-2 * time.Hour), Greylisted: true}, {Time: at(-90 * time.Minute), Greylisted: true}},
		Steps: []trace.Step{{Time: at(-time.Hour), Node: "mx1", Step: "delivered", Rcpt: "bob@uni.example", DSN: "2.0.0", Relay: "lmtp", Detail: "ok"}}},
		{From: "carol@sender.example", State: "queued"}}, Total: 137, NextOffset: 50}

	type tcase struct {
		name string
		data any
		want []string // as an admin
	}
	cases := map[string][]tcase{
		"now": {
			{"full", &nowView{
				Rotas: []oncallapi.RotaView{{Name: "ukevakt", Spec: rota.Spec{Members: []string{"ana", "bjorn"}}, InCover: true,
					Current: shift("bjorn", "Bjørn Dahl", at(-time.Hour), rota.SourceOverride), Next: shift("chen", "", at(time.Hour), rota.SourceRota)}},
				Incidents: inc[:2], Tickets: []tickets.Ticket{ticket},
				Probes: []probe.State{{Probe: "pop-tcp", Service: "pop3", Node: "pop1", Kind: probe.KindTCP, Status: probe.StatusDown, Since: at(-time.Minute),
					LastError: "connection refused"}, {Probe: "imap-tls", Service: "imap", Kind: probe.KindIMAP, Status: probe.StatusUp, Warning: "certificate expires in 9 days"}},
				Mail: &collectorsapi.Summary{Received: 12, Delivered: 11, Deferred: 1, Bounced: 2, Expired: 3, Rejected: []txlog.RejectCount{{Stage: "rcpt", Code: 550, Count: 1}}},
				Flow: &flowView{Received: value(func(h collectorsapi.TrafficHour) int64 { return h.Received }),
					Delivered: value(func(h collectorsapi.TrafficHour) int64 { return h.Delivered }),
					Rejected:  value(func(h collectorsapi.TrafficHour) int64 { return h.Rejected }),
					Logins:    value(func(h collectorsapi.TrafficHour) int64 { return h.Logins })},
			}, []string{`id="oncall-ukevakt">Bjørn Dahl<`, "cover", " · override", "Next: <strong>chen</strong>", `id="ack-1"`,
				"acknowledged by ana", "#7 IMAP login fails for staff", "response: 42%", "resolution: 0%", "sev-critical", "pop3 on pop1",
				"sev-warning", "certificate expires in 9 days", "<dt>expired</dt><dd>3</dd>", `id="spark-logins"`}},
			{"empty", &nowView{}, []string{"No open incidents.", "No open tickets."}},
			{"off", &nowView{RotasOff: true, IncidentsOff: true, TicketsOff: true, ProbesOff: true}, []string{"On-call is not configured: set <code>oncall.members, oncall.rotas</code>",
				"docs/oncall.md#the-rota", "Incidents belong to on-call", "Tickets are not configured: set <code>tickets:</code>", `id="h-probes"`,
				"Probes are off: set <code>probes.enabled, probes.targets</code>", "docs/probes.md", "No mail counts: the collectors are not configured"}},
			{"first run", &nowView{Guide: []guideStep{{ID: "oncall", What: "Put the team and the weekly rota in", Key: "oncall.members", Doc: "docs/oncall.md"}},
				Mail: &collectorsapi.Summary{Received: 101}, Flow: &flowView{Received: value(func(h collectorsapi.TrafficHour) int64 { return 0 }), Lag: 101}},
				[]string{`id="next-steps"`, `id="next-oncall"`, "<code>oncall.members</code>", "postvakt serve --demo", "No probe has run yet",
					`id="rollup-lag">101 of the messages`}},
			{"no sources", &nowView{NoSources: true}, []string{"nothing feeds the collectors yet", "<code>collectors.files, collectors.syslog</code>"}},
		},
		"rota": {
			{"full", &rotaView{Weeks: 4, Rotas: []rotaPart{{Name: "ukevakt", Members: []string{"ana", "bjorn", "chen"},
				Shifts:    []oncallapi.ShiftView{shift("ana", "Ana Berg", at(0), rota.SourceRota), shift("chen", "", at(time.Hour), rota.SourceSwap)},
				Overrides: []team.OverrideRecord{{Override: rota.Override{ID: "ov1", Member: "chen", Start: at(time.Hour), End: at(2 * time.Hour), Reason: "dentist"}}},
				Swaps: []team.SwapRecord{{Swap: rota.Swap{ID: "sw1", Requester: "ana", Counterpart: "bjorn", State: rota.SwapRequested}, Note: "party",
					TurnAStart: at(7 * 24 * time.Hour), TurnBStart: at(14 * 24 * time.Hour)}},
				Fairness: []rota.FairnessRow{{Member: "ana", Turns: 2, Hours: 335.9, WeekendDays: 4, PublicHolidays: 1}},
				MyFeed:   "https://postvakt.example.edu/api/v1/oncall/feed/ukevakt/ana?key=k1",
				Feeds: &oncallapi.RotaFeeds{Rota: "https://postvakt.example.edu/api/v1/oncall/feed/ukevakt?key=k0",
					Members: map[string]string{"ana": "https://x/a", "bjorn": "https://x/b"}}}}},
				[]string{"The next 4 weeks", "Ana Berg", "<td>chen</td><td>swap</td>", "chen from", "dentist", `action="/rota/overrides/ov1/delete"`,
					"ana ⇄ bjorn", "party", `action="/rota/swaps/sw1/accept"`, "<td>335</td>", `class="my-feed"`, `<a href="https://x/b">bjorn</a>`}},
			{"no feeds", &rotaView{Weeks: 8, Rotas: []rotaPart{{Name: "ukevakt"}}}, []string{"None.", "Calendar feeds are personal secret links"}},
			{"versions", func() *rotaView {
				cur := oncallapi.VersionView{ID: "1", State: oncallapi.VersionInForce, Members: []string{"ana", "bjorn"}, First: "ana", Every: "1w",
					HandoverWeekday: "monday", HandoverTime: "09:00", TimeZone: "Europe/Oslo", Until: at(24 * time.Hour)}
				next := oncallapi.VersionView{ID: "5", State: oncallapi.VersionScheduled, From: at(24 * time.Hour), Members: []string{"ana", "bjorn", "erin"},
					First: "bjorn", Every: "1w", HandoverWeekday: "monday", HandoverTime: "09:00", TimeZone: "Europe/Oslo", CreatedBy: "web:kari", Reason: "erin joins"}
				gone := oncallapi.VersionView{ID: "4", State: oncallapi.VersionCancelled, From: at(48 * time.Hour), Members: []string{"ana"}}
				return &rotaView{Weeks: 8, Rotas: []rotaPart{{Name: "ukevakt", Members: []string{"ana", "bjorn"},
					Versions: []oncallapi.VersionView{cur, next, gone}, Current: &cur, Latest: &next, NextHandover: at(24 * time.Hour)}},
					People: []oncallapi.MemberView{{ID: "ana", Name: "Ana Berg", Rotas: []string{"ukevakt"}}, {ID: "erin", Name: "Erin Moe", Rotas: []string{}}}}
			}(), []string{`id="rota-current-ukevakt">In force now: <strong>ana, bjorn</strong>`, `action="/rota/versions/5/cancel"`, "erin joins",
				`class="version-cancelled"`, `id="change-ukevakt"`, `name="members" value="ana, bjorn, erin"`, `<option selected>monday</option>`,
				`id="add-person"`, "<td>Erin Moe</td>", "the start"}},
			{"off", &rotaView{RotasOff: true}, []string{"On-call is not configured: set <code>oncall.members, oncall.rotas</code>"}},
		},
		"tickets": {
			{"full", &ticketsView{Tickets: []tickets.Ticket{ticket}, More: "/tickets?limit=100",
				Filter: ticketFilter{State: "acknowledged", Service: "imap", Severity: "critical", Assignee: "ana", All: true},
				Choices: ticketChoices{Services: tickets.DefaultConfig().Services, Severities: []string{"critical", "major"}, States: tickets.States,
					Assignees: []string{"ana", "bjorn"}}},
				[]string{"<option selected>acknowledged</option>", `<option value="imap" selected>IMAP</option>`, "<option selected>critical</option>",
					`<select name="assignee" id="filter-assignee"><option value="">anyone</option><option selected>ana</option><option>bjorn</option>`,
					"checked", "Show more", "#7 IMAP login fails"}},
			{"empty", &ticketsView{}, []string{"No tickets match."}},
			{"off", &ticketsView{TicketsOff: true}, []string{"Tickets are not configured: set <code>tickets:</code>", "docs/tickets.md"}},
		},
		"ticket_new": {
			{"full", ticketFormView{Services: tickets.DefaultConfig().Services, Severities: []string{"critical", "major"}, Sources: tickets.Sources,
				DefaultSeverity: "major"}, []string{`<option value="imap">IMAP</option>`, "<option selected>major</option>"}},
			{"empty", ticketFormView{}, nil},
		},
		"ticket": {
			{"full", ticketView{Ticket: ticketapi.TicketResponse{Ticket: ticket, Timeline: []tickets.Event{
				{At: at(-time.Hour), Actor: "helpdesk", Kind: "opened"},
				{At: at(-time.Minute), Actor: "ana", Kind: "state", FromState: "new", ToState: "acknowledged", Body: "Looking."}}},
				Choices: ticketChoices{Services: tickets.DefaultConfig().Services, Severities: []string{"critical", "major"}, Assignees: []string{"ana", "chen"},
					LinkKinds: tickets.TicketLinkKinds}},
				[]string{"Kari Nordmann &lt;kari@uni.example&gt;", "standard v1a2b", "due Mon 23 Nov 11:30 UTC (in 1h 0m)",
					`incident: <a href="/incidents/3">incident 3</a> Queue`, `<option selected>ana</option><option>chen</option>`,
					`<option selected>critical</option>`, `<option value="imap" selected>IMAP</option>`, `action="/tickets/7/link"`, "<option>duplicate-of</option>", `duplicate-of: <a href="/tickets/5">ticket 5</a> IMAP down`,
					"new → acknowledged", `id="action-start"`, `href="/notices/new?ticket=7"`}},
			{"empty", ticketView{}, []string{"nobody", "No clocks.", `id="duplicate-form"`}},
			{"duplicate", ticketView{Ticket: ticketapi.TicketResponse{Ticket: tickets.Ticket{ID: 8, State: "new", Links: []tickets.Link{{Kind: tickets.LinkDuplicateOf, Ref: "7", Title: "IMAP"}}}},
				Attachments: []tickets.Attachment{{ID: 5, Name: "log <1>.txt", Size: 2048, ContentType: "text/plain", Scan: "clean", From: "kari@uni.example", At: at(0)}}},
				[]string{`A duplicate of <a href="/tickets/7">#7</a>`, `href="/ticket-attachments/5"`, "log &lt;1&gt;.txt", "2.0 KiB", "clean"}},
		},
		"incidents": {
			{"full", &incidentsView{Incidents: inc, Status: "open"}, []string{`id="ack-1"`, `<a href="/tickets/7">ticket 7</a>`, `<a href="/incidents/2">#2 Spam score spike</a>`, "acknowledged by ana 2h 0m ago",
				"resolved by bjorn", `action="/incidents/2/resolve"`}},
			{"empty", &incidentsView{Status: "resolved"}, []string{"No incidents."}},
			{"off", &incidentsView{IncidentsOff: true}, []string{"Incidents belong to on-call, which is not configured: set <code>oncall:</code>"}},
		},
		"incident": {
			{"full", func() *incidentView {
				i := inc[0]
				i.Labels = map[string]string{"runbook": "probe-failed", "service": "smtp", "account": "s001@uni.example"}
				i.Alerts = []incident.Alert{{Fingerprint: "f1", Status: "firing", Labels: map[string]string{"alertname": "QueueHigh"},
					Annotations: map[string]string{"summary": "Queue <big>", "msgid": "<m1@x.example>"}, StartsAt: at(-time.Hour)}}
				i.Assignee, i.NextAt = "bjorn", at(10*time.Minute)
				run, traces := incidentLinks(i)
				return &incidentView{Incident: i, Sent: 2, Failed: 1, Runbook: run, Traces: traces,
					Labels:  []labelPair{{"runbook", "probe-failed"}, {"service", "smtp"}},
					Notices: []notice.Notice{outage}, Members: []oncallapi.MemberView{{ID: "ana", Name: "Ana Berg"}, {ID: "chen"}},
					Timeline: incident.Timeline([]incident.Event{{At: at(-time.Hour), Kind: "opened", Actor: "probes", Detail: "source=probe"},
						{At: at(-time.Hour), Kind: "paged", Detail: "round 1 step 1: ana"}, {At: at(-time.Minute), Kind: "note", Actor: "ana", Detail: "Looking <now>"}},
						[]incident.Delivery{{Member: "ana", Channel: "email", Kind: "page", At: at(-time.Hour), Result: "sent", Attempts: 1},
							{Channel: "slack", Kind: "page", At: at(-time.Hour), Result: "failed", Attempts: 3, Error: "channel_not_found"}})}
			}(), []string{`href="/tickets/7"`, `href="/runbooks/probe-failed"`, `href="/notices/1"`, `href="/trace?from=s001%40uni.example"`,
				`href="/trace?msgid=%3Cm1%40x.example%3E"`, `id="incident-owner">bjorn`, "<strong>sent page</strong> to ana by email: <span class=\"\">sent</span>",
				"to team channel by slack", "after 3 attempts", "channel_not_found", "Looking &lt;now&gt;", `action="/incidents/1/escalate"`,
				`<option value="ana">Ana Berg (ana)</option>`, `formaction="/incidents/1/reassign"`, "Queue &lt;big&gt;", "QueueHigh",
				`id="incident-pages">2 sent, <span class="error">1 failed`}},
			{"resolved", &incidentView{Incident: inc[2]}, []string{"resolved by bjorn"[0:8], "Nothing recorded.", "none named"}},
		},
		"trace": {
			{"full", &traceView{Query: url.Values{"from": {"alice@sender.example"}, "subject": {"Exam"}}, Searched: true, Page: &page,
				CSV: "/trace.csv?from=alice", Next: "/trace?offset=50", First: 1, Last: 2, Fold: true, Statuses: []string{"sent", "bounced"}, Directions: []string{"inbound"}},
				[]string{`value="alice@sender.example"`, `value="Exam"`, `id="trace-count">137<`, "showing 1–2", `<span class="rcpt">eve@uni.example</span> <span class="badge status-bounced">bounced</span> <span class="reason">550 5.1.1 user unknown</span>`,
					"<strong>greylisted 2×, then delivered</strong>", "&lt;m1@sender.example&gt;", "192.0.2.7", "Timeline (1 steps, 2 tries)", "dsn=2.0.0", "via lmtp", "Older results"}},
			{"masked", &traceView{Query: url.Values{}, Masked: true, Searched: true, Page: &trace.Page{}, Error: "since: bad time"},
				[]string{"Subjects are masked", "since: bad time", `id="trace-none"`}},
			{"off", &traceView{TraceOff: true, Searched: true}, []string{"Trace needs the collectors", "<code>collectors:</code>", "docs/collectors.md#trace"}},
		},
		"reports": {
			{"full", &reportsView{Reports: []reportapi.Report{{Archived: reports.Archived{Period: "2026-10", Comment: "Quiet.", GeneratedAt: at(-time.Hour),
				GeneratedBy: "scheduler", SentAt: at(-time.Minute)}, Links: map[string]string{"html": "/r.html", "pdf": "/r.pdf", "csv": "/r.csv"}}}},
				[]string{"2026-10", "Quiet.", "by scheduler", `href="/r.pdf"`, "Generate a report now", `<a href="/reports/2026-10/send" id="send-2026-10">Send again…</a>`}},
			{"empty", &reportsView{}, []string{"No reports archived yet."}},
			{"off", &reportsView{ReportsOff: true}, []string{"Reports are not configured: set <code>reports:</code>", "docs/reports.md"}},
		},
		"report_send": {
			{"first", reportSendView{Preview: reports.MailPreview{Period: "2026-10", From: "postvakt <pv@uni.example>", To: "styringsgruppe@uni.example",
				Cc: "drift@uni.example", Subject: "E-mail report – October 2026", Text: "Mail received: 12 <345>", Attachment: "postvakt-report-2026-10.pdf",
				PDFBytes: 2048}}, []string{`id="report-to">styringsgruppe@uni.example<`, "copy to <strong>drift@uni.example</strong>",
				`id="report-subject">E-mail report – October 2026<`, "Mail received: 12 &lt;345&gt;", "postvakt-report-2026-10.pdf (2.0 KiB)",
				`action="/reports/2026-10/send"`, "Send to styringsgruppe@uni.example"}},
			{"again", reportSendView{Preview: reports.MailPreview{Period: "2026-10", To: "sg@uni.example", SentAt: at(-time.Hour), SentTo: "sg@uni.example"}},
				[]string{`id="report-sent-before">Sent Mon 23 Nov 09:30 UTC to sg@uni.example`, `name="resend" value="on"`, "Send again to", "none (no PDF was made)"}},
		},
		"report_tips": {
			{"full", tipsView{Period: "2026-10", Tips: []reports.Tip{{Question: "Why <spam>?", Answer: "DKIM."}},
				Rows: []tipRow{{N: 1, Question: "Why <spam>?", Answer: "DKIM."}, {N: 2}}},
				[]string{"Questions and tips, 2026-10", `action="/reports/2026-10/tips"`, "Why &lt;spam&gt;?", "Entry 2"}},
			{"empty", tipsView{Period: "2026-11"}, nil},
		},
		"admin": {
			{"full", adminView{Roles: auth.Roles(),
				Users: []webauth.User{{Name: "ana", DisplayName: "Ana Berg", Role: auth.RoleOncall, LastLoginAt: at(-time.Hour)},
					{Name: "bjorn", Role: auth.RoleViewer, LockedUntil: at(time.Hour)}, {Name: "chen", Role: auth.RoleViewer, Disabled: true}},
				Tokens: []accessapi.TokenView{{ID: 4, Name: "grafana", Role: auth.RoleViewer, Prefix: "pvt_abc", CreatedAt: at(-time.Hour), CreatedBy: "admin",
					LastUsedAt: ptr(at(-time.Minute))}, {ID: 5, Name: "old", Role: auth.RoleAdmin, RevokedAt: ptr(at(-time.Hour))}},
				Audit: []auth.AuditEntry{{At: at(-time.Minute), Actor: "admin", Action: "token.create", Target: "4", Detail: "name=grafana"}}},
				[]string{"Ana Berg", "locked until", "disabled", `action="/admin/tokens/4/revoke"`, "revoked", "pvt_abc…", "token.create"}},
			{"empty", adminView{}, nil},
		},
		"token": {
			{"full", accessapi.CreatedToken{Secret: "pvt_secret", Token: accessapi.TokenView{Name: "backup", Role: auth.RoleViewer}},
				[]string{"Token <strong>backup</strong> with role viewer", "pvt_secret"}},
		},
		"directory": {
			{"full", &domainsView{dirTab: dirTab{"domains"}, Domains: []directory.Domain{{Name: "uni.example", CreatedAt: at(-time.Hour)}}},
				[]string{`href="/directory/mailboxes?q=uni.example"`, `<a href="/directory" aria-current="page">`}},
			{"empty", &domainsView{dirTab: dirTab{"domains"}}, []string{"No domains."}},
			{"off", &domainsView{dirTab: dirTab{"domains"}, DirectoryOff: true}, []string{"not running here"}},
		},
		"mailboxes": {
			{"full", &mailboxesView{dirTab: dirTab{"mailboxes"}, Mailboxes: []engineapi.MailboxView{mailbox, locked}, Total: 120, Page: 2, Pages: 3,
				Prev: "/directory/mailboxes?page=1", Next: "/directory/mailboxes?page=3", Filter: mailboxFilter{Q: "s00", Locked: true}},
				[]string{`id="mailbox-count">120<`, "page 2 of 3", "kari.n@uni.example", "768.0 MiB of 1.0 GiB", "state-locked", "forwards",
					`rel="prev"`, `rel="next"`, `value="s00"`}},
			{"empty", &mailboxesView{dirTab: dirTab{"mailboxes"}, Pages: 1}, []string{`id="mailbox-count">0<`}},
			{"off", &mailboxesView{dirTab: dirTab{"mailboxes"}, DirectoryOff: true}, []string{"not running here"}},
		},
		"mailbox": {
			{"forwarding", mailboxView{Mailbox: mailbox, Aliases: aliases, UsedPct: 75}, []string{"<h1>s001@uni.example</h1>", `id="mailbox-state">open`,
				"Kari Nordmann", "kari.n@uni.example", `value="75"`, "768.0 MiB used of 1.0 GiB allotted (75%)",
				"to kari@example.org, keeping a copy (external allowed)", "it-support@uni.example <span class=\"muted\">(list)</span>", `id="lock-form"`}},
			{"locked", mailboxView{Mailbox: locked}, []string{`id="mailbox-state">locked`, "phished", `id="unlock-form"`, "<dd>none</dd>"}},
			{"empty", mailboxView{}, []string{"<dd>—</dd>"}},
		},
		"messages": {
			{"full", &messagesView{Address: "s001@uni.example", First: true, Next: "/directory/mailboxes/s001@uni.example/messages?before=7",
				Messages: []engineapi.MessageSummary{{ID: 9, ReceivedAt: at(-time.Hour), Size: 2048, From: "Kari <kari@ext.example>", To: "s001@uni.example",
					Subject: "Exam <results>", MessageID: "<m9@ext.example>"}, {ID: 8, ReceivedAt: at(-2 * time.Hour), Truncated: true}}},
				[]string{"Messages of s001@uni.example", `id="msg-9"`, "Mon 23 Nov 09:30 UTC", "Kari &lt;kari@ext.example&gt;", "Exam &lt;results&gt;",
					"2.0 KiB", "(no subject)", "truncated", `href="/directory/mailboxes/s001@uni.example/messages/9"`, `rel="next"`,
					`href="/directory/mailboxes/s001@uni.example/messages/9/raw"`, `action="/directory/mailboxes/s001@uni.example/messages/9/delete"`,
					`href="/directory/mailboxes/s001@uni.example/export.mbox"`}},
			{"empty", &messagesView{Address: "s001@uni.example", First: true}, []string{"No messages in this mailbox."}},
			{"past the end", &messagesView{Address: "s001@uni.example"}, []string{"No older messages.", "← Newest"}},
		},
		"message": {
			{"full", &messageView{Address: "s001@uni.example", Message: engineapi.MessageHeaders{
				MessageSummary: engineapi.MessageSummary{ID: 9, ReceivedAt: at(-time.Hour), Size: 2048, From: "kari@ext.example", Subject: "Exam", MessageID: "<m9@ext.example>"},
				Headers:        []store.HeaderField{{Name: "Received", Value: "from x by mx"}, {Name: "Subject", Value: "Exam"}}, HeaderCut: true}},
				[]string{"<h1>Exam</h1>", "Mon 23 Nov 09:30 UTC", "&lt;m9@ext.example&gt;", `<th scope="row">Received</th><td>from x by mx</td>`,
					"shown cut", `href="/directory/mailboxes/s001@uni.example/messages/9/raw"`, `action="/directory/mailboxes/s001@uni.example/messages/9/delete"`}},
			{"empty", &messageView{}, []string{"(no subject)", "<dd>—</dd>"}},
		},
		"aliases": {
			{"full", &aliasesView{dirTab: dirTab{"aliases"}, Aliases: aliases}, []string{`href="/directory/mailboxes/s002@uni.example"`, "<td>list</td>"}},
			{"empty", &aliasesView{dirTab: dirTab{"aliases"}}, []string{"No aliases."}},
			{"off", &aliasesView{dirTab: dirTab{"aliases"}, DirectoryOff: true}, []string{"not running here"}},
		},
		"quarantine": {
			{"full", &quarantineView{dirTab: dirTab{"quarantine"}, Items: items, Shown: 100, Count: 500,
				Filter: quarantineFilter{Reason: "virus", Sender: "bad", Recipient: "s001"}},
				[]string{"Showing the first 100 of 500 or more", `id="q-9"`, "Eicar-Test-Signature", "s001@uni.example, s002@uni.example",
					"2.0 KiB", "198.51.100.4", `id="release-9"`, `value="s001"`}},
			{"some", &quarantineView{dirTab: dirTab{"quarantine"}, Items: items, Shown: 100, Count: 140}, []string{"Showing the first 100 of 140;"}},
			{"empty", &quarantineView{dirTab: dirTab{"quarantine"}}, []string{"Nothing in quarantine."}},
			{"off", &quarantineView{dirTab: dirTab{"quarantine"}, QuarantineOff: true}, []string{"The quarantine belongs to content scanning", "<code>content.enabled</code>"}},
		},
		"complaints": {
			{"full", &complaintsView{dirTab: dirTab{"complaints"}, Complaints: []complaintapi.ComplaintResponse{{
				Complaint: complaint.Complaint{ID: 4, Subject: "Fwd: <spam>", Reporter: "kari@uni.example", ReceivedAt: at(0),
					Parsed: complaint.Parsed{Spam: []complaint.Spam{{From: "sales@pharma.example", Subject: "Pills", URLHosts: []string{"shop.pharma.example"}}}}},
				Rules: []complaint.Rule{{ID: 7, Kind: "domain", Value: "pharma.example", Score: 10, State: complaint.Proposed}}}}},
				[]string{"#4 Fwd: &lt;spam&gt;", "From sales@pharma.example", "links to shop.pharma.example", `href="/spam-rules/7"`, "domain: pharma.example", "state-proposed"}},
			{"empty", &complaintsView{dirTab: dirTab{"complaints"}}, []string{"No complaints yet."}},
			{"off", &complaintsView{dirTab: dirTab{"complaints"}, Off: true}, []string{"Spam complaints belong to content scanning"}},
		},
		"spam_rule": {
			{"full", &ruleView{dirTab: dirTab{"complaints"}, Proposed: complaint.Proposed, RuleResponse: complaintapi.RuleResponse{
				Rule:       complaint.Rule{ID: 7, Kind: "sender", Value: "sales@pharma.example", Score: 10, State: complaint.Active, DecidedBy: "olav", DecidedAt: at(0)},
				Complaints: []complaint.Complaint{{ID: 4, Subject: "Fwd: spam", Reporter: "kari@uni.example"}}}},
				[]string{"LOCAL_7", "sales@pharma.example", "decided by olav", `href="/spam-complaints#complaint-4"`}},
		},
		"notices": {
			{"full", &noticesView{Notices: []notice.Notice{outage}, States: notice.States(notice.KindOutage),
				Filter: noticeFilter{Kind: notice.KindOutage, State: notice.Identified, All: true}},
				[]string{"N-1 IMAP login fails", "imap, pop", "ticket #7", "ended Mon 23 Nov 10:29 UTC", "public",
					`<option value="outage" selected>`, "<option selected>identified</option>", `id="new-notice"`}},
			{"empty", &noticesView{Filter: noticeFilter{State: "open"}}, []string{"No notices match.", `<option value="open" selected>`}},
			{"off", &noticesView{NoticesOff: true}, []string{"Notices are not configured: set <code>notices:</code>", "docs/tickets.md#notices"}},
		},
		"notice": {
			{"full", noticeView{Notice: outage, Next: []string{notice.Monitoring, notice.Resolved}},
				[]string{`id="notice-state">identified`, "imap, pop", `id="notice-public"`, "Planned end", "Next update", "(in 1h 0m)",
					"Ended", `href="/tickets/7"`, "<option>monitoring</option>", "e-mailed Mon 23 Nov 09:30 UTC", "not sent yet (3 attempts)", "queued",
					"A certificate expired.", `name="next_update_at"`, `action="/notices/1/withdraw"`, `id="withdraw-button"`}},
			{"withdrawn", noticeView{Notice: notice.Notice{ID: 3, Kind: notice.KindMaintenance, State: notice.Scheduled, Public: true,
				WithdrawnAt: now, WithdrawnBy: "web:kari"}},
				[]string{`id="notice-withdrawn">withdrawn</strong>`, "by web:kari: not on the status page", "<dt>Scheduled for</dt>"}},
			{"final", noticeView{Notice: notice.Notice{ID: 2, Kind: notice.KindMaintenance, State: notice.Completed}, Final: true},
				[]string{"internal: not on the status page", "required"}},
		},
		"notice_new": {
			{"from ticket", &composeView{Form: form, Services: tickets.DefaultConfig().Services, Ticket: &ticketapi.TicketResponse{Ticket: ticket}},
				[]string{`From ticket <a href="/tickets/7">#7 IMAP login fails for staff</a>`, `value="maintenance" checked`, `value="Upgrade"`,
					`value="imap" checked`, `value="2026-11-28T22:00"`, `value="nb" selected`, `name="public" checked`, `name="announce" checked`}},
			{"empty", &composeView{}, nil},
			{"units", &composeView{Form: noticeForm{Units: []string{"3"}}, Units: []units.Unit{{ID: 3, Name: "Chemistry"}, {ID: 4, Name: "Physics"}}},
				[]string{`name="units" value="3" checked> Chemistry`, `name="units" value="4"> Physics`, "Units concerned"}},
		},
		"notice_preview": {
			{"announce", previewView{Preview: ticketapi.NoticePreview{From: "IT <drift@example.edu>", To: "itss-announce@example.edu",
				Subject: "[Maintenance] Upgrade", Text: "We upgrade.", Announce: true}, Form: form},
				[]string{"This e-mail goes to <strong>itss-announce@example.edu</strong>", `id="preview-subject">[Maintenance] Upgrade<`,
					`<input type="hidden" name="announce" value="on"><input type="hidden" name="body" value="We upgrade.">`,
					`<input type="hidden" name="public" value="on"><input type="hidden" name="services" value="imap"><input type="hidden" name="started_at"`}},
			{"not announced", previewView{Preview: ticketapi.NoticePreview{To: "itss-announce@example.edu"}, Form: noticeForm{Public: true}},
				[]string{"Not e-mailed", "and shown on the status page"}},
			{"no list", previewView{}, []string{"No announce list is configured", "<dd>—</dd>"}},
		},
		"error": {
			{"full", errorView{Status: 404, Message: "no such ticket", Back: "/tickets"}, []string{"<h1>404 Not Found</h1>", "no such ticket", `href="/tickets"`}},
		},
		"units": {
			{"full", &unitsView{Statuses: units.Statuses(), Status: "planned", Units: []units.Unit{{ID: 3, Name: "Chemistry", Domains: []string{"chem.uni.example"},
				Status: units.StatusPlanned, MigrationAt: at(48 * time.Hour), Assignee: "eva@uni.example"}, {ID: 4, Name: "Physics", Status: units.StatusNew}}},
				[]string{`href="/units/3"`, "chem.uni.example", "eva@uni.example", "not planned", "nobody yet", "Record a unit"}},
			{"empty", &unitsView{}, []string{"No units match."}},
			{"off", &unitsView{UnitsOff: true}, []string{"Units are not configured."}},
		},
		"unit": {
			{"full", unitView{UnitResponse: unitapi.UnitResponse{
				Unit: units.Unit{ID: 3, Name: "Chemistry <lab>", Domains: []string{"chem.uni.example"}, Status: units.StatusMigrating,
					NetAdmin: units.Contact{Name: "Kari", Email: "kari@uni.example"}, People: units.People{Students: new(850)},
					Survey: &units.Survey{CurrentSystem: "Exchange", Clients: []string{"Outlook"}, MoveContent: new(true), SubmittedAt: at(-time.Hour), SubmittedBy: "link"}},
				Steps: []units.Step{{ID: 9, Label: "follow-up after 1 day", State: units.StepOpen, DueAt: at(time.Hour)},
					{ID: 8, Label: "check the MX on the migration day", State: units.StepDone, DoneBy: "postvakt", DoneAt: at(0), Outcome: "MX check: chem right"}},
				WorkOrders: []units.WorkOrder{{ID: 2, Title: "Migrate Chemistry", State: units.WorkOrderOpen, OpenedBy: "eva"}},
				Events:     []units.Event{{At: at(0), Actor: "token:eva", Text: "migration planned"}}},
				Link: &units.SurveyLink{URL: "https://postvakt.uni.example/survey?t=abc", ExpiresAt: at(time.Hour)}},
				[]string{"Chemistry &lt;lab&gt;", "students 850", "staff <span class=\"muted\">not known</span>", "Exchange", "Outlook", "yes",
					`action="/unit-steps/9"`, "MX check: chem right", `action="/unit-work-orders/2"`, "token:eva", "survey?t=abc", "not shown again"}},
			{"empty", unitView{}, []string{"No plan yet."}},
		},
		"login": {
			{"full", loginView{Next: "/rota", Name: "ana", Error: "Wrong user name or password.", SSO: true},
				[]string{`name="next" value="/rota"`, `value="ana"`, "Wrong user name", "university portal"}},
			{"no admin", loginView{NoAdmin: true}, []string{`id="first-run"`, "/setup?token=", "postvakt user add --role admin NAME"}},
		},
		"setup": {
			{"form", setupView{Token: "t0k", Name: "boss", Error: "The two passwords differ."},
				[]string{`name="token" value="t0k"`, `value="boss"`, "The two passwords differ.", `action="/setup"`}},
		},
	}
	for name, t0 := range pages {
		cs, ok := cases[name]
		if !ok {
			t.Errorf("page %s has no case here", name)
			continue
		}
		for _, c := range cs {
			for _, role := range []auth.Role{auth.RoleAdmin, auth.RoleViewer} {
				v := &view{Title: "Test", Nav: name, User: webauth.User{Name: string(role), Role: role}, CSRF: "tok", Now: now, Data: c.data}
				if name == "error" {
					v.Title = "Not Found"
				}
				var buf bytes.Buffer
				if err := t0.ExecuteTemplate(&buf, "layout.html", v); err != nil {
					t.Errorf("%s (%s) as %s: %v", name, c.name, role, err)
					continue
				}
				if role != auth.RoleAdmin {
					continue
				}
				for _, w := range c.want {
					if !strings.Contains(buf.String(), w) {
						t.Errorf("%s (%s) does not show %q", name, c.name, w)
					}
				}
			}
		}
	}
	for name := range cases {
		if _, ok := pages[name]; !ok {
			t.Errorf("case for %s, which is no page", name)
		}
	}
	if !slices.Contains(tickets.Actions, "start") {
		t.Fatal("the ticket case expects the action start")
	}
}
