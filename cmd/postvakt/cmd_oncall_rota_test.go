package main

import (
	"encoding/json"
	"net/url"
	"os"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// oncallWeek is the oracle's turn number of oncallYAML's rota: whole weeks
// from Monday 2026-01-05 to the latest Monday 09:00 (Oslo wall clock) at or
// before t.
func oncallWeek(t time.Time) int {
	lt := t.In(oslo)
	back := (int(lt.Weekday()) + 6) % 7
	if back == 0 && lt.Hour() < 9 {
		back = 7
	}
	monday := time.Date(lt.Year(), lt.Month(), lt.Day()-back, 0, 0, 0, 0, time.UTC)
	return int(monday.Sub(time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)).Hours()) / (24 * 7)
}

// TestRotaChangeCLIWithServer (docs/oncall.md, "Changing the rota"): with
// a real `postvakt serve` running, erin is added to the team and to the
// rota from the next handover through the CLI. The server answers from
// the database at once, without a restart: the same as the CLI before and
// after, the past eight weeks as they were (the schedule byte for byte,
// and by the oracle), last month's report CSV byte for byte, and the new
// order from the handover on. A change of the YAML applied on SIGHUP is a
// change from the next handover too.
func TestRotaChangeCLIWithServer(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	yaml := strings.Replace(oncallYAML, "oncall:\n", "http:\n  listen: "+addr+"\nreports:\n  pdf_engine: builtin\noncall:\n", 1)
	cfg := writeConfig(t, yaml)
	p := startServe(t, nil, "--config", cfg)
	base := "http://" + addr
	waitHTTP(t, p, base+"/readyz")
	token := func(role string) string {
		code, out, errOut := runCLI(t, "token", "create", "--config", cfg, "--name", "test-"+role, "--role", role)
		if code != exitOK {
			t.Fatalf("token: %s", errOut)
		}
		return strings.TrimSpace(out)
	}
	viewer := token("viewer")
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, body := get(t, base+"/api/v1/oncall/history", viewer); strings.Contains(body, `"member"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server recorded no shifts; log:\n%s", p.log())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// cli runs the CLI with --config before the first flag (flags come
	// before arguments).
	cli := func(args ...string) string {
		t.Helper()
		i := slices.IndexFunc(args, func(a string) bool { return strings.HasPrefix(a, "-") })
		if i < 0 {
			i = len(args)
		}
		args = slices.Insert(slices.Clone(args), i, "--config", cfg)
		code, out, errOut := runCLI(t, args...)
		if code != exitOK {
			t.Fatalf("postvakt %v: %d %s", args, code, errOut)
		}
		return out
	}
	// oncall at --config CFG TIME: flags before the argument.
	cliAt := func(at time.Time) string {
		t.Helper()
		code, out, errOut := runCLI(t, "oncall", "at", "--config", cfg, at.Format(time.RFC3339))
		if code != exitOK {
			t.Fatalf("oncall at: %s", errOut)
		}
		return strings.Fields(out)[0]
	}
	serverAt := func(at time.Time) string {
		t.Helper()
		code, body := get(t, base+"/api/v1/oncall/at?time="+url.QueryEscape(at.Format(time.RFC3339)), viewer)
		var s struct{ Member string }
		if code != 200 || json.Unmarshal([]byte(body), &s) != nil {
			t.Fatalf("server oncall/at: %d %s", code, body)
		}
		return s.Member
	}
	now := time.Now()
	old := []string{"ana", "bjorn", "chen"}
	next := time.Date(2026, 1, 5, 9, 0, 0, 0, oslo).AddDate(0, 0, 7*(oncallWeek(now)+1)) // the next Monday 09:00
	from := now.AddDate(0, 0, -56).Truncate(time.Hour)
	schedule := func() string {
		return cli("oncall", "schedule", "--from", from.Format(time.RFC3339), "--weeks", "8")
	}
	serverSchedule := func() string {
		_, body := get(t, base+"/api/v1/oncall/schedule?weeks=8&from="+url.QueryEscape(from.Format(time.RFC3339)), viewer)
		return body
	}
	report := func() string { return cli("report", "--format", "csv", "-o", "-", "--quiet") }
	sched0, srvSched0, report0 := schedule(), serverSchedule(), report()
	if !strings.Contains(report0, "oncall.week.pages.") {
		t.Fatalf("last month's report has no on-call rows:\n%s", report0)
	}
	past := func(label string) {
		t.Helper()
		for h := from; h.Before(now); h = h.Add(12 * time.Hour) {
			c, s := cliAt(h), serverAt(h)
			if want := old[oncallWeek(h)%3]; c != want || s != want {
				t.Fatalf("%s: at %v the CLI says %s, the server %s, want %s", label, h, c, s, want)
			}
		}
	}
	past("before")

	cli("oncall", "member", "add", "--name", "Erin Moe", "--email", "erin@example.edu", "erin")
	out := cli("oncall", "rota", "change", "--add", "erin", "--reason", "erin joins")
	if !strings.Contains(out, next.In(oslo).Format("2006-01-02 15:04 MST")) || !strings.Contains(out, "ana, bjorn, chen, erin") {
		t.Fatalf("change:\n%s", out)
	}
	// Whose turn it would have been keeps it; then the new order.
	due := old[oncallWeek(next)%3]
	order := []string{"ana", "bjorn", "chen", "erin"}
	after := func(at time.Time) string {
		if at.Before(next) {
			return old[oncallWeek(at)%3]
		}
		return order[(slices.Index(order, due)+oncallWeek(at)-oncallWeek(next))%4]
	}
	past("after the change")
	if s := schedule(); s != sched0 {
		t.Fatalf("the past eight weeks' schedule changed:\n%s\nwas:\n%s", s, sched0)
	}
	if s := serverSchedule(); s != srvSched0 {
		t.Fatalf("the server's schedule of the past eight weeks changed")
	}
	if r := report(); r != report0 {
		t.Fatalf("last month's report changed:\n%s\nwas:\n%s", r, report0)
	}
	for w := 0; w < 8; w++ {
		at := next.AddDate(0, 0, 7*w).Add(27 * time.Hour) // Tuesdays at noon
		c, s := cliAt(at), serverAt(at)
		if c != after(at) || s != c {
			t.Fatalf("from the handover: at %v the CLI says %s, the server %s, want %s", at, c, s, after(at))
		}
	}
	if show := cli("oncall", "rota", "show"); !strings.Contains(show, "scheduled") || !strings.Contains(show, "erin joins") {
		t.Fatalf("rota show:\n%s", show)
	}

	// The YAML gains fia at the end; on SIGHUP the server applies it as a
	// change at the next handover, replacing the CLI's change there (the
	// YAML declares the whole rota: erin is not in it).
	yaml2 := strings.Replace(strings.Replace(yaml, "members: [ana, bjorn, chen]", "members: [ana, bjorn, chen, fia]", 1),
		"    - {id: chen, name: Chen Wei, email: chen@example.edu}\n",
		"    - {id: chen, name: Chen Wei, email: chen@example.edu}\n    - {id: fia, name: Fia Holm, email: fia@example.edu}\n", 1)
	yaml2 = strings.ReplaceAll(yaml2, "DATADIR", strings.TrimSuffix(cfg, "postvakt.yaml")+"data")
	if err := os.WriteFile(cfg, []byte(yaml2), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "oncall", "at", "--config", cfg, now.Format(time.RFC3339)); code != exitOK || !strings.Contains(errOut, "not yet applied from the configuration") {
		t.Fatalf("the CLI does not say the configuration is not applied: %d %q", code, errOut)
	}
	_ = p.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, p, "added fia; removed erin")
	order = []string{"ana", "bjorn", "chen", "fia"}
	past("after the reload")
	for w := 0; w < 8; w++ {
		at := next.AddDate(0, 0, 7*w).Add(27 * time.Hour)
		c, s := cliAt(at), serverAt(at)
		if c != after(at) || s != c {
			t.Fatalf("after the reload: at %v the CLI says %s, the server %s, want %s", at, c, s, after(at))
		}
	}
	if r := report(); r != report0 {
		t.Fatalf("last month's report changed after the reload")
	}
	if code, _, errOut := runCLI(t, "oncall", "at", "--config", cfg, now.Format(time.RFC3339)); code != exitOK || strings.Contains(errOut, "not yet applied") {
		t.Fatalf("after the reload: %d %q", code, errOut)
	}
	if code := p.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// TestRotaCLIRefuses: a change inside the turn in progress, an unknown
// member, a flag value that is not a time, a removal of someone in the
// rota; each with a message that says why and what is valid.
func TestRotaCLIRefuses(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, oncallYAML)
	if code, _, errOut := runCLI(t, "migrate", "up", "--config", cfg); code != exitOK {
		t.Fatalf("migrate up: %d %s", code, errOut)
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"oncall", "rota", "change", "--config", cfg, "--remove", "ana", "--effective", time.Now().Add(time.Minute).Format(time.RFC3339)}, exitError, "never rewritten"},
		{[]string{"oncall", "rota", "change", "--config", cfg, "--add", "zed"}, exitError, `"ana", "bjorn", "chen"`},
		{[]string{"oncall", "rota", "change", "--config", cfg, "--add", "ana", "--effective", "soon"}, exitUsage, "--effective"},
		{[]string{"oncall", "rota", "change", "--config", cfg, "--add", "ana", "tomorrow"}, exitUsage, "no arguments"},
		{[]string{"oncall", "member", "remove", "--config", cfg, "chen"}, exitError, "remove them from the rota first"},
		{[]string{"oncall", "rota", "cancel", "--config", cfg, "99"}, exitError, "not found"},
		{[]string{"oncall", "rota", "show", "--config", cfg, "--rota", "nope"}, exitError, `"ukevakt"`},
	} {
		code, _, errOut := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: %d %q, want %d and %q", c.args[1:3], code, errOut, c.code, c.want)
		}
	}
	// A dry run changes nothing; "--effective DATE HH:MM" unquoted works.
	next := time.Date(2026, 1, 5, 9, 0, 0, 0, oslo).AddDate(0, 0, 7*(oncallWeek(time.Now())+2))
	code, out, errOut := runCLI(t, "oncall", "rota", "change", "--config", cfg, "--remove", "bjorn", "--dry-run", "--effective",
		next.Format("2006-01-02"), next.Format("15:04"))
	if code != exitOK || !strings.Contains(out, "dry run") || !strings.Contains(out, "removed: bjorn") {
		t.Fatalf("dry run: %d %q %q", code, out, errOut)
	}
	if code, out, _ := runCLI(t, "oncall", "rota", "show", "--config", cfg); code != exitOK || strings.Contains(out, "scheduled") {
		t.Fatalf("a dry run stored a change:\n%s", out)
	}
	if code, out, _ := runCLI(t, "oncall", "apply", "--config", cfg, "--dry-run"); code != exitOK || !strings.Contains(out, "rota ukevakt: stored from the configuration") {
		t.Fatalf("apply --dry-run: %d %q", code, out)
	}
}
