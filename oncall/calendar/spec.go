package calendar

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Sentinel errors wrapped by Spec.Validate and New. Test with errors.Is.
var (
	// ErrRequired reports a required field that is empty.
	ErrRequired = errors.New("required")
	// ErrInvalidTime reports a wall-clock time that is not HH:MM in 00:00–24:00.
	ErrInvalidTime = errors.New("invalid time")
	// ErrInvalidDate reports a date that is not YYYY-MM-DD.
	ErrInvalidDate = errors.New("invalid date")
	// ErrInvalidWeekday reports a weekday name or range that is not understood.
	ErrInvalidWeekday = errors.New("invalid weekday")
	// ErrUnknownZone reports a time zone name missing from the IANA database.
	ErrUnknownZone = errors.New("unknown time zone")
	// ErrUnknownCountry reports a holiday country that has no holiday source.
	ErrUnknownCountry = errors.New("unknown holiday country")
	// ErrEmptyInterval reports an opening interval whose end is not after its start.
	ErrEmptyInterval = errors.New("end not after start")
	// ErrNeverOpen reports a calendar without any weekly open time. New refuses
	// such a calendar, so that NextOpen, NextClose and Add always find an answer.
	ErrNeverOpen = errors.New("calendar is never open")
)

// Spec describes a business calendar. It is YAML-friendly: the zero value of
// every optional field means "none", and New turns a valid Spec into a Calendar.
//
// Example (a UK operator-cover calendar, per the message submission SLA:
// operator cover 08:30–20:30 on weekdays):
//
//	name: uk-cover
//	time_zone: Europe/London
//	hours:
//	  - {days: [mon-fri], start: "08:30", end: "20:30"}
//	countries: [gb]
//	half_days:
//	  - {date: "2026-12-24", close: "12:00"}
type Spec struct {
	// Name identifies the calendar in error messages and configuration.
	Name string `yaml:"name"`
	// TimeZone is an IANA zone name such as "Europe/Oslo". Weekly hours,
	// dates and half-day closing times are wall-clock values in this zone.
	TimeZone string `yaml:"time_zone"`
	// Hours lists the weekly opening intervals; a weekday may have several.
	Hours []Hours `yaml:"hours"`
	// Countries names the public-holiday sources: "no", "se", "gb"
	// (England and Wales), "cz" (via github.com/rickar/cal/v2) and "cn"
	// (via github.com/6tail/lunar-go, with official make-up working days).
	Countries []string `yaml:"countries"`
	// HolidayTable adds or replaces official days for single dates, for
	// years the built-in data lacks (lunar-go's Chinese data ends with
	// 2026; copy later State Council notices here). An entry with Work set
	// is a make-up working day ("调休"); otherwise it is a public holiday.
	HolidayTable []TableDay `yaml:"holiday_table"`
	// Closures are local closure days (e.g. a university closure between
	// Christmas and New Year). They win over every other rule.
	Closures []Closure `yaml:"closures"`
	// HalfDays close early on the given dates; they do not open a day
	// that is otherwise closed.
	HalfDays []HalfDay `yaml:"half_days"`
	// ExtraWorkingDays opens dates that would otherwise be closed
	// (weekend or holiday), with the hours of ExtraDayHours.
	ExtraWorkingDays []string `yaml:"extra_working_days"`
	// ExtraDayHours names the weekday whose hours apply on extra working
	// days and make-up working days; empty means "mon".
	ExtraDayHours string `yaml:"extra_day_hours"`
}

// Hours is one weekly opening interval [Start, End) on each of Days.
type Hours struct {
	// Days lists weekdays ("mon", "tuesday") or ranges ("mon-fri").
	Days []string `yaml:"days"`
	// Start is the local opening time, "HH:MM".
	Start string `yaml:"start"`
	// End is the local closing time, "HH:MM"; "24:00" means midnight at
	// the end of the day.
	End string `yaml:"end"`
}

// TableDay is one row of Spec.HolidayTable.
type TableDay struct {
	Date string `yaml:"date"`
	Name string `yaml:"name"`
	Work bool   `yaml:"work"`
}

