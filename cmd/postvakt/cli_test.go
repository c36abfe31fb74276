package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/oncallstore"
	"github.com/uni-mail/postvakt/oncall/incident"
)

// runMain runs the postvakt binary (this test binary as main) in dir with
// the given environment added, as an operator runs it in a shell there.
func runMain(t *testing.T, dir string, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Dir = dir
	cmd.Env = append(append(withoutEnv(os.Environ(), "POSTVAKT_CONFIG"), "POSTVAKT_TEST_AS_MAIN=1"), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), o.String(), e.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, o.String(), e.String()
}

func withoutEnv(env []string, name string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

const ticketYAML = `data_dir: DATADIR
timezone: Europe/Oslo
tickets:
  services: [{id: smtp, name: SMTP}, {id: imap, name: IMAP}]
`

// TestFlagsAfterArgumentsActOnTheConfiguredDatabase: `postvakt ticket ack 1
// --config FILE`, run in another directory, acknowledges ticket 1 of FILE's
// database and creates nothing where it runs (the flag parser used to stop
// at "1", ignore --config and answer "not found" from a new ./data).
func TestFlagsAfterArgumentsActOnTheConfiguredDatabase(t *testing.T) {
	t.Parallel()
	cfg := dataConfig(t, ticketYAML)
	if code, out, errOut := runCLI(t, "ticket", "open", "--config", cfg, "--title", "Mail down", "--service", "smtp"); code != exitOK || !strings.Contains(out, "opened ticket #1") {
		t.Fatalf("open: %d %q %q", code, out, errOut)
	}
	elsewhere := t.TempDir()
	code, out, errOut := runMain(t, elsewhere, nil, "ticket", "ack", "1", "--config", cfg, "--note", "on it")
	if code != exitOK || !strings.Contains(out, "ticket #1 is acknowledged") {
		t.Fatalf("ticket ack 1 --config FILE: %d %q %q", code, out, errOut)
	}
	if got := dirEntries(t, elsewhere); len(got) != 0 {
		t.Errorf("ticket ack created %v in the working directory", got)
	}
	// The acknowledgement is in FILE's database, and so is the note.
	code, out, errOut = runMain(t, elsewhere, nil, "ticket", "show", "1", "--json", "--config="+cfg)
	if code != exitOK {
		t.Fatalf("show: %d %s", code, errOut)
	}
	var shown struct {
		Ticket   struct{ State string }
		Timeline []struct{ Body string }
	}
	if err := json.Unmarshal([]byte(out), &shown); err != nil {
		t.Fatalf("show --json: %v\n%s", err, out)
	}
	if shown.Ticket.State != "acknowledged" || !strings.Contains(out, "on it") {
		t.Errorf("after ack: state %q\n%s", shown.Ticket.State, out)
	}
	// The global flags may also stand before the command or between its words.
	for _, args := range [][]string{
		{"--config", cfg, "ticket", "show", "1"},
		{"ticket", "--config", cfg, "show", "1"},
		{"ticket", "show", "--config", cfg, "1"},
		{"--log-level=warn", "ticket", "show", "1", "--config", cfg},
	} {
		if code, out, errOut := runCLI(t, args...); code != exitOK || !strings.Contains(out, "#1 Mail down") {
			t.Errorf("%q: %d %q %q", args, code, out, errOut)
		}
	}
	// "--" ends the flags.
	if code, _, errOut := runCLI(t, "ticket", "show", "--config", cfg, "--", "--json"); code != exitUsage || !strings.Contains(errOut, "ticket ID") {
		t.Errorf(`show -- --json: %d %q`, code, errOut)
	}
}

// TestNoDatabaseIsRefusedAndNothingCreated: in an empty directory with no
// configuration, a command that reads data exits 4, names the
// configuration it looked for and leaves the directory empty.
func TestNoDatabaseIsRefusedAndNothingCreated(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(defaultConfigPath); err == nil {
		t.Skipf("%s exists on this machine", defaultConfigPath)
	}
	dir := t.TempDir()
	for _, args := range [][]string{{"ticket", "list"}, {"incident", "list"}, {"token", "list"}, {"directory", "list"},
		{"queue", "list"}, {"summary"}, {"user", "list"}, {"probe", "status"}, {"migrate", "status"}, {"ticket", "ack", "1"}} {
		code, out, errOut := runMain(t, dir, nil, args...)
		if args[0] == "incident" {
			// Without an on-call team there are no incidents to read.
			if code == exitOK {
				t.Errorf("%q: exit 0: %q", args, out)
			}
			continue
		}
		if code != exitNoDatabase {
			t.Errorf("%q: exit %d, want %d: %q %q", args, code, exitNoDatabase, out, errOut)
		}
		for _, want := range []string{"no database", "data/postvakt.db does not exist", "no --config", "POSTVAKT_CONFIG", defaultConfigPath, "nothing was created", "postvakt migrate up"} {
			if !strings.Contains(errOut, want) {
				t.Errorf("%q: message lacks %q: %s", args, want, errOut)
			}
		}
		if got := dirEntries(t, dir); len(got) != 0 {
			t.Fatalf("%q created %v", args, got)
		}
	}
	// A named configuration whose database was never made: the message
	// names the file.
	cfg := writeConfig(t, "data_dir: DATADIR\n")
	code, _, errOut := runMain(t, dir, nil, "ticket", "list", "--config", cfg)
	if code != exitNoDatabase || !strings.Contains(errOut, cfg+" (--config)") {
		t.Errorf("named config without a database: %d %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(cfg), "data")); err == nil {
		t.Error("the data directory of the named configuration was created")
	}
	code, _, errOut = runMain(t, dir, []string{"POSTVAKT_CONFIG=" + cfg}, "ticket", "list")
	if code != exitNoDatabase || !strings.Contains(errOut, cfg+" (POSTVAKT_CONFIG)") {
		t.Errorf("POSTVAKT_CONFIG without a database: %d %s", code, errOut)
	}
	// An empty SQLite file is not a postvakt database either.
	empty := filepath.Join(t.TempDir(), "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg = writeConfig(t, "data_dir: DATADIR\ndatabase:\n  url: sqlite:"+empty+"\n")
	if code, _, errOut := runCLI(t, "ticket", "list", "--config", cfg); code != exitNoDatabase || !strings.Contains(errOut, "holds no postvakt schema") {
		t.Errorf("empty database file: %d %s", code, errOut)
	}
	// A configuration file that does not exist is a configuration error (3).
	code, _, errOut = runMain(t, dir, nil, "ticket", "list", "--config", filepath.Join(dir, "nope.yaml"))
	if code != exitConfig || !strings.Contains(errOut, "nope.yaml") {
		t.Errorf("missing config file: %d %s", code, errOut)
	}
	if got := dirEntries(t, dir); len(got) != 0 {
		t.Fatalf("created %v", got)
	}
}

// TestConfigFromEnvironmentAndDefaultPath: POSTVAKT_CONFIG, else the
// default path when it exists; --config wins over both.
func TestConfigFromEnvironmentAndDefaultPath(t *testing.T) {
	t.Parallel()
	a := dataConfig(t, ticketYAML)
	runCLI(t, "ticket", "open", "--config", a, "--title", "In A", "--service", "smtp")
	b := dataConfig(t, ticketYAML)
	runCLI(t, "ticket", "open", "--config", b, "--title", "In B", "--service", "smtp")
	list := func(ro runOptions, args ...string) string {
		t.Helper()
		var o, e bytes.Buffer
		if code := runWith(context.Background(), append([]string{"ticket", "list"}, args...), &o, &e, ro); code != exitOK {
			t.Fatalf("ticket list %q: %d %s", args, code, e.String())
		}
		return o.String()
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if out := list(runOptions{defaultConfig: a, getenv: env(nil)}); !strings.Contains(out, "In A") {
		t.Errorf("default path: %s", out)
	}
	if out := list(runOptions{defaultConfig: a, getenv: env(map[string]string{"POSTVAKT_CONFIG": b})}); !strings.Contains(out, "In B") {
		t.Errorf("POSTVAKT_CONFIG over the default path: %s", out)
	}
	if out := list(runOptions{defaultConfig: a, getenv: env(map[string]string{"POSTVAKT_CONFIG": b})}, "--config", a); !strings.Contains(out, "In A") {
		t.Errorf("--config over POSTVAKT_CONFIG: %s", out)
	}
	var o, e bytes.Buffer
	runWith(context.Background(), []string{"check-config"}, &o, &e, runOptions{defaultConfig: a, getenv: env(nil)})
	if !strings.Contains(o.String(), a+" (the default path): configuration is valid") || !strings.Contains(o.String(), "Europe/Oslo") {
		t.Errorf("check-config on the default path: %q %q", o.String(), e.String())
	}
}

// TestHelpVersionAndSuggestions: help CMD, --version, "did you mean" for
// commands and flags, exit codes.
func TestHelpVersionAndSuggestions(t *testing.T) {
	t.Parallel()
	code, out, _ := runCLI(t, "help", "ticket")
	if code != exitOK || !strings.Contains(out, "postvakt ticket — ") || !strings.Contains(out, "  ack ") || strings.Contains(out, "  serve ") {
		t.Errorf("help ticket: %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "help", "ticket", "open")
	if code != exitOK || !strings.Contains(out, "postvakt ticket open [flags]") || !strings.Contains(out, "-title") {
		t.Errorf("help ticket open: %d\n%s", code, out)
	}
	if code, out2, _ := runCLI(t, "ticket", "help", "open"); code != exitOK || out2 != out {
		t.Errorf("ticket help open differs from help ticket open: %d\n%s", code, out2)
	}
	if code, out, _ := runCLI(t, "help"); code != exitOK || !strings.Contains(out, "Exit codes") {
		t.Errorf("help: %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "--version")
	if code != exitOK || !strings.HasPrefix(out, "postvakt ") {
		t.Errorf("--version: %d %q", code, out)
	}
	if _, v, _ := runCLI(t, "version"); v != out {
		t.Errorf("version %q != --version %q", v, out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"tiket", "list"}, `unknown command "tiket"; did you mean ticket?`},
		{[]string{"ticket", "lsit"}, `unknown command "lsit"; did you mean list?`},
		{[]string{"help", "tickte"}, `did you mean ticket?`},
		{[]string{"ticket", "list", "--jsno"}, `unknown flag --jsno; did you mean --json?`},
		{[]string{"ticket", "open", "--titel", "x"}, `did you mean --title?`},
		{[]string{"--confg", "x", "ticket", "list"}, `did you mean --config?`},
		{[]string{"ticket", "list", "--config"}, `flag --config needs a value`},
		{[]string{"xyzzyplugh"}, `unknown command "xyzzyplugh"`},
	} {
		code, _, errOut := runCLI(t, c.args...)
		if code != exitUsage || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: %d %q, want exit 2 and %q", c.args, code, errOut, c.want)
		}
		if strings.Contains(errOut, "Commands:") {
			t.Errorf("%q printed the whole help: %s", c.args, errOut)
		}
	}
	if _, _, errOut := runCLI(t, "xyzzyplugh"); strings.Contains(errOut, "did you mean") {
		t.Errorf("a suggestion for a word like no command: %s", errOut)
	}
}

// TestNotFoundOnceAndValidValues: "not found" is said once, and errors
// about a bad value list the valid ones.
func TestNotFoundOnceAndValidValues(t *testing.T) {
	t.Parallel()
	cfg := dataConfig(t, ticketYAML)
	code, _, errOut := runCLI(t, "ticket", "show", "999", "--config", cfg)
	if code != exitError || strings.Count(errOut, "not found") != 1 {
		t.Errorf("ticket show 999: %d %q", code, errOut)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"ticket", "open", "--title", "x", "--service", "pop"}, "smtp, imap"},
		{[]string{"ticket", "open", "--title", "x", "--service", "smtp", "--severity", "huge"}, "critical, major, minor"},
		{[]string{"ticket", "list", "--state", "opened"}, "new, acknowledged, investigating"},
		{[]string{"token", "create", "--name", "x", "--role", "root"}, "admin, postmaster, oncall, helpdesk or viewer"},
		{[]string{"quarantine", "list", "--reason", "bad"}, "virus, spam, suspect or banned"},
	} {
		code, _, errOut := runCLI(t, append(c.args, "--config", cfg)...)
		if code == exitOK || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: %d %q, want %q", c.args, code, errOut, c.want)
		}
	}
	ocfg := dataConfig(t, oncallYAML)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"oncall", "override", "add", "--member", "nobody", "--from", "now", "--to", "+2h"}, `unknown member "nobody" (members: "ana", "bjorn", "chen")`},
		{[]string{"oncall", "now", "--rota", "weekly"}, `unknown rota "weekly" (rotas: "ukevakt")`},
		{[]string{"incident", "list", "--status", "closed"}, "triggered, acknowledged, resolved or open"},
		{[]string{"incident", "ack", "999"}, "not found"},
	} {
		code, _, errOut := runCLI(t, append(c.args, "--config", ocfg)...)
		if code == exitOK || !strings.Contains(errOut, c.want) || strings.Count(errOut, "not found") > 1 {
			t.Errorf("%q: %d %q, want %q", c.args, code, errOut, c.want)
		}
	}
}

