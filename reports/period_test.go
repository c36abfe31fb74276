package reports_test

import (
	"errors"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/config/validate"
	"github.com/uni-mail/postvakt/reports"
	"github.com/uni-mail/postvakt/reports/reportstest"
)

func TestPeriods(t *testing.T) {
	t.Parallel()
	loc := reportstest.Oslo()
	d := func(y int, m time.Month, day, h int) time.Time { return time.Date(y, m, day, h, 0, 0, 0, loc) }
	cases := []struct {
		label      string
		startDay   int
		start, end time.Time
		prevStart  time.Time
		days       int
	}{
		{"2026-10", 1, d(2026, 10, 1, 0), d(2026, 11, 1, 0), d(2026, 9, 1, 0), 31},
		{"2026-02", 1, d(2026, 2, 1, 0), d(2026, 3, 1, 0), d(2026, 1, 1, 0), 28},
		{"2026-01", 1, d(2026, 1, 1, 0), d(2026, 2, 1, 0), d(2025, 12, 1, 0), 31},
		// 21st to 20th, labelled by the month in which the period ends.
		{"2026-10", 21, d(2026, 9, 21, 0), d(2026, 10, 21, 0), d(2026, 8, 21, 0), 30},
		{"2026-01", 21, d(2025, 12, 21, 0), d(2026, 1, 21, 0), d(2025, 11, 21, 0), 31},
		{"2026-03", 28, d(2026, 2, 28, 0), d(2026, 3, 28, 0), d(2026, 1, 28, 0), 28},
	}
	for _, c := range cases {
		p, err := reports.ParsePeriod(c.label, c.startDay, loc)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Start.Equal(c.start) || !p.End.Equal(c.end) {
			t.Errorf("%s/%d = [%s, %s), want [%s, %s)", c.label, c.startDay, p.Start, p.End, c.start, c.end)
		}
		if prev := p.Previous(c.startDay); !prev.Start.Equal(c.prevStart) || !prev.End.Equal(p.Start) {
			t.Errorf("%s/%d previous = [%s, %s)", c.label, c.startDay, prev.Start, prev.End)
		}
		if n := len(p.Days()); n != c.days {
			t.Errorf("%s/%d has %d days, want %d", c.label, c.startDay, n, c.days)
		}
	}
	if _, err := reports.ParsePeriod("2026-13", 1, loc); !errors.Is(err, reports.ErrBadPeriod) {
		t.Errorf("bad label: %v", err)
	}
	// October 2026 in Oslo: 25 October has 25 hours.
	p, _ := reports.ParsePeriod("2026-10", 1, loc)
	if p.Duration() != 745*time.Hour {
		t.Errorf("October 2026 lasts %v", p.Duration())
	}
}

func TestLastCompleted(t *testing.T) {
	t.Parallel()
	loc := reportstest.Oslo()
	for _, c := range []struct {
		at       time.Time
		startDay int
		want     string
	}{
		{time.Date(2026, 11, 1, 7, 0, 0, 0, loc), 1, "2026-10"},
		{time.Date(2026, 11, 1, 0, 0, 0, 0, loc), 1, "2026-10"},
		{time.Date(2026, 10, 31, 23, 59, 0, 0, loc), 1, "2026-09"},
		{time.Date(2026, 1, 1, 7, 0, 0, 0, loc), 1, "2025-12"},
		{time.Date(2026, 10, 21, 7, 0, 0, 0, loc), 21, "2026-10"},
		{time.Date(2026, 10, 20, 7, 0, 0, 0, loc), 21, "2026-09"},
		// An instant in UTC that is already 1 November in Oslo.
		{time.Date(2026, 10, 31, 23, 30, 0, 0, time.UTC), 1, "2026-10"},
	} {
		if got := reports.LastCompleted(c.at, c.startDay, loc).Label; got != c.want {
			t.Errorf("LastCompleted(%s, %d) = %s, want %s", c.at, c.startDay, got, c.want)
		}
	}
}

func TestOutliers(t *testing.T) {
	t.Parallel()
	loc := reportstest.Oslo()
	var days []time.Time
	var vals []float64
	for i := range 28 {
		d := time.Date(2026, 2, 1+i, 0, 0, 0, 0, loc)
		v := 1000.0 + float64(i%3)*10
		if d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
			v = 400 + float64(i%2)*5
		}
		days, vals = append(days, d), append(vals, v)
	}
	if got := reports.Outliers(days, vals, 3); len(got) != 0 {
		t.Fatalf("regular weekdays and weekends flagged: %+v", got)
	}
	vals[10] = 2500 // Wed 11 Feb
	vals[14] = 150  // Sun 15 Feb
	got := reports.Outliers(days, vals, 3)
	if len(got) != 2 || !got[0].Day.Equal(days[10]) || !got[1].Day.Equal(days[14]) || !got[1].Weekend {
		t.Fatalf("outliers %+v", got)
	}
	if dev := got[0].Deviation(); dev < 140 || dev > 160 {
		t.Errorf("deviation %v", dev)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := reports.DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	cfg := reports.DefaultConfig()
	cfg.StartDay = 31
	cfg.Language = "de"
	cfg.OperatorHours = "20:00-08:00"
	cfg.Mail.To = "not an address"
	err := cfg.Validate()
	for _, key := range []string{"start_day", "language", "operator_hours", "mail.to"} {
		found := false
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			var fe *validate.Error
			if errors.As(e, &fe) && fe.Key == key {
				found = true
			}
		}
		if !found {
			t.Errorf("no error for %s in %v", key, err)
		}
	}
}
