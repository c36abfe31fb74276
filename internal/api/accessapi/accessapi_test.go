package accessapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/api/accessapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/runbooks"
)

const baseURL = "https://postvakt.example.edu"

// newServer starts a real server.Server on a real SQLite database with the
// access API registered, as internal/app wires it.
func newServer(t *testing.T) (*httptest.Server, *accessstore.Store) {
	t.Helper()
	db := storagetest.Open(t, storage.SQLite)
	access := accessstore.New(db)
	cfg := config.Default().HTTP
	cfg.MaxBodyBytes = 2048
	s := server.New(server.Options{Config: cfg, Ready: db, Tokens: access, Audit: access})
	lib, err := runbooks.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	accessapi.Register(s, accessapi.Options{Tokens: access, Audit: access, Runbooks: lib, BaseURL: baseURL})
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts, access
}

// token issues a token named after its role and returns its secret.
func token(t *testing.T, store auth.TokenStore, role auth.Role) string {
	t.Helper()
	_, secret, err := auth.IssueToken(context.Background(), store, auth.TokenRequest{Name: string(role), Role: string(role), Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func do(t *testing.T, method, url, secret, body string) (int, []byte, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

func errCode(t *testing.T, b []byte) string {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("not a JSON error: %s", b)
	}
	return e.Error.Code
}

// keys returns the sorted keys of the JSON object b.
func keys(t *testing.T, b []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, b)
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// refusals checks that method url answers 401 without a token and 403 to
// a token below its role.
func refusals(t *testing.T, ts *httptest.Server, store auth.TokenStore, method, path string, below auth.Role) {
	t.Helper()
	if status, body, hdr := do(t, method, ts.URL+path, "", ""); status != 401 || errCode(t, body) != "unauthorized" || hdr.Get("WWW-Authenticate") == "" {
		t.Errorf("%s %s without a token: %d %s", method, path, status, body)
	}
	if status, body, _ := do(t, method, ts.URL+path, token(t, store, below), ""); status != 403 || errCode(t, body) != "forbidden" {
		t.Errorf("%s %s as %s: %d %s", method, path, below, status, body)
	}
}
