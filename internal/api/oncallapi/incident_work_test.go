package oncallapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/internal/api/oncallapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/oncall/incident"
)

// TestIncidentWork: page by hand, reassign, notes and escalate through
// the API, with their refusals (a member not in the team, an empty or
// too long note, an incident with no step left or resolved, a viewer).
func TestIncidentWork(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{now: anaWeek})
	viewer, oncall := f.token(t, auth.RoleViewer), f.token(t, auth.RoleOncall)
	var inc incident.Incident
	f.do(t, "POST", "/api/v1/incidents", oncall, map[string]string{"title": "Queue stuck", "key": "mx1/queue"}).ok(t, http.StatusCreated, &inc)
	p := func(action string) string { return fmt.Sprintf("/api/v1/incidents/%d/%s", inc.ID, action) }

	var tr oncallapi.TransitionResponse
	f.do(t, "POST", p("page"), oncall, oncallapi.PageRequest{Member: "bjorn", Note: "need you"}).ok(t, http.StatusOK, &tr)
	pages := f.pages()
	if last := pages[len(pages)-1]; len(pages) != 2 || last.Manual == "" || last.Members[0] != "bjorn" || last.Note != "need you" || last.Actor == "" {
		t.Fatalf("hand page %+v", pages)
	}
	f.do(t, "POST", p("page"), oncall, oncallapi.PageRequest{Member: "mallory"}).refused(t, http.StatusBadRequest, "bad_request")
	f.do(t, "POST", p("page"), oncall, oncallapi.PageRequest{}).refused(t, http.StatusBadRequest, "bad_request")
	f.do(t, "POST", p("page"), viewer, oncallapi.PageRequest{Member: "bjorn"}).refused(t, http.StatusForbidden, "forbidden")

	f.do(t, "POST", p("reassign"), oncall, oncallapi.PageRequest{Member: "bjorn"}).ok(t, http.StatusOK, &tr)
	if tr.Incident.Assignee != "bjorn" || len(f.pages()) != 3 {
		t.Fatalf("reassigned %+v, %d pages", tr.Incident, len(f.pages()))
	}
	var note incident.Event
	f.do(t, "POST", p("notes"), oncall, oncallapi.NoteRequest{Text: "  restarted postfix  "}).ok(t, http.StatusCreated, &note)
	if note.Kind != "note" || note.Detail != "restarted postfix" {
		t.Fatalf("note %+v", note)
	}
	f.do(t, "POST", p("notes"), oncall, oncallapi.NoteRequest{Text: " "}).refused(t, http.StatusBadRequest, "bad_request")
	f.do(t, "POST", p("notes"), oncall, oncallapi.NoteRequest{Text: strings.Repeat("x", incident.MaxNoteLen+1)}).refused(t, http.StatusBadRequest, "bad_request")
	// The policy "mail" has one step, which fired at the opening.
	f.do(t, "POST", p("escalate"), oncall, nil).refused(t, http.StatusConflict, "conflict")
	f.do(t, "POST", "/api/v1/incidents/999/escalate", oncall, nil).refused(t, http.StatusNotFound, "not_found")

	var got oncallapi.IncidentResponse
	f.do(t, "GET", fmt.Sprintf("/api/v1/incidents/%d", inc.ID), viewer, nil).ok(t, http.StatusOK, &got)
	kinds := []string{}
	for _, e := range got.Timeline {
		kinds = append(kinds, e.Kind)
	}
	if s := strings.Join(kinds, ","); !strings.HasSuffix(s, "paged,reassigned,note") || got.Pages == nil {
		t.Fatalf("timeline %s, pages %v", s, got.Pages)
	}
	f.do(t, "POST", p("resolve"), oncall, nil).ok(t, http.StatusOK, &tr)
	f.do(t, "POST", p("page"), oncall, oncallapi.PageRequest{Member: "bjorn"}).refused(t, http.StatusConflict, "conflict")
	f.do(t, "POST", p("reassign"), oncall, oncallapi.PageRequest{Member: "bjorn"}).refused(t, http.StatusConflict, "conflict")
	f.do(t, "POST", p("notes"), oncall, oncallapi.NoteRequest{Text: "post-mortem: the disk"}).ok(t, http.StatusCreated, &note)
}
