package calendar

import (
	"testing"
	"time"
)

func TestParseWhen(t *testing.T) {
	t.Parallel()
	london, _ := time.LoadLocation("Europe/London")
	for _, c := range []struct {
		in   string
		want time.Time
	}{
		{"2026-11-27T16:30:00+01:00", time.Date(2026, 11, 27, 15, 30, 0, 0, time.UTC)},
		{"2026-11-27 16:30", time.Date(2026, 11, 27, 16, 30, 0, 0, london)},
		{" 2026-11-27T16:30 ", time.Date(2026, 11, 27, 16, 30, 0, 0, london)},
		{"2026-07-01 08:15:30", time.Date(2026, 7, 1, 8, 15, 30, 0, london)},
	} {
		got, err := ParseWhen(c.in, london)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("%q: %v %v, want %v", c.in, got, err, c.want)
		}
	}
	if _, err := ParseWhen("tomorrow", london); err == nil {
		t.Error("tomorrow parsed")
	}
}

func TestParsePause(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 24, 10, 5, 0, 0, time.UTC)
	for _, in := range []string{"2026-11-24 10:05/20m", "2026-11-24 10:05/2026-11-24 10:25", "2026-11-24T10:05:00Z/2026-11-24T10:25:00Z"} {
		iv, err := ParsePause(in, time.UTC)
		if err != nil || !iv.Start.Equal(start) || !iv.End.Equal(start.Add(20*time.Minute)) {
			t.Errorf("%q: %+v %v", in, iv, err)
		}
	}
	for _, in := range []string{"2026-11-24 10:05", "soon/20m", "2026-11-24 10:05/later"} {
		if _, err := ParsePause(in, time.UTC); err == nil {
			t.Errorf("%q parsed", in)
		}
	}
}
