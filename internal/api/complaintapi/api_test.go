package complaintapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/complaint"
	"github.com/uni-mail/postvakt/internal/api/complaintapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/internal/store/complaintstore"
)

// fixture is the complaints API on a real server.Server over a migrated
// SQLite database, the complaints service over its real store, and a token
// per role.
type fixture struct {
	base    string
	svc     *complaint.Service
	acc     *accessstore.Store
	changed int // OnChange calls: the engine's reload
	tokens  map[auth.Role]string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db := storagetest.Open(t, storage.SQLite)
	f := &fixture{acc: accessstore.New(db), tokens: map[auth.Role]string{}}
	cfg := complaint.DefaultConfig()
	cfg.Address = "abuse@uni.example"
	f.svc = complaint.New(complaint.Options{Config: cfg, Store: complaintstore.New(db), OnChange: func() { f.changed++ },
		Local: func(_ context.Context, d string) bool { return d == "uni.example" }})
	s := server.New(server.Options{Config: config.Default().HTTP, Tokens: f.acc, Audit: f.acc})
	complaintapi.Register(s, complaintapi.Options{Complaints: f.svc})
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

// do requests path as role ("" for no token) and decodes a 2xx answer into
// out; it returns the status and, for an error, the envelope's code.
func (f *fixture) do(t *testing.T, method, path string, role auth.Role, out any) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.base+path, nil)
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
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		if err := json.Unmarshal(b, &e); err != nil || e.Error.Code == "" {
			t.Fatalf("%s %s: %d without the error envelope: %q", method, path, resp.StatusCode, b)
		}
		return resp.StatusCode, e.Error.Code
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %q", method, path, err, b)
		}
	}
	return resp.StatusCode, ""
}

// complaintMail is a user's forward of two spam messages, attached.
func complaintMail() io.Reader {
	s := "From: student@uni.example\nTo: abuse@uni.example\nSubject: Fwd: spam\nMIME-Version: 1.0\n" +
		"Content-Type: multipart/mixed; boundary=\"b\"\n\n--b\nContent-Type: text/plain\n\nTwo spams, see attached.\n" +
		"--b\nContent-Type: message/rfc822\n\nFrom: Prize Team <win@prize.example>\nReturn-Path: <bounce@prize.example>\nSubject: You won\n\nClaim at https://claim.prize.example/now\n" +
		"--b\nContent-Type: message/rfc822\n\nFrom: pharma@pills.example\nSubject: Cheap pills\n\nhttps://pills.example/buy\n--b--\n"
	return bytes.NewReader([]byte(strings.ReplaceAll(s, "\n", "\r\n")))
}

