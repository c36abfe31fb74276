package web

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/uni-mail/postvakt/internal/api/oncallapi"
	"github.com/uni-mail/postvakt/internal/api/ticketapi"
	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/oncall/notice"
)

// incidentView is an incident's page: the incident with its alerts, the
// whole timeline (events and the page log merged), the links it names
// (runbook, ticket, notices of that ticket, trace searches) and, for
// on-call, the team to page or reassign to.
type incidentView struct {
	Incident incident.Incident
	Timeline []incident.Entry
	Sent     int // messages sent
	Failed   int // messages failed
	Labels   []labelPair
	Runbook  string
	Traces   []traceLink
	Notices  []notice.Notice
	Members  []oncallapi.MemberView
}

type labelPair struct{ Key, Value string }

// traceLink is a trace search for something an alert names.
type traceLink struct {
	Label, URL string
}

var runbookID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// traceKeys maps the label and annotation names that name a message or
// an address to the trace search field they fill.
var traceKeys = map[string]string{
	"account": "from", "sender": "from", "from": "from", "mail_from": "from",
	"rcpt": "to", "recipient": "to", "to": "to", "address": "to",
	"msgid": "msgid", "message_id": "msgid", "queue_id": "queue_id",
	"ip": "ip", "client_ip": "ip",
}

func (u *UI) incidentPage(w http.ResponseWriter, r *http.Request, v *view) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return &apiError{Status: http.StatusNotFound, Message: "no such incident"}
	}
	var resp oncallapi.IncidentResponse
	if err := u.call(r, http.MethodGet, fmt.Sprintf("/api/v1/incidents/%d", id), nil, &resp); err != nil {
		if notConfigured(err) {
			return &apiError{Status: http.StatusNotFound, Message: "Incidents belong to on-call, which is not configured: set oncall: in the configuration (docs/oncall.md)."}
		}
		return err
	}
	v.Title, v.Nav = fmt.Sprintf("Incident #%d", id), "incidents"
	d := &incidentView{Incident: resp.Incident, Timeline: incident.Timeline(resp.Timeline, resp.Pages)}
	v.Data = d
	for _, p := range resp.Pages {
		switch p.Result {
		case "sent":
			d.Sent++
		case "failed":
			d.Failed++
		}
	}
	inc := resp.Incident
	for k, val := range inc.Labels {
		d.Labels = append(d.Labels, labelPair{k, val})
	}
	sort.Slice(d.Labels, func(i, j int) bool { return d.Labels[i].Key < d.Labels[j].Key })
	d.Runbook, d.Traces = incidentLinks(inc)
	if inc.TicketID != "" {
		var ns ticketapi.NoticesResponse
		if _, err := u.optional(r, "/api/v1/notices", &ns); err == nil {
			for _, n := range ns.Notices {
				if n.TicketID == inc.TicketID {
					d.Notices = append(d.Notices, n)
				}
			}
		}
	}
	if v.Can("oncall") && inc.Status != incident.StatusResolved {
		var ms oncallapi.MembersResponse
		if err := u.call(r, http.MethodGet, "/api/v1/oncall/members", nil, &ms); err != nil {
			return err
		}
		d.Members = ms.Members
	}
	u.render(w, http.StatusOK, "incident", v)
	return nil
}

// incidentLinks finds the runbook an incident names (its runbook label,
// or an alert's runbook label or annotation) and the trace searches for
// the messages and addresses its labels and alerts name.
func incidentLinks(inc incident.Incident) (runbook string, traces []traceLink) {
	maps := []map[string]string{inc.Labels}
	for _, a := range inc.Alerts {
		maps = append(maps, a.Labels, a.Annotations)
	}
	seen := map[string]bool{}
	for _, m := range maps {
		if id := strings.TrimSpace(m["runbook"]); runbook == "" && runbookID.MatchString(id) {
			runbook = id
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			field, ok := traceKeys[k]
			if !ok && k != "addresses" {
				continue
			}
			if k == "addresses" {
				field = "to"
			}
			for _, val := range strings.Split(m[k], ",") {
				val = strings.TrimSpace(val)
				if val == "" || len(val) > 320 || seen[field+"="+val] || len(traces) >= 10 {
					continue
				}
				seen[field+"="+val] = true
				traces = append(traces, traceLink{Label: field + " " + val, URL: "/trace?" + url.Values{field: {val}}.Encode()})
			}
		}
	}
	return runbook, traces
}

// incidentAction acts on an incident from a form: acknowledge, resolve,
// escalate (no fields), page or reassign (member, note), or note (text).
// Back to the incident's page (back=page), the Now page (back=now) or the
// list.
func (u *UI) incidentAction(w http.ResponseWriter, r *http.Request, v *view) error {
	id, action := r.PathValue("id"), r.PathValue("action")
	var body any
	ok := map[string]string{"ack": "acked", "resolve": "resolved", "escalate": "escalated", "page": "paged",
		"reassign": "reassigned", "note": "noted"}[action]
	switch action {
	case "ack", "resolve", "escalate":
	case "page", "reassign":
		body = oncallapi.PageRequest{Member: r.PostFormValue("member"), Note: r.PostFormValue("note")}
	case "note":
		body = oncallapi.NoteRequest{Text: r.PostFormValue("text")}
		action = "notes"
	default:
		return &apiError{Status: http.StatusNotFound, Message: "no such action"}
	}
	if err := u.call(r, http.MethodPost, "/api/v1/incidents/"+url.PathEscape(id)+"/"+action, body, nil); err != nil {
		return err
	}
	back := "/incidents"
	switch r.PostFormValue("back") {
	case "now":
		back = "/"
	case "page":
		back = "/incidents/" + url.PathEscape(id)
	}
	redirect(w, r, back, ok)
	return nil
}
