// Package reports owns the monthly operations report to the steering group:
// the period, the model of figures with the previous period beside each and
// the change in per cent, the written analysis generated from the data, the
// charts, rendering to HTML (one html/template source), PDF (headless
// Chromium, or a built-in renderer with an embedded font) and CSV, delivery
// by e-mail and the scheduled job that generates, archives and sends the
// report once per period.
//
// The content follows the monthly operations reports that university and
// academy mail centres write (docs/reports.md): registrations, mail received
// and sent, spam and virus handling, logins by protocol, traffic,
// availability, faults and SLA compliance, on-call load. The package reads
// its data through Source and keeps its archive through Archive; both are
// implemented by internal/storage.
package reports

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// ErrBadPeriod is wrapped when a period label cannot be parsed.
var ErrBadPeriod = errors.New("bad period")

// ErrNoData is returned by a Source when it has nothing for the request
// (e.g. no directory snapshot before an instant).
var ErrNoData = errors.New("no data")

// Figure is one number of the report with the previous period beside it.
type Figure struct {
	Key      string   `json:"key"`
	Unit     string   `json:"unit"` // count, bytes, percent, seconds
	Current  float64  `json:"current"`
	Previous *float64 `json:"previous"`   // nil when the previous period has no data
	Change   *float64 `json:"change_pct"` // nil when previous is missing or zero
}

// Units of figures.
const (
	UnitCount   = "count"
	UnitBytes   = "bytes"
	UnitPercent = "percent"
	UnitSeconds = "seconds"
)

func figure(key, unit string, cur float64, prev *float64) Figure {
	f := Figure{Key: key, Unit: unit, Current: cur, Previous: prev}
	if prev != nil && *prev != 0 {
		c := round((cur-*prev)/math.Abs(*prev)*100, 1)
		f.Change = &c
	}
	return f
}

func ptr(v float64) *float64 { return &v }

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

// Report is the model of one monthly report: every number the renderers
// show, and the analysis sentences.
type Report struct {
	Title        string    `json:"title"`
	Organisation string    `json:"organisation"`
	Lang         string    `json:"lang"`
	Period       Period    `json:"period"`
	Previous     Period    `json:"previous"`
	GeneratedAt  time.Time `json:"generated_at"`
	Comment      string    `json:"comment"`
	// Summary holds the headline sentences, one per section.
	Summary       []string             `json:"summary"`
	Registrations RegistrationsSection `json:"registrations"`
	Mail          MailSection          `json:"mail"`
	Scan          ScanSection          `json:"scan"`
	Logins        LoginsSection        `json:"logins"`
	Traffic       TrafficSection       `json:"traffic"`
	Availability  AvailabilitySection  `json:"availability"`
	Faults        FaultsSection        `json:"faults"`
	OnCall        OnCallSection        `json:"oncall"`
	TopDomains    *TopDomainsSection   `json:"top_domains,omitempty"`
	// Missing names the data the Source could not provide (ErrNoData), so
	// the report says so instead of showing zeros as facts.
	Missing []string `json:"missing,omitempty"`
}

// RegistrationsSection is the directory at the end of the period against
// the end of the previous one.
type RegistrationsSection struct {
	Figures []Figure `json:"figures"`
	Notes   []string `json:"notes"`
}

// MailSection is mail received and sent.
type MailSection struct {
	Figures  []Figure  `json:"figures"`
	Days     []MailDay `json:"days"`
	PrevDays []MailDay `json:"prev_days"`
	Notes    []string  `json:"notes"`
}

// ScanSection is spam and virus handling.
type ScanSection struct {
	Figures []Figure     `json:"figures"`
	Matrix  []ScanRow    `json:"matrix"` // verdict × action
	Days    []ScanDayRow `json:"days"`
	Notes   []string     `json:"notes"`
}

// ScanRow is the count of one verdict handled by one action.
type ScanRow struct {
	Verdict string `json:"verdict"`
	Action  string `json:"action"`
	Count   Figure `json:"count"`
}

// ScanDayRow is the spam, virus and banned-attachment counts of a day.
type ScanDayRow struct {
	Day    time.Time `json:"day"`
	Spam   int64     `json:"spam"`
	Virus  int64     `json:"virus"`
	Banned int64     `json:"banned"`
	Total  int64     `json:"total"` // every scanned message, greylisting excluded
}

// LoginsSection is logins and reads by protocol.
type LoginsSection struct {
	Figures   []Figure        `json:"figures"`
	Protocols []ProtocolRow   `json:"protocols"`
	Days      []LoginTotalDay `json:"days"`
	Notes     []string        `json:"notes"`
}

// ProtocolRow is one protocol's logins and failures.
type ProtocolRow struct {
	Protocol string `json:"protocol"`
	OK       Figure `json:"ok"`
	Failed   Figure `json:"failed"`
	// FailedPct is failures as a share of all attempts, in per cent.
	FailedPct float64 `json:"failed_pct"`
	// UsersPerDay is the mean of the distinct users per day.
	UsersPerDay float64 `json:"users_per_day"`
}

// LoginTotalDay is one day of logins by protocol (successful) and all
// failures.
type LoginTotalDay struct {
	Day    time.Time        `json:"day"`
	OK     map[string]int64 `json:"ok"`
	Failed int64            `json:"failed"`
}

