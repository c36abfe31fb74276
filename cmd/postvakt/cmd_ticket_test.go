package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/oncall/sla"
)

const slaTestConfig = `data_dir: DATADIR
sla:
  default_policy: uk
  policies:
    - name: uk
      calendar:
        name: uk-hours
        time_zone: Europe/London
        hours: [{days: [mon-fri], start: "09:00", end: "17:00"}]
        countries: [gb]
      response: 1h
      outside_hours: best_effort
      time: business
      pause_states: [waiting]
    - name: uk-wall
      calendar:
        name: uk-hours
        time_zone: Europe/London
        hours: [{days: [mon-fri], start: "09:00", end: "17:00"}]
        countries: [gb]
      response: 1h
      time: wall
    - name: no
      calendar:
        name: no-hours
        time_zone: Europe/Oslo
        hours: [{days: [mon-fri], start: "09:00", end: "17:00"}]
        countries: ["no"]
      response: 1h
      outside_hours: next_opening
    - name: always
      calendar:
        name: always
        time_zone: Europe/Oslo
        hours: [{days: [mon-sun], start: "00:00", end: "24:00"}]
      response: 1h
`

// TestSLAExplainCLI runs the cases of the UK submission SLA
// (docs/tickets.md, "SLA policies") through the command: `postvakt sla
// explain` for each, as oncall/sla TestExplainUKSubmissionSLA does on the
// calculator.
func TestSLAExplainCLI(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, slaTestConfig)
	cases := []struct {
		policy, notified string
		pauses           []string
		inside           bool
		status           sla.Status
		due              string // RFC 3339, empty for best effort
		text             string // in the human output
	}{
		{"uk", "2026-11-24 10:00", nil, true, sla.Running, "2026-11-24T11:00:00Z", "due Tue 2026-11-24 11:00 GMT"},
		{"uk", "2026-11-27 16:30", nil, true, sla.Running, "2026-11-30T09:30:00Z", "due Mon 2026-11-30 09:30 GMT"},
		{"uk-wall", "2026-11-27 16:30", nil, true, sla.Running, "2026-11-27T17:30:00Z", "due Fri 2026-11-27 17:30 GMT"},
		{"uk", "2026-11-28 10:00", nil, false, sla.BestEffortStatus, "", "Saturday is not a working day"},
		{"uk", "2026-12-25 10:00", nil, false, sla.BestEffortStatus, "", "25 December is Christmas Day"},
		{"no", "2027-05-17 10:00", nil, false, sla.Running, "2027-05-18T10:00:00+02:00", "17 May is"},
		{"uk", "2026-11-24 10:00", []string{"2026-11-24 10:10/20m"}, true, sla.Running, "2026-11-24T11:20:00Z", "paused for 20m0s"},
		// Across the spring DST change in the UK (29 March 2026, 01:00 GMT → 02:00 BST).
		{"uk", "2026-03-27 16:30", nil, true, sla.Running, "2026-03-30T09:30:00+01:00", "due Mon 2026-03-30 09:30 BST"},
		{"uk-wall", "2026-03-27T16:30:00Z", nil, true, sla.Running, "2026-03-27T17:30:00Z", "GMT"},
	}
	for _, tc := range cases {
		args := []string{"sla", "explain", "--config", cfg, "--policy", tc.policy, "--notified", tc.notified}
		for _, p := range tc.pauses {
			args = append(args, "--pause", p)
		}
		code, out, errOut := runCLI(t, append(args, "--json")...)
		if code != exitOK {
			t.Fatalf("%v: %d %s", args, code, errOut)
		}
		var res sla.Result
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatal(err)
		}
		ck, _ := res.Clock(sla.KindResponse)
		var want time.Time
		if tc.due != "" {
			want, _ = time.Parse(time.RFC3339, tc.due)
		}
		if res.InsideHours != tc.inside || ck.Status != tc.status || !ck.Due.Equal(want) {
			t.Errorf("%v: inside %v status %s due %v; want %v %s %v", args, res.InsideHours, ck.Status, ck.Due, tc.inside, tc.status, want)
		}
		code, out, _ = runCLI(t, args...)
		if code != exitOK || !strings.Contains(out, tc.text) {
			t.Errorf("%v: %d\n%s\nlacks %q", args, code, out, tc.text)
		}
	}
	if code, _, errOut := runCLI(t, "sla", "explain", "--config", cfg, "--policy", "gold", "--notified", "2026-11-24 10:00"); code != exitUsage || !strings.Contains(errOut, `no SLA policy "gold"`) {
		t.Fatalf("unknown policy: %d %s", code, errOut)
	}
	if code, _, _ := runCLI(t, "sla", "explain", "--config", cfg, "--policy", "uk"); code != exitUsage {
		t.Fatalf("missing --notified: %d", code)
	}
}

