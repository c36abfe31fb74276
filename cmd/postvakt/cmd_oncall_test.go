package main

import (
	"strings"
	"testing"
)

const oncallYAML = `data_dir: DATADIR
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
// change of 2026-03-29 and across New Year, with an override and a swap
// made through the CLI honoured. Turns: ana from 2026-01-05 09:00, then
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
	// An override: bjorn takes the DST night.
	if code, out, errOut := runCLI(t, "oncall", "override", "add", "--config", cfg, "--member", "bjorn",
		"--from", "2026-03-29T00:00:00+01:00", "--to", "2026-03-29T08:00:00+02:00", "--reason", "chen travels"); code != exitOK || !strings.Contains(out, "override 1") {
		t.Fatalf("override add: %d %q %q", code, out, errOut)
	}
	if got := at("2026-03-29T01:30:00+01:00"); got != "bjorn" {
		t.Errorf("with the override: %s, want bjorn", got)
	}
	if got := at("2026-03-29T08:00:00+02:00"); got != "chen" {
		t.Errorf("after the override: %s, want chen", got)
	}
	// A swap: ana gives her turn from 03-30 to bjorn for his from 04-06.
	code, out, errOut := runCLI(t, "oncall", "swap", "request", "--config", cfg, "--requester", "ana", "--counterpart", "bjorn",
		"--mine", "2026-03-31T12:00:00+02:00", "--theirs", "2026-04-07T12:00:00+02:00")
	if code != exitOK || !strings.Contains(out, "swap 1 requested") {
		t.Fatalf("swap request: %d %q %q", code, out, errOut)
	}
	if got := at("2026-03-31T12:00:00+02:00"); got != "ana" {
		t.Errorf("before acceptance: %s, want ana", got)
	}
	if code, out, errOut := runCLI(t, "oncall", "swap", "accept", "--config", cfg, "1"); code != exitOK || !strings.Contains(out, "accepted") {
		t.Fatalf("swap accept: %d %q %q", code, out, errOut)
	}
	if got := at("2026-03-31T12:00:00+02:00"); got != "bjorn" {
		t.Errorf("after the swap: %s, want bjorn", got)
	}
	if got := at("2026-04-07T12:00:00+02:00"); got != "ana" {
		t.Errorf("after the swap: %s, want ana", got)
	}
	// A declined swap changes nothing; a stale one is refused.
	runCLI(t, "oncall", "swap", "request", "--config", cfg, "--requester", "chen", "--counterpart", "ana",
		"--mine", "2026-04-14T12:00:00+02:00", "--theirs", "2026-04-07T12:00:00+02:00")
	if code, out, _ := runCLI(t, "oncall", "swap", "decline", "--config", cfg, "2"); code != exitOK || !strings.Contains(out, "declined") {
		t.Fatalf("swap decline: %d %q", code, out)
	}
	if got := at("2026-04-14T12:00:00+02:00"); got != "chen" {
		t.Errorf("after a declined swap: %s, want chen", got)
	}
	if code, _, errOut := runCLI(t, "oncall", "swap", "request", "--config", cfg, "--requester", "ana", "--counterpart", "chen",
		"--mine", "2026-03-31T12:00:00+02:00", "--theirs", "2026-04-14T12:00:00+02:00"); code == exitOK {
		t.Errorf("a swap of a turn ana no longer holds was accepted: %s", errOut)
	}
	// The schedule shows the swap and the override.
	code, out, _ = runCLI(t, "oncall", "schedule", "--config", cfg, "--from", "2026-03-23T09:00:00+01:00", "--weeks", "3")
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
