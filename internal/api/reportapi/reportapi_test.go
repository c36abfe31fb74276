package reportapi_test

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

	"github.com/uni-mail/postvakt/internal/api/reportapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/internal/store/reportstore"
	"github.com/uni-mail/postvakt/reports"
	"github.com/uni-mail/postvakt/reports/reportstest"
)

// testAPI is a real server.Server on a real SQLite database (the report
// archive and the access store) with the report API registered, reading
// the seeded September and October from memory and e-mailing to a local
// SMTP server.
type testAPI struct {
	base   string
	access *accessstore.Store
	smtp   *reportstest.SMTPServer
}

func newAPI(t *testing.T) *testAPI {
	t.Helper()
	db := storagetest.Open(t, storage.SQLite)
	access := accessstore.New(db)
	smtpSrv := reportstest.StartSMTP(t)
	cfg := reports.DefaultConfig()
	cfg.PDFEngine = reports.PDFBuiltin
	cfg.Language = "nb"
	cfg.Mail.From = "postvakt@mail.example.edu"
	cfg.Mail.To = "styring@example.edu"
	cfg.Mail.SMTP = smtpSrv.Addr
	now := func() time.Time { return time.Date(2026, 11, 2, 10, 0, 0, 0, reportstest.Oslo()) }
	svc := &reports.Service{Config: cfg, Source: reportstest.Seed(reportstest.SeptOct()), Archive: reportstore.New(db),
		Sender: &reports.SMTPSender{Config: cfg.Mail, HelloName: "test"}, Now: now, Node: "test"}
	s := server.New(server.Options{Config: config.Default().HTTP, Ready: db, Tokens: access, Audit: access, Now: now})
	reportapi.Register(s, reportapi.Options{Service: svc})
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return &testAPI{base: ts.URL + "/api/v1/reports", access: access, smtp: smtpSrv}
}

func (a *testAPI) token(t *testing.T, role auth.Role) string {
	t.Helper()
	_, secret, err := auth.IssueToken(context.Background(), a.access, auth.TokenRequest{Name: string(role), Role: string(role), Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// call sends body (JSON) and decodes the answer into out when not nil.
func call(t *testing.T, method, url, token string, body any, out any) int {
	t.Helper()
	code, _, b := request(t, method, url, token, body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, url, err, b)
		}
	}
	return code
}

func request(t *testing.T, method, url, token string, body any) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
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

func errCode(t *testing.T, b []byte) string {
	t.Helper()
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("not a JSON error: %s", b)
	}
	return e.Error.Code
}