// TestTicketCLI works a ticket and a notice through the commands.
func TestTicketCLI(t *testing.T) {
	t.Parallel()
	cfg := dataConfig(t, slaTestConfig)
	run := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, append([]string{args[0], args[1], "--config", cfg}, args[2:]...)...)
		if code != exitOK {
			t.Fatalf("%v: %d %s", args, code, errOut)
		}
		return out
	}
	out := run("ticket", "open", "--title", "IMAP login fails", "--service", "imap", "--severity", "critical",
		"--reporter", "helpdesk", "--assignee", "ana", "--link", "runbook:RB-IMAP-1", "--policy", "always")
	if !strings.Contains(out, "opened ticket #1 (assignee ana)") {
		t.Fatalf("open: %q", out)
	}
	run("ticket", "ack", "1", "--note", "on it")
	run("ticket", "comment", "1", "--body", "dovecot restarted")
	run("ticket", "wait", "1")
	run("ticket", "start", "1")
	run("ticket", "resolve", "1")
	if code, _, errOut := runCLI(t, "ticket", "ack", "--config", cfg, "1"); code != exitError || !strings.Contains(errOut, "not allowed") {
		t.Fatalf("ack resolved: %d %s", code, errOut)
	}
	out = run("ticket", "list", "--state", "resolved")
	if !strings.Contains(out, "IMAP login fails") || !strings.Contains(out, "met") {
		t.Fatalf("list: %q", out)
	}
	out = run("ticket", "show", "1")
	for _, want := range []string{"state:          resolved", "runbook RB-IMAP-1", "response", "state → acknowledged", "dovecot restarted", "cli:"} {
		if !strings.Contains(out, want) {
			t.Errorf("show lacks %q:\n%s", want, out)
		}
	}
	run("ticket", "close", "1")
	if out = run("ticket", "list"); strings.Contains(out, "IMAP login fails") {
		t.Fatalf("closed ticket listed: %q", out)
	}
	if out = run("ticket", "list", "--all", "--json"); !strings.Contains(out, `"state": "closed"`) {
		t.Fatalf("list --all: %q", out)
	}
	if code, _, _ := runCLI(t, "ticket", "open", "--config", cfg, "--title", "x", "--service", "fax"); code != exitUsage {
		t.Fatalf("unknown service: %d", code)
	}

	out = run("notice", "create", "--title", "Webmail down", "--service", "webmail", "--symptoms", "502", "--no-announce")
	if !strings.Contains(out, "#1 outage: Webmail down") || !strings.Contains(out, "state: investigating") {
		t.Fatalf("notice create: %q", out)
	}
	run("notice", "update", "1", "--state", "resolved", "--body", "fixed", "--no-announce")
	if out = run("notice", "show", "1"); !strings.Contains(out, "state: resolved") || !strings.Contains(out, "fixed") {
		t.Fatalf("notice show: %q", out)
	}
	if out = run("notice", "list"); !strings.Contains(out, "Webmail down") {
		t.Fatalf("notice list: %q", out)
	}
	if code, _, _ := runCLI(t, "notice", "update", "--config", cfg, "1", "--state", "monitoring"); code != exitError {
		t.Fatalf("update resolved notice: %d", code)
	}

	// a scheduled maintenance shows when it is scheduled for, its planned
	// end and impact; withdrawn, it says so and takes no more updates
	out = run("notice", "create", "--kind", "maintenance", "--title", "Mail store upgrade", "--service", "webmail",
		"--start", "2030-03-01 22:00", "--end", "2030-03-02 02:00", "--impact", "webmail unavailable", "--no-announce")
	for _, want := range []string{"#2 maintenance: Mail store upgrade", "scheduled for: ", "planned end: ", "impact: webmail unavailable"} {
		if !strings.Contains(out, want) {
			t.Errorf("maintenance show lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "started:") {
		t.Errorf("a scheduled maintenance reads started:\n%s", out)
	}
	out = run("notice", "withdraw", "2", "--reason", "wrong date")
	if !strings.Contains(out, "WITHDRAWN") || !strings.Contains(out, "withdrawn scheduled") || !strings.Contains(out, "wrong date") {
		t.Errorf("withdraw: %q", out)
	}
	if code, _, errOut := runCLI(t, "notice", "withdraw", "--config", cfg, "2"); code != exitError || !strings.Contains(errOut, "withdrawn") {
		t.Errorf("withdraw twice: %d %s", code, errOut)
	}
	if code, _, _ := runCLI(t, "notice", "update", "--config", cfg, "2", "--body", "news", "--no-announce"); code != exitError {
		t.Errorf("update of a withdrawn notice: %d", code)
	}
}

func TestTicketDuplicateCLI(t *testing.T) {
	t.Parallel()
	cfg := dataConfig(t, slaTestConfig)
	for _, title := range []string{"Submission down", "Cannot send"} {
		if code, _, errOut := runCLI(t, "ticket", "open", "--config", cfg, "--title", title, "--service", "smtp", "--assignee", "ana"); code != exitOK {
			t.Fatalf("open: %s", errOut)
		}
	}
	if code, _, errOut := runCLI(t, "ticket", "duplicate", "--config", cfg, "2"); code != exitUsage || !strings.Contains(errOut, "--of") {
		t.Fatalf("without --of: %d %s", code, errOut)
	}
	code, out, errOut := runCLI(t, "ticket", "duplicate", "--config", cfg, "--of", "#1", "2")
	if code != exitOK || !strings.Contains(out, "ticket #2 is a duplicate of #1") {
		t.Fatalf("duplicate: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "ticket", "duplicate", "--config", cfg, "--of", "2", "1"); code == exitOK || !strings.Contains(errOut, "duplicate") {
		t.Fatalf("a duplicate as parent: %d %s", code, errOut)
	}
}
