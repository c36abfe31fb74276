package calendar

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func mustNew(t *testing.T, s Spec) *Calendar {
	t.Helper()
	c, err := New(s)
	if err != nil {
		t.Fatalf("New(%q): %v", s.Name, err)
	}
	return c
}

func mustLoad(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// at parses "2006-01-02 15:04" in loc.
func at(t *testing.T, loc *time.Location, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func ukSpec() Spec {
	return Spec{
		Name:      "uk",
		TimeZone:  "Europe/London",
		Hours:     []Hours{{Days: []string{"mon-fri"}, Start: "09:00", End: "17:00"}},
		Countries: []string{"gb"},
	}
}

func osloSpec() Spec {
	return Spec{
		Name:      "oslo",
		TimeZone:  "Europe/Oslo",
		Hours:     []Hours{{Days: []string{"mon-fri"}, Start: "09:00", End: "17:00"}},
		Countries: []string{"no"},
		HalfDays:  []HalfDay{{Date: "2026-12-24", Close: "12:00"}},
	}
}

func TestAdd(t *testing.T) {
	t.Parallel()
	uk := mustNew(t, ukSpec())
	lon := uk.Location()
	split := ukSpec()
	split.Hours = []Hours{{Days: []string{"mon-fri"}, Start: "08:30", End: "12:00"}, {Days: []string{"mon-fri"}, Start: "13:00", End: "17:00"}}
	sp := mustNew(t, split)
	oslo := mustNew(t, osloSpec())
	osl := oslo.Location()

	cases := []struct {
		name string
		cal  *Calendar
		from time.Time
		d    time.Duration
		want time.Time
	}{
		{"tuesday within hours", uk, at(t, lon, "2026-01-06 10:00"), time.Hour, at(t, lon, "2026-01-06 11:00")},
		{"friday over weekend", uk, at(t, lon, "2026-01-09 16:30"), time.Hour, at(t, lon, "2026-01-12 09:30")},
		{"ends exactly at close", uk, at(t, lon, "2026-01-09 16:00"), time.Hour, at(t, lon, "2026-01-09 17:00")},
		{"saturday start counts from monday", uk, at(t, lon, "2026-01-10 10:00"), 30 * time.Minute, at(t, lon, "2026-01-12 09:30")},
		{"zero outside hours is next open", uk, at(t, lon, "2026-01-10 10:00"), 0, at(t, lon, "2026-01-12 09:00")},
		{"zero inside hours is t", uk, at(t, lon, "2026-01-06 10:17"), 0, at(t, lon, "2026-01-06 10:17")},
		{"negative counts as zero", uk, at(t, lon, "2026-01-06 10:17"), -time.Hour, at(t, lon, "2026-01-06 10:17")},
		{"before opening", uk, at(t, lon, "2026-01-06 07:00"), 2 * time.Hour, at(t, lon, "2026-01-06 11:00")},
		{"several days", uk, at(t, lon, "2026-01-06 10:00"), 20 * time.Hour, at(t, lon, "2026-01-08 14:00")},
		{"over Easter (Good Friday, Easter Monday)", uk, at(t, lon, "2026-04-02 16:30"), time.Hour, at(t, lon, "2026-04-07 09:30")},
		{"over London DST start", uk, at(t, lon, "2026-03-27 16:30"), time.Hour, at(t, lon, "2026-03-30 09:30")},
		{"over London DST end", uk, at(t, lon, "2026-10-23 16:30"), time.Hour, at(t, lon, "2026-10-26 09:30")},
		{"over Christmas with substitute Boxing Day", uk, at(t, lon, "2026-12-24 16:30"), time.Hour, at(t, lon, "2026-12-29 09:30")},
		{"over year end", uk, at(t, lon, "2026-12-31 16:30"), time.Hour, at(t, lon, "2027-01-04 09:30")},
		{"lunch break", sp, at(t, lon, "2026-01-06 11:30"), time.Hour, at(t, lon, "2026-01-06 13:30")},
		{"start in lunch break", sp, at(t, lon, "2026-01-06 12:15"), time.Hour, at(t, lon, "2026-01-06 14:00")},
		{"half day 24 Dec", oslo, at(t, osl, "2026-12-24 11:30"), time.Hour, at(t, osl, "2026-12-28 09:30")},
		{"Oslo over DST start", oslo, at(t, osl, "2026-03-27 16:00"), 2 * time.Hour, at(t, osl, "2026-03-30 10:00")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.cal.Add(tc.from, tc.d); !got.Equal(tc.want) {
				t.Errorf("Add(%v, %v) = %v, want %v", tc.from, tc.d, got, tc.want)
			}
		})
	}
}

func TestNextOpenNextClose(t *testing.T) {
	t.Parallel()
	uk := mustNew(t, ukSpec())
	lon := uk.Location()
	always := mustNew(t, Spec{Name: "always", TimeZone: "Europe/Oslo", Hours: []Hours{{Days: []string{"mon-sun"}, Start: "00:00", End: "24:00"}}})
	nights := mustNew(t, Spec{Name: "nights", TimeZone: "Europe/London", Hours: []Hours{
		{Days: []string{"mon-fri"}, Start: "17:00", End: "24:00"},
		{Days: []string{"tue-sat"}, Start: "00:00", End: "08:00"},
	}})

	cases := []struct {
		name      string
		cal       *Calendar
		t         time.Time
		open      bool
		nextOpen  time.Time
		nextClose time.Time
	}{
		{"saturday", uk, at(t, lon, "2026-01-10 12:00"), false, at(t, lon, "2026-01-12 09:00"), at(t, lon, "2026-01-12 17:00")},
		{"open", uk, at(t, lon, "2026-01-12 10:00"), true, at(t, lon, "2026-01-12 10:00"), at(t, lon, "2026-01-12 17:00")},
		{"opening instant", uk, at(t, lon, "2026-01-12 09:00"), true, at(t, lon, "2026-01-12 09:00"), at(t, lon, "2026-01-12 17:00")},
		{"closing instant is closed", uk, at(t, lon, "2026-01-12 17:00"), false, at(t, lon, "2026-01-13 09:00"), at(t, lon, "2026-01-13 17:00")},
		{"Christmas Day", uk, at(t, lon, "2026-12-25 10:00"), false, at(t, lon, "2026-12-29 09:00"), at(t, lon, "2026-12-29 17:00")},
		{"overnight cover merges at midnight", nights, at(t, lon, "2026-01-12 18:00"), true, at(t, lon, "2026-01-12 18:00"), at(t, lon, "2026-01-13 08:00")},
		{"24/7 never closes", always, at(t, lon, "2026-01-12 18:00"), true, at(t, lon, "2026-01-12 18:00"), Never()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.cal.IsOpen(tc.t); got != tc.open {
				t.Errorf("IsOpen(%v) = %v, want %v", tc.t, got, tc.open)
			}
			if got := tc.cal.NextOpen(tc.t); !got.Equal(tc.nextOpen) {
				t.Errorf("NextOpen(%v) = %v, want %v", tc.t, got, tc.nextOpen)
			}
			if got := tc.cal.NextClose(tc.t); !got.Equal(tc.nextClose) {
				t.Errorf("NextClose(%v) = %v, want %v", tc.t, got, tc.nextClose)
			}
		})
	}
}

