package notice

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	htmltemplate "html/template"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/uni-mail/postvakt/config/timezone"
)

// StatusDays is how many days of history the status page's bars show.
const StatusDays = 90

// statusStyle is the status page's one inline style block; the page's
// Content-Security-Policy allows it by its SHA-256 hash (CSP Level 3,
// "hash-source") and nothing else (so no style attributes: classes only).
const statusStyle = `body{font-family:sans-serif;max-width:56em;margin:auto;padding:1em;color:#222}
.n{border:1px solid #ccc;border-radius:4px;padding:.5em 1em;margin:1em 0}
.open{border-left:6px solid #c60}.planned{border-left:6px solid #36c}.ended{border-left:6px solid #393}
.state{font-weight:bold}small,.muted{color:#555}dt{font-weight:bold;float:left;clear:left;width:9em}dd{margin:0 0 .3em 9.5em}
.svc{margin:.8em 0 1.2em}.svc h3{margin:.2em 0;font-size:1.05em;display:flex;justify-content:space-between}
.st{border-radius:3px;padding:0 .4em;font-size:.9em}.st-operational{background:#d7f0d7}.st-degraded{background:#fbe7b5}
.st-outage{background:#f6c6c6}.st-maintenance{background:#cfe0f8}.st-no_data{background:#e6e6e6}
.bars{display:flex;gap:1px;height:2em;align-items:stretch}.bars span{flex:1;border-radius:1px;position:relative}
.ok{background:#3a3}.minor{background:#ec3}.major{background:#e83}.down{background:#c33}.none{background:#ccc}
.maint{box-shadow:inset 0 -5px 0 #36c}.axis{display:flex;justify-content:space-between;font-size:.8em;color:#555}
.legend span{display:inline-block;width:.8em;height:.8em;margin:0 .2em 0 .8em}.banner{padding:.6em 1em;border-radius:4px;background:#eee}
.banner.all-ok{background:#d7f0d7}.banner.problem{background:#fbe7b5}`

// statusCSP is the status page's Content-Security-Policy.
var statusCSP = func() string {
	sum := sha256.Sum256([]byte(statusStyle))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
}()

