package main

import (
	"strings"
	"testing"
	"time"
)

var oslo = func() *time.Location { l, _ := time.LoadLocation("Europe/Oslo"); return l }()

const oncallYAML = `data_dir: DATADIR
timezone: Europe/Oslo
oncall:
  members:
    - {id: ana, name: Ana Berg, email: ana@example.edu, slack_id: UANA, time_zone: Europe/Oslo}
    - {id: bjorn, name: Bjørn Dahl, email: bjorn@example.edu}
    - {id: chen, name: Chen Wei, email: chen@example.edu}
  rotas:
    - name: ukevakt
      members: [ana, bjorn, chen]
      start: "2026-01-05"
      every: 1w
      handover_weekday: monday
      handover_time: "09:00"
      time_zone: Europe/Oslo
  escalation_policies:
    - name: mail
      rota: ukevakt
      steps:
        - {after: 0s, notify: [oncall]}
        - {after: 15m, notify: [next]}
`

// TestOncallCLI (docs/oncall.md, "The rota"): ` + "`postvakt oncall at`" + ` across the DST
// change of 2026-03-29 and across New Year, and, in the weeks around the
// next DST change, an override and a swap made through the CLI honoured. Turns: ana from 2026-01-05 09:00, then
// bjorn, chen, … weekly; chen holds 2025-12-29 → 2026-01-05 and
// 2026-03-23 → 2026-03-30, ana 2026-03-30 → 04-06, bjorn 04-06 → 04-13.
func TestOncallCLI(t *testing.T) {
	t.Parallel()
	cfg := dataConfig(t, oncallYAML)
	at := func(ts string) string {
		t.Helper()
		code, out, errOut := runCLI(t, "oncall", "at", "--config", cfg, ts)
		if code != exitOK {
			t.Fatalf("oncall at %s: %d %s", ts, code, errOut)
		}
		return strings.Fields(out)[0]
	}
	for _, c := range []struct{ at, want string }{
		{"2026-03-29T01:30:00+01:00", "chen"}, // the night of the change to summer time
		{"2026-03-29T03:30:00+02:00", "chen"},
		{"2026-03-30T08:59:00+02:00", "chen"}, // handover at 09:00 local, now CEST
		{"2026-03-30T09:00:00+02:00", "ana"},
		{"2025-12-31T23:59:00+01:00", "chen"}, // across New Year
		{"2026-01-01T00:00:00+01:00", "chen"},
		{"2026-01-05T08:59:00+01:00", "chen"},
		{"2026-01-05T09:00:00+01:00", "ana"},
		{"2026-12-31T23:30:00+01:00", "ana"}, // turn 51 (51 mod 3 = 0): 2026-12-28 → 2027-01-04
		{"2027-01-04T08:59:00+01:00", "ana"},
		{"2027-01-04T09:00:00+01:00", "bjorn"},
	} {
		if got := at(c.at); got != c.want {
			t.Errorf("oncall at %s = %s, want %s", c.at, got, c.want)
		}
	}
	// Overrides and swaps are for turns that have not started: those below
	// lie in the week of the next change to summer time (the last Sunday of
	// March) after now, and the three weeks after it. Who holds a week
	// comes from counting weeks from the anchor (ana, bjorn, chen).
	holder := func(tm time.Time) string {
		week := int(tm.Sub(time.Date(2026, 1, 5, 9, 0, 0, 0, oslo)).Hours()) / (24 * 7)
		if lt := tm.In(oslo); lt.Weekday() == time.Monday && lt.Hour() < 9 {
			week = int(time.Date(lt.Year(), lt.Month(), lt.Day()-1, 12, 0, 0, 0, oslo).Sub(time.Date(2026, 1, 5, 9, 0, 0, 0, oslo)).Hours()) / (24 * 7)
		}
		return []string{"ana", "bjorn", "chen"}[week%3]
	}
	year := time.Now().Year() + 1
	dst := time.Date(year, 3, 31, 0, 0, 0, 0, time.UTC)
	for dst.Weekday() != time.Sunday {
		dst = dst.AddDate(0, 0, -1)
	}
	day := func(d int, hhmm string) time.Time { // a day after the DST Sunday, in Oslo
		v, err := time.ParseInLocation("2006-01-02 15:04", dst.AddDate(0, 0, d).Format("2006-01-02 ")+hhmm, oslo)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	rfc := func(v time.Time) string { return v.Format(time.RFC3339) }
	night := day(0, "01:30") // 01:30 CET, before the clocks go forward at 02:00
	h0 := holder(night)
	cover := map[string]string{"ana": "bjorn", "bjorn": "chen", "chen": "ana"}[h0]
	if code, out, errOut := runCLI(t, "oncall", "override", "add", "--config", cfg, "--member", cover,
		"--from", rfc(day(0, "00:00")), "--to", rfc(day(0, "08:00")), "--reason", h0+" travels"); code != exitOK || !strings.Contains(out, "override 1") {
		t.Fatalf("override add: %d %q %q", code, out, errOut)
	}
	if got := at(rfc(night)); got != cover {
		t.Errorf("with the override: %s, want %s", got, cover)
	}
	if got := at(rfc(day(0, "08:00"))); got != h0 {
		t.Errorf("after the override: %s, want %s", got, h0)
	}
	// A swap: the holder of the week after gives it for the one after that.
	w1, w2, w3 := day(2, "12:00"), day(9, "12:00"), day(16, "12:00")
	req, cp := holder(w1), holder(w2)
	code, out, errOut := runCLI(t, "oncall", "swap", "request", "--config", cfg, "--requester", req, "--counterpart", cp,
		"--mine", rfc(w1), "--theirs", rfc(w2))
	if code != exitOK || !strings.Contains(out, "swap 1 requested") {
		t.Fatalf("swap request: %d %q %q", code, out, errOut)
	}
	if got := at(rfc(w1)); got != req {
		t.Errorf("before acceptance: %s, want %s", got, req)
	}
	if code, out, errOut := runCLI(t, "oncall", "swap", "accept", "--config", cfg, "1"); code != exitOK || !strings.Contains(out, "accepted") {
		t.Fatalf("swap accept: %d %q %q", code, out, errOut)
	}
	if got := at(rfc(w1)); got != cp {
		t.Errorf("after the swap: %s, want %s", got, cp)
	}
	if got := at(rfc(w2)); got != req {
		t.Errorf("after the swap: %s, want %s", got, req)
	}
	// A declined swap changes nothing; a stale one is refused.
	runCLI(t, "oncall", "swap", "request", "--config", cfg, "--requester", holder(w3), "--counterpart", req,
		"--mine", rfc(w3), "--theirs", rfc(w2))
	if code, out, _ := runCLI(t, "oncall", "swap", "decline", "--config", cfg, "2"); code != exitOK || !strings.Contains(out, "declined") {
		t.Fatalf("swap decline: %d %q", code, out)
	}
	if got := at(rfc(w3)); got != holder(w3) {
		t.Errorf("after a declined swap: %s, want %s", got, holder(w3))
	}
	if code, _, errOut := runCLI(t, "oncall", "swap", "request", "--config", cfg, "--requester", req, "--counterpart", holder(w3),
		"--mine", rfc(w1), "--theirs", rfc(w3)); code == exitOK {
		t.Errorf("a swap of a turn %s no longer holds was accepted: %s", req, errOut)
	}
	// An override or swap of a turn that has started is refused.
	if code, _, errOut := runCLI(t, "oncall", "override", "add", "--config", cfg, "--member", "ana",
		"--from", "2026-03-29T00:00:00+01:00", "--to", "2026-03-29T08:00:00+02:00"); code == exitOK || !strings.Contains(errOut, "on record") {
		t.Errorf("an override in the past: %d %q", code, errOut)
	}
	// The schedule shows the swap and the override.
	code, out, _ = runCLI(t, "oncall", "schedule", "--config", cfg, "--from", rfc(day(-6, "09:00")), "--weeks", "3")
	if code != exitOK || !strings.Contains(out, "override") || !strings.Contains(out, "swap") {
		t.Fatalf("schedule: %d\n%s", code, out)
	}
	if code, _, _ := runCLI(t, "oncall", "at", "--config", cfg, "yesterday"); code != exitUsage {
		t.Errorf("bad time: %d", code)
	}
	if code, out, _ := runCLI(t, "incident", "list", "--config", cfg); code != exitOK || !strings.Contains(out, "STATUS") {
		t.Errorf("incident list: %d %q", code, out)
	}
}
