package reports

import (
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
// Values are exact (counts, bytes, seconds, per cent as computed); they are
// rounded only for display, so that every table, chart, sentence and CSV
// column that shows a figure shows the same number (docs/reports.md,
// "Definitions").
type Figure struct {
	Key      string   `json:"key"`
	Unit     string   `json:"unit"` // count, bytes, percent, seconds
	Current  float64  `json:"current"`
	Previous *float64 `json:"previous"`   // nil when the previous period's value is not known
	Change   *float64 `json:"change_pct"` // (current − previous) / |previous| × 100; nil when not defined
	// Missing says why Current is not known (a reason, Reason…); then
	// Current is 0 and is never shown: the report shows "–" and the
	// reason.
	Missing string `json:"missing,omitempty"`
	// PrevMissing says why Previous is nil.
	PrevMissing string `json:"previous_missing,omitempty"`
	// NoChange says why Change is nil while both values are known (the
	// previous value is zero, the period is still running, the data cover
	// only some days).
	NoChange string `json:"no_change,omitempty"`
	// Days and DaysWithData qualify a figure computed from daily logs: the
	// days of the period (to date) and those with data. Both are 0 when
	// every day has data or the figure is no such total.
	Days         int `json:"days,omitempty"`
	DaysWithData int `json:"days_with_data,omitempty"`
}

// Reasons a value is missing or a change is not given. Each has a text
// "reason.<name>" in the catalogues (i18n.go).
const (
	ReasonNoData          = "no_data"           // the source had nothing for the period
	ReasonNoLogs          = "no_logs"           // no log of this kind reached the database for the period
	ReasonNoMailLogs      = "no_mail_logs"      // no MTA (Postfix, engine) log for the period
	ReasonNoFilterLogs    = "no_filter_logs"    // no content-filter (amavis, rspamd) log
	ReasonNoGreylistLogs  = "no_greylist_logs"  // no greylisting decision logged
	ReasonNoDovecotLogs   = "no_dovecot_logs"   // no Dovecot log
	ReasonNoReadCounters  = "no_read_counters"  // Dovecot's logout lines carry no read counters
	ReasonNoWebmailLogs   = "no_webmail_logs"   // no webmail sign-in logged
	ReasonNoWebmailReads  = "no_webmail_reads"  // no IMAP session attributed to webmail (collectors.webmail_networks)
	ReasonNoProbes        = "no_probes"         // no probe has results at all
	ReasonNoServiceProbe  = "no_service_probe"  // no probe measures this service
	ReasonNotMeasured     = "not_measured"      // probes exist but measured none of the period
	ReasonNoSnapshot      = "no_snapshot"       // no directory snapshot
	ReasonNoExtra         = "no_extra"          // the snapshot did not record extra capacity
	ReasonNoCensus        = "no_census"         // the record of mailbox and domain names starts later
	ReasonNoTicketsAcked  = "no_tickets_acked"  // no ticket acknowledged
	ReasonNoTicketsClosed = "no_tickets_closed" // no ticket resolved
	ReasonNoInHours       = "no_in_hours"       // no fault notified in service hours
	ReasonNoPagesAcked    = "no_pages_acked"    // no page acknowledged
	ReasonRunning         = "running"           // the period is still running: totals are not comparable
	ReasonPartial         = "partial"           // data for some days only: totals are not comparable
	ReasonPrevZero        = "prev_zero"         // the previous value is zero
	ReasonPrevNoData      = "prev_no_data"      // no data for the previous period
)

// Units of figures.
const (
	UnitCount   = "count"
	UnitBytes   = "bytes"
	UnitPercent = "percent"
	UnitSeconds = "seconds"
	// UnitPerDay is a mean count per day, shown with one decimal.
	UnitPerDay = "per_day"
)

// figure is a known value with the previous one (nil: not known, reason
// ReasonPrevNoData) and the exact change.
func figure(key, unit string, cur float64, prev *float64) Figure {
	f := Figure{Key: key, Unit: unit, Current: cur, Previous: prev}
	switch {
	case prev == nil:
		f.PrevMissing = ReasonPrevNoData
	case *prev == 0:
		f.NoChange = ReasonPrevZero
	default:
		c := (cur - *prev) / math.Abs(*prev) * 100
		f.Change = &c
	}
	return f
}

// missing is a figure whose value is not known, for reason.
func missing(key, unit, reason string) Figure {
	return Figure{Key: key, Unit: unit, Missing: reason}
}

// withPrevMissing returns f with the previous value unknown for reason.
func (f Figure) withPrevMissing(reason string) Figure {
	f.Previous, f.Change, f.PrevMissing, f.NoChange = nil, nil, reason, ""
	return f
}

// noChange returns f without its change, for reason.
func (f Figure) noChange(reason string) Figure {
	if f.Previous != nil {
		f.Change, f.NoChange = nil, reason
	}
	return f
}

// covering returns f qualified by the days with data: when some days have
// none, the total is marked (Days, DaysWithData) and its change is not
// given.
func (f Figure) covering(days, withData int) Figure {
	if withData < days {
		f.Days, f.DaysWithData = days, withData
	}
	return f
}

// Known reports whether the value is known.
func (f Figure) Known() bool { return f.Missing == "" }

func ptr(v float64) *float64 { return &v }

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}