// TestReportsAPI runs the report API: the comment, generation and sending
// by a postmaster, the archive and its documents for a viewer, and the
// roles.
func TestReportsAPI(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	viewer, postmaster := a.token(t, auth.RoleViewer), a.token(t, auth.RolePostmaster)
	base := a.base

	var list reportapi.ReportList
	if code := call(t, "GET", base, "", nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("anonymous list: %d", code)
	}
	if code := call(t, "GET", base, viewer, nil, &list); code != http.StatusOK || len(list.Reports) != 0 || list.Reports == nil {
		t.Fatalf("empty archive: %d %+v", code, list)
	}
	if code := call(t, "POST", base, viewer, map[string]any{"period": "2026-10"}, nil); code != http.StatusForbidden {
		t.Fatalf("viewer generated a report: %d", code)
	}
	if code := call(t, "PUT", base+"/2026-10/comment", viewer, map[string]any{"comment": "x"}, nil); code != http.StatusForbidden {
		t.Fatalf("viewer commented: %d", code)
	}
	var comment reportapi.Comment
	if code := call(t, "PUT", base+"/2026-10/comment", postmaster, map[string]any{"comment": "Říjen: Tromsø-noden er byttet."}, &comment); code != http.StatusOK {
		t.Fatalf("comment: %d", code)
	}
	if comment.Period != "2026-10" || comment.Comment != "Říjen: Tromsø-noden er byttet." {
		t.Fatalf("comment %+v", comment)
	}
	if code := call(t, "PUT", base+"/2026-13/comment", postmaster, map[string]any{"comment": "x"}, nil); code != http.StatusBadRequest {
		t.Errorf("comment on a bad period: %d", code)
	}
	var created reportapi.Generated
	if code := call(t, "POST", base, postmaster, map[string]any{"period": "2026-10", "send": true}, &created); code != http.StatusCreated {
		t.Fatalf("generate: %d", code)
	}
	if !created.Sent || created.Report.SentAt.IsZero() || created.Report.Comment != "Říjen: Tromsø-noden er byttet." {
		t.Fatalf("created %+v", created)
	}
	if created.Report.GeneratedBy != "token:postmaster" || created.Report.PDFEngine != reports.PDFBuiltin || created.Report.Links["pdf"] != "/api/v1/reports/2026-10.pdf" {
		t.Errorf("created %+v", created.Report)
	}
	// Sending again without resend sends nothing.
	if code := call(t, "POST", base, postmaster, map[string]any{"period": "2026-10", "send": true}, &created); code != http.StatusCreated || created.Sent {
		t.Fatalf("second send: %d sent=%v", code, created.Sent)
	}
	if n := len(a.smtp.Messages()); n != 1 {
		t.Fatalf("%d e-mails, want 1", n)
	}
	if code := call(t, "GET", base, viewer, nil, &list); code != http.StatusOK || len(list.Reports) != 1 || list.Reports[0].Period != "2026-10" {
		t.Fatalf("list: %d %+v", code, list)
	}
	var one reportapi.Report
	if code := call(t, "GET", base+"/2026-10", viewer, nil, &one); code != http.StatusOK || one.Period != "2026-10" || one.Lang != "nb" {
		t.Fatalf("one report: %d %+v", code, one)
	}
	for _, f := range []struct{ ext, ctype, prefix string }{
		{"pdf", "application/pdf", "%PDF-"},
		{"html", "text/html; charset=utf-8", "<!DOCTYPE html>"},
		{"csv", "text/csv; charset=utf-8", "section,metric"},
	} {
		if code, _, _ := request(t, "GET", base+"/2026-10."+f.ext, "", nil); code != http.StatusUnauthorized {
			t.Errorf("%s without a token: %d", f.ext, code)
		}
		code, h, body := request(t, "GET", base+"/2026-10."+f.ext, viewer, nil)
		if code != http.StatusOK || h.Get("Content-Type") != f.ctype || !bytes.HasPrefix(body, []byte(f.prefix)) {
			t.Errorf("%s: %d %s %.20q", f.ext, code, h.Get("Content-Type"), body)
		}
		if f.ext == "html" && (!strings.Contains(string(body), "Tromsø-noden") || !strings.Contains(string(body), "Driftsrapport for e-post")) {
			t.Error("archived HTML lacks the comment or the Norwegian title")
		}
		if want := "postvakt-report-2026-10." + f.ext; !strings.Contains(h.Get("Content-Disposition"), want) {
			t.Errorf("%s: Content-Disposition %q", f.ext, h.Get("Content-Disposition"))
		}
	}
	if code, _, _ := request(t, "GET", base+"/2026-09.pdf", viewer, nil); code != http.StatusNotFound {
		t.Errorf("missing period: %d", code)
	}
	if code, _, body := request(t, "GET", base+"/2026-09", viewer, nil); code != http.StatusNotFound || errCode(t, body) != "not_found" {
		t.Errorf("missing period's entry: %d %s", code, body)
	}
	if code, _, body := request(t, "GET", base+"/2026-10.docx", viewer, nil); code != http.StatusBadRequest || errCode(t, body) != "bad_request" {
		t.Errorf("bad format: %d %s", code, body)
	}
	if code := call(t, "POST", base, postmaster, map[string]any{"period": "2027-01"}, nil); code != http.StatusBadRequest {
		t.Errorf("future period: %d", code)
	}
	if code := call(t, "GET", base+"?limit=0", viewer, nil, nil); code != http.StatusBadRequest {
		t.Errorf("limit=0: %d", code)
	}
	entries, err := a.access.ListAudit(context.Background(), time.Time{}, 10)
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	if err != nil || !slices.Equal(actions, []string{"report.generate", "report.send", "report.generate", "report.comment"}) {
		t.Errorf("audit %v %v", actions, err)
	}
}

