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
}

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

func nilIfEmpty(v []float64) *float64 {
	if len(v) == 0 {
		return nil
	}
	return ptr(round(median(v), 0))
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