// Warning is a check the report failed when it was built: figures that
// should agree did not (the mail flow's sum, the rollups against the raw
// logs). The report shows it at the top with the difference, rather than
// totals it cannot vouch for.
type Warning struct {
	Check      string  `json:"check"` // the check's name, e.g. "flow_sum"
	Text       string  `json:"text"`  // in the report's language, with both numbers and the difference
	Difference float64 `json:"difference"`
}

// Tip is one entry of the period's "questions and tips": a question users
// asked, and the answer or tip the team gives.
type Tip struct {
	Question string `json:"question"`
	Answer   string `json:"answer"`
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
	// ToDate is set when the report was built before its period ended:
	// every figure then covers the period up to DataEnd, the build time.
	ToDate  bool      `json:"to_date"`
	DataEnd time.Time `json:"data_end"`
	Comment string    `json:"comment"`
	// Warnings are the checks the figures failed (Warning).
	Warnings []Warning `json:"warnings,omitempty"`
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
	Units         UnitsSection         `json:"units"`
	Tables        *TablesSection       `json:"tables,omitempty"`
	Coverage      CoverageSection      `json:"coverage"`
	Tips          []Tip                `json:"tips"`
	// Missing names the data the Source could not provide (ErrNoData), so
	// the report says so instead of showing zeros as facts.
	Missing []string `json:"missing,omitempty"`
}

// Options configure Build.
type Options struct {
	Config  Config
	Comment string
	// Tips are the period's questions and tips (Archive.Tips).
	Tips []Tip
	Now  func() time.Time
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
	now := opts.Now().In(loc)
	r := &Report{
		Title: cfg.Title, Organisation: cfg.Organisation, Lang: cat.lang,
		Period: p, Previous: prev, GeneratedAt: now, DataEnd: p.End, Comment: opts.Comment, Tips: opts.Tips,
	}
	if r.Tips == nil {
		r.Tips = []Tip{}
	}
	if now.Before(p.End) {
		// A period still running is reported to date: its data, and its
		// outages, end now (docs/reports.md, "A period still running").
		r.ToDate, r.DataEnd = true, now
		if now.Before(p.Start) {
			r.DataEnd = p.Start
		}
	}
	if r.Title == "" {
		r.Title = cat.t("title")
	}
	b := &builder{r: r, src: src, cfg: cfg, cat: cat, loc: loc}
	if err := b.readCoverage(ctx); err != nil {
		return nil, fmt.Errorf("report %s: coverage: %w", p.Label, err)
	}
	for _, s := range sections {
		if err := s.build(b, ctx); err != nil {
			if errors.Is(err, ErrNoData) {
				r.Missing = append(r.Missing, s.id)
			} else {
				return nil, fmt.Errorf("report %s: %s: %w", p.Label, s.id, err)
			}
		}
		progress(s.id)
	}
	b.summary()
	return r, nil
}

// BuildSteps is the number of Progress calls Build makes: one per section.
const BuildSteps = len(sections)

// builder fills a Report: each section's build step is a method of it
// (section_<id>.go).
type builder struct {
	r   *Report
	src Source
	cfg Config
	cat *catalogT
	loc *time.Location
	// cov is the days with data of each coverage group (coverage.go), for
	// the period (0) and the previous one (1).
	cov [2]map[string]map[time.Time]bool
}

// days returns the days of the period up to DataEnd: every day of a
// finished period, the days begun so far of a running one.
func (b *builder) days() []time.Time {
	var out []time.Time
	for _, d := range b.r.Period.Days() {
		if d.Before(b.r.DataEnd) {
			out = append(out, d)
		}
	}
	return out
}

// complete reports whether day d of the period had ended at DataEnd.
func (b *builder) complete(d time.Time) bool {
	next := time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, d.Location())
	return !next.After(b.r.DataEnd)
}

// span is the period's interval the data is read for: [start, DataEnd).
func (b *builder) span() (time.Time, time.Time) { return b.r.Period.Start, b.r.DataEnd }

func series[T any](ds []T, f func(T) int64) []float64 {
	out := make([]float64, len(ds))
	for i, d := range ds {
		out[i] = float64(f(d))
	}
	return out
}

func localDay(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
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

// AllFigures lists every figure of the report in section order: the
// figures the CSV exports.
func (r *Report) AllFigures() []Figure {
	var out []Figure
	for _, s := range r.layout(r.catalog()) {
		for _, b := range s.Blocks {
			for _, rec := range b.Records {
				if rec.isFigure {
					out = append(out, rec.Figure)
				}
			}
		}
	}
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
