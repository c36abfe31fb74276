package ticketapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/api/ticketapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/internal/store/ticketstore"
	"github.com/uni-mail/postvakt/oncall/calendar"
	"github.com/uni-mail/postvakt/oncall/notice"
	"github.com/uni-mail/postvakt/oncall/notice/smtpsink"
	"github.com/uni-mail/postvakt/oncall/sla"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

var oslo = func() *time.Location { l, _ := time.LoadLocation("Europe/Oslo"); return l }()

const announceTo = "itss-announce@uni.example"

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

// fixture is the tickets API on a real server.Server over a real SQLite
// database, with the default configuration's services, severities and
// SLA policy ("standard", Oslo business hours), ana on call, and notices
// announced to a real SMTP server on loopback.
type fixture struct {
	base  string
	db    *storage.DB
	clock *testClock
	sink  *smtpsink.Sink
	ts    *tickets.Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	db := storagetest.Open(t, storage.SQLite)
	st := ticketstore.New(db)
	f := &fixture{db: db, clock: &testClock{t: calendar.At(oslo, 2026, 11, 24, 10, 0)}, sink: smtpsink.Start(t, nil)}
	cfg := config.Default()
	cfg.Notices.AnnounceTo = announceTo
	cfg.Notices.Relay.Addr = f.sink.Addr
	ts, err := tickets.New(tickets.Options{Config: cfg.Tickets, SLA: cfg.SLA, Store: st, Now: f.clock.Now, Attachments: st,
		OnCall: tickets.OnCallFunc(func(context.Context, time.Time) (string, error) { return "ana", nil })})
	if err != nil {
		t.Fatal(err)
	}
	f.ts = ts
	ns, err := notice.New(notice.Options{Config: cfg.Notices, Store: st, Now: f.clock.Now,
		Sender: &notice.SMTPSender{Addr: f.sink.Addr, Timeout: 5 * time.Second}, Services: map[string]string{"webmail": "Webmail"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Options{Config: cfg.HTTP, Tokens: accessstore.New(db), Audit: accessstore.New(db), Now: f.clock.Now})
	ticketapi.Register(srv, ticketapi.Options{Tickets: ts, Notices: ns, SLA: cfg.SLA, NoticesRecent: cfg.Notices.StatusRecent,
		AnnounceTo: cfg.Notices.AnnounceTo, Now: f.clock.Now})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	f.base = hs.URL
	return f
}

func (f *fixture) token(t *testing.T, role auth.Role) string {
	t.Helper()
	_, secret, err := auth.IssueToken(context.Background(), accessstore.New(f.db), auth.TokenRequest{Name: "test-" + string(role), Role: string(role), By: "test", Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

type reply struct {
	status int
	body   []byte
}

func (f *fixture) do(t *testing.T, method, path, token string, body any) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		js, _ := json.Marshal(body)
		rd = strings.NewReader(string(js))
	}
	req, _ := http.NewRequest(method, f.base+path, rd)
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
	return reply{status: resp.StatusCode, body: b}
}

// ok checks the status, decodes the body into out strictly and checks
// that the body's keys are the JSON fields of out's type.
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
// field names of v's struct type (embedded structs' included); those
// without omitempty or omitzero may not be missing.
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

var below = map[auth.Role]auth.Role{auth.RoleHelpdesk: auth.RoleViewer, auth.RoleOncall: auth.RoleHelpdesk}

// TestRoutesRefuse: every route answers 401 without a token or with a bad
// one, and 403 to a token below its role, in the error envelope.
func TestRoutesRefuse(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	tokens := map[auth.Role]string{}
	for _, r := range auth.Roles() {
		tokens[r] = f.token(t, r)
	}
	for _, rt := range []struct {
		method, path string
		role         auth.Role
	}{
		{"GET", "/api/v1/tickets", auth.RoleViewer},
		{"POST", "/api/v1/tickets", auth.RoleHelpdesk},
		{"GET", "/api/v1/tickets/1", auth.RoleViewer},
		{"GET", "/api/v1/tickets/1/sla", auth.RoleViewer},
		{"PATCH", "/api/v1/tickets/1", auth.RoleHelpdesk},
		{"POST", "/api/v1/tickets/1/comments", auth.RoleHelpdesk},
		{"POST", "/api/v1/tickets/1/ack", auth.RoleOncall},
		{"GET", "/api/v1/sla/policies", auth.RoleViewer},
		{"GET", "/api/v1/sla/explain", auth.RoleViewer},
		{"GET", "/api/v1/notices", auth.RoleViewer},
		{"POST", "/api/v1/notices", auth.RoleOncall},
		{"POST", "/api/v1/notices/preview", auth.RoleOncall},
		{"GET", "/api/v1/notices/1", auth.RoleViewer},
		{"POST", "/api/v1/notices/1/updates", auth.RoleOncall},
	} {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			f.do(t, rt.method, rt.path, "", nil).refused(t, http.StatusUnauthorized, "unauthorized")
			f.do(t, rt.method, rt.path, "pv_not-a-real-token", nil).refused(t, http.StatusUnauthorized, "unauthorized")
			if b, ok := below[rt.role]; ok {
				f.do(t, rt.method, rt.path, tokens[b], nil).refused(t, http.StatusForbidden, "forbidden")
			}
			if r := f.do(t, rt.method, rt.path, tokens[rt.role], nil); r.status == http.StatusUnauthorized || r.status == http.StatusForbidden {
				t.Fatalf("refused a %s token: %d %s", rt.role, r.status, r.body)
			}
		})
	}
}

// TestTicketsAPI: open with roles and audit, the default assignee, the
// clocks, actions and their refusals, comments, the timeline, the list
// and SLA explain.
func TestTicketsAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	helpdesk, oncall, viewer := f.token(t, auth.RoleHelpdesk), f.token(t, auth.RoleOncall), f.token(t, auth.RoleViewer)

	var tk tickets.Ticket
	open := map[string]any{"title": "Mail to gmail bounces", "service": "smtp", "severity": "critical", "reporter": "helpdesk"}
	f.do(t, "POST", "/api/v1/tickets", viewer, open).refused(t, http.StatusForbidden, "forbidden")
	f.do(t, "POST", "/api/v1/tickets", helpdesk, open).ok(t, http.StatusCreated, &tk)
	if tk.Assignee != "ana" || tk.Policy != "standard" || tk.State != tickets.StateNew {
		t.Fatalf("ticket %+v", tk)
	}
	if c, _ := tk.Clock(sla.KindResponse); !c.Due.Equal(calendar.At(oslo, 2026, 11, 24, 11, 0)) {
		t.Fatalf("due %v", c.Due)
	}
	f.do(t, "POST", "/api/v1/tickets", helpdesk, map[string]any{"title": "x", "service": "fax"}).refused(t, http.StatusBadRequest, "bad_request")
	f.do(t, "POST", "/api/v1/tickets", helpdesk, map[string]any{"title": "x", "colour": "red"}).refused(t, http.StatusBadRequest, "bad_request")
	id := tickets.ID(tk.ID)
	f.clock.Set(calendar.At(oslo, 2026, 11, 24, 10, 12))
	f.do(t, "POST", "/api/v1/tickets/"+id+"/ack", helpdesk, nil).refused(t, http.StatusForbidden, "forbidden")
	f.do(t, "POST", "/api/v1/tickets/"+id+"/ack", oncall, map[string]string{"note": "looking"}).ok(t, http.StatusOK, &tk)
	if tk.State != tickets.StateAcknowledged {
		t.Fatalf("ack: %s", tk.State)
	}
	f.do(t, "POST", "/api/v1/tickets/"+id+"/close", oncall, nil).refused(t, http.StatusConflict, "conflict")
	f.do(t, "POST", "/api/v1/tickets/"+id+"/frobnicate", oncall, nil).refused(t, http.StatusNotFound, "not_found")
	f.do(t, "POST", "/api/v1/tickets/999/ack", oncall, nil).refused(t, http.StatusNotFound, "not_found")
	f.do(t, "POST", "/api/v1/tickets/x/ack", oncall, nil).refused(t, http.StatusBadRequest, "bad_request")
	f.do(t, "POST", "/api/v1/tickets/"+id+"/comments", helpdesk, map[string]any{"body": "user called again"}).ok(t, http.StatusCreated, &tk)
	var edited tickets.Ticket
	f.do(t, "PATCH", "/api/v1/tickets/"+id, helpdesk, map[string]any{"title": "Mail to gmail.com bounces"}).ok(t, http.StatusOK, &edited)
	if edited.Title != "Mail to gmail.com bounces" {
		t.Fatalf("edit %+v", edited)
	}

	var view ticketapi.TicketResponse
	f.do(t, "GET", "/api/v1/tickets/"+id, viewer, nil).ok(t, http.StatusOK, &view)
	if view.ID != tk.ID || len(view.Timeline) != 4 || view.Timeline[1].Actor != "token:test-oncall" || view.Timeline[2].Kind != "comment" ||
		view.Timeline[3].Kind != tickets.EvEdit {
		t.Fatalf("get: %+v", view.Timeline)
	}
	f.do(t, "GET", "/api/v1/tickets/999", viewer, nil).refused(t, http.StatusNotFound, "not_found")
	var res sla.Result
	f.do(t, "GET", "/api/v1/tickets/"+id+"/sla", viewer, nil).ok(t, http.StatusOK, &res)
	if c, ok := res.Clock(sla.KindResponse); !ok || c.Status != sla.Met {
		t.Fatalf("ticket SLA %+v", res)
	}

	var list ticketapi.TicketsResponse
	f.do(t, "GET", "/api/v1/tickets?state=acknowledged", viewer, nil).ok(t, http.StatusOK, &list)
	if len(list.Tickets) != 1 || list.Tickets[0].ID != tk.ID {
		t.Fatalf("list: %+v", list)
	}
	var empty ticketapi.TicketsResponse
	f.do(t, "GET", "/api/v1/tickets?state=closed", viewer, nil).ok(t, http.StatusOK, &empty)
	if empty.Tickets == nil || len(empty.Tickets) != 0 {
		t.Fatalf("no tickets must be [], got %+v", empty.Tickets)
	}
	f.do(t, "GET", "/api/v1/tickets?state=lost", viewer, nil).refused(t, http.StatusBadRequest, "bad_request")
	f.do(t, "GET", "/api/v1/tickets?limit=0", viewer, nil).refused(t, http.StatusBadRequest, "bad_request")
	if got := f.auditActions(t); !slices.Equal(got, []string{"ticket.ack", "ticket.comment", "ticket.edit", "ticket.open"}) {
		t.Fatalf("audit %v", got)
	}
}

func TestSLAAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	viewer := f.token(t, auth.RoleViewer)
	var res sla.Result
	f.do(t, "GET", "/api/v1/sla/explain?policy=standard&notified=2026-11-27+16:30", viewer, nil).ok(t, http.StatusOK, &res)
	if c, _ := res.Clock(sla.KindResponse); !c.Due.Equal(calendar.At(oslo, 2026, 11, 30, 9, 30)) {
		t.Fatalf("explain due %v", c.Due)
	}
	for _, bad := range []string{"policy=nope&notified=2026-11-27+16:30", "policy=standard&notified=friday",
		"policy=standard&notified=2026-11-27+16:30&pause=soon"} {
		f.do(t, "GET", "/api/v1/sla/explain?"+bad, viewer, nil).refused(t, http.StatusBadRequest, "bad_request")
	}
	var pols ticketapi.PoliciesResponse
	f.do(t, "GET", "/api/v1/sla/policies", viewer, nil).ok(t, http.StatusOK, &pols)
	if pols.DefaultPolicy != "standard" || len(pols.Policies) == 0 || pols.Policies[0].Name != "standard" || pols.Policies[0].Version == "" {
		t.Fatalf("policies %+v", pols)
	}
}

// TestNoticesAPI: create (announced to the list), update, get, list and
// the preview, which stores and sends nothing.
func TestNoticesAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	oncall, viewer := f.token(t, auth.RoleOncall), f.token(t, auth.RoleViewer)
	create := map[string]any{"kind": "outage", "title": "Webmail unavailable", "services": []string{"webmail"}, "symptoms": "HTTP 502"}

	var pre ticketapi.NoticePreview
	f.do(t, "POST", "/api/v1/notices/preview", oncall, create).ok(t, http.StatusOK, &pre)
	if pre.To != announceTo || !pre.Announce || !strings.Contains(pre.Subject, "Webmail unavailable") || pre.Text == "" || pre.HTML == "" {
		t.Fatalf("preview %+v", pre)
	}
	f.do(t, "POST", "/api/v1/notices/preview", oncall, map[string]any{"kind": "weather"}).refused(t, http.StatusBadRequest, "bad_request")
	var none ticketapi.NoticesResponse
	f.do(t, "GET", "/api/v1/notices", viewer, nil).ok(t, http.StatusOK, &none)
	if none.Notices == nil || len(none.Notices) != 0 || len(f.sink.Messages()) != 0 {
		t.Fatalf("the preview stored or sent: %+v, %d messages", none, len(f.sink.Messages()))
	}

	var n notice.Notice
	f.do(t, "POST", "/api/v1/notices", oncall, create).ok(t, http.StatusCreated, &n)
	if n.State != "investigating" || len(n.Updates) != 1 {
		t.Fatalf("notice: %+v", n)
	}
	if _, err := f.sink.Wait(1, 5*time.Second); err != nil {
		t.Fatalf("announcement: %v", err)
	}
	f.do(t, "POST", "/api/v1/notices", oncall, map[string]any{"kind": "outage"}).refused(t, http.StatusBadRequest, "bad_request")
	nid := tickets.ID(n.ID)
	f.do(t, "POST", "/api/v1/notices/"+nid+"/updates", oncall, map[string]any{"state": "identified", "body": "A proxy node failed."}).ok(t, http.StatusOK, &n)
	if len(n.Updates) != 2 || n.State != "identified" {
		t.Fatalf("notice update: %+v", n)
	}
	f.do(t, "POST", "/api/v1/notices/999/updates", oncall, map[string]any{"state": "identified", "body": "x"}).refused(t, http.StatusNotFound, "not_found")
	var got notice.Notice
	f.do(t, "GET", "/api/v1/notices/"+nid, viewer, nil).ok(t, http.StatusOK, &got)
	if got.ID != n.ID || len(got.Updates) != 2 {
		t.Fatalf("get %+v", got)
	}
	f.do(t, "GET", "/api/v1/notices/999", viewer, nil).refused(t, http.StatusNotFound, "not_found")
	var list ticketapi.NoticesResponse
	f.do(t, "GET", "/api/v1/notices?kind=outage", viewer, nil).ok(t, http.StatusOK, &list)
	if len(list.Notices) != 1 || list.Notices[0].ID != n.ID {
		t.Fatalf("list %+v", list)
	}
	if got := f.auditActions(t); !slices.Equal(got, []string{"notice.create", "notice.update"}) {
		t.Fatalf("audit %v", got)
	}
}