// TestReportsJSONShape pins the JSON the web UI and scripts read.
func TestReportsJSONShape(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	viewer, postmaster := a.token(t, auth.RoleViewer), a.token(t, auth.RolePostmaster)
	_, _, body := request(t, "PUT", a.base+"/2026-10/comment", postmaster, map[string]any{"comment": "c"})
	if k := keys(t, body); !slices.Equal(k, []string{"comment", "period"}) {
		t.Errorf("comment keys %v: %s", k, body)
	}
	code, _, body := request(t, "POST", a.base, postmaster, map[string]any{"period": "2026-10"})
	if code != http.StatusCreated {
		t.Fatalf("generate: %d %s", code, body)
	}
	if k := keys(t, body); !slices.Equal(k, []string{"report", "sent"}) {
		t.Errorf("generated keys %v", k)
	}
	_, _, body = request(t, "GET", a.base, viewer, nil)
	if k := keys(t, body); !slices.Equal(k, []string{"reports"}) {
		t.Errorf("list keys %v", k)
	}
	var list struct {
		Reports []json.RawMessage `json:"reports"`
	}
	_ = json.Unmarshal(body, &list)
	want := []string{"comment", "end", "generated_at", "generated_by", "lang", "links", "pdf_engine", "period", "sent_at", "sent_to", "start"}
	if len(list.Reports) != 1 {
		t.Fatalf("list %s", body)
	}
	if k := keys(t, list.Reports[0]); !slices.Equal(k, want) {
		t.Errorf("report keys %v, want %v", k, want)
	}
	if k := keys(t, mustField(t, list.Reports[0], "links")); !slices.Equal(k, []string{"csv", "html", "pdf"}) {
		t.Errorf("links keys %v", k)
	}
}

func mustField(t *testing.T, obj json.RawMessage, key string) json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(obj, &m); err != nil {
		t.Fatal(err)
	}
	return m[key]
}

// TestTipsAPI: the questions and tips of a period are written by a
// postmaster, read by a viewer, checked, and shown in the period's report.
func TestTipsAPI(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	viewer, postmaster := a.token(t, auth.RoleViewer), a.token(t, auth.RolePostmaster)
	var got reportapi.Tips
	if code := call(t, "GET", a.base+"/2026-10/tips", viewer, nil, &got); code != http.StatusOK || got.Period != "2026-10" || got.Tips == nil || len(got.Tips) != 0 {
		t.Fatalf("empty tips: %d %+v", code, got)
	}
	tips := []reports.Tip{
		{Question: "Hvorfor havner e-post fra Canvas i søppelpost?", Answer: "Avsenderen mangler DKIM; vi har meldt fra."},
		{Question: "Can I get more than 2 GB?", Answer: "Yes: ask the helpdesk, up to 5 GB."},
	}
	if code := call(t, "PUT", a.base+"/2026-10/tips", viewer, reportapi.Tips{Tips: tips}, nil); code != http.StatusForbidden {
		t.Fatalf("viewer wrote tips: %d", code)
	}
	for _, bad := range []reportapi.Tips{
		{Tips: []reports.Tip{{Question: "no answer"}}},
		{Tips: []reports.Tip{{Question: "q", Answer: strings.Repeat("x", reports.MaxTipText+1)}}},
		{Period: "2026-09", Tips: tips},
	} {
		if code := call(t, "PUT", a.base+"/2026-10/tips", postmaster, bad, nil); code != http.StatusBadRequest {
			t.Errorf("bad tips %+v: %d", bad.Period, code)
		}
	}
	if code := call(t, "PUT", a.base+"/2026-10/tips", postmaster, reportapi.Tips{Tips: tips}, &got); code != http.StatusOK || len(got.Tips) != 2 {
		t.Fatalf("put tips: %d %+v", code, got)
	}
	got = reportapi.Tips{}
	if call(t, "GET", a.base+"/2026-10/tips", viewer, nil, &got); !slices.Equal(got.Tips, tips) {
		t.Fatalf("tips read back %+v", got.Tips)
	}
	// The report of the period shows them.
	if code := call(t, "POST", a.base, postmaster, map[string]any{"period": "2026-10"}, nil); code/100 != 2 {
		t.Fatalf("generate: %d", code)
	}
	code, _, html := request(t, "GET", a.base+"/2026-10.html", viewer, nil)
	if code != http.StatusOK || !strings.Contains(string(html), "Hvorfor havner e-post fra Canvas i søppelpost?") ||
		!strings.Contains(string(html), "Spørsmål og tips") {
		t.Errorf("the report does not show the tips (%d)", code)
	}
	// An empty list removes them.
	if code := call(t, "PUT", a.base+"/2026-10/tips", postmaster, reportapi.Tips{Tips: []reports.Tip{}}, nil); code != http.StatusOK {
		t.Fatal(code)
	}
	got = reportapi.Tips{}
	if call(t, "GET", a.base+"/2026-10/tips", viewer, nil, &got); len(got.Tips) != 0 {
		t.Fatalf("tips after clearing %+v", got.Tips)
	}
}