// Closure is one local closure day.
type Closure struct {
	Date string `yaml:"date"`
	Name string `yaml:"name"`
}

// HalfDay closes the calendar at Close on Date.
type HalfDay struct {
	Date  string `yaml:"date"`
	Close string `yaml:"close"`
}

// Validate reports every problem in s, each naming the field and the bad
// value, e.g. `calendar "uk": hours[1].start "25:00": invalid time`. Each
// problem wraps one of the package's sentinel errors; several are joined
// with errors.Join.
func (s Spec) Validate() error {
	_, err := compile(s)
	return err
}

// weekMinute is a wall-clock time of day in minutes, 0..1440.
type wallClock int

func parseClock(s string) (wallClock, bool) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, false
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, false
	}
	return wallClock(hh*60 + mm), true
}

// ParseClock parses a wall-clock time "HH:MM" (00:00–24:00) and returns
// the hour and minute. It is shared with packages that configure wall
// times, such as the rota's handover time.
func ParseClock(s string) (hour, minute int, err error) {
	c, ok := parseClock(s)
	if !ok {
		return 0, 0, fmt.Errorf("%q: %w", s, ErrInvalidTime)
	}
	return int(c) / 60, int(c) % 60, nil
}

var weekdayNames = [...]string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}

// ParseWeekday parses a weekday name, full ("monday") or three letters
// ("mon"), in any case.
func ParseWeekday(s string) (time.Weekday, error) {
	l := strings.ToLower(strings.TrimSpace(s))
	for i, n := range weekdayNames {
		if l == n || (len(l) == 3 && l == n[:3]) {
			return time.Weekday(i), nil
		}
	}
	return 0, fmt.Errorf("%q: %w", s, ErrInvalidWeekday)
}

func parseDays(s string) ([]time.Weekday, bool) {
	a, b, isRange := strings.Cut(s, "-")
	from, err := ParseWeekday(a)
	if err != nil {
		return nil, false
	}
	if !isRange {
		return []time.Weekday{from}, true
	}
	to, err := ParseWeekday(b)
	if err != nil {
		return nil, false
	}
	var out []time.Weekday
	for d := from; ; d = (d + 1) % 7 {
		out = append(out, d)
		if d == to {
			return out, true
		}
	}
}

// civil is a calendar date without a location.
type civil struct {
	y int
	m time.Month
	d int
}

func civilOf(t time.Time) civil {
	y, m, d := t.Date()
	return civil{y, m, d}
}

func parseDate(s string) (civil, bool) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return civil{}, false
	}
	return civilOf(t), true
}

// addDays returns the civil date n days after c.
func (c civil) addDays(n int) civil {
	return civilOf(time.Date(c.y, c.m, c.d+n, 12, 0, 0, 0, time.UTC))
}

func (c civil) weekday() time.Weekday {
	return time.Date(c.y, c.m, c.d, 12, 0, 0, 0, time.UTC).Weekday()
}

func (c civil) before(o civil) bool {
	if c.y != o.y {
		return c.y < o.y
	}
	if c.m != o.m {
		return c.m < o.m
	}
	return c.d < o.d
}

type span struct{ start, end wallClock }

type compiled struct {
	name      string
	loc       *time.Location
	week      [7][]span
	extraAs   time.Weekday
	countries []holidaySource
	table     map[civil]TableDay
	closures  map[civil]string
	halfDays  map[civil]wallClock
	extra     map[civil]bool
}