// TestAttachmentsAndDuplicates: a ticket's attachments are listed and
// downloaded by helpdesk and above only, as a download; a duplicate is
// marked through its route (on call and above), which refuses a parent
// that is resolved.
func TestAttachmentsAndDuplicates(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	raw := "From: kari@uni.example\r\nSubject: Error\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nSee the log.\r\n--b\r\nContent-Type: text/html\r\nContent-Disposition: attachment; filename=\"log.html\"\r\n\r\n<script>alert(1)</script>\r\n--b--\r\n"
	id, _, err := f.ts.Intake(ctx, strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	viewer, helpdesk, oncall := f.token(t, auth.RoleViewer), f.token(t, auth.RoleHelpdesk), f.token(t, auth.RoleOncall)
	f.do(t, "GET", "/api/v1/tickets/"+id+"/attachments", viewer, nil).refused(t, 403, "forbidden")
	var list ticketapi.AttachmentsResponse
	f.do(t, "GET", "/api/v1/tickets/"+id+"/attachments", helpdesk, nil).ok(t, 200, &list)
	if len(list.Attachments) != 1 || list.Attachments[0].Name != "log.html" {
		t.Fatalf("%+v", list)
	}
	path := fmt.Sprintf("/api/v1/ticket-attachments/%d", list.Attachments[0].ID)
	f.do(t, "GET", path, viewer, nil).refused(t, 403, "forbidden")
	req, _ := http.NewRequest("GET", f.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+helpdesk)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/octet-stream" || resp.Header.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") || string(b) != "<script>alert(1)</script>" {
		t.Fatalf("%d %v %q", resp.StatusCode, resp.Header, b)
	}
	f.do(t, "GET", "/api/v1/ticket-attachments/999", helpdesk, nil).refused(t, 404, "not_found")

	parent, err := f.ts.Open(ctx, tickets.OpenRequest{Title: "Webmail down", Service: "webmail"})
	if err != nil {
		t.Fatal(err)
	}
	f.do(t, "POST", "/api/v1/tickets/"+id+"/duplicate-of", helpdesk, ticketapi.DuplicateRequest{Parent: parent.ID}).refused(t, 403, "forbidden")
	// A duplicate-of link is the same mark, with the same role.
	link := tickets.EditRequest{AddLinks: []tickets.Link{{Kind: tickets.LinkDuplicateOf, Ref: tickets.ID(parent.ID)}}}
	f.do(t, "PATCH", "/api/v1/tickets/"+id, helpdesk, link).refused(t, 403, "forbidden")
	f.do(t, "PATCH", "/api/v1/tickets/"+id, oncall, tickets.EditRequest{AddLinks: []tickets.Link{{Kind: tickets.LinkDuplicatedBy, Ref: tickets.ID(parent.ID)}}}).refused(t, 400, "bad_request")
	f.do(t, "POST", "/api/v1/tickets/"+id+"/duplicate-of", oncall, ticketapi.DuplicateRequest{}).refused(t, 400, "bad_request")
	var dup tickets.Ticket
	f.do(t, "POST", "/api/v1/tickets/"+id+"/duplicate-of", oncall, ticketapi.DuplicateRequest{Parent: parent.ID}).ok(t, 200, &dup)
	if dup.DuplicateOf() != parent.ID || len(dup.Clocks) != 0 {
		t.Fatalf("%+v", dup)
	}
	var p ticketapi.TicketResponse
	f.do(t, "GET", "/api/v1/tickets/"+tickets.ID(parent.ID), helpdesk, nil).ok(t, 200, &p)
	if len(p.Links) != 1 || p.Links[0].Kind != tickets.LinkDuplicatedBy || p.Links[0].Ref != id {
		t.Fatalf("the parent's links: %+v", p.Links)
	}
}
