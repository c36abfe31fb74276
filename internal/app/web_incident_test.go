package app

import (
	"fmt"
	"io"
	"mime/quotedprintable"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/api/oncallapi"
	"github.com/uni-mail/postvakt/internal/api/ticketapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/oncall"
	"github.com/uni-mail/postvakt/oncall/incident"
)

// incidentWebConfig is the on-call test configuration paging by e-mail
// only, to sink, with oncall.resolve_ticket_with_incident as given.
func incidentWebConfig(t testing.TB, sink *smtpSink, resolveTicket bool) *config.Config {
	cfg := oncallConfig(t, "http://127.0.0.1:1", sink.addr, time.Hour, 2*time.Hour)
	cfg.Oncall.Slack = oncall.SlackConfig{}
	cfg.Oncall.ResolveTicketWithIncident = resolveTicket
	cfg.HTTP.BaseURL = "https://postvakt.example.edu"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// raiseAlert posts one firing Alertmanager group naming a runbook and an
// account, and waits for its incident.
func raiseAlert(t testing.TB, base, oncallTok, name string) incident.Incident {
	t.Helper()
	labels := map[string]string{"alertname": name, "severity": "critical", "runbook": "probe-failed", "service": "smtp"}
	payload := map[string]any{
		"version": "4", "groupKey": `{}:{alertname="` + name + `"}`, "status": "firing", "receiver": "postvakt",
		"groupLabels": map[string]string{"alertname": name}, "commonLabels": labels,
		"commonAnnotations": map[string]string{"summary": "SMTP probe failed on mx1"},
		"alerts": []map[string]any{{"status": "firing", "fingerprint": "fp-" + name, "labels": labels,
			"annotations": map[string]string{"summary": "SMTP probe failed on mx1", "account": "s001@uni.example"},
			"startsAt":    time.Now().Add(-time.Minute).Format(time.RFC3339)}},
	}
	if code := call(t, "POST", base+"/api/v1/alertmanager", testAMToken, payload, nil); code >= 300 {
		t.Fatalf("alertmanager webhook: %d", code)
	}
	var inc incident.Incident
	eventually(t, 15*time.Second, "the incident of "+name, func() bool {
		var l oncallapi.IncidentsResponse
		call(t, "GET", base+"/api/v1/incidents?status=open", oncallTok, nil, &l)
		for _, i := range l.Incidents {
			if i.Labels["alertname"] == name && i.TicketID != "" {
				inc = i
				return true
			}
		}
		return false
	})
	return inc
}

func ticketOf(t *testing.T, base, tok, id string) ticketapi.TicketResponse {
	t.Helper()
	var tk ticketapi.TicketResponse
	if code := call(t, "GET", base+"/api/v1/tickets/"+id, tok, nil, &tk); code != http.StatusOK {
		t.Fatalf("ticket %s: %d", id, code)
	}
	return tk
}

// TestWebIncidentPage (docs/web.md, "Incidents"; docs/oncall.md, "Working
// an incident"): an incident raised through the Alertmanager receiver and
// paged by e-mail to a loopback SMTP sink has a page that shows each page
// sent, the acknowledgement, the linked ticket and the runbook as links.
// From the page: page by hand (the sink gets it), acknowledge (the ticket
// leaves "new", both histories say so), reassign (the ticket follows), a
// note, and resolve, which resolves the ticket when
// oncall.resolve_ticket_with_incident is true and leaves it when false.
// A viewer sees the page but cannot act; a form without CSRF is refused.
func TestWebIncidentPage(t *testing.T) {
	t.Parallel()
	for _, resolveTicket := range []bool{true, false} {
		t.Run(fmt.Sprintf("resolve_ticket_with_incident=%v", resolveTicket), func(t *testing.T) {
			t.Parallel()
			sink := newSMTPSink(t)
			cfg := incidentWebConfig(t, sink, resolveTicket)
			app := startApp(t, cfg, time.Now)
			webUsers(t, cfg, auth.RoleOncall, auth.RoleViewer)
			oncallTok := apiToken(t, cfg, auth.RoleOncall)
			inc := raiseAlert(t, app.base, oncallTok, "SMTPProbeFailed")
			path := fmt.Sprintf("/incidents/%d", inc.ID)
			first := onCallAt(t, time.Now())
			firstMail := memberByID(first).Email
			eventually(t, 15*time.Second, "the e-mail page to "+firstMail, func() bool { return len(sink.to(firstMail)) == 1 })
			if tk := ticketOf(t, app.base, oncallTok, inc.TicketID); tk.State != "new" {
				t.Fatalf("ticket before the ack: %s", tk.State)
			}

			c, tok := signedIn(t, app.base, "oncall")
			resp, page := c.do("GET", path, nil, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("incident page: %d\n%s", resp.StatusCode, page)
			}
			for _, want := range []string{
				`href="/tickets/` + inc.TicketID + `"`, `href="/runbooks/probe-failed"`, `href="/trace?from=s001%40uni.example"`,
				"<strong>sent page</strong> to " + first + " by email: <span class=\"\">sent</span>", "round 1 step 1: " + first,
				`id="incident-pages">1 sent<`, "SMTP probe failed on mx1", `<option value="chen">`,
			} {
				if !strings.Contains(page, want) {
					t.Errorf("incident page lacks %q", want)
				}
			}
			if _, list := c.do("GET", "/incidents", nil, nil); !strings.Contains(list, `href="`+path+`"`) || !strings.Contains(list, `href="/tickets/`+inc.TicketID+`"`) {
				t.Errorf("the incident list does not link the page and the ticket")
			}

			post := func(action string, f url.Values) {
				t.Helper()
				f.Set("csrf", tok)
				f.Set("back", "page")
				resp, body := c.do("POST", path+"/"+action, f, nil)
				if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), path+"?ok=") {
					t.Fatalf("%s: %d %s\n%s", action, resp.StatusCode, resp.Header.Get("Location"), body)
				}
			}
			t.Run("refusals", func(t *testing.T) {
				if resp, _ := c.do("POST", path+"/ack", url.Values{"back": {"page"}}, nil); resp.StatusCode != http.StatusForbidden {
					t.Errorf("ack without CSRF: %d", resp.StatusCode)
				}
				v, vtok := signedIn(t, app.base, "viewer")
				resp, body := v.do("GET", path, nil, nil)
				if resp.StatusCode != http.StatusOK || strings.Contains(body, `id="incident-ack"`) || strings.Contains(body, `id="incident-page-form"`) {
					t.Errorf("viewer page: %d, forms shown", resp.StatusCode)
				}
				if resp, _ := v.do("POST", path+"/page", url.Values{"csrf": {vtok}, "member": {"chen"}}, nil); resp.StatusCode != http.StatusForbidden {
					t.Errorf("viewer page by hand: %d", resp.StatusCode)
				}
				if resp, body := c.do("POST", path+"/page", url.Values{"csrf": {tok}, "member": {"mallory"}}, nil); resp.StatusCode != http.StatusBadRequest ||
					!strings.Contains(body, "mallory") {
					t.Errorf("page by hand to an unknown member: %d", resp.StatusCode)
				}
			})

			// Page someone by hand: they get an e-mail of their own.
			other := "chen"
			if first == other {
				other = "ana"
			}
			otherMail := memberByID(other).Email
			post("page", url.Values{"member": {other}, "note": {"Need a second pair of eyes on mx1"}})
			eventually(t, 15*time.Second, "the hand page to "+otherMail, func() bool { return len(sink.to(otherMail)) == 1 })
			if m := sink.to(otherMail)[0]; !strings.Contains(qpText(m.Data), "Note: Need a second pair of eyes") || !strings.Contains(qpText(m.Data), "Paged by hand by oncall") {
				t.Errorf("hand page mail:\n%s", m.Data)
			}

			post("ack", url.Values{})
			tk := ticketOf(t, app.base, oncallTok, inc.TicketID)
			if tk.State != "acknowledged" || !hasTicketEvent(tk, "state", "incident "+fmt.Sprint(inc.ID)+" acknowledged") {
				t.Errorf("ticket after the incident's ack: %s %+v", tk.State, tk.Timeline)
			}
			post("reassign", url.Values{"member": {"bjorn"}})
			if tk := ticketOf(t, app.base, oncallTok, inc.TicketID); tk.Assignee != "bjorn" || !hasTicketEvent(tk, "assign", "bjorn") {
				t.Errorf("ticket after the reassignment: %q %+v", tk.Assignee, tk.Timeline)
			}
			post("note", url.Values{"text": {"mx1 restarted; watching the queue"}})

			_, page = c.do("GET", path, nil, nil)
			for _, want := range []string{
				"<strong>acknowledged</strong> <span class=\"muted\">oncall</span>", "ticket " + inc.TicketID + " acknowledged",
				"<strong>sent page</strong> to " + other + " by email", "by hand: " + other, `id="incident-owner">bjorn`,
				"<strong>reassigned</strong>", "ticket " + inc.TicketID + " assigned to bjorn", "mx1 restarted; watching the queue",
				"<strong>sent acknowledged</strong> to " + first + " by email",
			} {
				if !strings.Contains(page, want) {
					t.Errorf("incident page after acting lacks %q", want)
				}
			}

			post("resolve", url.Values{})
			tk = ticketOf(t, app.base, oncallTok, inc.TicketID)
			_, page = c.do("GET", path, nil, nil)
			if resolveTicket {
				if tk.State != "resolved" || !strings.Contains(page, "ticket "+inc.TicketID+" resolved") {
					t.Errorf("resolving the incident left the ticket %s", tk.State)
				}
			} else if tk.State != "acknowledged" || !strings.Contains(page, "ticket "+inc.TicketID+" left open") {
				t.Errorf("with resolve_ticket_with_incident false the ticket is %s", tk.State)
			}
			if !strings.Contains(page, `id="incident-status">resolved`) {
				t.Errorf("incident not resolved on its page")
			}

			// Escalate a second incident by hand: the policy's next step
			// (the next person on the rota) is paged now, not in an hour.
			firstPages := len(sink.to(firstMail))
			inc2 := raiseAlert(t, app.base, oncallTok, "IMAPProbeFailed")
			path2 := fmt.Sprintf("/incidents/%d", inc2.ID)
			eventually(t, 15*time.Second, "the second incident's first page", func() bool { return len(sink.to(firstMail)) > firstPages })
			// (the step is claimed before its e-mail goes out, so an
			// escalation now finds it fired; one racing it is a 409)
			var nextID string
			before := map[string]int{}
			for _, m := range testMembers {
				before[m.ID] = len(sink.to(m.Email))
			}
			resp, body := c.do("POST", path2+"/escalate", url.Values{"csrf": {tok}, "back": {"page"}}, nil)
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("escalate: %d\n%s", resp.StatusCode, body)
			}
			eventually(t, 15*time.Second, "the escalation's page", func() bool {
				for _, m := range testMembers {
					if m.ID != first && len(sink.to(m.Email)) > before[m.ID] {
						nextID = m.ID
						return true
					}
				}
				return false
			})
			_, page = c.do("GET", path2, nil, nil)
			if !strings.Contains(page, "<strong>escalated</strong> <span class=\"muted\">oncall</span>") || !strings.Contains(page, "round 1 step 2: "+nextID) ||
				!strings.Contains(page, "<strong>sent page</strong> to "+nextID+" by email") {
				t.Errorf("the escalation is not on the second incident's page (next %s)", nextID)
			}
			if resp, _ := c.do("POST", path2+"/ack", url.Values{"csrf": {tok}}, nil); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("ack the second: %d", resp.StatusCode)
			}
			if resp, body := c.do("POST", path2+"/escalate", url.Values{"csrf": {tok}}, nil); resp.StatusCode != http.StatusConflict || !strings.Contains(body, "acknowledged") {
				t.Errorf("escalating an acknowledged incident: %d", resp.StatusCode)
			}
		})
	}
}

// qpText decodes a quoted-printable message (headers and all).
func qpText(s string) string {
	b, _ := io.ReadAll(quotedprintable.NewReader(strings.NewReader(s)))
	return string(b)
}

func hasTicketEvent(tk ticketapi.TicketResponse, kind, body string) bool {
	for _, e := range tk.Timeline {
		if e.Kind == kind && strings.Contains(e.Body, body) {
			return true
		}
	}
	return false
}