// TestComplaintsAPI: every role reads complaints and their rules, with the
// complaints behind each rule; only a postmaster decides, one rule or all
// of a complaint's, audited and reloading the engine; a decision out of
// place is 409, a bad id 400, an unknown one 404, an unknown action 404.
func TestComplaintsAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var empty complaintapi.ComplaintsResponse
	if st, _ := f.do(t, "GET", "/api/v1/spam-complaints", auth.RoleViewer, &empty); st != 200 || empty.Complaints == nil || len(empty.Complaints) != 0 {
		t.Fatalf("no complaints yet: %d %+v", st, empty)
	}
	c, err := f.svc.Intake(context.Background(), complaintMail())
	if err != nil || len(c.Rules) == 0 {
		t.Fatalf("intake: %+v %v", c, err)
	}

	var list complaintapi.ComplaintsResponse
	f.do(t, "GET", "/api/v1/spam-complaints", auth.RoleViewer, &list)
	if len(list.Complaints) != 1 || list.Complaints[0].ID != c.ID || list.Complaints[0].Reporter != "student@uni.example" {
		t.Fatalf("list: %+v", list.Complaints)
	}
	var one complaintapi.ComplaintResponse
	f.do(t, "GET", "/api/v1/spam-complaints/"+itoa(c.ID), auth.RoleViewer, &one)
	var values []string
	for _, r := range one.Rules {
		values = append(values, r.Value)
		if r.State != complaint.Proposed || !slices.Contains(r.Complaints, c.ID) {
			t.Errorf("rule %+v: not proposed by complaint %d", r, c.ID)
		}
	}
	for _, want := range []string{"win@prize.example", "prize.example", "pills.example"} {
		if !slices.Contains(values, want) {
			t.Errorf("proposed rules %v lack %s", values, want)
		}
	}
	if slices.Contains(values, "uni.example") || slices.Contains(values, "student@uni.example") {
		t.Errorf("the reporter's own domain proposed: %v", values)
	}

	// Below postmaster, and without a token, nothing is decided.
	for _, r := range []auth.Role{auth.RoleViewer, auth.RoleHelpdesk, auth.RoleOncall} {
		if st, code := f.do(t, "POST", "/api/v1/spam-complaints/"+itoa(c.ID)+"/accept", r, nil); st != 403 || code != "forbidden" {
			t.Errorf("%s accepts: %d %s", r, st, code)
		}
	}
	if st, _ := f.do(t, "POST", "/api/v1/spam-rules/"+itoa(one.Rules[0].ID)+"/accept", "", nil); st != 401 {
		t.Errorf("no token: %d", st)
	}
	var active complaintapi.RulesResponse
	if f.do(t, "GET", "/api/v1/spam-rules?state=active", auth.RoleViewer, &active); len(active.Rules) != 0 || f.changed != 0 {
		t.Fatalf("refused callers changed rules: %+v, %d reloads", active.Rules, f.changed)
	}

	// One rule rejected, then the complaint's others accepted in one action.
	first := one.Rules[0]
	var d complaintapi.DecisionResponse
	f.do(t, "POST", "/api/v1/spam-rules/"+itoa(first.ID)+"/reject", auth.RolePostmaster, &d)
	if d.Changed != 1 || d.State != complaint.Rejected {
		t.Fatalf("reject one: %+v", d)
	}
	f.do(t, "POST", "/api/v1/spam-complaints/"+itoa(c.ID)+"/accept", auth.RolePostmaster, &d)
	if d.Changed != len(one.Rules)-1 || d.State != complaint.Active || f.changed != 2 {
		t.Fatalf("accept the complaint: %+v, %d reloads (want %d changed, 2 reloads)", d, f.changed, len(one.Rules)-1)
	}
	f.do(t, "GET", "/api/v1/spam-rules?state=active", auth.RoleViewer, &active)
	if len(active.Rules) != len(one.Rules)-1 || slices.ContainsFunc(active.Rules, func(r complaint.Rule) bool { return r.ID == first.ID }) {
		t.Errorf("active rules %+v", active.Rules)
	}
	var rule complaintapi.RuleResponse
	f.do(t, "GET", "/api/v1/spam-rules/"+itoa(active.Rules[0].ID), auth.RoleViewer, &rule)
	if rule.Rule.State != complaint.Active || rule.Rule.DecidedBy == "" || len(rule.Complaints) != 1 || rule.Complaints[0].ID != c.ID {
		t.Errorf("rule with its complaints: %+v", rule)
	}
	audit, err := f.acc.ListAudit(context.Background(), time.Time{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range audit {
		actions = append(actions, e.Action+" "+e.Target)
	}
	for _, want := range []string{"spam_rule.reject spam_rule:" + itoa(first.ID), "spam_complaint.accept spam_complaint:" + itoa(c.ID)} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit %v lacks %q", actions, want)
		}
	}

	for _, c := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/api/v1/spam-complaints/x", 400, "bad_request"},
		{"GET", "/api/v1/spam-complaints/999", 404, "not_found"},
		{"GET", "/api/v1/spam-rules/999", 404, "not_found"},
		{"POST", "/api/v1/spam-rules/" + itoa(first.ID) + "/approve", 404, "not_found"},
		{"GET", "/api/v1/spam-complaints?limit=0", 400, "bad_request"},
		{"GET", "/api/v1/spam-rules?state=maybe", 400, "bad_request"},
	} {
		if st, code := f.do(t, c.method, c.path, auth.RolePostmaster, nil); st != c.status || code != c.code {
			t.Errorf("%s %s: %d %s, want %d %s", c.method, c.path, st, code, c.status, c.code)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
