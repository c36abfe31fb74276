package app

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

// TestWebTicketForms (docs/web.md, "Tickets"): the ticket list's filters
// are choices (select boxes of the states, the configured services and
// severities, and the assignees) and filter; on a ticket's page an
// on-call person reassigns, changes severity and service and links a
// duplicate, each recorded in the ticket's history (and the reverse link
// in the other's); a viewer sees no forms and is refused.
func TestWebTicketForms(t *testing.T) {
	t.Parallel()
	cfg := webConfig(t)
	app := startApp(t, cfg, time.Now)
	webUsers(t, cfg, auth.RoleOncall, auth.RoleViewer)
	helpdesk := apiToken(t, cfg, auth.RoleHelpdesk)
	open := func(title, service, severity string) tickets.Ticket {
		var tk tickets.Ticket
		if code := call(t, "POST", app.base+"/api/v1/tickets", helpdesk, map[string]any{"title": title, "service": service, "severity": severity,
			"assignee": "ana"}, &tk); code != http.StatusCreated {
			t.Fatalf("open %s: %d", title, code)
		}
		return tk
	}
	a := open("IMAP login fails", "imap", "major")
	b := open("IMAP login fails for staff", "imap", "minor")
	c, tok := signedIn(t, app.base, "oncall")

	_, list := c.do("GET", "/tickets", nil, nil)
	for _, sel := range []string{"state", "service", "severity", "assignee"} {
		if !regexp.MustCompile(`<select name="` + sel + `"[^>]*>`).MatchString(list) {
			t.Errorf("filter %s is not a select box", sel)
		}
	}
	for _, want := range []string{`<option value="imap">IMAP</option>`, "<option>critical</option>", "<option>ana</option>", "<option>chen</option>",
		"<option>investigating</option>"} {
		if !strings.Contains(list, want) {
			t.Errorf("ticket list filters lack %s", want)
		}
	}
	if regexp.MustCompile(`<input name="(service|severity|assignee)"`).MatchString(list) {
		t.Error("a filter is still a free-text box")
	}

	path := fmt.Sprintf("/tickets/%d", b.ID)
	post := func(action string, f url.Values) {
		t.Helper()
		f.Set("csrf", tok)
		resp, body := c.do("POST", path+"/"+action, f, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != path+"?ok=saved" {
			t.Fatalf("%s: %d %s\n%s", action, resp.StatusCode, resp.Header.Get("Location"), body)
		}
	}
	post("edit", url.Values{"assignee": {"chen"}, "severity": {"critical"}, "service": {"imap"}})
	post("link", url.Values{"kind": {"duplicate-of"}, "ticket": {fmt.Sprintf("#%d", a.ID)}})
	var got struct {
		tickets.Ticket
		Timeline []tickets.Event `json:"timeline"`
	}
	call(t, "GET", fmt.Sprintf("%s/api/v1/tickets/%d", app.base, b.ID), helpdesk, nil, &got)
	if got.Assignee != "chen" || got.Severity != "critical" || got.Service != "imap" {
		t.Fatalf("ticket after the form: %s %s %s", got.Assignee, got.Severity, got.Service)
	}
	want := map[string]string{"assign": `assignee: "ana" → "chen"`, "edit": `severity: "minor" → "critical"`, "link": fmt.Sprintf("duplicate-of %d", a.ID)}
	for _, e := range got.Timeline {
		// A duplicate-of link marks a duplicate: its event says so after the link.
		if w, ok := want[e.Kind]; ok && (e.Body == w || e.Kind == "link" && strings.HasPrefix(e.Body, w+":")) && e.Actor == "oncall" {
			delete(want, e.Kind)
		}
	}
	if len(want) > 0 {
		t.Errorf("history lacks %v: %+v", want, got.Timeline)
	}
	_, page := c.do("GET", path, nil, nil)
	for _, w := range []string{`<option selected>chen</option>`, `<option selected>critical</option>`,
		fmt.Sprintf(`duplicate-of: <a href="/tickets/%d">ticket %d</a>`, a.ID, a.ID), `assignee: &#34;ana&#34; → &#34;chen&#34;`} {
		if !strings.Contains(page, w) {
			t.Errorf("ticket page lacks %s", w)
		}
	}
	if _, other := c.do("GET", fmt.Sprintf("/tickets/%d", a.ID), nil, nil); !strings.Contains(other, fmt.Sprintf(`duplicated-by: <a href="/tickets/%d">`, b.ID)) {
		t.Error("the other ticket has no reverse link")
	}
	// Filtering by the chosen values.
	_, list = c.do("GET", "/tickets?assignee=chen&severity=critical&service=imap", nil, nil)
	if !strings.Contains(list, "IMAP login fails for staff") || strings.Contains(list, ">#"+fmt.Sprint(a.ID)+" IMAP login fails<") ||
		!strings.Contains(list, "<option selected>chen</option>") {
		t.Errorf("filtered list:\n%s", list)
	}
	// Bad input changes nothing.
	resp, body := c.do("POST", path+"/edit", url.Values{"csrf": {tok}, "severity": {"apocalyptic"}}, nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "apocalyptic") {
		t.Errorf("bad severity: %d", resp.StatusCode)
	}
	v, vtok := signedIn(t, app.base, "viewer")
	if _, vp := v.do("GET", path, nil, nil); strings.Contains(vp, `id="ticket-edit"`) {
		t.Error("a viewer sees the edit form")
	}
	if resp, _ := v.do("POST", path+"/edit", url.Values{"csrf": {vtok}, "assignee": {"bjorn"}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("viewer edit: %d", resp.StatusCode)
	}
}
