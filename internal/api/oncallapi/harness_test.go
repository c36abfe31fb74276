package oncallapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/api/oncallapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/internal/store/oncallstore"
	"github.com/uni-mail/postvakt/oncall"
	"github.com/uni-mail/postvakt/oncall/alertmanager"
	"github.com/uni-mail/postvakt/oncall/heartbeat"
	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/oncall/page"
	"github.com/uni-mail/postvakt/oncall/rota"
	"github.com/uni-mail/postvakt/oncall/team"
)

const (
	testMachineToken = "am-token-0123456789abcdef"
	testSlackSecret  = "slack-signing-secret-0123456789"
	testLinkKey      = "link-key-0123456789abcdef0123456789abcdef"
	testBaseURL      = "https://postvakt.example.edu"
	// userHeader names the user an outer layer (as the web UI's session
	// does) puts in the request context, as a viewer unless roleHeader
	// names another role.
	userHeader = "X-Test-User"
	roleHeader = "X-Test-Role"
)

var testMembers = []rota.Member{
	{ID: "ana", Name: "Ana Berg", Email: "ana@example.edu", SlackID: "UANA", TimeZone: "Europe/Oslo"},
	{ID: "bjorn", Name: "Bjørn Dahl", Email: "bjorn@example.edu", SlackID: "UBJORN"},
	{ID: "chen", Name: "Chen Wei", Email: "chen@example.edu", SlackID: "UCHEN"},
}

var testRota = rota.Spec{Name: "ukevakt", Members: []string{"ana", "bjorn", "chen"}, Start: "2026-01-05",
	HandoverWeekday: "monday", HandoverTime: "09:00", TimeZone: "Europe/Oslo"}

var oslo = func() *time.Location { l, _ := time.LoadLocation("Europe/Oslo"); return l }()

// testClock is an injected clock tests move by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// fixture is the on-call API on a real server.Server over a real SQLite
// database, with the team above, the policy "mail" (on-call at once),
// the heartbeat "watchdog" and the Alertmanager receiver.
type fixture struct {
	base      string
	db        *storage.DB
	clock     *testClock
	team      *team.Team
	incidents *incident.Service
	signer    page.Signer

	mu       sync.Mutex
	notified []incident.Notification // pages
	sent     []page.Message          // swap requests
	groups   []alertmanager.Message  // webhook groups
}

type fixtureOptions struct {
	members []rota.Member
	rota    rota.Spec
	linkKey string
	now     time.Time
	api     func(*oncallapi.Options)
}

func newFixture(t *testing.T, fo fixtureOptions) *fixture {
	t.Helper()
	if fo.members == nil {
		fo.members, fo.rota = testMembers, testRota
	}
	if fo.now.IsZero() {
		fo.now = time.Date(2026, 3, 31, 10, 0, 0, 0, oslo)
	}
	db := storagetest.Open(t, storage.SQLite)
	st := oncallstore.New(db)
	f := &fixture{db: db, clock: &testClock{t: fo.now}}
	cfg := oncall.Default()
	cfg.Members, cfg.Rotas = fo.members, []rota.Spec{fo.rota}
	cfg.Policies = []incident.PolicySpec{{Name: "mail", Rota: fo.rota.Name, Steps: []incident.StepSpec{{After: 0, Notify: []string{"oncall"}}}}}
	cfg.Heartbeats = []heartbeat.Spec{{Name: "watchdog", Alertname: "Watchdog", Timeout: 10 * time.Minute, Policy: "mail", Severity: "critical"}}
	tm, pols, err := cfg.Compile(st)
	if err != nil {
		t.Fatal(err)
	}
	f.team = tm
	f.incidents, err = incident.NewService(incident.Options{Store: st, Policies: pols, DefaultPolicy: "mail", Roster: tm, Now: f.clock.Now,
		Notifier: incident.NotifierFunc(func(_ context.Context, n incident.Notification) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.notified = append(f.notified, n)
			return nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	monitor := &heartbeat.Monitor{Specs: cfg.Heartbeats, Store: st, Incidents: f.incidents, Now: f.clock.Now}
	recv, err := alertmanager.NewReceiver(alertmanager.Options{Token: testMachineToken, Inbox: st, Poll: 20 * time.Millisecond,
		Sink: alertmanager.SinkFunc(func(_ context.Context, m alertmanager.Message) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.groups = append(f.groups, m)
			return nil
		})})
	if err != nil {
		t.Fatal(err)
	}
	f.signer = page.Signer{Key: []byte(testLinkKey), TTL: time.Hour, Now: f.clock.Now}
	srv := server.New(server.Options{Config: config.Default().HTTP, Tokens: accessstore.New(db), Audit: accessstore.New(db), Now: f.clock.Now})
	srv.Use(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u := r.Header.Get(userHeader); u != "" {
				role := auth.RoleViewer
				if h := r.Header.Get(roleHeader); h != "" {
					role = auth.Role(h)
				}
				r = r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{Name: u, Role: role}))
			}
			next.ServeHTTP(w, r)
		})
	})
	o := oncallapi.Options{
		Team: tm, Incidents: f.incidents, Heartbeats: monitor, Signer: f.signer, LinkKey: fo.linkKey, BaseURL: testBaseURL,
		SlackSecret: testSlackSecret, MachineToken: testMachineToken, Alertmanager: recv, Now: f.clock.Now,
		Notify: func(_ context.Context, msgs ...page.Message) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.sent = append(f.sent, msgs...)
			return nil
		},
	}
	if fo.api != nil {
		fo.api(&o)
	}
	oncallapi.Register(srv, o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- recv.Run(ctx) }()
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { ts.Close(); cancel(); <-done })
	f.base = ts.URL
	return f
}

