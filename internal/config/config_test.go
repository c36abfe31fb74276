package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/config/validate"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "postvakt.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsAreValid(t *testing.T) {
	t.Parallel()
	cfg, err := Load("", []string{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DatabaseURL() != "sqlite:data/postvakt.db" || cfg.HTTP.Listen != "127.0.0.1:9780" {
		t.Fatalf("defaults: %s %s", cfg.DatabaseURL(), cfg.HTTP.Listen)
	}
}

func TestUnknownKeyNamesLine(t *testing.T) {
	t.Parallel()
	p := writeFile(t, "data_dir: ./d\nhttp:\n  listen: 127.0.0.1:1\n  listne: x\n")
	_, err := Load(p, []string{})
	if !errors.Is(err, ErrDecode) {
		t.Fatalf("err = %v, want ErrDecode", err)
	}
	if want := p + `:4: unknown key "listne"`; !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %q, want it to contain %q", err, want)
	}
}

func TestBadValueNamesKeyValueAndLine(t *testing.T) {
	t.Parallel()
	p := writeFile(t, "log:\n  level: chatty\nhttp:\n  listen: \"nowhere\"\ndatabase:\n  url: mysql://x\n")
	_, err := Load(p, []string{})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v, want ErrInvalid", err)
	}
	for _, want := range []string{
		p + `:2: log.level: "chatty"`,
		p + `:4: http.listen: "nowhere"`,
		p + `:6: database.url: "mysql://x"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %q\nwant it to contain %q", err, want)
		}
	}
	var fe *validate.Error
	if !errors.As(err, &fe) || fe.Line == 0 {
		t.Fatalf("no validate.Error with a line in %v", err)
	}
}

func TestWrongTypeAndSecondDocument(t *testing.T) {
	t.Parallel()
	p := writeFile(t, "http:\n  read_timeout: soon\n")
	if _, err := Load(p, []string{}); err == nil || !strings.Contains(err.Error(), p+":2:") {
		t.Fatalf("bad duration: %v", err)
	}
	p = writeFile(t, "data_dir: a\n---\ndata_dir: b\n")
	if _, err := Load(p, []string{}); err == nil || !strings.Contains(err.Error(), "one YAML document") {
		t.Fatalf("two documents: %v", err)
	}
	p = writeFile(t, "data_dir: [\n")
	if _, err := Load(p, []string{}); !errors.Is(err, ErrDecode) {
		t.Fatalf("syntax: %v", err)
	}
}

func TestEnvironmentOverrides(t *testing.T) {
	t.Parallel()
	p := writeFile(t, "database:\n  url: sqlite:./x.db\n")
	cfg, err := Load(p, []string{"POSTVAKT_DATABASE_URL=postgres://u:secret@127.0.0.1:5432/pv", "OTHER=1"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DatabaseURL() != "postgres://u:secret@127.0.0.1:5432/pv" {
		t.Fatalf("url %q", cfg.DatabaseURL())
	}
	_, err = Load(p, []string{"POSTVAKT_DATABASE_URL=oracle://u:secret@h/x"})
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("bad URL error must not show the password: %v", err)
	}
}

func TestSchedulerOverrideIsChecked(t *testing.T) {
	t.Parallel()
	p := writeFile(t, "scheduler:\n  jobs:\n    report:\n      schedule: \"every tuesday\"\n")
	_, err := Load(p, []string{})
	if err == nil || !strings.Contains(err.Error(), p+`:4: scheduler.jobs.report.schedule: "every tuesday"`) {
		t.Fatalf("err = %v", err)
	}
	p = writeFile(t, "scheduler:\n  jobs:\n    report:\n      schedule: \"CRON_TZ=Europe/Oslo 0 7 1 * *\"\n")
	if _, err := Load(p, []string{}); err != nil {
		t.Fatal(err)
	}
}

// TestExampleFileIsValid keeps examples/postvakt.yaml loadable and checks
// that it mentions every key.
func TestExampleFileIsValid(t *testing.T) {
	t.Parallel()
	p := filepath.Join("..", "..", "examples", "postvakt.yaml")
	cfg, err := Load(p, []string{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.ReadTimeout != 30*time.Second {
		t.Fatalf("example read_timeout %v", cfg.HTTP.ReadTimeout)
	}
}

// TestEveryKeyIsDocumented checks docs/configuration.md names every key of
// Config, so the documentation cannot fall behind the code.
func TestEveryKeyIsDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join("..", "..", "examples", "postvakt.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range Keys() {
		if !strings.Contains(string(doc), "`"+key+"`") {
			t.Errorf("docs/configuration.md does not document `%s`", key)
		}
		leaf := key[strings.LastIndex(key, ".")+1:]
		if !strings.Contains(string(example), leaf+":") {
			t.Errorf("examples/postvakt.yaml does not show %s", key)
		}
	}
}

func TestKeysWalksNestedStructs(t *testing.T) {
	t.Parallel()
	keys := Keys()
	for _, want := range []string{"data_dir", "http.listen", "metrics.push.url", "scheduler.jobs"} {
		found := false
		for _, k := range keys {
			found = found || k == want
		}
		if !found {
			t.Errorf("Keys() lacks %s: %v", want, keys)
		}
	}
}

// TestServiceZone checks that notices, reports and rotas follow the
// top-level timezone unless the file sets their own, and that check-config
// warns about the deprecated keys with file and line.
func TestServiceZone(t *testing.T) {
	t.Parallel()
	p := writeFile(t, "timezone: Europe/Oslo\n")
	cfg, err := Load(p, []string{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Location().String() != "Europe/Oslo" || cfg.Notices.TimeZone != "Europe/Oslo" || cfg.Reports.TimeZone != "Europe/Oslo" {
		t.Errorf("zones: %v %q %q", cfg.Location(), cfg.Notices.TimeZone, cfg.Reports.TimeZone)
	}
	if w := cfg.Warnings(); len(w) != 0 {
		t.Errorf("warnings of a clean file: %q", w)
	}
	p = writeFile(t, "timezone: Europe/Oslo\nnotices:\n  time_zone: Europe/London\nreports:\n  time_zone: Europe/Oslo\ncollectors:\n  timezone: UTC\n")
	cfg, err = Load(p, []string{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Notices.TimeZone != "Europe/London" {
		t.Errorf("notices.time_zone override lost: %q", cfg.Notices.TimeZone)
	}
	if loc, _ := cfg.Collectors.LogLocation(); loc != time.UTC {
		t.Errorf("collectors.timezone (old name) not read: %v", loc)
	}
	w := strings.Join(cfg.Warnings(), "\n")
	for _, want := range []string{
		p + ":3: notices.time_zone: deprecated: Europe/London differs",
		p + ":5: reports.time_zone: deprecated: it follows the top-level timezone (Europe/Oslo); remove it",
		p + ":7: collectors.timezone: renamed to collectors.log_timezone",
	} {
		if !strings.Contains(w, want) {
			t.Errorf("warnings lack %q:\n%s", want, w)
		}
	}
	p = writeFile(t, "timezone: Mars/Olympus\n")
	if _, err := Load(p, []string{}); err == nil || !strings.Contains(err.Error(), p+`:1: timezone: "Mars/Olympus"`) {
		t.Errorf("bad zone: %v", err)
	}
	cfg, err = Load("", []string{"POSTVAKT_TIMEZONE=UTC"})
	if err != nil || cfg.Location() != time.UTC || cfg.Notices.TimeZone != "UTC" {
		t.Errorf("environment: %v %v", cfg, err)
	}
}

// TestRotaZoneFollowsServiceZone: a rota without time_zone hands over in
// the service time zone; one with its own keeps it.
func TestRotaZoneFollowsServiceZone(t *testing.T) {
	t.Parallel()
	p := writeFile(t, `timezone: America/New_York
oncall:
  members: [{id: ana, name: Ana}, {id: bo, name: Bo}]
  rotas:
    - {name: a, members: [ana, bo], start: "2026-01-05"}
    - {name: b, members: [ana, bo], start: "2026-01-05", time_zone: Europe/Oslo}
  escalation_policies: [{name: p, rota: a, steps: [{after: 0s, notify: [oncall]}]}]
`)
	cfg, err := Load(p, []string{})
	if err != nil {
		t.Fatal(err)
	}
	if got := []string{cfg.Oncall.Rotas[0].TimeZone, cfg.Oncall.Rotas[1].TimeZone}; got[0] != "America/New_York" || got[1] != "Europe/Oslo" {
		t.Errorf("rota zones %q", got)
	}
}

// A local domain delivered to a back end needs the relay queue, which
// carries its mail; check-config says so at the key.
func TestBackendDeliveryNeedsRelay(t *testing.T) {
	t.Parallel()
	p := writeFile(t, "smtp:\n  directory:\n    delivery:\n      ug.example: \"lmtp:127.0.0.1:24\"\n      uni.example: store\n")
	_, err := Load(p, []string{})
	if want := `smtp.directory.delivery.ug.example: "lmtp:127.0.0.1:24"`; err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "relay.enabled") {
		t.Fatalf("err = %v, want it to name %s and relay.enabled", err, want)
	}
	if strings.Contains(err.Error(), "uni.example") {
		t.Fatalf("a store domain is reported: %v", err)
	}
	p = writeFile(t, "smtp:\n  directory:\n    delivery:\n      ug.example: \"lmtp:127.0.0.1:24\"\nrelay:\n  enabled: true\n")
	if _, err := Load(p, []string{}); err != nil {
		t.Fatal(err)
	}
}

// Each committer holds a database connection for its whole commit and a
// commit may need one more, so smtp.commit.workers must stay below
// database.max_conns (with 8 and 8 on PostgreSQL the first commit of the
// day waited for ever).
func TestCommitWorkersBelowMaxConns(t *testing.T) {
	t.Parallel()
	p := writeFile(t, "database:\n  max_conns: 8\nsmtp:\n  commit:\n    workers: 8\n")
	if _, err := Load(p, []string{}); err == nil || !strings.Contains(err.Error(), `smtp.commit.workers: "8"`) || !strings.Contains(err.Error(), "database.max_conns (8)") {
		t.Fatalf("err = %v, want smtp.commit.workers refused naming database.max_conns", err)
	}
	p = writeFile(t, "database:\n  max_conns: 8\nsmtp:\n  commit:\n    workers: 7\n")
	if _, err := Load(p, []string{}); err != nil {
		t.Fatal(err)
	}
	p = writeFile(t, "database:\n  max_conns: 2\nsmtp:\n  enabled: false\n  commit:\n    workers: 4\n")
	if _, err := Load(p, []string{}); err != nil {
		t.Fatalf("the engine off: %v", err)
	}
}