func TestWorkingDaysAndHolidays(t *testing.T) {
	t.Parallel()
	spec := func(name, zone, country string) Spec {
		return Spec{
			Name: name, TimeZone: zone, Countries: []string{country},
			Hours: []Hours{{Days: []string{"mon-fri"}, Start: "09:00", End: "17:00"}},
		}
	}
	no := mustNew(t, spec("no", "Europe/Oslo", "no"))
	se := mustNew(t, spec("se", "Europe/Stockholm", "se"))
	gb := mustNew(t, spec("gb", "Europe/London", "gb"))
	cz := mustNew(t, spec("cz", "Europe/Prague", "cz"))
	cn := mustNew(t, spec("cn", "Asia/Shanghai", "cn"))
	cnTable := spec("cn-2027", "Asia/Shanghai", "cn")
	cnTable.HolidayTable = []TableDay{
		{Date: "2027-02-06", Name: "春节", Work: true},
		{Date: "2027-02-08", Name: "春节"},
	}
	cn27 := mustNew(t, cnTable)
	local := spec("local", "Europe/Oslo", "no")
	local.Closures = []Closure{{Date: "2026-12-30", Name: "Christmas closure"}}
	local.ExtraWorkingDays = []string{"2026-05-17"}
	loc := mustNew(t, local)

	cases := []struct {
		name    string
		cal     *Calendar
		date    string
		working bool
		holiday string // "" means no holiday
	}{
		{"no constitution day 2026 (Sunday)", no, "2026-05-17", false, "Grunnlovsdag"},
		{"no constitution day 2027 (Monday)", no, "2027-05-17", false, "Grunnlovsdag"},
		{"no Easter Monday", no, "2026-04-06", false, "Andre påskedag"},
		{"no Maundy Thursday", no, "2026-04-02", false, "Skjærtorsdag"},
		{"no ordinary Tuesday", no, "2026-04-07", true, ""},
		{"no Saturday is not a holiday", no, "2026-04-11", false, ""},
		{"se Easter Monday", se, "2026-04-06", false, "Annandag påsk"},
		{"se midsummer eve", se, "2026-06-19", false, "Midsommarafton"},
		{"gb Christmas Day", gb, "2026-12-25", false, "Christmas Day"},
		{"gb substitute Boxing Day", gb, "2026-12-28", false, "Boxing Day"},
		{"gb Easter Monday", gb, "2026-04-06", false, "Easter Monday"},
		{"gb 17 May is ordinary", gb, "2027-05-17", true, ""},
		{"cz independence day", cz, "2026-10-28", false, "Den vzniku samostatného československého státu"},
		{"cz 27 Oct is ordinary", cz, "2026-10-27", true, ""},
		{"cn Spring Festival Monday", cn, "2026-02-16", false, "春节"},
		{"cn Spring Festival Tuesday", cn, "2026-02-17", false, "春节"},
		{"cn Spring Festival last day", cn, "2026-02-23", false, "春节"},
		{"cn make-up Saturday before", cn, "2026-02-14", true, ""},
		{"cn make-up Saturday after", cn, "2026-02-28", true, ""},
		{"cn ordinary Saturday", cn, "2026-02-07", false, ""},
		{"cn National Day", cn, "2026-10-01", false, "国庆节"},
		// 2027 as lunar-go v1.4.7 carries the State Council's notice:
		// Spring Festival 5–13 February, make-up working days on
		// Sunday 31 January and Sunday 14 February.
		{"cn Spring Festival 2027 eve", cn, "2027-02-05", false, "春节"},
		{"cn Spring Festival 2027 day", cn, "2027-02-06", false, "春节"},
		{"cn Spring Festival 2027 Monday", cn, "2027-02-08", false, "春节"},
		{"cn Spring Festival 2027 last day", cn, "2027-02-13", false, "春节"},
		{"cn make-up Sunday 2027 before", cn, "2027-01-31", true, ""},
		{"cn make-up Sunday 2027 after", cn, "2027-02-14", true, ""},
		{"cn ordinary Monday after 2027", cn, "2027-02-15", true, ""},
		{"cn National Day 2027", cn, "2027-10-01", false, "国庆节"},
		{"cn table make-up Saturday 2027", cn27, "2027-02-06", true, ""},
		{"cn table holiday 2027", cn27, "2027-02-08", false, "春节"},
		{"closure", loc, "2026-12-30", false, "Christmas closure"},
		{"extra working day beats holiday", loc, "2026-05-17", true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, err := time.Parse(time.DateOnly, tc.date)
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.cal.IsWorkingDay(d); got != tc.working {
				t.Errorf("IsWorkingDay(%s) = %v, want %v", tc.date, got, tc.working)
			}
			name, ok := tc.cal.Holiday(d)
			if ok != (tc.holiday != "") || name != tc.holiday {
				t.Errorf("Holiday(%s) = %q, %v; want %q", tc.date, name, ok, tc.holiday)
			}
		})
	}
}

