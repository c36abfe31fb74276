package probeapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/internal/api/probeapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/internal/store/probestore"
	"github.com/uni-mail/postvakt/internal/store/ticketstore"
	"github.com/uni-mail/postvakt/oncall/notice"
)

// now is the clock of every test: noon UTC the day after day.
var (
	day = time.Date(2026, 10, 14, 0, 0, 0, 0, time.UTC)
	now = day.Add(36 * time.Hour)
)

// fixture is the probe API on a real server.Server over a migrated SQLite
// database, with one configured probe (pop-tcp, a TCP connect to a
// listener on loopback) and a token per role.
type fixture struct {
	base   string
	db     *storage.DB
	store  *probestore.Store
	tokens map[auth.Role]string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db := storagetest.Open(t, storage.SQLite)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	pc := probe.DefaultConfig()
	pc.Targets = []probe.Target{{Name: "pop-tcp", Service: "pop3", Node: "pop1", Kind: probe.KindTCP, Address: l.Addr().String()}}
	f := &fixture{db: db, store: probestore.New(db, ticketstore.New(db)), tokens: map[auth.Role]string{}}
	clock := func() time.Time { return now }
	acc := accessstore.New(db)
	s := server.New(server.Options{Config: config.Default().HTTP, Tokens: acc, Audit: acc, Now: clock})
	probeapi.Register(s, probeapi.Options{Store: f.store, Runner: &probe.Runner{Config: pc, Store: f.store, Node: "node-a", Now: clock},
		Location: time.UTC, Now: clock})
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	f.base = ts.URL
	for _, r := range auth.Roles() {
		_, secret, err := auth.IssueToken(context.Background(), acc, auth.TokenRequest{Name: "test-" + string(r), Role: string(r),
			By: "test", Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		f.tokens[r] = secret
	}
	return f
}

// seed records a probe of imap run every 10 minutes from two hours before
// day to two hours after it, down from 09:00 to 09:30 (an outage) and
// from 22:10 to 22:50 inside a maintenance window from 22:00 to 23:00,
// announced by a completed maintenance notice.
func (f *fixture) seed(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for at := day.Add(-2 * time.Hour); at.Before(day.Add(26 * time.Hour)); at = at.Add(10 * time.Minute) {
		h := at.Sub(day)
		ok := (h < 9*time.Hour || h >= 9*time.Hour+30*time.Minute) && (h < 22*time.Hour+10*time.Minute || h >= 22*time.Hour+50*time.Minute)
		r := probe.Result{Probe: "imap-lb", Service: "imap", Kind: probe.KindIMAP, At: at, Duration: 40 * time.Millisecond, OK: ok,
			Attempts: 1, Steps: []probe.Step{{Name: "connect", Duration: time.Millisecond}}}
		if !ok {
			r.Error, r.Attempts = "imap: connection refused", 3
		}
		if _, _, err := f.store.SaveProbeResult(ctx, r, "node-a"); err != nil {
			t.Fatal(err)
		}
	}
	_, err := ticketstore.New(f.db).NoticeCreate(ctx, notice.Notice{Kind: notice.KindMaintenance, Title: "IMAP upgrade", Services: []string{"imap"},
		State: notice.Completed, StartedAt: day.Add(22 * time.Hour), PlannedEnd: day.Add(23 * time.Hour), EndedAt: day.Add(23 * time.Hour),
		Language: "en", ThreadID: "<n1@test>", CreatedAt: day, UpdatedAt: day}, notice.Update{At: day, Kind: "created", State: notice.Completed, Body: "x"})
	if err != nil {
		t.Fatal(err)
	}
}

type reply struct {
	status int
	ctype  string
	body   []byte
}

// do requests path as role ("" for no token).
func (f *fixture) do(t *testing.T, method, path string, role auth.Role) reply {
	t.Helper()
	req, _ := http.NewRequest(method, f.base+path, nil)
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+f.tokens[role])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: b}
}

// ok checks the status, decodes the body into out strictly and checks
// that the body's keys are the JSON fields of out's type.
func (r reply) ok(t *testing.T, status int, out any) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if r.ctype != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", r.ctype)
	}
	dec := json.NewDecoder(strings.NewReader(string(r.body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		t.Fatalf("decode %T: %v: %s", out, err, r.body)
	}
	shape(t, r.body, out)
}

// refused checks an answer in the error envelope with status and code.
func (r reply) refused(t *testing.T, status int, code string) {
	t.Helper()
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.body, &e); err != nil || r.status != status || e.Error.Code != code || e.Error.Message == "" {
		t.Fatalf("status %d %s, want %d with code %q", r.status, r.body, status, code)
	}
	shape(t, r.body, e)
}

// shape checks that the keys of a JSON object are the JSON field names of
// v's struct type (embedded structs' included), those without omitempty
// or omitzero all present, and the same of the first element of every
// list field.
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
	fields := map[string]reflect.Type{}
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
			fields[name] = fl.Type
			if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
				required = append(required, name)
			}
		}
	}
	walk(typ)
	for k, raw := range got {
		ft, ok := fields[k]
		if !ok {
			t.Errorf("%v: unexpected key %q in %s", typ, k, body)
			continue
		}
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
			var items []json.RawMessage
			if err := json.Unmarshal(raw, &items); err != nil {
				t.Errorf("%v: %q is not a list: %s", typ, k, raw)
			} else if len(items) > 0 {
				shape(t, items[0], reflect.New(ft.Elem()).Interface())
			}
		}
	}
	for _, k := range required {
		if _, ok := got[k]; !ok {
			t.Errorf("%v: key %q missing in %s", typ, k, body)
		}
	}
}

// auditActions lists the distinct actions in the audit log.
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

// TestRoutesRefuse: every route answers 401 without a token or with a bad
// one, and 403 to a token below its role, in the error envelope.
func TestRoutesRefuse(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	below := map[auth.Role]auth.Role{auth.RoleOncall: auth.RoleHelpdesk}
	for _, rt := range []struct {
		method, path string
		role         auth.Role
	}{
		{"GET", "/api/v1/probes", auth.RoleViewer},
		{"GET", "/api/v1/probes/imap-lb/results", auth.RoleViewer},
		{"POST", "/api/v1/probes/pop-tcp/run", auth.RoleOncall},
		{"GET", "/api/v1/availability", auth.RoleViewer},
	} {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			f.do(t, rt.method, rt.path, "").refused(t, http.StatusUnauthorized, "unauthorized")
			req, _ := http.NewRequest(rt.method, f.base+rt.path, nil)
			req.Header.Set("Authorization", "Bearer pv_not-a-real-token")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			reply{status: resp.StatusCode, body: b}.refused(t, http.StatusUnauthorized, "unauthorized")
			if b, ok := below[rt.role]; ok {
				f.do(t, rt.method, rt.path, b).refused(t, http.StatusForbidden, "forbidden")
				f.do(t, rt.method, rt.path, auth.RoleViewer).refused(t, http.StatusForbidden, "forbidden")
			}
			if r := f.do(t, rt.method, rt.path, rt.role); r.status != http.StatusOK {
				t.Fatalf("a %s token: %d %s", rt.role, r.status, r.body)
			}
		})
	}
}