// token issues an API token with role.
func (f *fixture) token(t *testing.T, role auth.Role) string {
	t.Helper()
	_, secret, err := auth.IssueToken(context.Background(), accessstore.New(f.db), auth.TokenRequest{Name: "test-" + string(role), Role: string(role), By: "test", Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// reply is one HTTP answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// as is the headers that make the request come from the signed-in web
// user name with role (as the web UI's session layer would).
func as(name string, role auth.Role) []string {
	return []string{userHeader, name, roleHeader, string(role)}
}

// do sends a request to the API; body is JSON-encoded unless it is a
// string, sent as is.
func (f *fixture) do(t *testing.T, method, path, token string, body any, header ...string) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		js, _ := json.Marshal(b)
		rd = strings.NewReader(string(js))
	}
	req, _ := http.NewRequest(method, f.base+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if _, ok := body.(string); !ok && body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, header: resp.Header, body: b}
}

// ok checks the status and decodes the body into out, then checks that
// the body's keys are exactly the JSON fields of out's type.
func (r reply) ok(t *testing.T, status int, out any) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if out == nil {
		return
	}
	dec := json.NewDecoder(strings.NewReader(string(r.body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		t.Fatalf("decode %T: %v: %s", out, err, r.body)
	}
	shape(t, r.body, out)
}

// shape checks that the top-level keys of a JSON object are the JSON
// field names of v's struct type (those without omitempty or omitzero
// may not be missing).
func shape(t *testing.T, body []byte, v any) {
	t.Helper()
	typ := reflect.TypeOf(v)
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct {
		return
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("not a JSON object: %s", body)
	}
	fields := map[string]bool{}
	var required []string
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for i := range typ.NumField() {
			fl := typ.Field(i)
			tag := fl.Tag.Get("json")
			if fl.Anonymous && tag == "" {
				walk(fl.Type)
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if name == "-" || !fl.IsExported() {
				continue
			}
			if name == "" {
				name = fl.Name
			}
			fields[name] = true
			if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
				required = append(required, name)
			}
		}
	}
	walk(typ)
	for k := range got {
		if !fields[k] {
			t.Errorf("%T: unexpected key %q in %s", v, k, body)
		}
	}
	for _, k := range required {
		if _, ok := got[k]; !ok {
			t.Errorf("%T: key %q missing in %s", v, k, body)
		}
	}
}

// apiError is the error envelope of the whole API.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// refused checks an error answer: its status and the envelope's code.
func (r reply) refused(t *testing.T, status int, code string) {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(r.body, &e); err != nil || r.status != status || e.Error.Code != code || e.Error.Message == "" {
		t.Fatalf("status %d %s, want %d with code %q", r.status, r.body, status, code)
	}
	shape(t, r.body, e)
}

// auditActions lists the audit log's actions, oldest first.
func (f *fixture) auditActions(t *testing.T) []string {
	t.Helper()
	entries, err := accessstore.New(f.db).ListAudit(context.Background(), time.Time{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Action)
	}
	sort.Strings(out)
	return slices.Compact(out)
}

func (f *fixture) pages() []incident.Notification {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]incident.Notification(nil), f.notified...)
}

func (f *fixture) swapMessages() []page.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]page.Message(nil), f.sent...)
}

func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", d, what)
}

// requireTool skips without the named binary, or fails when
// POSTVAKT_REQUIRE_TOOLS=1 (CI).
func requireTool(t *testing.T, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("POSTVAKT_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s is missing (Debian package %s) and POSTVAKT_REQUIRE_TOOLS=1", path, pkg)
		}
		t.Skipf("%s is missing: apt-get install %s to run this test", path, pkg)
	}
}
