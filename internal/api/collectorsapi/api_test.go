package collectorsapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors"
	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/api/collectorsapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/internal/store/txlogstore"
)

// now is the clock of every test: noon UTC, two hours after t0.
var now = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// api is a real server.Server with the collectors' routes on a migrated
// SQLite database, and a token per role.
type api struct {
	base   string
	db     *storage.DB
	store  *txlogstore.Store
	tokens map[auth.Role]string
}

// start serves the API with the default collectors configuration changed
// by edit (nil: none).
func start(t *testing.T, edit func(c *collectors.Config)) *api {
	t.Helper()
	return startOn(t, storagetest.Open(t, storage.SQLite), edit)
}

// startOn is start on the database db.
func startOn(t *testing.T, db *storage.DB, edit func(c *collectors.Config)) *api {
	t.Helper()
	cfg := collectors.Default()
	if edit != nil {
		edit(&cfg)
	}
	clock := func() time.Time { return now }
	acc := accessstore.New(db)
	s := server.New(server.Options{Config: config.Default().HTTP, Tokens: acc, Audit: acc, Now: clock})
	a := &api{db: db, store: txlogstore.New(db), tokens: map[auth.Role]string{}}
	collectorsapi.Register(s, collectorsapi.Options{Store: a.store, Trace: cfg.Trace, Location: time.UTC, Now: clock})
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	a.base = ts.URL
	for _, r := range []auth.Role{auth.RoleViewer, auth.RoleHelpdesk, auth.RoleOncall, auth.RolePostmaster, auth.RoleAdmin} {
		_, secret, err := auth.IssueToken(context.Background(), acc, auth.TokenRequest{Name: "test-" + string(r), Role: string(r),
			By: "test", Now: now.Add(-time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		a.tokens[r] = secret
	}
	return a
}

// get requests path as role ("" for no token) and returns the status and
// the body.
func (a *api) get(t *testing.T, path string, role auth.Role) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+a.tokens[role])
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
	if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("GET %s: Content-Type %q", path, ct)
	}
	return resp.StatusCode, b
}

// getJSON is get that decodes a 200 answer into out.
func (a *api) getJSON(t *testing.T, path string, role auth.Role, out any) int {
	t.Helper()
	code, b := a.get(t, path, role)
	if code == http.StatusOK {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, b)
		}
	}
	return code
}

// wantError checks that path answers role with status and the API's error
// envelope {"error":{"code","message"}} with code.
func (a *api) wantError(t *testing.T, path string, role auth.Role, status int, code string) {
	t.Helper()
	got, b := a.get(t, path, role)
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &e); err != nil || got != status || e.Error.Code != code || e.Error.Message == "" {
		t.Errorf("GET %s as %q: %d %s, want %d with code %s", path, role, got, b, status, code)
	}
}

// keys returns the keys of the JSON object b.
func keys(t *testing.T, b []byte) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, b)
	}
	return m
}

// write stores b through the transaction log's store.
func (a *api) write(t *testing.T, b *txlog.Batch) {
	t.Helper()
	if err := a.store.WriteBatch(context.Background(), b, nil); err != nil {
		t.Fatal(err)
	}
}

// message is an accepted inbound message with a subject, as the engine
// records it, delivered to one recipient.
func message(at time.Time, queueID, from, subject string) txlog.Batch {
	key := txlog.MsgKey("mx1", queueID, at)
	return txlog.Batch{
		Messages: []txlog.MessageRow{{FirstSeen: at, LastSeen: at.Add(time.Second), Node: "mx1", Source: "engine",
			Direction: txlog.Inbound, MsgKey: key, QueueIDs: []string{queueID}, MailFrom: from, Subject: subject,
			Size: 2048, ClientIP: "192.0.2.7", Received: 1, State: "accepted"}},
		Rows: []txlog.Row{{Time: at.Add(time.Second), Node: "mx1", Source: "engine", Direction: txlog.Inbound, MsgKey: key,
			QueueID: queueID, MailFrom: from, Rcpt: "u@uni.example", Size: 2048, ClientIP: "192.0.2.7",
			Status: txlog.StatusSent, Agent: "local", DSN: "2.0.0"}},
	}
}
