package adminapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/api/adminapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/reload"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
)

// fixture is the admin API on a real server.Server over a migrated SQLite
// database, with a real reload.Manager over a configuration file whose
// log.level a hook applies, and a token per role.
type fixture struct {
	base   string
	file   string
	acc    *accessstore.Store
	level  string // log.level as the hook last applied it
	tokens map[auth.Role]string
}

func write(t *testing.T, p, body string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func newFixture(t *testing.T, withFile bool) *fixture {
	t.Helper()
	db := storagetest.Open(t, storage.SQLite)
	f := &fixture{acc: accessstore.New(db), tokens: map[auth.Role]string{}, level: "info"}
	load := func(p string) (*config.Config, error) { return config.Load(p, []string{}) }
	start := config.Default()
	if withFile {
		f.file = filepath.Join(t.TempDir(), "postvakt.yaml")
		write(t, f.file, "data_dir: ./d\nlog:\n  level: info\n")
		var err error
		if start, err = load(f.file); err != nil {
			t.Fatal(err)
		}
	}
	m := reload.New(reload.Options{Path: f.file, Config: start, Load: load})
	m.Register(reload.Hook{Name: "log", Keys: []string{"log.level"}, Prepare: func(_ context.Context, _, next *config.Config) (func(), []string, error) {
		l := next.Log.Level
		return func() { f.level = l }, nil, nil
	}})
	s := server.New(server.Options{Config: config.Default().HTTP, Tokens: f.acc, Audit: f.acc})
	adminapi.Register(s, adminapi.Options{Reload: m.Reload})
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	f.base = ts.URL
	for _, r := range auth.Roles() {
		_, secret, err := auth.IssueToken(context.Background(), f.acc, auth.TokenRequest{Name: "test-" + string(r), Role: string(r),
			By: "test", Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		f.tokens[r] = secret
	}
	return f
}

// reload posts to the reload route as role ("" for no token) and returns
// the status and the decoded body.
func (f *fixture) reload(t *testing.T, role auth.Role) (int, map[string]json.RawMessage) {
	t.Helper()
	req, err := http.NewRequest("POST", f.base+"/api/v1/admin/reload", nil)
	if err != nil {
		t.Fatal(err)
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+f.tokens[role])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body map[string]json.RawMessage
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("status %d, body %q is not JSON: %v", resp.StatusCode, b, err)
	}
	return resp.StatusCode, body
}

// errorCode is the code of the error envelope {"error":{"code","message"}}.
func errorCode(t *testing.T, body map[string]json.RawMessage) (code, message string) {
	t.Helper()
	var e struct{ Code, Message string }
	if err := json.Unmarshal(body["error"], &e); err != nil {
		t.Fatalf("no error envelope in %v: %v", body, err)
	}
	return e.Code, e.Message
}

// audited lists the config.reload entries of the audit log.
func (f *fixture) audited(t *testing.T) []auth.AuditEntry {
	t.Helper()
	all, err := f.acc.ListAudit(context.Background(), time.Time{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []auth.AuditEntry
	for _, e := range all {
		if e.Action == "config.reload" {
			out = append(out, e)
		}
	}
	return out
}

// TestReloadRoles: only an admin may reload; every other role and no
// token are refused before anything is read, and nothing is audited.
func TestReloadRoles(t *testing.T) {
	t.Parallel()
	f := newFixture(t, true)
	write(t, f.file, "data_dir: ./d\nlog:\n  level: debug\n")
	for _, r := range auth.Roles() {
		if r == auth.RoleAdmin {
			continue
		}
		if st, body := f.reload(t, r); st != http.StatusForbidden {
			t.Errorf("%s: status %d %v, want 403", r, st, body)
		}
	}
	if st, _ := f.reload(t, ""); st != http.StatusUnauthorized {
		t.Errorf("no token: status %d, want 401", st)
	}
	if f.level != "info" || len(f.audited(t)) != 0 {
		t.Errorf("a refused caller changed something: level %q, audit %v", f.level, f.audited(t))
	}
}

// TestReloadApplies: an admin's reload applies the changed key, reports the
// one that needs a restart, and is audited with the file and the summary.
func TestReloadApplies(t *testing.T) {
	t.Parallel()
	f := newFixture(t, true)
	write(t, f.file, "data_dir: ./d\nlog:\n  level: debug\nsmtp:\n  hostname: mx2.uni.example\n")
	st, body := f.reload(t, auth.RoleAdmin)
	if st != http.StatusOK {
		t.Fatalf("status %d %v", st, body)
	}
	var applied, restart []string
	var by, file string
	for k, v := range map[string]any{"applied": &applied, "restart_required": &restart, "by": &by, "file": &file} {
		if err := json.Unmarshal(body[k], v); err != nil {
			t.Fatalf("%s: %v in %v", k, err, body)
		}
	}
	if !slices.Equal(applied, []string{"log.level"}) || !slices.Equal(restart, []string{"smtp.hostname"}) ||
		by != "api:token:test-admin" || file != f.file {
		t.Errorf("report: applied %v, restart %v, by %q, file %q", applied, restart, by, file)
	}
	if f.level != "debug" {
		t.Errorf("level after reload %q", f.level)
	}
	a := f.audited(t)
	if len(a) != 1 || a[0].Target != f.file || !strings.Contains(a[0].Detail, "applied: log.level") ||
		!strings.Contains(a[0].Detail, "need a restart: smtp.hostname") {
		t.Errorf("audit %+v", a)
	}
}

// TestReloadRefused: a file that does not load is 422 invalid_configuration
// naming the file and line, applies nothing and is audited as rejected.
func TestReloadRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, true)
	write(t, f.file, "data_dir: ./d\nlog:\n  level: loud\n")
	st, body := f.reload(t, auth.RoleAdmin)
	code, msg := errorCode(t, body)
	if st != http.StatusUnprocessableEntity || code != "invalid_configuration" || !strings.Contains(msg, filepath.Base(f.file)+":3") {
		t.Errorf("status %d, code %q, message %q", st, code, msg)
	}
	if f.level != "info" {
		t.Errorf("a refused file applied log.level %q", f.level)
	}
	if a := f.audited(t); len(a) != 1 || a[0].Detail != "rejected" {
		t.Errorf("audit %+v", a)
	}
}

// TestReloadNoFile: on the built-in defaults there is nothing to read again:
// 409 conflict, nothing audited.
func TestReloadNoFile(t *testing.T) {
	t.Parallel()
	f := newFixture(t, false)
	st, body := f.reload(t, auth.RoleAdmin)
	if code, msg := errorCode(t, body); st != http.StatusConflict || code != "conflict" || !strings.Contains(msg, "built-in defaults") {
		t.Errorf("status %d, code %q, message %q", st, code, msg)
	}
	if a := f.audited(t); len(a) != 0 {
		t.Errorf("audit %+v", a)
	}
}