// TestOneTimeGrammar: oncall at/override (RFC 3339 only before) read the
// same times as ticket and notice: "YYYY-MM-DD HH:MM" in the service zone,
// now, +2h / -30m (a leading "-" is a time, not a flag).
func TestOneTimeGrammar(t *testing.T) {
	t.Parallel()
	cfg := dataConfig(t, oncallYAML) // timezone: Europe/Oslo
	who := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, append([]string{"oncall", "at", "--config", cfg}, args...)...)
		if code != exitOK {
			t.Fatalf("oncall at %q: %d %s", args, code, errOut)
		}
		return out
	}
	// 2026-01-05 09:00 Oslo is ana's first handover (08:00 UTC).
	if out := who("2026-01-05 08:59"); !strings.HasPrefix(out, "chen") {
		t.Errorf("08:59: %s", out)
	}
	if out := who("2026-01-05 09:00"); !strings.HasPrefix(out, "ana") || !strings.Contains(out, "Mon 2026-01-05 09:00 CET") {
		t.Errorf("09:00: %s", out)
	}
	if out := who("2026-01-05T08:00:00Z"); !strings.HasPrefix(out, "ana") {
		t.Errorf("RFC 3339: %s", out)
	}
	for _, rel := range []string{"now", "+2h", "-30m", "-1d"} {
		who(rel)
	}
	if code, _, errOut := runCLI(t, "oncall", "at", "--config", cfg, "2026-03-29 02:30"); code != exitUsage || !strings.Contains(errOut, "does not exist in Europe/Oslo") {
		t.Errorf("skipped hour: %d %s", code, errOut)
	}
	// An override starts now or later (the past is on record): a winter
	// day of next year, typed as wall time.
	day := time.Date(time.Now().Year()+1, 1, 6, 10, 0, 0, 0, oslo)
	code, out, errOut := runCLI(t, "oncall", "override", "add", "--config", cfg, "--member", "bjorn",
		"--from", day.Format("2006-01-02 15:04"), "--to", day.Add(2*time.Hour).Format("2006-01-02 15:04"))
	if code != exitOK || !strings.Contains(out, day.Format("Mon 2006-01-02 15:04")+" CET") {
		t.Fatalf("override with wall times: %d %q %q", code, out, errOut)
	}
	if out := who(day.Add(time.Hour).Format("2006-01-02 15:04")); !strings.HasPrefix(out, "bjorn") {
		t.Errorf("override at 11:00: %s", out)
	}
}

