package web

import "net/http"

// Setup says which parts of the running configuration are filled in: the
// Now page lists what is not, with the key and the doc page that fill it
// (docs/web.md, "First run"). internal/app computes it from the
// configuration in force.
type Setup struct {
	Oncall     bool // oncall.members and oncall.rotas (or a rota made at run time: the Now page asks the API)
	Paging     bool // oncall.slack or oncall.email can page someone
	Probes     bool // probes.enabled with targets
	LogSources bool // collectors.files, collectors.syslog or the engine's own events
	Announce   bool // notices.announce_to
	ReportMail bool // reports.mail.to
}

// guideStep is one thing left to set up: what, the configuration key,
// and the doc page that explains it.
type guideStep struct {
	ID, What, Key, Doc string
}

// off names the configuration key and doc page of each capability that may
// be off, for the empty states ("… is not configured: set X, see Y").
var off = map[string]guideStep{
	"oncall":     {What: "On-call is not configured", Key: "oncall.members, oncall.rotas", Doc: "docs/oncall.md#the-rota"},
	"norota":     {What: "No rota yet: add one on the Rota page, or the team and rota", Key: "oncall.members, oncall.rotas", Doc: "docs/oncall.md#the-rota-as-data"},
	"incidents":  {What: "Incidents belong to on-call, which is not configured", Key: "oncall:", Doc: "docs/oncall.md#incidents-and-escalation"},
	"tickets":    {What: "Tickets are not configured", Key: "tickets:", Doc: "docs/tickets.md"},
	"notices":    {What: "Notices are not configured", Key: "notices:", Doc: "docs/tickets.md#notices"},
	"reports":    {What: "Reports are not configured", Key: "reports:", Doc: "docs/reports.md"},
	"probes":     {What: "Probes are off", Key: "probes.enabled, probes.targets", Doc: "docs/probes.md"},
	"trace":      {What: "Trace needs the collectors, which are not configured", Key: "collectors:", Doc: "docs/collectors.md#trace"},
	"mail":       {What: "No mail counts: the collectors are not configured", Key: "collectors:", Doc: "docs/collectors.md#sources"},
	"sources":    {What: "No mail counts: nothing feeds the collectors yet (no log file, no syslog, no engine) and nothing was imported", Key: "collectors.files, collectors.syslog", Doc: "docs/collectors.md#sources"},
	"directory":  {What: "The directory belongs to the SMTP engine, which is not running here", Key: "smtp.enabled, smtp.directory", Doc: "docs/configuration.md"},
	"quarantine": {What: "The quarantine belongs to content scanning, which is not configured", Key: "content.enabled", Doc: "docs/configuration.md"},
	"complaints": {What: "Spam complaints belong to content scanning, which is not configured", Key: "content.enabled, content.complaints.address", Doc: "docs/configuration.md#rules-from-spam-complaints"},
}

// guide lists what is left to set up, in the order a newcomer would do
// it; empty when everything is. rotas says whether a rota exists (it may
// have been made at run time, not in the configuration).
func (u *UI) guide(r *http.Request, v *view, rotas bool) []guideStep {
	if u.o.Setup == nil {
		return nil
	}
	s := u.o.Setup()
	s.Oncall = s.Oncall || rotas
	var g []guideStep
	add := func(done bool, id, what, key, doc string) {
		if !done {
			g = append(g, guideStep{ID: id, What: what, Key: key, Doc: doc})
		}
	}
	add(s.Oncall, "oncall", "Put the team and the weekly rota in", "oncall.members, oncall.rotas", "docs/oncall.md#the-rota")
	add(!s.Oncall || s.Paging, "paging", "Give paging a channel, so incidents reach the person on call", "oncall.slack, oncall.email", "docs/oncall.md#paging")
	add(s.Probes, "probes", "Probe the services (SMTP, IMAP, webmail, DNS, a mail loop)", "probes.enabled, probes.targets", "docs/probes.md")
	add(s.LogSources, "logs", "Feed in the mail servers' logs for trace and the counts", "collectors.files, collectors.syslog", "docs/collectors.md#sources")
	add(s.Announce, "announce", "Name the announce list for outage and maintenance notices", "notices.announce_to", "docs/tickets.md#notices")
	add(s.ReportMail, "report", "Name who gets the monthly report", "reports.mail.to", "docs/reports.md#delivery")
	if v.Can("admin") {
		if users, err := u.o.Auth.Users(r.Context()); err == nil && len(users) < 2 {
			add(false, "users", "Add your colleagues (Admin page, or postvakt user add --role oncall NAME)", "", "docs/web.md#users-and-roles")
		}
	}
	return g
}