func TestMakeUpDayHours(t *testing.T) {
	t.Parallel()
	cn := mustNew(t, Spec{
		Name: "cn", TimeZone: "Asia/Shanghai", Countries: []string{"cn"},
		Hours: []Hours{{Days: []string{"mon-fri"}, Start: "08:30", End: "17:30"}},
	})
	sh := cn.Location()
	// Saturday 2026-02-14 is a make-up working day with Monday's hours.
	got := cn.Intervals(at(t, sh, "2026-02-14 00:00"), at(t, sh, "2026-02-15 00:00"))
	want := []Interval{{at(t, sh, "2026-02-14 08:30"), at(t, sh, "2026-02-14 17:30")}}
	if len(got) != 1 || !got[0].Start.Equal(want[0].Start) || !got[0].End.Equal(want[0].End) {
		t.Errorf("Intervals = %v, want %v", got, want)
	}
	// Friday 13 Feb 17:00 + 1h reaches into the make-up Saturday; the
	// Spring Festival (16–23 Feb) follows, with work again on Tue 24 Feb.
	if got, want := cn.Add(at(t, sh, "2026-02-13 17:00"), time.Hour), at(t, sh, "2026-02-14 09:00"); !got.Equal(want) {
		t.Errorf("Add = %v, want %v", got, want)
	}
	if got, want := cn.Add(at(t, sh, "2026-02-14 17:00"), time.Hour), at(t, sh, "2026-02-24 09:00"); !got.Equal(want) {
		t.Errorf("Add over Spring Festival = %v, want %v", got, want)
	}
}