// TrafficSection is bytes moved per day and the mean profile of a day.
type TrafficSection struct {
	Figures []Figure     `json:"figures"`
	Days    []TrafficDay `json:"days"`
	// HourProfile is the mean bytes (in + out) per hour of day, local time.
	HourProfile [24]float64 `json:"hour_profile"`
	PeakHour    time.Time   `json:"peak_hour"`
	PeakBytes   int64       `json:"peak_bytes"`
	Notes       []string    `json:"notes"`
}

// TrafficDay is the bytes in and out of one day.
type TrafficDay struct {
	Day      time.Time `json:"day"`
	InBytes  int64     `json:"in_bytes"`
	OutBytes int64     `json:"out_bytes"`
}

// AvailabilitySection is availability per service.
type AvailabilitySection struct {
	Services []ServiceRow `json:"services"`
	Outages  []OutageRow  `json:"outages"`
	Notes    []string     `json:"notes"`
}

// ServiceRow is one service's availability: the share of the period not
// covered by unplanned outages, in per cent.
type ServiceRow struct {
	Service      string  `json:"service"`
	Availability Figure  `json:"availability"`
	Unplanned    float64 `json:"unplanned_minutes"`
	Planned      float64 `json:"planned_minutes"`
	Outages      int     `json:"outages"`
}

// OutageRow is one outage, clipped to the period.
type OutageRow struct {
	Outage
	Minutes float64 `json:"minutes"`
	Ongoing bool    `json:"ongoing"`
}

// FaultsSection is fault tickets and SLA compliance.
type FaultsSection struct {
	Figures  []Figure        `json:"figures"`
	Matrix   []SeverityCount `json:"matrix"`     // service × severity, tickets opened in the period
	Severity []string        `json:"severities"` // column order of Matrix
	Breaches []Ticket        `json:"breaches"`
	Open     []Ticket        `json:"open"` // still open at the end of the period
	Notes    []string        `json:"notes"`
}

// SeverityCount is the tickets of one service by severity.
type SeverityCount struct {
	Service string           `json:"service"`
	Counts  map[string]int64 `json:"counts"`
	Total   int64            `json:"total"`
}

// OnCallSection is the on-call load.
type OnCallSection struct {
	Figures []Figure  `json:"figures"`
	Weeks   []WeekRow `json:"weeks"`
	Notes   []string  `json:"notes"`
}