// TestJSONOnEveryListAndShow: every list and show command takes --json
// and prints one valid JSON document.
func TestJSONOnEveryListAndShow(t *testing.T) {
	t.Parallel()
	cfg := dataConfig(t, oncallYAML+"tickets:\n  services: [{id: smtp, name: SMTP}]\n")
	runCLI(t, "ticket", "open", "--config", cfg, "--title", "x", "--service", "smtp")
	runCLI(t, "notice", "create", "--config", cfg, "--title", "y", "--service", "smtp", "--no-announce")
	runCLI(t, "token", "create", "--config", cfg, "--name", "ops", "--role", "viewer")
	runCLI(t, "directory", "add-domain", "--config", cfg, "uni.example")
	for _, args := range [][]string{
		{"ticket", "list"}, {"ticket", "show", "1"}, {"notice", "list"}, {"notice", "show", "1"},
		{"incident", "list"}, {"oncall", "now"}, {"oncall", "at", "2026-06-01 12:00"}, {"oncall", "schedule"},
		{"token", "list"}, {"user", "list"}, {"directory", "list"}, {"queue", "list"}, {"quarantine", "list"},
		{"probe", "list"}, {"probe", "status"}, {"summary"}, {"trace", "--from", "a@uni.example"}, {"migrate", "status"},
	} {
		code, out, errOut := runCLI(t, append(args, "--json", "--config", cfg)...)
		if code != exitOK || !json.Valid([]byte(out)) || strings.TrimSpace(out) == "" {
			t.Errorf("%q --json: %d %q %q", args, code, out, errOut)
		}
	}
	// Every list and show command has the flag, including ones this test
	// has no data for.
	var walk func(path []string, cs []*command)
	walk = func(path []string, cs []*command) {
		for _, c := range cs {
			p := append(append([]string(nil), path...), c.name)
			if len(c.subs) > 0 {
				walk(p, c.subs)
				continue
			}
			if c.name == "list" || c.name == "show" || c.name == "status" {
				fs, _ := newFlagSet(c, p)
				if fs.Lookup("json") == nil {
					t.Errorf("%s has no --json", strings.Join(p, " "))
				}
			}
		}
	}
	walk(nil, commands())
}

