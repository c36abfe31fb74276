package rota

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"
)

// observance is one STANDARD or DAYLIGHT of a VTIMEZONE as read back.
type observance struct {
	onset time.Time // DTSTART (wall time) minus TZOFFSETFROM
	to    int       // TZOFFSETTO in seconds
	name  string
}

// readZoned is an independent reader of the zoned feed: it collects the
// VTIMEZONE's observances and resolves each event's local DTSTART/DTEND
// through them (RFC 5545 §3.6.5: the offset in force is TZOFFSETTO of the
// latest observance whose onset is not after the instant), without the
// tz database.
func readZoned(t *testing.T, data []byte) (tzid string, obs []observance, starts, ends []time.Time, raw []string) {
	t.Helper()
	unfolded := strings.NewReplacer("\r\n ", "", "\r\n\t", "").Replace(string(data))
	sc := bufio.NewScanner(strings.NewReader(unfolded))
	var cur *observance
	var wall string
	var from int
	offset := func(s string) int {
		sign := 1
		if s[0] == '-' {
			sign = -1
		}
		h, _ := strconv.Atoi(s[1:3])
		m, _ := strconv.Atoi(s[3:5])
		return sign * (h*3600 + m*60)
	}
	var localStarts, localEnds []string
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		name, value, _ := strings.Cut(line, ":")
		switch {
		case line == "BEGIN:STANDARD" || line == "BEGIN:DAYLIGHT":
			cur = &observance{}
		case line == "END:STANDARD" || line == "END:DAYLIGHT":
			w, err := time.Parse("20060102T150405", wall)
			if err != nil {
				t.Fatalf("observance DTSTART %q: %v", wall, err)
			}
			cur.onset = w.Add(-time.Duration(from) * time.Second)
			obs = append(obs, *cur)
			cur = nil
		case cur != nil && name == "DTSTART":
			wall = value
		case cur != nil && name == "TZOFFSETFROM":
			from = offset(value)
		case cur != nil && name == "TZOFFSETTO":
			cur.to = offset(value)
		case cur != nil && name == "TZNAME":
			cur.name = value
		case name == "TZID":
			tzid = value
		case strings.HasPrefix(name, "DTSTART;"), strings.HasPrefix(name, "DTEND;"):
			raw = append(raw, line)
			if !strings.Contains(name, ";TZID="+tzid) || strings.HasSuffix(value, "Z") {
				t.Fatalf("event time without the zone: %q", line)
			}
			if strings.HasPrefix(name, "DTSTART") {
				localStarts = append(localStarts, value)
			} else {
				localEnds = append(localEnds, value)
			}
		case name == "DTSTART" || name == "DTEND":
			t.Fatalf("event time in UTC although a zone was asked for: %q", line)
		}
	}
	resolve := func(s string) time.Time {
		w, err := time.Parse("20060102T150405", s)
		if err != nil {
			t.Fatalf("local time %q: %v", s, err)
		}
		var at time.Time
		for _, o := range obs {
			if cand := w.Add(-time.Duration(o.to) * time.Second); !cand.Before(o.onset) {
				at = cand
			}
		}
		if at.IsZero() {
			t.Fatalf("no observance covers %s", s)
		}
		return at
	}
	for _, s := range localStarts {
		starts = append(starts, resolve(s))
	}
	for _, s := range localEnds {
		ends = append(ends, resolve(s))
	}
	return tzid, obs, starts, ends, raw
}

// TestICSInServiceZone: with the service zone Europe/Oslo, a 09:00
// handover reads DTSTART;TZID=Europe/Oslo:…T090000 on both sides of the
// change to summer time, the VTIMEZONE names CET and CEST with their
// offsets, and both an independent reader and golang-ical resolve every
// event to the schedule's instants.
func TestICSInServiceZone(t *testing.T) {
	t.Parallel()
	r := weekly(t)
	loc := oslo(t)
	from := at(t, loc, "2026-02-23 09:00")
	shifts := r.Schedule(Changes{}, from, from.AddDate(0, 0, 10*7)) // across 29 March
	data, err := ICS(r.Spec(), people, shifts, ICSOptions{Location: loc})
	if err != nil {
		t.Fatal(err)
	}
	tzid, obs, starts, ends, raw := readZoned(t, data)
	if tzid != "Europe/Oslo" {
		t.Fatalf("TZID %q", tzid)
	}
	var names []string
	for _, o := range obs {
		names = append(names, o.name+"@"+strconv.Itoa(o.to/3600))
	}
	if got := strings.Join(names, " "); got != "CET@1 CEST@2" {
		t.Errorf("observances %s, want CET (+1) then CEST (+2)", got)
	}
	if len(starts) != len(shifts) || len(ends) != len(shifts) {
		t.Fatalf("%d/%d event times for %d shifts", len(starts), len(ends), len(shifts))
	}
	for i, s := range shifts {
		if !starts[i].Equal(s.Start) || !ends[i].Equal(s.End) {
			t.Errorf("event %d: %s – %s, want %s – %s", i, starts[i], ends[i], s.Start, s.End)
		}
		if got := raw[2*i]; !strings.HasSuffix(got, "T090000") {
			t.Errorf("event %d starts at %q, want 09:00 local", i, got)
		}
	}
	if !bytes.Contains(data, []byte("DTSTART;TZID=Europe/Oslo:20260223T090000\r\n")) ||
		!bytes.Contains(data, []byte("DTSTART;TZID=Europe/Oslo:20260330T090000\r\n")) {
		t.Errorf("handovers are not at 09:00 Oslo time:\n%s", data)
	}
	cal, err := ics.ParseCalendar(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range cal.Events() {
		s, err := ev.GetStartAt()
		if err != nil || !s.Equal(shifts[i].Start) {
			t.Errorf("golang-ical reads event %d as %v (%v), want %v", i, s, err, shifts[i].Start)
		}
	}
	// Without a zone the feed stays in UTC.
	plain, err := ICS(r.Spec(), people, shifts, ICSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(plain, []byte("TZID")) || !bytes.Contains(plain, []byte("DTSTART:20260223T080000Z")) {
		t.Errorf("UTC feed:\n%s", plain)
	}
}

func TestICSOffset(t *testing.T) {
	t.Parallel()
	for in, want := range map[int]string{3600: "+0100", -18000: "-0500", 19800: "+0530", 0: "+0000", 3600 + 1800 + 15: "+013015"} {
		if got := icsOffset(in); got != want {
			t.Errorf("icsOffset(%d) = %q, want %q", in, got, want)
		}
	}
}