func TestHalfDay(t *testing.T) {
	t.Parallel()
	c := mustNew(t, osloSpec())
	osl := c.Location()
	if !c.IsOpen(at(t, osl, "2026-12-24 11:59")) {
		t.Error("24 Dec 11:59 should be open")
	}
	if c.IsOpen(at(t, osl, "2026-12-24 12:00")) {
		t.Error("24 Dec 12:00 should be closed")
	}
	if got, want := c.NextClose(at(t, osl, "2026-12-24 10:00")), at(t, osl, "2026-12-24 12:00"); !got.Equal(want) {
		t.Errorf("NextClose = %v, want %v", got, want)
	}
	if got := c.Between(at(t, osl, "2026-12-24 00:00"), at(t, osl, "2026-12-25 00:00")); got != 3*time.Hour {
		t.Errorf("Between on half day = %v, want 3h", got)
	}
	if !c.IsWorkingDay(at(t, osl, "2026-12-24 00:00")) {
		t.Error("a half day is a working day")
	}
}

func TestBetweenAcrossDST(t *testing.T) {
	t.Parallel()
	sundays := mustNew(t, Spec{Name: "sundays", TimeZone: "Europe/Oslo", Hours: []Hours{{Days: []string{"sun"}, Start: "00:00", End: "24:00"}}})
	osl := sundays.Location()
	uk := mustNew(t, ukSpec())
	lon := uk.Location()
	cases := []struct {
		name string
		cal  *Calendar
		a, b time.Time
		want time.Duration
	}{
		{"23-hour Sunday", sundays, at(t, osl, "2026-03-28 00:00"), at(t, osl, "2026-03-30 00:00"), 23 * time.Hour},
		{"25-hour Sunday", sundays, at(t, osl, "2026-10-24 00:00"), at(t, osl, "2026-10-26 00:00"), 25 * time.Hour},
		{"partial 23-hour Sunday", sundays, at(t, osl, "2026-03-29 01:30"), at(t, osl, "2026-03-29 03:30"), time.Hour},
		{"partial 25-hour Sunday", sundays, time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), time.Date(2026, 10, 25, 2, 30, 0, 0, time.UTC), 2 * time.Hour},
		{"London week across DST start", uk, at(t, lon, "2026-03-27 09:00"), at(t, lon, "2026-03-30 17:00"), 16 * time.Hour},
		{"London week across DST end", uk, at(t, lon, "2026-10-19 00:00"), at(t, lon, "2026-10-26 12:00"), 43 * time.Hour},
		{"reversed is zero", uk, at(t, lon, "2026-01-07 12:00"), at(t, lon, "2026-01-06 12:00"), 0},
		{"year end", uk, at(t, lon, "2026-12-31 00:00"), at(t, lon, "2027-01-05 00:00"), 16 * time.Hour},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.cal.Between(tc.a, tc.b); got != tc.want {
				t.Errorf("Between(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
		})
	}
}

