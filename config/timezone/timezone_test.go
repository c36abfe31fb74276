package timezone

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func oslo(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	return loc
}

func TestParse(t *testing.T) {
	t.Parallel()
	loc := oslo(t)
	now := time.Date(2026, 12, 4, 14, 45, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Time
	}{
		{"2026-12-14T06:00:00+01:00", time.Date(2026, 12, 14, 5, 0, 0, 0, time.UTC)},
		{"2026-12-14T05:00:00Z", time.Date(2026, 12, 14, 5, 0, 0, 0, time.UTC)},
		{"2026-12-14T06:00+01:00", time.Date(2026, 12, 14, 5, 0, 0, 0, time.UTC)},
		{"2026-12-14 06:00", time.Date(2026, 12, 14, 5, 0, 0, 0, time.UTC)},
		{" 2026-12-14T06:00 ", time.Date(2026, 12, 14, 5, 0, 0, 0, time.UTC)},
		{"2026-07-01 08:15:30", time.Date(2026, 7, 1, 6, 15, 30, 0, time.UTC)},
		{"2026-12-14", time.Date(2026, 12, 13, 23, 0, 0, 0, time.UTC)},
		{"now", now},
		{"NOW", now},
		{"+2h", now.Add(2 * time.Hour)},
		{"-30m", now.Add(-30 * time.Minute)},
		{"+1d", now.Add(24 * time.Hour)},
		{"-2w", now.Add(-14 * 24 * time.Hour)},
		{"24h", now.Add(-24 * time.Hour)},
		{"3d", now.Add(-72 * time.Hour)},
		{"", time.Time{}},
	} {
		got, err := Parse(c.in, now, loc)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("Parse(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"tomorrow", "+", "+2x", "2026-13-01", "2026-12-14 25:00", "-1-2", "--2h", "d"} {
		if got, err := Parse(bad, now, loc); err == nil || !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = %v, %v; want ErrSyntax", bad, got, err)
		}
	}
}

// TestParseDST checks the wall times around Europe/Oslo's changes of
// 2026: clocks forward 29 March 02:00 CET → 03:00 CEST, back 25 October
// 03:00 CEST → 02:00 CET.
func TestParseDST(t *testing.T) {
	t.Parallel()
	loc := oslo(t)
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, in := range []string{"2026-03-29 02:00", "2026-03-29 02:30", "2026-03-29 02:59"} {
		_, err := Parse(in, now, loc)
		if err == nil || !strings.Contains(err.Error(), "does not exist in Europe/Oslo") ||
			!strings.Contains(err.Error(), "from 02:00 CET to 03:00 CEST") {
			t.Errorf("Parse(%q): %v; want a skipped-hour error", in, err)
		}
	}
	for _, c := range []struct {
		in   string
		want time.Time
	}{
		{"2026-03-29 01:59", time.Date(2026, 3, 29, 0, 59, 0, 0, time.UTC)},
		{"2026-03-29 03:00", time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC)},
		// 02:30 is shown twice on 25 October: the earlier (CEST) instant.
		{"2026-10-25 02:30", time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC)},
		{"2026-10-25 02:00", time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC)},
		{"2026-10-25 01:59", time.Date(2026, 10, 24, 23, 59, 0, 0, time.UTC)},
		{"2026-10-25 03:00", time.Date(2026, 10, 25, 2, 0, 0, 0, time.UTC)},
		// The later one needs its offset.
		{"2026-10-25T02:30:00+01:00", time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC)},
	} {
		got, err := Parse(c.in, now, loc)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("Parse(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	// Every minute of both change days reads back as the wall time typed,
	// or is refused as skipped.
	for _, day := range []time.Time{time.Date(2026, 3, 29, 0, 0, 0, 0, time.UTC), time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC)} {
		for m := 0; m < 24*60; m++ {
			w := day.Add(time.Duration(m) * time.Minute)
			got, err := Wall(loc, w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), 0)
			if err != nil {
				if day.Month() != time.March || w.Hour() != 2 {
					t.Fatalf("%s: %v", w.Format("2006-01-02 15:04"), err)
				}
				continue
			}
			if g := got.In(loc); g.Hour() != w.Hour() || g.Minute() != w.Minute() || g.Day() != w.Day() {
				t.Fatalf("%s read as %s", w.Format("2006-01-02 15:04"), g)
			}
			if e := got.Add(-time.Hour).In(loc); e.Hour() == w.Hour() && e.Minute() == w.Minute() && e.Day() == w.Day() {
				t.Fatalf("%s read as the later of two instants %s", w.Format("2006-01-02 15:04"), got)
			}
		}
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	loc := oslo(t)
	at := time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
	if got := Format(at, loc); got != "Fri 2026-12-04 09:00 CET" {
		t.Errorf("Format = %q", got)
	}
	if got := Format(time.Date(2026, 7, 3, 7, 0, 0, 0, time.UTC), loc); got != "Fri 2026-07-03 09:00 CEST" {
		t.Errorf("Format (summer) = %q", got)
	}
	if got := Format(time.Time{}, loc); got != "-" {
		t.Errorf("Format(zero) = %q", got)
	}
	if got := Describe(at, loc); got != "Europe/Oslo (CET)" {
		t.Errorf("Describe = %q", got)
	}
	if got := Describe(at, time.UTC); got != "UTC" {
		t.Errorf("Describe(UTC) = %q", got)
	}
}

func TestLoadAndName(t *testing.T) {
	for _, c := range []struct{ in, want string }{{"Europe/Oslo", "Europe/Oslo"}, {"UTC", "UTC"}} {
		loc, err := Load(c.in)
		if err != nil || Name(loc) != c.want {
			t.Errorf("Load(%q) = %v, %v", c.in, loc, err)
		}
	}
	if _, err := Load("Mars/Olympus"); err == nil || !strings.Contains(err.Error(), "IANA") {
		t.Errorf("Load(Mars/Olympus): %v", err)
	}
	if loc, err := Load(""); err != nil || loc != time.Local {
		t.Errorf(`Load("") = %v, %v`, loc, err)
	}
	t.Setenv("TZ", "Europe/Oslo")
	if got := Name(time.Local); got != "Europe/Oslo" {
		t.Errorf("Name(Local) with TZ=Europe/Oslo = %q", got)
	}
	t.Setenv("TZ", "")
	if got := Name(time.Local); got != "UTC" {
		t.Errorf("Name(Local) with TZ= = %q", got)
	}
	t.Setenv("TZ", ":/usr/share/zoneinfo/America/New_York")
	if got := Name(time.Local); got != "America/New_York" {
		t.Errorf("Name(Local) with a TZ path = %q", got)
	}
}
