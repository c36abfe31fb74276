package reload

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/config/validate"
	"github.com/uni-mail/postvakt/internal/config"
)

func write(t *testing.T, p, body string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestReload: a reload applies the hooks' keys, reports the others as
// needing a restart (until the restart), and a refused file or a refusing
// hook applies nothing.
func TestReload(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "postvakt.yaml")
	write(t, p, "data_dir: ./d\nlog:\n  level: info\n")
	start, err := config.Load(p, []string{})
	if err != nil {
		t.Fatal(err)
	}
	m := New(Options{Path: p, Config: start, Load: func(p string) (*config.Config, error) { return config.Load(p, []string{}) }})
	level := "info"
	var refuse error
	m.Register(Hook{Name: "log", Keys: []string{"log.level"}, Prepare: func(_ context.Context, cur, next *config.Config) (func(), []string, error) {
		if refuse != nil {
			return nil, nil, next.Locate("log", refuse)
		}
		l := next.Log.Level
		return func() { level = l }, nil, nil
	}})
	applied := 0
	m.Register(Hook{Name: "smtp whitelist", Keys: []string{"smtp.whitelist"}, Prepare: func(_ context.Context, cur, next *config.Config) (func(), []string, error) {
		return func() { applied++ }, []string{"a note"}, nil
	}})

	rep, err := m.Reload(context.Background(), "test")
	if err != nil || len(rep.Applied)+len(rep.RestartRequired) > 0 {
		t.Fatalf("unchanged file: %+v %v", rep, err)
	}

	write(t, p, "data_dir: ./d\nlog:\n  level: debug\nsmtp:\n  hostname: mx2.uni.example\n  whitelist:\n    clients: [192.0.2.0/24]\n")
	rep, err = m.Reload(context.Background(), "test")
	if err != nil {
		t.Fatal(err)
	}
	if level != "debug" || applied != 2 {
		t.Errorf("applied: level %q, whitelist hook %d times", level, applied)
	}
	if !slices.Equal(rep.Applied, []string{"log.level", "smtp.whitelist.clients"}) || !slices.Equal(rep.RestartRequired, []string{"smtp.hostname"}) ||
		!slices.Contains(rep.Notes, "a note") {
		t.Errorf("report %+v", rep)
	}
	if !strings.Contains(rep.Summary(), "need a restart: smtp.hostname") {
		t.Errorf("summary %q", rep.Summary())
	}
	if m.Current().Log.Level != "debug" {
		t.Errorf("current level %q", m.Current().Log.Level)
	}
	// The restart is still pending on the next reload.
	rep, err = m.Reload(context.Background(), "test")
	if err != nil || len(rep.Applied) != 0 || !slices.Equal(rep.RestartRequired, []string{"smtp.hostname"}) {
		t.Errorf("second reload: %+v %v", rep, err)
	}

	// A file that does not load changes nothing and names file and line.
	write(t, p, "data_dir: ./d\nlog:\n  level: loud\n")
	_, err = m.Reload(context.Background(), "test")
	if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), p+`:3: log.level: "loud"`) || level != "debug" {
		t.Errorf("bad file: %v (level %q)", err, level)
	}
	// A hook that refuses stops every hook's apply.
	write(t, p, "data_dir: ./d\nlog:\n  level: warn\nsmtp:\n  whitelist:\n    clients: [198.51.100.0/24]\n")
	before := applied
	refuse = validate.Field("level", "warn", "refused by the test")
	_, err = m.Reload(context.Background(), "test")
	if !errors.Is(err, ErrRejected) || !strings.Contains(err.Error(), p+`:3: log.level: "warn": refused by the test`) || level != "debug" || applied != before {
		t.Errorf("refusing hook: %v (level %q, applied %d→%d)", err, level, before, applied)
	}
	if m.Current().Log.Level != "debug" {
		t.Errorf("a refused reload changed the current configuration")
	}

	if _, err := New(Options{Config: start}).Reload(context.Background(), "test"); !errors.Is(err, ErrNoFile) {
		t.Errorf("defaults: %v", err)
	}
}

func TestDiff(t *testing.T) {
	t.Parallel()
	a, b := config.Default(), config.Default()
	if d := config.Diff(a, b); len(d) != 0 {
		t.Errorf("same: %v", d)
	}
	b.SMTP.Whitelist.Senders = []string{"@uni.example"}
	b.Notices.AnnounceTo = "x@uni.example"
	b.Database.URL = "postgres://u:secret@h/db"
	d := config.Diff(a, b)
	if !slices.Equal(d, []string{"database.url", "smtp.whitelist.senders", "notices.announce_to"}) {
		t.Errorf("diff %v", d)
	}
	if strings.Contains(strings.Join(d, " "), "secret") {
		t.Error("a value in the diff")
	}
}
