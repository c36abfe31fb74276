package collectorsapi_test

import (
	"bytes"
	"context"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors"
	"github.com/uni-mail/postvakt/collectors/trace"
	"github.com/uni-mail/postvakt/internal/api/collectorsapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// TestTraceRolesMaskingAndAudit: helpdesk sees subjects masked and may not
// search by subject, postmaster (collectors.trace.show_subjects_from by
// default) sees them, viewer is refused, a request without a token is
// unauthorised, and every search is in the audit log.
func TestTraceRolesMaskingAndAudit(t *testing.T) {
	t.Parallel()
	a := start(t, nil)
	b := message(t0, "Q1", "a@partner.example", "Exam results")
	a.write(t, &b)

	a.wantError(t, "/api/v1/trace?from=a@partner.example", "", http.StatusUnauthorized, "unauthorized")
	a.wantError(t, "/api/v1/trace?from=a@partner.example", auth.RoleViewer, http.StatusForbidden, "forbidden")
	var page collectorsapi.TracePage
	if code := a.getJSON(t, "/api/v1/trace?from=A@Partner.example", auth.RoleHelpdesk, &page); code != 200 ||
		len(page.Messages) != 1 || page.Messages[0].Subject != trace.MaskedSubject {
		t.Errorf("helpdesk: %d %+v", code, page)
	}
	a.wantError(t, "/api/v1/trace?subject=exam", auth.RoleHelpdesk, http.StatusBadRequest, "bad_request")
	for _, r := range []auth.Role{auth.RoleOncall} {
		page = collectorsapi.TracePage{}
		if code := a.getJSON(t, "/api/v1/trace?from=a@partner.example", r, &page); code != 200 ||
			len(page.Messages) != 1 || page.Messages[0].Subject != trace.MaskedSubject {
			t.Errorf("%s: %d %+v", r, code, page)
		}
	}
	for _, r := range []auth.Role{auth.RolePostmaster, auth.RoleAdmin} {
		page = collectorsapi.TracePage{}
		if code := a.getJSON(t, "/api/v1/trace?subject=exam", r, &page); code != 200 ||
			len(page.Messages) != 1 || page.Messages[0].Subject != "Exam results" {
			t.Errorf("%s: %d %+v", r, code, page)
		}
	}
	a.wantError(t, "/api/v1/trace", auth.RolePostmaster, http.StatusBadRequest, "bad_request") // no criteria

	entries, err := accessstore.New(a.db).ListAudit(context.Background(), now.Add(-time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	actors := map[string]int{}
	for _, e := range entries {
		if e.Action == "trace.search" {
			actors[e.Actor]++
			if e.Actor == "token:test-helpdesk" && e.Detail != "from=a@partner.example" && e.Detail != "subject=(given)" {
				t.Errorf("audited detail %q", e.Detail)
			}
		}
	}
	// helpdesk: by sender, and by subject (refused after it is audited);
	// a search without criteria is refused before
	want := map[string]int{"token:test-helpdesk": 2, "token:test-oncall": 1, "token:test-postmaster": 1, "token:test-admin": 1}
	for k, n := range want {
		if actors[k] != n {
			t.Errorf("audited trace searches by actor: %v, want %v", actors, want)
			break
		}
	}
}

// TestTraceShowSubjectsFrom: collectors.trace.show_subjects_from sets the
// least role that sees subjects and may search by them.
func TestTraceShowSubjectsFrom(t *testing.T) {
	t.Parallel()
	a := start(t, func(c *collectors.Config) { c.Trace.ShowSubjectsFrom = string(auth.RoleHelpdesk) })
	b := message(t0, "Q1", "a@partner.example", "Exam results")
	a.write(t, &b)
	var page collectorsapi.TracePage
	if code := a.getJSON(t, "/api/v1/trace?subject=exam", auth.RoleHelpdesk, &page); code != 200 ||
		len(page.Messages) != 1 || page.Messages[0].Subject != "Exam results" {
		t.Errorf("helpdesk: %d %+v", code, page)
	}
}

// TestTraceQueryParameters: times in collectors.timezone or before now,
// paging bounded by collectors.trace.max_limit, and 400 for what cannot be
// read.
func TestTraceQueryParameters(t *testing.T) {
	t.Parallel()
	a := start(t, func(c *collectors.Config) { c.Trace.MaxLimit = 2 })
	for i, q := range []string{"Q1", "Q2", "Q3"} {
		b := message(t0.Add(time.Duration(i)*time.Minute), q, "a@partner.example", "")
		a.write(t, &b)
	}
	for _, c := range []struct {
		query      string
		n, next    int
		wantOffset int
	}{
		{"from=a@partner.example&limit=10", 2, 2, 0}, // max_limit
		{"from=a@partner.example&offset=2", 1, 0, 2},
		{"from=a@partner.example&limit=1", 1, 1, 0},
		{"from=a@partner.example&since=3h&limit=5", 2, 2, 0},
		{"from=a@partner.example&since=2026-11-22+10:01", 2, 0, 0},
		{"from=a@partner.example&since=2026-11-22T10:02:00Z", 1, 0, 0},
		{"from=a@partner.example&until=2026-11-22+10:01", 1, 0, 0},
		{"from=a@partner.example&since=1h", 0, 0, 0},
		{"queue_id=Q2", 1, 0, 0},
		{"ip=192.0.2.7&status=sent&limit=5", 2, 2, 0},
	} {
		var page collectorsapi.TracePage
		if code := a.getJSON(t, "/api/v1/trace?"+c.query, auth.RoleHelpdesk, &page); code != 200 ||
			len(page.Messages) != c.n || page.NextOffset != c.next || page.Offset != c.wantOffset {
			t.Errorf("%s: %d, %d messages, offset %d, next %d; want %d, %d, %d", c.query, code, len(page.Messages), page.Offset,
				page.NextOffset, c.n, c.wantOffset, c.next)
		}
	}
	for _, q := range []string{"from=x&since=yesterday", "from=x&until=-1x", "from=x&limit=x", "from=x&offset=-1",
		"status=lost", "from=x&since=2026-11-22&until=2026-11-21"} {
		a.wantError(t, "/api/v1/trace?"+q, auth.RoleHelpdesk, http.StatusBadRequest, "bad_request")
	}
}

// TestTraceControlCharacters: a NUL or another control character in a
// search parameter is a 400 on both engines — not a 500 (PostgreSQL
// refuses a NUL in text) and not every message (SQLite ends the pattern at
// the NUL).
func TestTraceControlCharacters(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		a := startOn(t, db, nil)
		for i, q := range []string{"Q1", "Q2"} {
			b := message(t0.Add(time.Duration(i)*time.Minute), q, "a@partner.example", "Hello")
			a.write(t, &b)
		}
		for _, q := range []string{"from=%00", "from=a@partner.example%00", "to=%00x", "subject=%00", "subject=Hel%00lo",
			"msgid=%3Ca%00b%3E", "queue_id=Q1%00", "ip=192.0.2.7%00", "subject=%1b%5b31m", "from=%ff%fe", "status=sent%00"} {
			a.wantError(t, "/api/v1/trace?"+q, auth.RoleHelpdesk, http.StatusBadRequest, "bad_request")
		}
		var page collectorsapi.TracePage
		if code := a.getJSON(t, "/api/v1/trace?subject=Hel", auth.RoleAdmin, &page); code != 200 || len(page.Messages) != 2 {
			t.Errorf("subject=Hel: %d, %d messages, want 2", code, len(page.Messages))
		}
	})
}

// TestTraceJSON: the answer's JSON, key by key, against a golden file
// (go test -update rewrites it).
func TestTraceJSON(t *testing.T) {
	t.Parallel()
	a := start(t, nil)
	b := message(t0, "Q1", "a@partner.example", "Exam results")
	b.Messages[0].MessageID = "id1@partner.example"
	b.Rows[0].MessageID = "id1@partner.example"
	a.write(t, &b)
	for _, c := range []struct {
		query, golden string
		role          auth.Role
	}{
		{"msgid=<id1@partner.example>", "trace_postmaster.json", auth.RolePostmaster},
		{"msgid=<id1@partner.example>", "trace_helpdesk.json", auth.RoleHelpdesk},
		{"from=nobody@partner.example", "trace_empty.json", auth.RoleHelpdesk},
	} {
		code, got := a.get(t, "/api/v1/trace?"+c.query, c.role)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", c.query, code, got)
		}
		path := filepath.Join("testdata", c.golden)
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s as %s:\n%s\nwant (%s):\n%s", c.query, c.role, got, path, want)
		}
	}
}