// statusPage is the public status page: each service's state and 90 days
// of bars, active and planned notices, recent ended ones. No login; only
// public notices that are not withdrawn.
var statusPage = htmltemplate.Must(htmltemplate.New("status").Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<link rel="alternate" type="application/atom+xml" title="{{.Title}}" href="{{.Base}}status/feed.atom">
<style>{{.Style}}</style></head>
<body><h1>{{.Title}}</h1>
{{if .History}}<p><a href="{{.Base}}status">{{.L.Back}}</a></p>
{{range .Past}}{{template "notice" .}}{{else}}<p>{{.L.NoHistory}}</p>{{end}}
{{else}}
<p class="banner {{.BannerClass}}" id="banner">{{.Banner}}</p>
{{if .Services}}<h2>{{.L.Services}}</h2>
{{range .Services}}<div class="svc" id="service-{{.ID}}"><h3><span>{{.Name}}</span> <span class="st st-{{.State}}" id="state-{{.ID}}">{{.StateLabel}}</span></h3>
<div class="bars" id="bars-{{.ID}}">{{range .Days}}<span class="{{.Class}}{{if .Maint}} maint{{end}}" title="{{.Title}}" data-day="{{.Date}}"></span>{{end}}</div>
<div class="axis"><span>{{$.L.DaysAgo}}</span><span>{{.Uptime}}</span><span>{{$.L.Today}}</span></div></div>
{{end}}
<p class="legend muted"><span class="ok"></span>≥ 99.9 %<span class="minor"></span>≥ 99 %<span class="major"></span>≥ 95 %<span class="down"></span>&lt; 95 %<span class="none"></span>{{.L.NoData}}<span class="none maint"></span>{{.L.Maint}}</p>
{{end}}
{{if .Current}}<h2>{{.L.Current}}</h2>{{range .Current}}{{template "notice" .}}{{end}}{{end}}
{{if .Planned}}<h2>{{.L.Planned}}</h2>{{range .Planned}}{{template "notice" .}}{{end}}{{end}}
{{if .Recent}}<h2>{{.L.Recent}}</h2>{{range .Recent}}{{template "notice" .}}{{end}}{{end}}
<p><a href="{{.Base}}status/history" id="history-link">{{.L.HistoryLink}}</a></p>
{{end}}
<p><small><a href="{{.Base}}status/feed.atom">Atom</a> · {{.L.TimesIn}} {{.Zone}} · {{.Generated}}</small></p>
</body></html>
{{define "notice"}}<div class="n {{.Class}}" id="notice-{{.ID}}"><h3>{{.Kind}}: {{.Title}}</h3>
<p><span class="state">{{.State}}</span> · {{.Services}}</p>
<dl>{{range .Facts}}<dt>{{.K}}</dt><dd>{{.V}}</dd>{{end}}</dl>
{{range .Updates}}<p><small>{{.At}} — {{.State}}</small>{{with .Body}}<br>{{.}}{{end}}</p>{{end}}</div>{{end}}`))

type pageUpdate struct{ At, State, Body string }

type fact struct{ K, V string }

type pageNotice struct {
	ID                                  int64
	Class, Kind, Title, State, Services string
	Facts                               []fact
	Updates                             []pageUpdate
}

type pageDay struct {
	Class, Title, Date string
	Maint              bool
}

type pageService struct {
	ID, Name, State, StateLabel, Uptime string
	Days                                []pageDay
}

// statusLabels are the page's words per language.
type statusLabels struct {
	Services, Current, Planned, Recent, HistoryLink, Back, NoHistory, DaysAgo, Today, NoData, Maint, TimesIn     string
	AllOK, Problem, NotMonitored, Started, ScheduledFor, PlannedEnd, Ended, Resolved, Duration, Impact, Symptoms string
	Plan, NextUpdate, Available, NoDataDay, MaintDay, UptimeFmt, UptimePartFmt, UnderMinute, History             string
	States                                                                                                       map[string]string
}

var statusText = map[string]statusLabels{
	"en": {Services: "Services", Current: "Current notices", Planned: "Planned maintenance", Recent: "Recent notices",
		HistoryLink: "Past notices", Back: "Current status", NoHistory: "No past notices.", DaysAgo: "90 days ago", Today: "today",
		NoData: "no data", Maint: "announced maintenance", TimesIn: "times in",
		AllOK: "All e-mail services are operating normally.", Problem: "Some e-mail services have problems; see below.",
		NotMonitored: "No services are monitored; this page shows only the notices the mail team publishes.",
		Started:      "Started", ScheduledFor: "Scheduled for", PlannedEnd: "Planned end", Ended: "Ended", Resolved: "Resolved",
		Duration: "Duration", Impact: "Impact", Symptoms: "Symptoms", Plan: "What we do", NextUpdate: "Next update",
		Available: "available", NoDataDay: "no data", MaintDay: "announced maintenance", UptimeFmt: "%s available over 90 days",
		UptimePartFmt: "%s available over the %d of 90 days with data",
		UnderMinute:   "under a minute", History: "Past notices",
		States: map[string]string{ServiceOperational: "Operational", ServiceDegraded: "Degraded", ServiceOutage: "Outage",
			ServiceMaintenance: "Maintenance", ServiceNoData: "No data"}},
	"nb": {Services: "Tjenester", Current: "Aktuelle meldinger", Planned: "Planlagt vedlikehold", Recent: "Nylige meldinger",
		HistoryLink: "Tidligere meldinger", Back: "Status nå", NoHistory: "Ingen tidligere meldinger.", DaysAgo: "for 90 dager siden",
		Today: "i dag", NoData: "ingen data", Maint: "varslet vedlikehold", TimesIn: "tider i",
		AllOK: "Alle e-posttjenester fungerer normalt.", Problem: "Noen e-posttjenester har problemer; se under.",
		NotMonitored: "Ingen tjenester overvåkes; siden viser bare meldingene driftsgruppen publiserer.",
		Started:      "Startet", ScheduledFor: "Planlagt fra", PlannedEnd: "Planlagt slutt", Ended: "Avsluttet", Resolved: "Løst",
		Duration: "Varighet", Impact: "Konsekvens", Symptoms: "Symptomer", Plan: "Tiltak", NextUpdate: "Neste oppdatering",
		Available: "tilgjengelig", NoDataDay: "ingen data", MaintDay: "varslet vedlikehold", UptimeFmt: "%s tilgjengelig siste 90 dager",
		UptimePartFmt: "%s tilgjengelig de %d av siste 90 dager med data",
		UnderMinute:   "under ett minutt", History: "Tidligere meldinger",
		States: map[string]string{ServiceOperational: "I drift", ServiceDegraded: "Redusert", ServiceOutage: "Nede",
			ServiceMaintenance: "Vedlikehold", ServiceNoData: "Ingen data"}},
}

func (s *Service) labels() statusLabels {
	if l, ok := statusText[s.config().Language]; ok {
		return l
	}
	return statusText["en"]
}

// StatusHandler serves GET /status (HTML), GET /status/history (past
// notices) and GET /status/feed.atom (Atom, RFC 4287) from the public
// notices that are not withdrawn, and the probes' view of each service.
func (s *Service) StatusHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", s.serveStatus)
	mux.HandleFunc("GET /status/history", s.serveHistory)
	mux.HandleFunc("GET /status/feed.atom", s.serveFeed)
	return mux
}

// publicNotices are the notices the page and the feed show: public, not
// withdrawn, open or ended within notices.status_recent (at most 100).
func (s *Service) publicNotices(ctx context.Context) ([]Notice, error) {
	return s.o.Store.NoticeList(ctx, Filter{PublicOnly: true, Since: s.o.Now().Add(-s.config().StatusRecent), Limit: 100})
}

// healthCache keeps what Health said for Options.HealthTTL, so that the
// public page costs one computation of the availability per TTL, however
// often it is asked.
type healthCache struct {
	mu     sync.Mutex
	at     time.Time // wall-clock time of the computation
	key    string    // the day it was computed for (the bars end today)
	states []ServiceHealth
	days   []DayFigures
}

// probeView returns the services' states and daily figures of the last
// StatusDays days up to now (from the cache when fresh).
func (s *Service) probeView(ctx context.Context, now time.Time, loc *time.Location) ([]ServiceHealth, []DayFigures, time.Time, error) {
	first := dayStart(now, loc).AddDate(0, 0, -(StatusDays - 1))
	if s.o.Health == nil {
		return nil, nil, first, nil
	}
	c := &s.health
	c.mu.Lock()
	defer c.mu.Unlock()
	key := first.Format(time.RFC3339)
	if c.key == key && time.Since(c.at) < s.o.HealthTTL {
		return c.states, c.days, first, nil
	}
	states, err := s.o.Health.ServiceStates(ctx)
	if err != nil {
		return nil, nil, first, fmt.Errorf("service states: %w", err)
	}
	days, err := s.o.Health.DailyAvailability(ctx, first, now, loc)
	if err != nil {
		return nil, nil, first, fmt.Errorf("daily availability: %w", err)
	}
	c.at, c.key, c.states, c.days = time.Now(), key, states, days
	return states, days, first, nil
}

func dayStart(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc)
}

func (s *Service) serviceName(id string) string {
	if n := s.o.Services[id]; n != "" {
		return n
	}
	return id
}

// services builds the services section: every probed service and every
// service an active notice names, by name.
func (s *Service) services(states []ServiceHealth, days []DayFigures, notices []Notice, first, now time.Time, loc *time.Location) []pageService {
	l := s.labels()
	health := map[string]*ServiceHealth{}
	var ids []string
	for i := range states {
		health[states[i].Service] = &states[i]
		ids = append(ids, states[i].Service)
	}
	for _, n := range notices {
		if n.Active(now) {
			for _, id := range n.Services {
				if !slices.Contains(ids, id) {
					ids = append(ids, id)
				}
			}
		}
	}
	byDay := map[string]DayFigures{}
	for _, d := range days {
		byDay[d.Service+"\x00"+d.Day.In(loc).Format(time.DateOnly)] = d
	}
	// the maintenance days: announced maintenance (public, not withdrawn)
	// marks the days its window touches, even without probe figures
	maintDays := map[string]bool{}
	for _, n := range notices {
		start, end, ok := n.Window()
		if !ok || !n.Public {
			continue
		}
		if end.IsZero() || end.After(now) {
			end = now
		}
		for d := dayStart(start, loc); d.Before(end); d = d.AddDate(0, 0, 1) {
			for _, id := range n.Services {
				maintDays[id+"\x00"+d.Format(time.DateOnly)] = true
			}
		}
	}
	var out []pageService
	for _, id := range ids {
		ps := pageService{ID: id, Name: s.serviceName(id), State: ServiceState(id, health[id], notices, now)}
		ps.StateLabel = l.States[ps.State]
		var measured, down time.Duration
		known := 0 // days with data: a figure over fewer days says so
		for i := range StatusDays {
			day := first.AddDate(0, 0, i)
			date := day.Format(time.DateOnly)
			f, ok := byDay[id+"\x00"+date]
			if !ok {
				f = DayFigures{Service: id, Day: day}
			}
			pd := pageDay{Class: DayClass(f), Date: date, Maint: f.Planned > 0 || maintDays[id+"\x00"+date]}
			title := day.Format("Mon 2006-01-02") + ": "
			if f.Known {
				title += fmt.Sprintf("%s %s", percent(f.Availability), l.Available)
				if f.Down > 0 {
					title += fmt.Sprintf(" (%s down)", FormatDuration(f.Down))
				}
				measured, down = measured+f.Measured, down+f.Down
				known++
			} else {
				title += l.NoDataDay
			}
			if pd.Maint {
				title += "; " + l.MaintDay
			}
			pd.Title = title
			ps.Days = append(ps.Days, pd)
		}
		switch up := percent(float64(measured-down) / float64(max(measured, 1)) * 100); {
		case measured > 0 && known >= StatusDays:
			ps.Uptime = fmt.Sprintf(l.UptimeFmt, up)
		case measured > 0:
			ps.Uptime = fmt.Sprintf(l.UptimePartFmt, up, known)
		default:
			ps.Uptime = l.NoData
		}
		out = append(out, ps)
	}
	slices.SortStableFunc(out, func(a, b pageService) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// percent shows an availability with the precision it needs: 100 %,
// 99.95 %, 97.2 %.
func percent(p float64) string {
	switch {
	case p >= 100:
		return "100 %"
	case p >= 99:
		return strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.2f", p), "0"), ".") + " %"
	}
	return fmt.Sprintf("%.1f %%", p)
}

// noticeFacts are a notice's facts as the page and the feed give them:
// when it started (a scheduled maintenance: when it is scheduled for) and
// its planned end, when it ended and how long it lasted, impact,
// symptoms, the plan and the next update.
func (s *Service) noticeFacts(n Notice) []fact {
	l := s.labels()
	var fs []fact
	add := func(k, v string) {
		if strings.TrimSpace(v) != "" {
			fs = append(fs, fact{k, v})
		}
	}
	if n.Kind == KindMaintenance && n.State == Scheduled {
		add(l.ScheduledFor, s.when(n.StartedAt))
	} else {
		add(l.Started, s.when(n.StartedAt))
	}
	if !n.PlannedEnd.IsZero() && (!Final(n.State) || n.State == Cancelled) {
		add(l.PlannedEnd, s.when(n.PlannedEnd))
	}
	if Final(n.State) && !n.EndedAt.IsZero() {
		k := l.Ended
		if n.State == Resolved {
			k = l.Resolved
		}
		add(k, s.when(n.EndedAt))
		if n.State != Cancelled {
			d := FormatDuration(n.Duration())
			if n.Duration() < time.Minute {
				d = l.UnderMinute
			}
			add(l.Duration, d)
		}
	}
	add(l.Impact, n.Impact)
	add(l.Symptoms, n.Symptoms)
	add(l.Plan, n.HandlingPlan)
	if !Final(n.State) {
		add(l.NextUpdate, s.when(n.NextUpdateAt))
	}
	return fs
}

func (s *Service) pageNotice(n Notice, class string) pageNotice {
	d := s.data(n, Update{State: n.State})
	pn := pageNotice{ID: n.ID, Class: class, Kind: d.Kind, Title: n.Title, State: d.State, Services: d.Services, Facts: s.noticeFacts(n)}
	for i := len(n.Updates) - 1; i >= 0; i-- {
		u := n.Updates[i]
		if u.Kind == UpdateWithdrawn {
			continue
		}
		pn.Updates = append(pn.Updates, pageUpdate{At: s.when(u.At), State: Label(n.Language, u.State), Body: u.Body})
	}
	return pn
}

type statusData struct {
	Lang, Title, Banner, BannerClass, Generated, Zone, Base string
	Style                                                   htmltemplate.CSS
	L                                                       statusLabels
	History                                                 bool
	Services                                                []pageService
	Current, Planned, Recent, Past                          []pageNotice
}

func (s *Service) pageBase(history bool) statusData {
	now := s.o.Now()
	loc := s.config().location()
	d := statusData{Lang: s.config().Language, Title: s.config().StatusTitle, Generated: s.when(now),
		Zone: timezone.Describe(now, loc), Style: htmltemplate.CSS(statusStyle), L: s.labels(), History: history}
	if history {
		d.Base = "../"
		d.Title += " — " + d.L.History
	}
	return d
}

func (s *Service) serveStatus(w http.ResponseWriter, r *http.Request) {
	now, loc := s.o.Now(), s.config().location()
	list, err := s.publicNotices(r.Context())
	if err != nil {
		s.o.Logger.Error("status page", "err", err)
		http.Error(w, "status temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	page := s.pageBase(false)
	// Options.Monitored saying no (probes off) leaves stored probe
	// states out: they would be stale
	monitored := s.o.Monitored == nil || s.o.Monitored()
	var states []ServiceHealth
	var days []DayFigures
	first := dayStart(now, loc).AddDate(0, 0, -(StatusDays - 1))
	if monitored {
		if states, days, first, err = s.probeView(r.Context(), now, loc); err != nil {
			// the notices are shown even when the probes' data cannot be read
			s.o.Logger.Error("status page: probes", "err", err)
		}
	}
	page.Services = s.services(states, days, list, first, now, loc)
	problem := false
	for _, ps := range page.Services {
		problem = problem || ps.State == ServiceOutage || ps.State == ServiceDegraded || ps.State == ServiceMaintenance
	}
	for _, n := range list {
		switch {
		case Final(n.State):
			page.Recent = append(page.Recent, s.pageNotice(n, "ended"))
		case n.Kind == KindMaintenance && !n.Active(now):
			page.Planned = append(page.Planned, s.pageNotice(n, "planned"))
		default:
			page.Current = append(page.Current, s.pageNotice(n, "open"))
			problem = true
		}
	}
	switch {
	case problem:
		page.Banner, page.BannerClass = page.L.Problem, "problem"
	case !monitored:
		page.Banner = page.L.NotMonitored
	default:
		page.Banner, page.BannerClass = page.L.AllOK, "all-ok"
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=30")
	w.Header().Set("Content-Security-Policy", statusCSP)
	if err := statusPage.Execute(w, page); err != nil {
		s.o.Logger.Warn("status page render", "err", err)
	}
}

// HistoryLimit bounds the notices /status/history shows.
const HistoryLimit = 200

// serveHistory lists the public notices that ended (not withdrawn),
// newest first, at most HistoryLimit.
func (s *Service) serveHistory(w http.ResponseWriter, r *http.Request) {
	list, err := s.o.Store.NoticeList(r.Context(), Filter{PublicOnly: true, Limit: HistoryLimit})
	if err != nil {
		s.o.Logger.Error("status history", "err", err)
		http.Error(w, "status temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	page := s.pageBase(true)
	for _, n := range list {
		if Final(n.State) {
			page.Past = append(page.Past, s.pageNotice(n, "ended"))
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=60")
	w.Header().Set("Content-Security-Policy", statusCSP)
	if err := statusPage.Execute(w, page); err != nil {
		s.o.Logger.Warn("status history render", "err", err)
	}
}

type atomText struct {
	Type string `xml:"type,attr,omitempty"`
	Body string `xml:",chardata"`
}

type atomLink struct {
	Href string `xml:"href,attr"`
	Rel  string `xml:"rel,attr,omitempty"`
	Type string `xml:"type,attr,omitempty"`
}

type atomEntry struct {
	Title     string   `xml:"title"`
	ID        string   `xml:"id"`
	Updated   string   `xml:"updated"`
	Published string   `xml:"published,omitempty"`
	Link      atomLink `xml:"link"`
	Category  []struct {
		Term string `xml:"term,attr"`
	} `xml:"category"`
	Content atomText `xml:"content"`
}

type atomFeed struct {
	XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
	Title   string   `xml:"title"`
	ID      string   `xml:"id"`
	Updated string   `xml:"updated"`
	Author  struct {
		Name string `xml:"name"`
	} `xml:"author"`
	Links   []atomLink  `xml:"link"`
	Entries []atomEntry `xml:"entry"`
}

// serveFeed writes one entry per notice of the status page (RFC 4287
// §4.1.2), updated at its last change, with the latest state in the title
// and the page's facts (start or scheduled start, planned end, end,
// impact, symptoms) and updates in the content.
func (s *Service) serveFeed(w http.ResponseWriter, r *http.Request) {
	list, err := s.publicNotices(r.Context())
	if err != nil {
		s.o.Logger.Error("status feed", "err", err)
		http.Error(w, "status temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	base := strings.TrimSuffix(s.o.StatusURL, "/")
	if base == "" {
		base = "http://" + r.Host + "/status"
	}
	domain := DomainOf(s.config().From)
	f := atomFeed{Title: s.config().StatusTitle, ID: "tag:" + domain + ",2026:postvakt/status"}
	f.Author.Name = s.config().StatusTitle
	f.Links = []atomLink{{Href: base + "/feed.atom", Rel: "self", Type: "application/atom+xml"}, {Href: base, Rel: "alternate", Type: "text/html"}}
	updated := time.Unix(0, 0).UTC()
	for _, n := range list {
		pn := s.pageNotice(n, "")
		var body strings.Builder
		fmt.Fprintf(&body, "%s — %s\n", pn.State, pn.Services)
		for _, fc := range pn.Facts {
			fmt.Fprintf(&body, "%s: %s\n", fc.K, fc.V)
		}
		for _, u := range pn.Updates {
			fmt.Fprintf(&body, "\n%s — %s\n%s\n", u.At, u.State, u.Body)
		}
		e := atomEntry{
			Title:     fmt.Sprintf("[%s] %s: %s", pn.State, pn.Kind, n.Title),
			ID:        fmt.Sprintf("tag:%s,2026:postvakt/notice/%d", domain, n.ID),
			Updated:   n.UpdatedAt.UTC().Format(time.RFC3339),
			Published: n.CreatedAt.UTC().Format(time.RFC3339),
			Link:      atomLink{Href: fmt.Sprintf("%s#notice-%d", base, n.ID), Rel: "alternate"},
			Content:   atomText{Type: "text", Body: body.String()},
		}
		e.Category = append(e.Category, struct {
			Term string `xml:"term,attr"`
		}{n.Kind})
		f.Entries = append(f.Entries, e)
		if n.UpdatedAt.After(updated) {
			updated = n.UpdatedAt
		}
	}
	f.Updated = updated.UTC().Format(time.RFC3339)
	w.Header().Set("Content-Type", "application/atom+xml; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=30")
	_, _ = w.Write([]byte(xml.Header))
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(f); err != nil {
		s.o.Logger.Warn("status feed render", "err", err)
	}
}
