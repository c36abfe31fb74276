package rota

import (
	"bufio"
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"
	"github.com/google/go-cmp/cmp"
)

var people = []Member{
	{ID: "ana", Name: "Ana Berg", Email: "ana@example.edu"},
	{ID: "bjorn", Name: "Bjørn Kristoffersen-Haugland, Senior Postmaster of the Central E-mail Team"},
	{ID: "chen", Name: "Chen Wei; 陈伟"},
	{ID: "dina", Name: "Dina Novák"},
}

// icsEvent is what the tiny parser reads back.
type icsEvent struct {
	UID, Summary string
	Start, End   time.Time
}

// parseICS is an independent reader for the subset ICS writes: it unfolds
// lines (RFC 5545 §3.1), then reads UID, DTSTART, DTEND and SUMMARY of each
// VEVENT, unescaping TEXT values (§3.3.11).
func parseICS(t *testing.T, data []byte) (map[string]string, []icsEvent) {
	t.Helper()
	unfolded := strings.NewReplacer("\r\n ", "", "\r\n\t", "").Replace(string(data))
	head := map[string]string{}
	var events []icsEvent
	var cur *icsEvent
	sc := bufio.NewScanner(strings.NewReader(unfolded))
	for sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			t.Fatalf("line without colon: %q", line)
		}
		name, _, _ = strings.Cut(name, ";")
		switch {
		case line == "BEGIN:VEVENT":
			cur = &icsEvent{}
		case line == "END:VEVENT":
			events = append(events, *cur)
			cur = nil
		case cur == nil:
			head[name] = value
		case name == "UID":
			cur.UID = unescape(value)
		case name == "SUMMARY":
			cur.Summary = unescape(value)
		case name == "DTSTART", name == "DTEND":
			v, err := time.Parse("20060102T150405Z", value)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if name == "DTSTART" {
				cur.Start = v
			} else {
				cur.End = v
			}
		}
	}
	return head, events
}

func unescape(s string) string {
	return strings.NewReplacer(`\\`, `\`, `\,`, ",", `\;`, ";", `\n`, "\n", `\N`, "\n").Replace(s)
}

func TestICSRoundTrip(t *testing.T) {
	t.Parallel()
	r := weekly(t)
	loc := oslo(t)
	c := testChanges(t)
	from := at(t, loc, "2026-12-07 09:00")
	to := from.AddDate(0, 0, 8*7)
	spec := r.Spec()
	// Add an override so that the 8 weeks include all three sources.
	c.Overrides = append(c.Overrides, Override{ID: "o9", Member: "bjorn", Start: at(t, loc, "2027-01-20 10:00"), End: at(t, loc, "2027-01-21 10:00")})
	shifts := r.Schedule(c, from, to)

	for _, member := range []string{"", "ana", "bjorn"} {
		t.Run("member="+member, func(t *testing.T) {
			t.Parallel()
			data, err := ICS(spec, people, shifts, ICSOptions{Member: member})
			if err != nil {
				t.Fatal(err)
			}
			var want []icsEvent
			for _, s := range shifts {
				if member != "" && s.Member != member {
					continue
				}
				name := s.Member
				for _, p := range people {
					if p.ID == s.Member {
						name = p.Name
					}
				}
				want = append(want, icsEvent{UID: UID(spec.Name, s), Summary: "On call: " + name, Start: s.Start.UTC(), End: s.End.UTC()})
			}
			if len(want) == 0 {
				t.Fatal("no shifts to check")
			}

			// The independent line parser.
			head, got := parseICS(t, data)
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("tiny parser (-schedule +ics):\n%s", d)
			}
			if head["PRODID"] != ProdID || head["VERSION"] != "2.0" || !strings.HasPrefix(head["X-WR-CALNAME"], "On call: ukevakt") {
				t.Errorf("calendar properties = %v", head)
			}
			for _, line := range bytes.Split(data, []byte("\r\n")) {
				if len(line) > 75 {
					t.Errorf("line longer than 75 octets: %q", line)
				}
			}

			// golang-ical's own parser.
			cal, err := ics.ParseCalendar(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			var viaLib []icsEvent
			for _, ev := range cal.Events() {
				s, err1 := ev.GetStartAt()
				e, err2 := ev.GetEndAt()
				if err := errors.Join(err1, err2); err != nil {
					t.Fatal(err)
				}
				viaLib = append(viaLib, icsEvent{
					UID: ev.Id(), Summary: ev.GetProperty(ics.ComponentPropertySummary).Value,
					Start: s.UTC(), End: e.UTC(),
				})
			}
			if d := cmp.Diff(want, viaLib); d != "" {
				t.Errorf("golang-ical (-schedule +ics):\n%s", d)
			}
		})
	}
}

func TestICSStableAndChecked(t *testing.T) {
	t.Parallel()
	r := weekly(t)
	loc := oslo(t)
	shifts := r.Schedule(Changes{}, at(t, loc, "2026-03-23 09:00"), at(t, loc, "2026-04-06 09:00"))
	a, err := ICS(r.Spec(), people, shifts, ICSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := ICS(r.Spec(), people, shifts, ICSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("ICS output is not deterministic")
	}
	if !bytes.Contains(a, []byte("UID:ukevakt/20260323T080000Z/dina\r\n")) || !bytes.Contains(a, []byte("DTEND:20260330T070000Z\r\n")) {
		t.Errorf("missing stable UID or UTC DTEND in:\n%s", a)
	}
	bad := append([]Shift(nil), shifts...)
	bad[0].End = bad[0].Start
	if _, err := ICS(r.Spec(), people, bad, ICSOptions{}); !errors.Is(err, ErrEmptySpan) {
		t.Errorf("ICS(empty shift) = %v, want ErrEmptySpan", err)
	}
}