func TestWallTimeInGap(t *testing.T) {
	t.Parallel()
	// An opening at 02:30 on the night the clocks skip 02:00–03:00 opens
	// when the wall clock first shows a later time: 03:00 CEST.
	c := mustNew(t, Spec{Name: "gap", TimeZone: "Europe/Oslo", Hours: []Hours{{Days: []string{"sun"}, Start: "02:30", End: "04:00"}}})
	got := c.Intervals(time.Date(2026, 3, 28, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 30, 0, 0, 0, 0, time.UTC))
	if len(got) != 1 || !got[0].Start.Equal(time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC)) || got[0].Duration() != time.Hour {
		t.Errorf("Intervals = %v, want one hour from 01:00Z", got)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		mutate   func(*Spec)
		sentinel error
		text     string
	}{
		{"bad start", func(s *Spec) {
			s.Hours = append(s.Hours, Hours{Days: []string{"sat"}, Start: "25:00", End: "26:00"})
		}, ErrInvalidTime, `calendar "uk": hours[1].start "25:00": invalid time`},
		{"bad weekday", func(s *Spec) { s.Hours[0].Days = []string{"mon-fry"} }, ErrInvalidWeekday, `calendar "uk": hours[0].days[0] "mon-fry": invalid weekday`},
		{"empty interval", func(s *Spec) { s.Hours[0].End = "09:00" }, ErrEmptyInterval, `calendar "uk": hours[0].end "09:00": end not after start`},
		{"bad zone", func(s *Spec) { s.TimeZone = "Europe/Londn" }, ErrUnknownZone, `calendar "uk": time_zone "Europe/Londn": unknown time zone`},
		{"missing zone", func(s *Spec) { s.TimeZone = "" }, ErrRequired, `calendar "uk": time_zone "": required`},
		{"bad country", func(s *Spec) { s.Countries = []string{"gb", "xx"} }, ErrUnknownCountry, `calendar "uk": countries[1] "xx": unknown holiday country`},
		{"bad closure", func(s *Spec) { s.Closures = []Closure{{Date: "2026-02-30"}} }, ErrInvalidDate, `calendar "uk": closures[0].date "2026-02-30": invalid date`},
		{"bad half day", func(s *Spec) { s.HalfDays = []HalfDay{{Date: "2026-12-24", Close: "noon"}} }, ErrInvalidTime, `calendar "uk": half_days[0].close "noon": invalid time`},
		{"bad extra day", func(s *Spec) { s.ExtraWorkingDays = []string{"24.12.2026"} }, ErrInvalidDate, `calendar "uk": extra_working_days[0] "24.12.2026": invalid date`},
		{"bad table", func(s *Spec) { s.HolidayTable = []TableDay{{Date: "2027"}} }, ErrInvalidDate, `calendar "uk": holiday_table[0].date "2027": invalid date`},
		{"never open", func(s *Spec) { s.Hours = nil }, ErrNeverOpen, `calendar "uk": hours "0 intervals": calendar is never open`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := ukSpec()
			tc.mutate(&s)
			err := s.Validate()
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("Validate() = %v, want wrapping %v", err, tc.sentinel)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("Validate() = %q, want it to contain %q", err, tc.text)
			}
			if _, err := New(s); !errors.Is(err, tc.sentinel) {
				t.Errorf("New() = %v, want wrapping %v", err, tc.sentinel)
			}
		})
	}
	if err := ukSpec().Validate(); err != nil {
		t.Errorf("valid spec: %v", err)
	}
}
