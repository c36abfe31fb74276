package engineapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/quarantine"
	"github.com/uni-mail/postvakt/internal/api/accessapi"
	"github.com/uni-mail/postvakt/internal/api/engineapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
)

// fixture is the engine's API on a real server.Server and a real SQLite
// database, with a token per role.
type fixture struct {
	base   string
	db     *storage.DB
	st     *enginestore.Store
	dir    *directory.Directory
	tokens map[auth.Role]string
}

var testTime = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

// newFixture serves the parts of the API that parts chooses from the
// fixture's store and directory; nil: all of them.
func newFixture(t *testing.T, parts func(f *fixture) engineapi.Options) *fixture {
	t.Helper()
	db := storagetest.Open(t, storage.SQLite)
	st := enginestore.New(db)
	cfg := engine.Default()
	cfg.Directory.PasswordHash = directory.HashParams{MemoryKiB: 1024, Time: 1, Threads: 1}
	dir, err := engine.NewDirectory(cfg, st, func() time.Time { return testTime })
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{db: db, st: st, dir: dir, tokens: map[auth.Role]string{}}
	if parts == nil {
		parts = allParts
	}
	o := parts(f)
	acc := accessstore.New(db)
	s := server.New(server.Options{Config: config.Default().HTTP, Tokens: acc, Audit: acc})
	engineapi.Register(s, o)
	accessapi.Register(s, accessapi.Options{Tokens: acc, Audit: acc}) // the audit log the tests read
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	f.base = ts.URL
	for _, r := range []auth.Role{auth.RoleViewer, auth.RoleHelpdesk, auth.RoleOncall, auth.RolePostmaster, auth.RoleAdmin} {
		_, secret, err := auth.IssueToken(context.Background(), acc, auth.TokenRequest{Name: string(r), Role: string(r), By: "test", Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		f.tokens[r] = secret
	}
	return f
}

// allParts is every part of the API.
func allParts(f *fixture) engineapi.Options {
	return engineapi.Options{Directory: f.dir, Mailboxes: f.st, Messages: f.st,
		Quarantine: &quarantine.Service{Store: f.st, Directory: f.dir, Clock: func() time.Time { return testTime }}}
}

// do sends a request with role's token (none for "") and a JSON body
// unless body is nil, and returns the status and the response body.
func (f *fixture) do(t *testing.T, method, path string, role auth.Role, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, f.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+f.tokens[role])
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// call is do that decodes a successful body into out.
func (f *fixture) call(t *testing.T, method, path string, role auth.Role, body, out any) int {
	t.Helper()
	code, b := f.do(t, method, path, role, body)
	if out != nil && code < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return code
}

// errorCode returns the code of an error body, failing unless the body is
// the envelope {"error":{"code","message"}} and nothing else.
func errorCode(t *testing.T, b []byte) string {
	t.Helper()
	var env map[string]map[string]string
	if err := json.Unmarshal(b, &env); err != nil || len(env) != 1 || env["error"] == nil ||
		env["error"]["code"] == "" || env["error"]["message"] == "" || len(env["error"]) != 2 {
		t.Fatalf("not the error envelope: %s", b)
	}
	return env["error"]["code"]
}

// keys returns the sorted keys of a JSON object.
func keys(t *testing.T, b []byte) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, b)
	}
	return keysOf(m)
}

// TestRoutesRefuseWithoutTokenAndBelowRole: every route answers 401 with
// no token and 403 to the role just below its own, in the error envelope.
func TestRoutesRefuseWithoutTokenAndBelowRole(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	for _, r := range []struct {
		method, path string
		below        auth.Role
	}{
		{"GET", "/api/v1/directory/domains", auth.RoleViewer},
		{"POST", "/api/v1/directory/domains", auth.RoleHelpdesk},
		{"GET", "/api/v1/directory/mailboxes", auth.RoleViewer},
		{"GET", "/api/v1/directory/mailboxes/a@uni.example", auth.RoleViewer},
		{"POST", "/api/v1/directory/mailboxes", auth.RoleOncall},
		{"PATCH", "/api/v1/directory/mailboxes/a@uni.example", auth.RoleOncall},
		{"GET", "/api/v1/directory/mailbox-search", auth.RoleViewer},
		{"GET", "/api/v1/directory/aliases", auth.RoleViewer},
		{"POST", "/api/v1/directory/aliases", auth.RoleOncall},
		{"DELETE", "/api/v1/directory/aliases/a@uni.example", auth.RoleOncall},
		{"GET", "/api/v1/directory/mailboxes/a@uni.example/messages", auth.RoleViewer},
		{"GET", "/api/v1/directory/mailboxes/a@uni.example/messages/1", auth.RoleViewer},
		{"GET", "/api/v1/directory/mailboxes/a@uni.example/messages/1/raw", auth.RoleOncall},
		{"DELETE", "/api/v1/directory/mailboxes/a@uni.example/messages/1", auth.RoleOncall},
		{"GET", "/api/v1/directory/mailboxes/a@uni.example/export.mbox", auth.RoleOncall},
		{"GET", "/api/v1/quarantine", auth.RoleOncall},
		{"GET", "/api/v1/quarantine/1", auth.RoleOncall},
		{"POST", "/api/v1/quarantine/1/release", auth.RoleOncall},
		{"DELETE", "/api/v1/quarantine/1", auth.RoleOncall},
	} {
		code, b := f.do(t, r.method, r.path, "", nil)
		if code != http.StatusUnauthorized || errorCode(t, b) != "unauthorized" {
			t.Errorf("%s %s without a token: %d %s", r.method, r.path, code, b)
		}
		code, b = f.do(t, r.method, r.path, r.below, nil)
		if code != http.StatusForbidden || errorCode(t, b) != "forbidden" {
			t.Errorf("%s %s as %s: %d %s", r.method, r.path, r.below, code, b)
		}
	}
}

// TestRegisterServesOnlyTheGivenParts: without a directory (the SMTP
// engine off) the directory routes do not exist, and the quarantine's
// still do.
func TestRegisterServesOnlyTheGivenParts(t *testing.T) {
	t.Parallel()
	none := newFixture(t, func(*fixture) engineapi.Options { return engineapi.Options{} })
	quarantineOnly := newFixture(t, func(f *fixture) engineapi.Options {
		return engineapi.Options{Quarantine: &quarantine.Service{Store: f.st, Directory: f.dir}}
	})
	for _, c := range []struct {
		f    *fixture
		path string
		want int
	}{
		{none, "/api/v1/directory/domains", http.StatusNotFound},
		{none, "/api/v1/quarantine", http.StatusNotFound},
		{quarantineOnly, "/api/v1/directory/domains", http.StatusNotFound},
		{quarantineOnly, "/api/v1/directory/mailbox-search", http.StatusNotFound},
		{quarantineOnly, "/api/v1/quarantine", http.StatusOK},
	} {
		if code, b := c.f.do(t, "GET", c.path, auth.RoleAdmin, nil); code != c.want {
			t.Errorf("GET %s: %d %s, want %d", c.path, code, b, c.want)
		}
	}
}

// compact is b as compact JSON.
func compact(b []byte) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return string(b)
	}
	return buf.String()
}

// keysOf returns the sorted keys of m.
func keysOf(m map[string]any) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return strings.Join(ks, " ")
}

// sortedWords returns the words of s sorted.
func sortedWords(s string) string {
	ws := strings.Fields(s)
	slices.Sort(ws)
	return strings.Join(ws, " ")
}