// WeekRow is one shift and the pages in it.
type WeekRow struct {
	Member     string    `json:"member"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	InHours    int       `json:"pages_in_hours"`
	OutOfHours int       `json:"pages_out_of_hours"`
	MedianAck  float64   `json:"median_ack_seconds"` // 0 when no page was acknowledged
	Unacked    int       `json:"unacked"`
	TotalPages int       `json:"pages"`
	AckedPages int       `json:"acked"`
}

// TopDomainsSection lists the busiest external domains.
type TopDomainsSection struct {
	Senders    []DomainCount `json:"senders"`
	Recipients []DomainCount `json:"recipients"`
}

// Options configure Build.
type Options struct {
	Config  Config
	Comment string
	Now     func() time.Time
	// Progress, when set, is called after each step of the build.
	Progress func(step string)
}

// Build reads the data for period p and its predecessor from src and
// returns the report model with its analysis.
func Build(ctx context.Context, src Source, p Period, opts Options) (*Report, error) {
	cfg := opts.Config
	if opts.Now == nil {
		opts.Now = time.Now
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(string) {}
	}
	loc := p.Start.Location()
	cat := catalog(cfg.Language)
	prev := p.Previous(cfg.StartDay)
	r := &Report{
		Title: cfg.Title, Organisation: cfg.Organisation, Lang: cat.lang,
		Period: p, Previous: prev, GeneratedAt: opts.Now().In(loc), Comment: opts.Comment,
	}
	if r.Title == "" {
		r.Title = cat.t("title")
	}
	b := &builder{r: r, src: src, cfg: cfg, cat: cat, loc: loc}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"registrations", b.registrations},
		{"mail", b.mail},
		{"scan", b.scan},
		{"logins", b.logins},
		{"traffic", b.traffic},
		{"availability", b.availability},
		{"faults", b.faults},
		{"oncall", b.oncall},
		{"top_domains", b.topDomains},
	}
	for _, s := range steps {
		if err := s.fn(ctx); err != nil {
			if errors.Is(err, ErrNoData) {
				r.Missing = append(r.Missing, s.name)
			} else {
				return nil, fmt.Errorf("report %s: %s: %w", p.Label, s.name, err)
			}
		}
		progress(s.name)
	}
	b.summary()
	return r, nil
}

// BuildSteps is the number of Progress calls Build makes.
const BuildSteps = 9

type builder struct {
	r   *Report
	src Source
	cfg Config
	cat *catalogT
	loc *time.Location
}

func (b *builder) registrations(ctx context.Context) error {
	r := b.r
	cur, err := b.src.Registrations(ctx, r.Period.End)
	if err != nil {
		return err
	}
	var prev *Registrations
	if pr, err := b.src.Registrations(ctx, r.Previous.End); err == nil {
		prev = &pr
	} else if !errors.Is(err, ErrNoData) {
		return err
	}
	// Active users need the raw login log, which may not reach back to
	// the previous period (90 days' retention): then it is left out.
	activeKnown := true
	active, err := b.src.ActiveUsers(ctx, r.Period.Start, r.Period.End)
	if errors.Is(err, ErrNoData) {
		activeKnown = false
	} else if err != nil {
		return err
	}
	var pa *float64
	if prevActive, err := b.src.ActiveUsers(ctx, r.Previous.Start, r.Previous.End); err == nil && prevActive > 0 {
		pa = ptr(float64(prevActive))
	} else if err != nil && !errors.Is(err, ErrNoData) {
		return err
	}
	pv := func(f func(Registrations) int64) *float64 {
		if prev == nil {
			return nil
		}
		return ptr(float64(f(*prev)))
	}
	extra := func(x Registrations) int64 {
		if x.ExtraBytes >= 0 {
			return x.ExtraBytes
		}
		return max(0, x.AllottedBytes-x.Mailboxes*b.cfg.DefaultQuota)
	}
	s := &r.Registrations
	s.Figures = []Figure{
		figure("registrations.domains", UnitCount, float64(cur.Domains), pv(func(x Registrations) int64 { return x.Domains })),
		figure("registrations.mailboxes", UnitCount, float64(cur.Mailboxes), pv(func(x Registrations) int64 { return x.Mailboxes })),
		figure("registrations.allotted", UnitBytes, float64(cur.AllottedBytes), pv(func(x Registrations) int64 { return x.AllottedBytes })),
	}
	if cur.ExtraBytes >= 0 || b.cfg.DefaultQuota > 0 {
		s.Figures = append(s.Figures, figure("registrations.extra", UnitBytes, float64(extra(cur)), pv(extra)))
	}
	if activeKnown {
		s.Figures = append(s.Figures, figure("registrations.active_users", UnitCount, float64(active), pa))
	}
	s.Notes = append(s.Notes, b.registrationNote(s.Figures))
	return nil
}

func (b *builder) mail(ctx context.Context) error {
	r := b.r
	cur, err := b.src.MailDays(ctx, b.loc, r.Period.Start, r.Period.End)
	if err != nil {
		return err
	}
	prev, err := b.src.MailDays(ctx, b.loc, r.Previous.Start, r.Previous.End)
	if err != nil {
		return err
	}
	cur, prev = fillMailDays(r.Period, cur), fillMailDays(r.Previous, prev)
	sum := func(ds []MailDay, f func(MailDay) int64) float64 {
		var t int64
		for _, d := range ds {
			t += f(d)
		}
		return float64(t)
	}
	hasPrev := len(prev) > 0 && sum(prev, func(d MailDay) int64 { return d.ReceivedCount + d.SentCount }) > 0
	pf := func(f func(MailDay) int64) *float64 {
		if !hasPrev {
			return nil
		}
		return ptr(sum(prev, f))
	}
	rc := func(d MailDay) int64 { return d.ReceivedCount }
	rb := func(d MailDay) int64 { return d.ReceivedBytes }
	sc := func(d MailDay) int64 { return d.SentCount }
	sb := func(d MailDay) int64 { return d.SentBytes }
	s := &r.Mail
	s.Days, s.PrevDays = cur, prev
	s.Figures = []Figure{
		figure("mail.received.count", UnitCount, sum(cur, rc), pf(rc)),
		figure("mail.received.bytes", UnitBytes, sum(cur, rb), pf(rb)),
		figure("mail.sent.count", UnitCount, sum(cur, sc), pf(sc)),
		figure("mail.sent.bytes", UnitBytes, sum(cur, sb), pf(sb)),
		figure("mail.received.per_day", UnitCount, round(sum(cur, rc)/float64(len(cur)), 0), perDay(pf(rc), len(prev))),
		figure("mail.sent.per_day", UnitCount, round(sum(cur, sc)/float64(len(cur)), 0), perDay(pf(sc), len(prev))),
	}
	days := r.Period.Days()
	s.Notes = append(s.Notes,
		b.seriesNote("received", days, series(cur, rc), series(prev, rc), hasPrev),
		b.seriesNote("sent", days, series(cur, sc), series(prev, sc), hasPrev),
	)
	return nil
}

func perDay(total *float64, n int) *float64 {
	if total == nil || n == 0 {
		return nil
	}
	return ptr(round(*total/float64(n), 0))
}

func series[T any](ds []T, f func(T) int64) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(f(d))
	}
	return out
}

// fillMailDays returns one row for every day of p, zero where src had none.
func fillMailDays(p Period, in []MailDay) []MailDay {
	byDay := map[time.Time]MailDay{}
	for _, d := range in {
		k := localDay(d.Day, p.Start.Location())
		e := byDay[k]
		e.ReceivedCount += d.ReceivedCount
		e.ReceivedBytes += d.ReceivedBytes
		e.SentCount += d.SentCount
		e.SentBytes += d.SentBytes
		byDay[k] = e
	}
	days := p.Days()
	out := make([]MailDay, len(days))
	for i, d := range days {
		e := byDay[d]
		e.Day = d
		out[i] = e
	}
	return out
}

func localDay(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
}

func (b *builder) scan(ctx context.Context) error {
	r := b.r
	cur, err := b.src.ScanDays(ctx, b.loc, r.Period.Start, r.Period.End)
	if err != nil {
		return err
	}
	prev, err := b.src.ScanDays(ctx, b.loc, r.Previous.Start, r.Previous.End)
	if err != nil {
		return err
	}
	type va struct{ v, a string }
	curM, prevM := map[va]int64{}, map[va]int64{}
	curV, prevV := map[string]int64{}, map[string]int64{}
	for _, c := range cur {
		curM[va{c.Verdict, c.Action}] += c.Count
		curV[c.Verdict] += c.Count
	}
	for _, c := range prev {
		prevM[va{c.Verdict, c.Action}] += c.Count
		prevV[c.Verdict] += c.Count
	}
	hasPrev := len(prev) > 0
	pv := func(v float64) *float64 {
		if !hasPrev {
			return nil
		}
		return ptr(v)
	}
	scanned := func(m map[string]int64) float64 {
		var t int64
		for v, n := range m {
			if v != VerdictGreylisted {
				t += n
			}
		}
		return float64(t)
	}
	rate := func(m map[string]int64, verdict string) float64 {
		t := scanned(m)
		if t == 0 {
			return 0
		}
		return round(float64(m[verdict])/t*100, 2)
	}
	s := &r.Scan
	s.Figures = []Figure{
		figure("scan.scanned", UnitCount, scanned(curV), pv(scanned(prevV))),
		figure("scan.spam", UnitCount, float64(curV[VerdictSpam]), pv(float64(prevV[VerdictSpam]))),
		figure("scan.spam_rate", UnitPercent, rate(curV, VerdictSpam), pv(rate(prevV, VerdictSpam))),
		figure("scan.virus", UnitCount, float64(curV[VerdictVirus]), pv(float64(prevV[VerdictVirus]))),
		figure("scan.banned", UnitCount, float64(curV[VerdictBanned]), pv(float64(prevV[VerdictBanned]))),
		figure("scan.greylisted", UnitCount, float64(curV[VerdictGreylisted]), pv(float64(prevV[VerdictGreylisted]))),
	}
	keys := map[va]bool{}
	for k := range curM {
		keys[k] = true
	}
	for k := range prevM {
		keys[k] = true
	}
	for k := range keys {
		s.Matrix = append(s.Matrix, ScanRow{Verdict: k.v, Action: k.a,
			Count: figure("scan."+k.v+"."+k.a, UnitCount, float64(curM[k]), pv(float64(prevM[k])))})
	}
	slices.SortFunc(s.Matrix, func(a, b ScanRow) int {
		return cmp.Or(cmp.Compare(verdictOrder(a.Verdict), verdictOrder(b.Verdict)), cmp.Compare(a.Verdict, b.Verdict), cmp.Compare(a.Action, b.Action))
	})
	byDay := map[time.Time]*ScanDayRow{}
	days := r.Period.Days()
	for _, d := range days {
		byDay[d] = &ScanDayRow{Day: d}
	}
	for _, c := range cur {
		row := byDay[localDay(c.Day, b.loc)]
		if row == nil {
			continue
		}
		switch c.Verdict {
		case VerdictSpam:
			row.Spam += c.Count
		case VerdictVirus:
			row.Virus += c.Count
		case VerdictBanned:
			row.Banned += c.Count
		}
		if c.Verdict != VerdictGreylisted {
			row.Total += c.Count
		}
	}
	prevSpam := make([]float64, 0)
	prevByDay := map[time.Time]float64{}
	for _, c := range prev {
		if c.Verdict == VerdictSpam {
			prevByDay[localDay(c.Day, b.loc)] += float64(c.Count)
		}
	}
	for _, d := range r.Previous.Days() {
		prevSpam = append(prevSpam, prevByDay[d])
	}
	for _, d := range days {
		s.Days = append(s.Days, *byDay[d])
	}
	s.Notes = append(s.Notes, b.seriesNote("spam", days, series(s.Days, func(d ScanDayRow) int64 { return d.Spam }), prevSpam, hasPrev))
	s.Notes = append(s.Notes, b.virusNote(curV, prevV, hasPrev))
	return nil
}

func verdictOrder(v string) int {
	switch v {
	case VerdictClean:
		return 0
	case VerdictSpam:
		return 1
	case VerdictVirus:
		return 2
	case VerdictBanned:
		return 3
	case VerdictGreylisted:
		return 4
	}
	return 5
}

// Protocols is the order of protocols in the report.
var Protocols = []string{ProtocolWebmail, ProtocolIMAP, ProtocolPOP, ProtocolSMTPAuth}

func (b *builder) logins(ctx context.Context) error {
	r := b.r
	cur, err := b.src.LoginDays(ctx, b.loc, r.Period.Start, r.Period.End)
	if err != nil {
		return err
	}
	prev, err := b.src.LoginDays(ctx, b.loc, r.Previous.Start, r.Previous.End)
	if err != nil {
		return err
	}
	type agg struct{ ok, failed, users int64 }
	sumBy := func(ds []LoginDay) map[string]*agg {
		m := map[string]*agg{}
		for _, d := range ds {
			a := m[d.Protocol]
			if a == nil {
				a = &agg{}
				m[d.Protocol] = a
			}
			a.ok += d.OK
			a.failed += d.Failed
			a.users += d.Users
		}
		return m
	}
	cm, pm := sumBy(cur), sumBy(prev)
	protos := slices.Clone(Protocols)
	for p := range cm {
		if p != AllProtocols && !slices.Contains(protos, p) {
			protos = append(protos, p)
		}
	}
	slices.Sort(protos[len(Protocols):])
	hasPrev := len(prev) > 0
	s := &r.Logins
	var totOK, totFail, pOK, pFail float64
	ndays := float64(len(r.Period.Days()))
	for _, p := range protos {
		c, pr := cm[p], pm[p]
		if c == nil {
			c = &agg{}
		}
		var pok, pfail *float64
		if hasPrev {
			if pr == nil {
				pr = &agg{}
			}
			pok, pfail = ptr(float64(pr.ok)), ptr(float64(pr.failed))
			pOK += float64(pr.ok)
			pFail += float64(pr.failed)
		}
		row := ProtocolRow{
			Protocol: p,
			OK:       figure("logins."+p+".ok", UnitCount, float64(c.ok), pok),
			Failed:   figure("logins."+p+".failed", UnitCount, float64(c.failed), pfail),
		}
		if c.ok+c.failed > 0 {
			row.FailedPct = round(float64(c.failed)/float64(c.ok+c.failed)*100, 2)
		}
		row.UsersPerDay = round(float64(c.users)/ndays, 0)
		s.Protocols = append(s.Protocols, row)
		totOK += float64(c.ok)
		totFail += float64(c.failed)
	}
	pv := func(v float64) *float64 {
		if !hasPrev {
			return nil
		}
		return ptr(v)
	}
	s.Figures = []Figure{
		figure("logins.ok", UnitCount, totOK, pv(pOK)),
		figure("logins.failed", UnitCount, totFail, pv(pFail)),
	}
	if all := cm[AllProtocols]; all != nil && all.users > 0 {
		var pu *float64
		if p := pm[AllProtocols]; p != nil && p.users > 0 {
			pu = ptr(round(float64(p.users)/float64(len(r.Previous.Days())), 0))
		}
		s.Figures = append(s.Figures, figure("logins.users_per_day", UnitCount, round(float64(all.users)/ndays, 0), pu))
	}
	byDay := map[time.Time]*LoginTotalDay{}
	days := r.Period.Days()
	for _, d := range days {
		byDay[d] = &LoginTotalDay{Day: d, OK: map[string]int64{}}
	}
	for _, d := range cur {
		row := byDay[localDay(d.Day, b.loc)]
		if row == nil || d.Protocol == AllProtocols {
			continue
		}
		row.OK[d.Protocol] += d.OK
		row.Failed += d.Failed
	}
	for _, d := range days {
		s.Days = append(s.Days, *byDay[d])
	}
	totalOK := func(d LoginTotalDay) int64 {
		var t int64
		for _, v := range d.OK {
			t += v
		}
		return t
	}
	prevDays := map[time.Time]float64{}
	for _, d := range prev {
		prevDays[localDay(d.Day, b.loc)] += float64(d.OK)
	}
	var prevSeries []float64
	for _, d := range r.Previous.Days() {
		prevSeries = append(prevSeries, prevDays[d])
	}
	s.Notes = append(s.Notes, b.seriesNote("logins", days, series(s.Days, totalOK), prevSeries, hasPrev))
	s.Notes = append(s.Notes, b.failedLoginNote(s.Protocols))
	if n := b.failedOutlierNote(s.Days); n != "" {
		s.Notes = append(s.Notes, n)
	}
	return nil
}

func (b *builder) traffic(ctx context.Context) error {
	r := b.r
	cur, err := b.src.TrafficHours(ctx, r.Period.Start, r.Period.End)
	if err != nil {
		return err
	}
	prev, err := b.src.TrafficHours(ctx, r.Previous.Start, r.Previous.End)
	if err != nil {
		return err
	}
	days := r.Period.Days()
	byDay := map[time.Time]*TrafficDay{}
	for _, d := range days {
		byDay[d] = &TrafficDay{Day: d}
	}
	s := &r.Traffic
	var hourSum [24]float64
	var hourN [24]map[time.Time]bool
	var in, out float64
	for _, h := range cur {
		lt := h.Hour.In(b.loc)
		if row := byDay[localDay(lt, b.loc)]; row != nil {
			row.InBytes += h.InBytes
			row.OutBytes += h.OutBytes
		}
		in += float64(h.InBytes)
		out += float64(h.OutBytes)
		hourSum[lt.Hour()] += float64(h.InBytes + h.OutBytes)
		if hourN[lt.Hour()] == nil {
			hourN[lt.Hour()] = map[time.Time]bool{}
		}
		hourN[lt.Hour()][localDay(lt, b.loc)] = true
		if t := h.InBytes + h.OutBytes; t > s.PeakBytes {
			s.PeakBytes, s.PeakHour = t, lt
		}
	}
	for i := range hourSum {
		if n := len(hourN[i]); n > 0 {
			s.HourProfile[i] = round(hourSum[i]/float64(n), 0)
		}
	}
	var pin, pout float64
	for _, h := range prev {
		pin += float64(h.InBytes)
		pout += float64(h.OutBytes)
	}
	pv := func(v float64) *float64 {
		if len(prev) == 0 {
			return nil
		}
		return ptr(v)
	}
	s.Figures = []Figure{
		figure("traffic.in", UnitBytes, in, pv(pin)),
		figure("traffic.out", UnitBytes, out, pv(pout)),
		figure("traffic.total", UnitBytes, in+out, pv(pin+pout)),
	}
	for _, d := range days {
		s.Days = append(s.Days, *byDay[d])
	}
	prevByDay := map[time.Time]float64{}
	for _, h := range prev {
		prevByDay[localDay(h.Hour, b.loc)] += float64(h.InBytes + h.OutBytes)
	}
	var prevSeries []float64
	for _, d := range r.Previous.Days() {
		prevSeries = append(prevSeries, prevByDay[d])
	}
	s.Notes = append(s.Notes, b.seriesNote("traffic", days, series(s.Days, func(d TrafficDay) int64 { return d.InBytes + d.OutBytes }), prevSeries, len(prev) > 0))
	if s.PeakBytes > 0 {
		s.Notes = append(s.Notes, b.peakNote(s))
	}
	return nil
}

// unionMinutes returns the minutes covered by the union of the intervals
// [start, end). It sorts iv in place.
func unionMinutes(iv [][2]time.Time) float64 {
	slices.SortFunc(iv, func(a, b [2]time.Time) int { return a[0].Compare(b[0]) })
	var total time.Duration
	var cs, ce time.Time
	for i, x := range iv {
		if i == 0 || x[0].After(ce) {
			total += ce.Sub(cs)
			cs, ce = x[0], x[1]
			continue
		}
		if x[1].After(ce) {
			ce = x[1]
		}
	}
	total += ce.Sub(cs)
	return total.Minutes()
}

func clip(o Outage, p Period, now time.Time) (start, end time.Time, ongoing, ok bool) {
	start, end = o.Start, o.End
	if end.IsZero() {
		end, ongoing = now, true
	}
	if start.Before(p.Start) {
		start = p.Start
	}
	if end.After(p.End) {
		end = p.End
	}
	return start, end, ongoing, end.After(start)
}

func (b *builder) availabilityOf(ctx context.Context, p Period) (map[string][2]float64, map[string]int, []OutageRow, error) {
	outs, err := b.src.Outages(ctx, p.Start, p.End)
	if err != nil {
		return nil, nil, nil, err
	}
	now := b.r.GeneratedAt
	unplanned := map[string][][2]time.Time{}
	planned := map[string][][2]time.Time{}
	count := map[string]int{}
	var rows []OutageRow
	for _, o := range outs {
		s, e, ongoing, ok := clip(o, p, now)
		if !ok {
			continue
		}
		if o.Planned {
			planned[o.Service] = append(planned[o.Service], [2]time.Time{s, e})
		} else {
			unplanned[o.Service] = append(unplanned[o.Service], [2]time.Time{s, e})
			count[o.Service]++
		}
		rows = append(rows, OutageRow{Outage: o, Minutes: round(e.Sub(s).Minutes(), 1), Ongoing: ongoing && e.Equal(now)})
	}
	// Unplanned downtime inside an announced maintenance window is
	// planned: only the minutes outside every window count against the
	// service (the same rule as the probes' availability).
	// mins[svc] is {unplanned, planned}; each service's maintenance
	// windows are united once and serve both.
	mins := map[string][2]float64{}
	for svc, iv := range planned {
		mins[svc] = [2]float64{1: unionMinutes(iv)}
	}
	for svc, iv := range unplanned {
		m := mins[svc]
		m[0] = unionMinutes(slices.Concat(iv, planned[svc])) - m[1]
		mins[svc] = m
	}
	slices.SortFunc(rows, func(a, b OutageRow) int { return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Service, b.Service)) })
	return mins, count, rows, nil
}

func (b *builder) availability(ctx context.Context) error {
	r := b.r
	cur, count, rows, err := b.availabilityOf(ctx, r.Period)
	if err != nil {
		return err
	}
	prev, _, _, err := b.availabilityOf(ctx, r.Previous)
	if err != nil {
		return err
	}
	svcs := slices.Clone(b.cfg.Services)
	for s := range cur {
		if !slices.Contains(svcs, s) {
			svcs = append(svcs, s)
		}
	}
	slices.Sort(svcs[len(b.cfg.Services):])
	// Availability leaves announced maintenance out of the measured time.
	pct := func(p Period, m [2]float64) float64 {
		measured := p.Duration().Minutes() - m[1]
		if measured <= 0 {
			return 100
		}
		return round((1-m[0]/measured)*100, 3)
	}
	s := &r.Availability
	for _, svc := range svcs {
		s.Services = append(s.Services, ServiceRow{
			Service:      svc,
			Availability: figure("availability."+svc, UnitPercent, pct(r.Period, cur[svc]), ptr(pct(r.Previous, prev[svc]))),
			Unplanned:    round(cur[svc][0], 1),
			Planned:      round(cur[svc][1], 1),
			Outages:      count[svc],
		})
	}
	s.Outages = rows
	s.Notes = append(s.Notes, b.availabilityNote(s))
	return nil
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

type ticketStats struct {
	opened, resolved, inHours, met float64
	ack, res                       []float64
}

func statsOf(ts []Ticket, p Period) ticketStats {
	var st ticketStats
	for _, t := range ts {
		if p.Contains(t.OpenedAt) {
			st.opened++
			if t.InHours && t.ResponseTarget > 0 {
				st.inHours++
				if !t.ResponseBreached {
					st.met++
				}
			}
			if !t.RespondedAt.IsZero() {
				st.ack = append(st.ack, t.RespondedAt.Sub(t.OpenedAt).Seconds())
			}
		}
		if !t.ResolvedAt.IsZero() && p.Contains(t.ResolvedAt) {
			st.resolved++
			st.res = append(st.res, t.ResolvedAt.Sub(t.OpenedAt).Seconds())
		}
	}
	return st
}

func (b *builder) faults(ctx context.Context) error {
	r := b.r
	cur, err := b.src.Tickets(ctx, r.Period.Start, r.Period.End)
	if err != nil {
		return err
	}
	prev, err := b.src.Tickets(ctx, r.Previous.Start, r.Previous.End)
	if err != nil {
		return err
	}
	cs, ps := statsOf(cur, r.Period), statsOf(prev, r.Previous)
	compliance := func(st ticketStats) *float64 {
		if st.inHours == 0 {
			return nil
		}
		return ptr(round(st.met/st.inHours*100, 1))
	}
	openAt := func(ts []Ticket, end time.Time) float64 {
		var n float64
		for _, t := range ts {
			if t.OpenedAt.Before(end) && (t.ResolvedAt.IsZero() || !t.ResolvedAt.Before(end)) {
				n++
			}
		}
		return n
	}
	s := &r.Faults
	cc := compliance(cs)
	s.Figures = []Figure{
		figure("faults.opened", UnitCount, cs.opened, ptr(ps.opened)),
		figure("faults.resolved", UnitCount, cs.resolved, ptr(ps.resolved)),
		figure("faults.in_hours", UnitCount, cs.inHours, ptr(ps.inHours)),
	}
	if cc != nil {
		s.Figures = append(s.Figures, figure("faults.sla_compliance", UnitPercent, *cc, compliance(ps)))
	}
	s.Figures = append(s.Figures,
		figure("faults.median_ack", UnitSeconds, round(median(cs.ack), 0), nilIfEmpty(ps.ack)),
		figure("faults.median_resolve", UnitSeconds, round(median(cs.res), 0), nilIfEmpty(ps.res)),
		figure("faults.open_at_end", UnitCount, openAt(cur, r.Period.End), ptr(openAt(prev, r.Previous.End))),
	)
	sev := map[string]bool{}
	bySvc := map[string]*SeverityCount{}
	for _, t := range cur {
		if !r.Period.Contains(t.OpenedAt) {
			continue
		}
		sev[t.Severity] = true
		row := bySvc[t.Service]
		if row == nil {
			row = &SeverityCount{Service: t.Service, Counts: map[string]int64{}}
			bySvc[t.Service] = row
		}
		row.Counts[t.Severity]++
		row.Total++
		if t.InHours && t.ResponseTarget > 0 && t.ResponseBreached {
			s.Breaches = append(s.Breaches, t)
		}
	}
	for k := range sev {
		s.Severity = append(s.Severity, k)
	}
	slices.Sort(s.Severity)
	for _, row := range bySvc {
		s.Matrix = append(s.Matrix, *row)
	}
	slices.SortFunc(s.Matrix, func(a, b SeverityCount) int { return cmp.Compare(a.Service, b.Service) })
	for _, t := range cur {
		if t.OpenedAt.Before(r.Period.End) && (t.ResolvedAt.IsZero() || !t.ResolvedAt.Before(r.Period.End)) {
			s.Open = append(s.Open, t)
		}
	}
	byOpened := func(a, b Ticket) int { return cmp.Or(a.OpenedAt.Compare(b.OpenedAt), cmp.Compare(a.ID, b.ID)) }
	slices.SortFunc(s.Breaches, byOpened)
	slices.SortFunc(s.Open, byOpened)
	s.Notes = append(s.Notes, b.faultNotes(s, cs, cc)...)
	return nil
}

func nilIfEmpty(v []float64) *float64 {
	if len(v) == 0 {
		return nil
	}
	return ptr(round(median(v), 0))
}

func (b *builder) inOperatorHours(t time.Time) bool {
	from, to, err := parseHours(b.cfg.OperatorHours)
	if err != nil {
		return false
	}
	lt := t.In(b.loc)
	if wd := lt.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return false
	}
	off := lt.Sub(localDay(lt, b.loc))
	return off >= from && off < to
}

func (b *builder) oncall(ctx context.Context) error {
	r := b.r
	cur, err := b.src.OnCall(ctx, r.Period.Start, r.Period.End)
	if err != nil {
		return err
	}
	prev, err := b.src.OnCall(ctx, r.Previous.Start, r.Previous.End)
	if err != nil {
		return err
	}
	s := &r.OnCall
	shifts := slices.Clone(cur.Shifts)
	if len(shifts) == 0 {
		shifts = weeksOfPages(cur.Pages, r.Period, b.loc)
	}
	slices.SortFunc(shifts, func(a, b Shift) int { return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Member, b.Member)) })
	type pstat struct {
		in, out, acked, total int
		ack                   []float64
	}
	count := func(pages []Page, p Period) pstat {
		var st pstat
		for _, pg := range pages {
			if !p.Contains(pg.At) {
				continue
			}
			st.total++
			if b.inOperatorHours(pg.At) {
				st.in++
			} else {
				st.out++
			}
			if !pg.AckedAt.IsZero() {
				st.acked++
				st.ack = append(st.ack, pg.AckedAt.Sub(pg.At).Seconds())
			}
		}
		return st
	}
	for _, sh := range shifts {
		row := WeekRow{Member: sh.Member, Start: sh.Start.In(b.loc), End: sh.End.In(b.loc)}
		var acks []float64
		for _, pg := range cur.Pages {
			if pg.At.Before(sh.Start) || !pg.At.Before(sh.End) || !r.Period.Contains(pg.At) {
				continue
			}
			row.TotalPages++
			if b.inOperatorHours(pg.At) {
				row.InHours++
			} else {
				row.OutOfHours++
			}
			if pg.AckedAt.IsZero() {
				row.Unacked++
			} else {
				row.AckedPages++
				acks = append(acks, pg.AckedAt.Sub(pg.At).Seconds())
			}
		}
		row.MedianAck = round(median(acks), 0)
		s.Weeks = append(s.Weeks, row)
	}
	cst, pst := count(cur.Pages, r.Period), count(prev.Pages, r.Previous)
	s.Figures = []Figure{
		figure("oncall.pages", UnitCount, float64(cst.total), ptr(float64(pst.total))),
		figure("oncall.pages_in_hours", UnitCount, float64(cst.in), ptr(float64(pst.in))),
		figure("oncall.pages_out_of_hours", UnitCount, float64(cst.out), ptr(float64(pst.out))),
		figure("oncall.median_ack", UnitSeconds, round(median(cst.ack), 0), nilIfEmpty(pst.ack)),
	}
	s.Notes = append(s.Notes, b.oncallNote(s, cst.total, cst.out))
	return nil
}

// weeksOfPages stands in for the rota when the source has no shifts: one
// row per member paged in a week (Monday to Monday), clipped to p.
func weeksOfPages(pages []Page, p Period, loc *time.Location) []Shift {
	seen := map[Shift]bool{}
	var out []Shift
	for _, pg := range pages {
		d := localDay(pg.At, loc)
		monday := d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
		s := Shift{Member: pg.Member, Start: monday, End: monday.AddDate(0, 0, 7)}
		if s.Start.Before(p.Start) {
			s.Start = p.Start
		}
		if s.End.After(p.End) {
			s.End = p.End
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func (b *builder) topDomains(ctx context.Context) error {
	if b.cfg.TopDomains <= 0 {
		return nil
	}
	snd, rcv, err := b.src.TopDomains(ctx, b.r.Period.Start, b.r.Period.End, b.cfg.TopDomains)
	if err != nil {
		return err
	}
	b.r.TopDomains = &TopDomainsSection{Senders: snd, Recipients: rcv}
	return nil
}

// FigureByKey returns the figure with key from any section, for tests and
// templates.
func (r *Report) FigureByKey(key string) (Figure, bool) {
	for _, f := range r.AllFigures() {
		if f.Key == key {
			return f, true
		}
	}
	return Figure{}, false
}

// AllFigures lists every figure of the report in section order.
func (r *Report) AllFigures() []Figure {
	var out []Figure
	out = append(out, r.Registrations.Figures...)
	out = append(out, r.Mail.Figures...)
	out = append(out, r.Scan.Figures...)
	for _, m := range r.Scan.Matrix {
		out = append(out, m.Count)
	}
	out = append(out, r.Logins.Figures...)
	for _, p := range r.Logins.Protocols {
		out = append(out, p.OK, p.Failed)
	}
	out = append(out, r.Traffic.Figures...)
	for _, s := range r.Availability.Services {
		out = append(out, s.Availability)
	}
	out = append(out, r.Faults.Figures...)
	out = append(out, r.OnCall.Figures...)
	return out
}

// JSON returns the model as indented JSON: the archived form and the
// golden-file form.
func (r *Report) JSON() ([]byte, error) { return json.MarshalIndent(r, "", "  ") }

// ReportFromJSON reads a model written by JSON; instants are put back in
// loc (JSON keeps only their offsets).
func ReportFromJSON(data []byte, loc *time.Location) (*Report, error) {
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	if loc != nil {
		for _, t := range []*time.Time{&r.Period.Start, &r.Period.End, &r.Previous.Start, &r.Previous.End, &r.GeneratedAt} {
			*t = t.In(loc)
		}
	}
	return &r, nil
}
