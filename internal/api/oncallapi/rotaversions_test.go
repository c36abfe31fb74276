package oncallapi_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/api/oncallapi"
	"github.com/uni-mail/postvakt/internal/auth"
)

// weekOf is the oracle's turn number of the test rota: whole weeks from
// Monday 2026-01-05 to the latest Monday 09:00 (Oslo) at or before t.
func weekOf(t time.Time) int {
	lt := t.In(oslo)
	back := (int(lt.Weekday()) + 6) % 7
	if back == 0 && lt.Hour() < 9 {
		back = 7
	}
	monday := time.Date(lt.Year(), lt.Month(), lt.Day()-back, 0, 0, 0, 0, time.UTC)
	return int(monday.Sub(time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)).Hours()) / (24 * 7)
}

// TestRotaChangeAPI (docs/oncall.md, "Changing the rota"): a postmaster
// adds a member to the team and to the rota from the next handover; who
// is on call at every hour of the eight weeks before is unchanged, and
// from the handover the new order applies. Changes inside the turn in
// progress are refused; a scheduled change can be cancelled; those on
// call may read the versions but not change them.
func TestRotaChangeAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{now: anaWeek}) // Tuesday 31 March 2026: ana's turn 12
	viewer, oncall, pm := f.token(t, auth.RoleViewer), f.token(t, auth.RoleOncall), f.token(t, auth.RolePostmaster)
	at := func(tm time.Time) string {
		t.Helper()
		var s oncallapi.ShiftView
		f.do(t, "GET", "/api/v1/oncall/at?time="+url.QueryEscape(tm.Format(time.RFC3339)), viewer, nil).ok(t, http.StatusOK, &s)
		return s.Member
	}
	old := []string{"ana", "bjorn", "chen"}
	for h := anaWeek.AddDate(0, 0, -56); h.Before(anaWeek); h = h.Add(time.Hour) {
		if got, want := at(h), old[weekOf(h)%3]; got != want {
			t.Fatalf("before: at %v %s, want %s", h, got, want)
		}
	}

	var vs oncallapi.VersionsResponse
	f.do(t, "GET", "/api/v1/oncall/rotas/ukevakt/versions", oncall, nil).ok(t, http.StatusOK, &vs)
	next := time.Date(2026, 4, 6, 9, 0, 0, 0, oslo)
	if len(vs.Versions) != 1 || vs.Versions[0].State != oncallapi.VersionInForce || !vs.NextHandover.Equal(next) {
		t.Fatalf("versions %+v", vs)
	}
	f.do(t, "POST", "/api/v1/oncall/members", oncall, map[string]any{"id": "erin"}).refused(t, http.StatusForbidden, "forbidden")
	var erin oncallapi.MemberView
	f.do(t, "POST", "/api/v1/oncall/members", pm, map[string]any{"id": "erin", "name": "Erin Moe", "email": "erin@example.edu"}).
		ok(t, http.StatusCreated, &erin)
	if erin.ID != "erin" || len(erin.Rotas) != 0 {
		t.Fatalf("member %+v", erin)
	}
	for name, body := range map[string]map[string]any{
		"duplicate":  {"id": "ana"},
		"bad email":  {"id": "fia", "email": "not an address"},
		"bad id":     {"id": "fia lie"},
		"bad zone":   {"id": "fia", "time_zone": "Mars/Olympus"},
		"no such":    {"id": "fia", "nickname": "x"},
		"empty body": {},
	} {
		t.Run(name, func(t *testing.T) {
			f.do(t, "POST", "/api/v1/oncall/members", pm, body).refused(t, http.StatusBadRequest, "bad_request")
		})
	}

	// A dry run says what would happen and changes nothing.
	var dry oncallapi.RotaChangeResponse
	f.do(t, "POST", "/api/v1/oncall/rotas/ukevakt/versions", pm, map[string]any{"add": []string{"erin"}, "dry_run": true}).ok(t, http.StatusOK, &dry)
	if !dry.DryRun || !dry.Version.From.Equal(next) || dry.Version.First != "bjorn" || !slices.Equal(dry.Added, []string{"erin"}) ||
		len(dry.Turns) != 4 || dry.Turns[2].Member != "erin" || dry.Turns[2].Name != "Erin Moe" {
		t.Fatalf("dry run %+v", dry)
	}
	if got := at(next.Add(14 * 24 * time.Hour)); got != old[weekOf(next.Add(14*24*time.Hour))%3] {
		t.Fatalf("a dry run changed the rota: %s", got)
	}
	f.do(t, "POST", "/api/v1/oncall/rotas/ukevakt/versions", oncall, map[string]any{"add": []string{"erin"}}).refused(t, http.StatusForbidden, "forbidden")
	var ch oncallapi.RotaChangeResponse
	f.do(t, "POST", "/api/v1/oncall/rotas/ukevakt/versions", pm, map[string]any{"add": []string{"erin"}, "reason": "erin joins"}).
		ok(t, http.StatusCreated, &ch)
	if ch.Version.ID == "" || ch.Version.First != "bjorn" || ch.Version.Reason != "erin joins" || ch.Version.CreatedBy != "token:test-postmaster" {
		t.Fatalf("change %+v", ch)
	}
	// The past as it was; from the handover: bjorn, chen, erin, ana, …
	for h := anaWeek.AddDate(0, 0, -56); h.Before(next.AddDate(0, 0, 42)); h = h.Add(time.Hour) {
		want := old[weekOf(h)%3]
		if !h.Before(next) {
			want = []string{"ana", "bjorn", "chen", "erin"}[(1+weekOf(h)-weekOf(next))%4]
		}
		if got := at(h); got != want {
			t.Fatalf("after: at %v %s, want %s", h.In(oslo), got, want)
		}
	}

	// Refused: inside the turn in progress, unknown members, nothing to change.
	for name, body := range map[string]map[string]any{
		"inside the turn": {"remove": []string{"ana"}, "effective": time.Date(2026, 4, 2, 9, 0, 0, 0, oslo)},
		"unknown member":  {"add": []string{"zed"}, "effective": time.Date(2026, 4, 20, 9, 0, 0, 0, oslo)},
		"no change":       {"members": []string{"ana", "bjorn", "chen", "erin"}, "effective": time.Date(2026, 4, 20, 9, 0, 0, 0, oslo)},
		"bad time":        {"handover_time": "9am", "effective": time.Date(2026, 4, 20, 9, 0, 0, 0, oslo)},
		"first outside":   {"first": "zed", "effective": time.Date(2026, 4, 20, 9, 0, 0, 0, oslo)},
	} {
		t.Run(name, func(t *testing.T) {
			r := f.do(t, "POST", "/api/v1/oncall/rotas/ukevakt/versions", pm, body)
			r.refused(t, http.StatusBadRequest, "bad_request")
			if name == "inside the turn" && !strings.Contains(string(r.body), "never rewritten") {
				t.Errorf("%s", r.body)
			}
			if name == "unknown member" && !strings.Contains(string(r.body), `\"erin\"`) {
				t.Errorf("the error does not list the members: %s", r.body)
			}
		})
	}
	f.do(t, "POST", "/api/v1/oncall/rotas/nope/versions", pm, map[string]any{"add": []string{"erin"}}).refused(t, http.StatusNotFound, "not_found")

	// A scheduled change is cancelled; one in effect is history.
	var sched oncallapi.RotaChangeResponse
	f.do(t, "POST", "/api/v1/oncall/rotas/ukevakt/versions", pm, map[string]any{"remove": []string{"ana"}, "effective": time.Date(2026, 4, 20, 9, 0, 0, 0, oslo)}).
		ok(t, http.StatusCreated, &sched)
	f.do(t, "GET", "/api/v1/oncall/rotas/ukevakt/versions", oncall, nil).ok(t, http.StatusOK, &vs)
	if len(vs.Versions) != 3 || vs.Versions[1].State != oncallapi.VersionScheduled || !vs.Versions[1].Until.Equal(sched.Version.From) ||
		vs.Versions[2].State != oncallapi.VersionScheduled || !vs.Versions[0].Until.Equal(next) {
		t.Fatalf("versions %+v", vs.Versions)
	}
	var cancelled oncallapi.VersionView
	f.do(t, "DELETE", "/api/v1/oncall/rotas/ukevakt/versions/"+sched.Version.ID, pm, nil).ok(t, http.StatusOK, &cancelled)
	if cancelled.State != oncallapi.VersionCancelled || cancelled.CancelledBy != "token:test-postmaster" {
		t.Fatalf("cancelled %+v", cancelled)
	}
	f.do(t, "DELETE", "/api/v1/oncall/rotas/ukevakt/versions/"+sched.Version.ID, pm, nil).refused(t, http.StatusNotFound, "not_found")
	f.clock.Set(next.Add(time.Hour))
	f.do(t, "DELETE", "/api/v1/oncall/rotas/ukevakt/versions/"+ch.Version.ID, pm, nil).refused(t, http.StatusConflict, "conflict")

	// Members: erin is in the rota now and cannot leave the team.
	var ms oncallapi.MembersResponse
	f.do(t, "GET", "/api/v1/oncall/members", oncall, nil).ok(t, http.StatusOK, &ms)
	if len(ms.Members) != 4 || ms.Members[3].ID != "erin" || !slices.Equal(ms.Members[3].Rotas, []string{"ukevakt"}) {
		t.Fatalf("members %+v", ms)
	}
	f.do(t, "DELETE", "/api/v1/oncall/members/erin", pm, nil).refused(t, http.StatusBadRequest, "bad_request")
	f.do(t, "PATCH", "/api/v1/oncall/members/erin", pm, map[string]any{"phone": "+47 22 85 50 50", "id": "other"}).refused(t, http.StatusBadRequest, "bad_request")
	var ed oncallapi.MemberView
	f.do(t, "PATCH", "/api/v1/oncall/members/erin", pm, map[string]any{"phone": "+47 22 85 50 50"}).ok(t, http.StatusOK, &ed)
	if ed.Phone != "+47 22 85 50 50" || ed.Name != "Erin Moe" {
		t.Fatalf("edited %+v", ed)
	}

	// The record of shifts held, once the loop has written it.
	var hist oncallapi.HistoryResponse
	f.do(t, "GET", "/api/v1/oncall/history", viewer, nil).ok(t, http.StatusOK, &hist)
	if len(hist.Shifts) != 0 {
		t.Fatalf("history before the loop ran %+v", hist)
	}
	if err := f.team.RecordShifts(context.Background(), f.clock.Now()); err != nil {
		t.Fatal(err)
	}
	f.do(t, "GET", "/api/v1/oncall/history?from=2026-03-01T00:00:00Z", viewer, nil).ok(t, http.StatusOK, &hist)
	last := hist.Shifts[len(hist.Shifts)-1]
	if len(hist.Shifts) != 7 || last.Member != "bjorn" || !last.End.IsZero() || last.Late || !hist.Shifts[0].Late || hist.Shifts[0].Name != "Bjørn Dahl" || !hist.Shifts[0].Start.Before(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("history %+v", hist.Shifts)
	}
	f.do(t, "GET", "/api/v1/oncall/history?from=2020-01-01T00:00:00Z", viewer, nil).refused(t, http.StatusBadRequest, "bad_request")

	// A new rota.
	var nr oncallapi.VersionView
	f.do(t, "POST", "/api/v1/oncall/rotas", pm, map[string]any{"name": "backup", "members": []string{"chen", "erin"}, "start": "2026-04-13"}).
		ok(t, http.StatusCreated, &nr)
	f.do(t, "POST", "/api/v1/oncall/rotas", pm, map[string]any{"name": "old", "members": []string{"chen"}, "start": "2026-01-05"}).
		refused(t, http.StatusBadRequest, "bad_request")
	var rotas oncallapi.RotasResponse
	f.do(t, "GET", "/api/v1/oncall/rotas", viewer, nil).ok(t, http.StatusOK, &rotas)
	if len(rotas.Rotas) != 2 || rotas.Rotas[1].Name != "backup" {
		t.Fatalf("rotas %+v", rotas)
	}
	if got := f.auditActions(t); !slices.Contains(got, "oncall.rota.change") || !slices.Contains(got, "oncall.rota.cancel") ||
		!slices.Contains(got, "oncall.member.add") || !slices.Contains(got, "oncall.member.edit") || !slices.Contains(got, "oncall.rota.create") {
		t.Fatalf("audit %v", got)
	}
}