// TestServiceZoneCLI: with the CLI in UTC (TZ=UTC) and timezone:
// Europe/Oslo, a ticket notified on Friday 4 December at 09:00 Oslo time (typed as RFC 3339 in
// UTC, or as a wall time) reads 09:00 CET in `ticket show` and `ticket
// list`, an incident opened then reads 09:00 CET in `incident list`, and
// the handover at 09:00 reads 09:00 CET in `oncall at`.
func TestServiceZoneCLI(t *testing.T) {
	t.Parallel()
	cfg := dataConfig(t, oncallYAML+ // timezone: Europe/Oslo
		"tickets:\n  services: [{id: smtp, name: SMTP}, {id: webmail, name: Webmail}]\n")
	utc := []string{"TZ=UTC"}
	dir := t.TempDir()
	for _, notified := range []string{"2026-12-04T08:00:00Z", "2026-12-04 09:00"} {
		if code, out, errOut := runMain(t, dir, utc, "ticket", "open", "--config", cfg, "--title", "Webmail shows error 502",
			"--service", "webmail", "--notified", notified); code != exitOK {
			t.Fatalf("ticket open --notified %q: %d %s %s", notified, code, out, errOut)
		}
	}
	for _, id := range []string{"1", "2"} {
		code, out, errOut := runMain(t, dir, utc, "ticket", "show", id, "--config", cfg)
		if code != exitOK {
			t.Fatalf("ticket show: %d %s", code, errOut)
		}
		if !strings.Contains(out, "notified:       Fri 2026-12-04 09:00 CET") || strings.Contains(out, "08:00") {
			t.Errorf("ticket show %s:\n%s", id, out)
		}
		var js struct {
			Ticket struct {
				NotifiedAt time.Time `json:"notified_at"`
			}
		}
		_, out, _ = runMain(t, dir, utc, "ticket", "show", id, "--json", "--config", cfg)
		if err := json.Unmarshal([]byte(out), &js); err != nil || !js.Ticket.NotifiedAt.Equal(time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)) {
			t.Errorf("ticket show --json: notified_at %v (%v)", js.Ticket.NotifiedAt, err)
		}
	}

	// An incident opened at 09:00 Oslo time.
	db, err := storage.Open(context.Background(), "sqlite:"+filepath.Join(filepath.Dir(cfg), "data", "postvakt.db"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opened := time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
	if _, err := oncallstore.New(db).CreateIncident(context.Background(), incident.Incident{Key: "test/mx", Source: "api", Title: "MX queue growing",
		Severity: "critical", Status: incident.StatusTriggered, Policy: "mail", OpenedAt: opened}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, out, errOut := runMain(t, dir, utc, "incident", "list", "--config", cfg)
	if code != exitOK || !strings.Contains(out, "Fri 2026-12-04 09:00 CET") || strings.Contains(out, "08:00") {
		t.Errorf("incident list: %d %s\n%s", code, errOut, out)
	}

	code, out, errOut = runMain(t, dir, utc, "oncall", "at", "2026-12-07 09:00", "--config", cfg)
	if code != exitOK || !strings.Contains(out, "Mon 2026-12-07 09:00 CET → Mon 2026-12-14 09:00 CET") {
		t.Errorf("oncall at: %d %s\n%s", code, errOut, out)
	}
	if got := dirEntries(t, dir); len(got) != 0 {
		t.Errorf("created %v", got)
	}
}