func compile(s Spec) (*compiled, error) {
	c := &compiled{
		name:     s.Name,
		table:    map[civil]TableDay{},
		closures: map[civil]string{},
		halfDays: map[civil]wallClock{},
		extra:    map[civil]bool{},
		extraAs:  time.Monday,
	}
	var errs []error
	bad := func(field, value string, err error) {
		errs = append(errs, fmt.Errorf("calendar %q: %s %q: %w", s.Name, field, value, err))
	}
	if s.Name == "" {
		bad("name", s.Name, ErrRequired)
	}
	if s.TimeZone == "" {
		bad("time_zone", s.TimeZone, ErrRequired)
	} else if loc, err := time.LoadLocation(s.TimeZone); err != nil {
		bad("time_zone", s.TimeZone, ErrUnknownZone)
	} else {
		c.loc = loc
	}
	for i, h := range s.Hours {
		if len(h.Days) == 0 {
			bad(fmt.Sprintf("hours[%d].days", i), "", ErrRequired)
		}
		var days []time.Weekday
		for j, d := range h.Days {
			ds, ok := parseDays(d)
			if !ok {
				bad(fmt.Sprintf("hours[%d].days[%d]", i, j), d, ErrInvalidWeekday)
			}
			days = append(days, ds...)
		}
		start, ok1 := parseClock(h.Start)
		if !ok1 {
			bad(fmt.Sprintf("hours[%d].start", i), h.Start, ErrInvalidTime)
		}
		end, ok2 := parseClock(h.End)
		if !ok2 {
			bad(fmt.Sprintf("hours[%d].end", i), h.End, ErrInvalidTime)
		}
		if ok1 && ok2 && end <= start {
			bad(fmt.Sprintf("hours[%d].end", i), h.End, ErrEmptyInterval)
			continue
		}
		for _, d := range days {
			c.week[d] = append(c.week[d], span{start, end})
		}
	}
	for d := range c.week {
		c.week[d] = mergeSpans(c.week[d])
	}
	seen := map[string]bool{}
	for i, cc := range s.Countries {
		src, ok := countrySource(strings.ToLower(cc))
		if !ok {
			bad(fmt.Sprintf("countries[%d]", i), cc, ErrUnknownCountry)
			continue
		}
		if !seen[strings.ToLower(cc)] {
			seen[strings.ToLower(cc)] = true
			c.countries = append(c.countries, src)
		}
	}
	for i, td := range s.HolidayTable {
		d, ok := parseDate(td.Date)
		if !ok {
			bad(fmt.Sprintf("holiday_table[%d].date", i), td.Date, ErrInvalidDate)
			continue
		}
		c.table[d] = td
	}
	for i, cl := range s.Closures {
		d, ok := parseDate(cl.Date)
		if !ok {
			bad(fmt.Sprintf("closures[%d].date", i), cl.Date, ErrInvalidDate)
			continue
		}
		name := cl.Name
		if name == "" {
			name = "closed"
		}
		c.closures[d] = name
	}
	for i, hd := range s.HalfDays {
		d, ok := parseDate(hd.Date)
		if !ok {
			bad(fmt.Sprintf("half_days[%d].date", i), hd.Date, ErrInvalidDate)
		}
		cl, okc := parseClock(hd.Close)
		if !okc {
			bad(fmt.Sprintf("half_days[%d].close", i), hd.Close, ErrInvalidTime)
		}
		if ok && okc {
			c.halfDays[d] = cl
		}
	}
	for i, e := range s.ExtraWorkingDays {
		d, ok := parseDate(e)
		if !ok {
			bad(fmt.Sprintf("extra_working_days[%d]", i), e, ErrInvalidDate)
			continue
		}
		c.extra[d] = true
	}
	if s.ExtraDayHours != "" {
		wd, err := ParseWeekday(s.ExtraDayHours)
		if err != nil {
			bad("extra_day_hours", s.ExtraDayHours, ErrInvalidWeekday)
		} else {
			c.extraAs = wd
		}
	}
	if len(errs) == 0 {
		open := false
		for _, w := range c.week {
			open = open || len(w) > 0
		}
		if !open {
			bad("hours", fmt.Sprint(len(s.Hours), " intervals"), ErrNeverOpen)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// mergeSpans sorts spans and merges overlapping or touching ones.
func mergeSpans(in []span) []span {
	if len(in) == 0 {
		return nil
	}
	s := append([]span(nil), in...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].start < s[j-1].start; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	out := []span{s[0]}
	for _, x := range s[1:] {
		last := &out[len(out)-1]
		if x.start <= last.end {
			last.end = max(last.end, x.end)
			continue
		}
		out = append(out, x)
	}
	return out
}
