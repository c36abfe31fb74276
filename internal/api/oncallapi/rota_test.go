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
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/oncall/rota"
	"github.com/uni-mail/postvakt/oncall/team"
)

// The rota turns over on Mondays at 09:00 in Oslo from 5 January 2026:
// ana, bjorn, chen. On Tuesday 31 March ana is on call (week 13).
var (
	anaWeek  = time.Date(2026, 3, 31, 10, 0, 0, 0, oslo)
	chenWeek = time.Date(2026, 4, 14, 12, 0, 0, 0, oslo)
	anaNext  = time.Date(2026, 4, 21, 12, 0, 0, 0, oslo)
)

func TestRota(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{now: anaWeek})
	viewer := f.token(t, auth.RoleViewer)

	var rotas oncallapi.RotasResponse
	f.do(t, "GET", "/api/v1/oncall/rotas", viewer, nil).ok(t, http.StatusOK, &rotas)
	if len(rotas.Rotas) != 1 || rotas.Rotas[0].Name != "ukevakt" || rotas.Rotas[0].Current.Member != "ana" ||
		rotas.Rotas[0].Current.Name != "Ana Berg" || rotas.Rotas[0].Next.Member != "bjorn" || !rotas.Rotas[0].InCover ||
		rotas.Rotas[0].Spec.Name != "ukevakt" {
		t.Fatalf("rotas %+v", rotas)
	}
	var now oncallapi.ShiftView
	f.do(t, "GET", "/api/v1/oncall/now", viewer, nil).ok(t, http.StatusOK, &now)
	if now.Member != "ana" || now.Rota != "ukevakt" || !now.Start.Equal(time.Date(2026, 3, 30, 9, 0, 0, 0, oslo)) ||
		!now.End.Equal(time.Date(2026, 4, 6, 9, 0, 0, 0, oslo)) || now.Source != rota.SourceRota {
		t.Fatalf("now %+v", now)
	}
	var at oncallapi.ShiftView
	f.do(t, "GET", "/api/v1/oncall/at?rota=ukevakt&time="+url.QueryEscape(chenWeek.Format(time.RFC3339)), viewer, nil).ok(t, http.StatusOK, &at)
	if at.Member != "chen" {
		t.Fatalf("at %+v", at)
	}
	f.do(t, "GET", "/api/v1/oncall/at?time=soon", viewer, nil).refused(t, http.StatusBadRequest, "bad_request")
	f.do(t, "GET", "/api/v1/oncall/now?rota=nope", viewer, nil).refused(t, http.StatusNotFound, "not_found")

	var sched oncallapi.ScheduleResponse
	f.do(t, "GET", "/api/v1/oncall/schedule?weeks=6", viewer, nil).ok(t, http.StatusOK, &sched)
	if sched.Rota != "ukevakt" || !sched.From.Equal(anaWeek) || !sched.To.Equal(anaWeek.AddDate(0, 0, 42)) || len(sched.Shifts) != 7 {
		t.Fatalf("schedule %+v", sched)
	}
	var chens oncallapi.ScheduleResponse
	f.do(t, "GET", "/api/v1/oncall/schedule?weeks=6&member=chen", viewer, nil).ok(t, http.StatusOK, &chens)
	if len(chens.Shifts) != 2 || chens.Shifts[0].Member != "chen" {
		t.Fatalf("chen's schedule %+v", chens)
	}
	var none oncallapi.ScheduleResponse
	f.do(t, "GET", "/api/v1/oncall/schedule?weeks=1&member=nobody", viewer, nil).ok(t, http.StatusOK, &none)
	if none.Shifts == nil || len(none.Shifts) != 0 {
		t.Fatalf("no shifts must be [], got %+v", none.Shifts)
	}
	for _, bad := range []string{"weeks=0", "weeks=105", "weeks=x", "from=yesterday", "to=2020-01-01"} {
		f.do(t, "GET", "/api/v1/oncall/schedule?"+bad, viewer, nil).refused(t, http.StatusBadRequest, "bad_request")
	}
	var fair oncallapi.FairnessResponse
	f.do(t, "GET", "/api/v1/oncall/fairness?from=2026-01-05&weeks=12", viewer, nil).ok(t, http.StatusOK, &fair)
	if fair.Rota != "ukevakt" || len(fair.Members) != 3 {
		t.Fatalf("fairness %+v", fair)
	}
	var gaps oncallapi.GapsResponse
	f.do(t, "GET", "/api/v1/oncall/gaps", viewer, nil).ok(t, http.StatusOK, &gaps)
	if gaps.Rota != "ukevakt" || len(gaps.Gaps) != 0 {
		t.Fatalf("gaps %+v", gaps)
	}
}

func TestOverrides(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{now: anaWeek})
	viewer, oncall := f.token(t, auth.RoleViewer), f.token(t, auth.RoleOncall)
	start, end := time.Date(2026, 3, 31, 18, 0, 0, 0, oslo), time.Date(2026, 4, 1, 8, 0, 0, 0, oslo)

	var o team.OverrideRecord
	f.do(t, "POST", "/api/v1/oncall/overrides", oncall, map[string]any{"member": "chen", "start": start, "end": end, "reason": "ana at the dentist"}).
		ok(t, http.StatusCreated, &o)
	if o.ID == "" || o.Rota != "ukevakt" || o.Member != "chen" || o.CreatedBy != "token:test-oncall" || !o.CreatedAt.Equal(anaWeek) || o.Reason != "ana at the dentist" {
		t.Fatalf("override %+v", o)
	}
	var list oncallapi.OverridesResponse
	f.do(t, "GET", "/api/v1/oncall/overrides", viewer, nil).ok(t, http.StatusOK, &list)
	if len(list.Overrides) != 1 || list.Overrides[0].ID != o.ID {
		t.Fatalf("overrides %+v", list)
	}
	var at oncallapi.ShiftView
	f.do(t, "GET", "/api/v1/oncall/at?time="+url.QueryEscape(start.Add(time.Hour).Format(time.RFC3339)), viewer, nil).ok(t, http.StatusOK, &at)
	if at.Member != "chen" || at.Source != rota.SourceOverride {
		t.Fatalf("on call during the override %+v", at)
	}
	for name, body := range map[string]map[string]any{
		"unknown member":   {"member": "dave", "start": start, "end": end},
		"end before start": {"member": "chen", "start": end, "end": start},
		"unknown field":    {"member": "chen", "start": start, "end": end, "why": "x"},
	} {
		t.Run(name, func(t *testing.T) {
			f.do(t, "POST", "/api/v1/oncall/overrides", oncall, body).refused(t, http.StatusBadRequest, "bad_request")
		})
	}
	f.do(t, "POST", "/api/v1/oncall/overrides", oncall, map[string]any{"rota": "nope", "member": "chen", "start": start, "end": end}).
		refused(t, http.StatusNotFound, "not_found")
	f.do(t, "GET", "/api/v1/oncall/overrides?rota=nope", viewer, nil).refused(t, http.StatusNotFound, "not_found")

	if r := f.do(t, "DELETE", "/api/v1/oncall/overrides/"+o.ID, oncall, nil); r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	f.do(t, "DELETE", "/api/v1/oncall/overrides/"+o.ID, oncall, nil).refused(t, http.StatusNotFound, "not_found")
	f.do(t, "DELETE", "/api/v1/oncall/overrides/x", oncall, nil).refused(t, http.StatusBadRequest, "bad_request")
	var empty oncallapi.OverridesResponse
	f.do(t, "GET", "/api/v1/oncall/overrides", viewer, nil).ok(t, http.StatusOK, &empty)
	if empty.Overrides == nil || len(empty.Overrides) != 0 {
		t.Fatalf("no overrides must be [], got %+v", empty.Overrides)
	}
	if got := f.auditActions(t); !slices.Contains(got, "oncall.override.add") || !slices.Contains(got, "oncall.override.delete") {
		t.Fatalf("audit %v", got)
	}
}

func TestSwaps(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{now: anaWeek})
	viewer, admin := f.token(t, auth.RoleViewer), f.token(t, auth.RoleAdmin)
	chen, ana := as("chen", auth.RoleOncall), as("ANA@example.edu", auth.RoleOncall) // by member id, by e-mail address
	req := map[string]any{"rota": "ukevakt", "requester": "chen", "counterpart": "ana", "mine": chenWeek, "theirs": anaNext, "note": "school holiday"}

	var sw team.SwapRecord
	f.do(t, "POST", "/api/v1/oncall/swaps", "", req, chen...).ok(t, http.StatusCreated, &sw)
	if sw.ID == "" || sw.State != rota.SwapRequested || sw.Requester != "chen" || sw.Counterpart != "ana" || sw.Note != "school holiday" ||
		!sw.TurnAStart.Equal(time.Date(2026, 4, 13, 9, 0, 0, 0, oslo)) || !sw.TurnBStart.Equal(time.Date(2026, 4, 20, 9, 0, 0, 0, oslo)) {
		t.Fatalf("swap %+v", sw)
	}
	// The counterpart is asked to decide (Slack with buttons, e-mail).
	eventually(t, 5*time.Second, "the swap request to ana", func() bool { return len(f.swapMessages()) == 1 })
	if m := f.swapMessages()[0]; m.To.ID != "ana" || m.SwapID == 0 || !strings.Contains(m.Text, "chen asks to swap turns") {
		t.Fatalf("request message %+v", m)
	}
	var list oncallapi.SwapsResponse
	f.do(t, "GET", "/api/v1/oncall/swaps?rota=ukevakt", viewer, nil).ok(t, http.StatusOK, &list)
	if len(list.Swaps) != 1 || list.Swaps[0].ID != sw.ID {
		t.Fatalf("swaps %+v", list)
	}
	for name, body := range map[string]map[string]any{
		"same member":    {"requester": "ana", "counterpart": "ana", "mine": chenWeek, "theirs": anaNext},
		"same turn":      {"requester": "chen", "counterpart": "ana", "mine": chenWeek, "theirs": chenWeek},
		"unknown member": {"requester": "dave", "counterpart": "ana", "mine": chenWeek, "theirs": anaNext},
		"not their turn": {"requester": "ana", "counterpart": "chen", "mine": chenWeek, "theirs": anaNext},
	} {
		t.Run(name, func(t *testing.T) {
			f.do(t, "POST", "/api/v1/oncall/swaps", admin, body).refused(t, http.StatusBadRequest, "bad_request")
		})
	}
	var acc team.SwapRecord
	f.do(t, "POST", "/api/v1/oncall/swaps/"+sw.ID+"/accept", "", nil, ana...).ok(t, http.StatusOK, &acc)
	if acc.State != rota.SwapAccepted || acc.DecidedBy != "ANA@example.edu" {
		t.Fatalf("accepted %+v", acc)
	}
	f.do(t, "POST", "/api/v1/oncall/swaps/"+sw.ID+"/accept", "", nil, ana...).ok(t, http.StatusOK, &acc) // idempotent
	f.do(t, "POST", "/api/v1/oncall/swaps/"+sw.ID+"/decline", "", nil, ana...).refused(t, http.StatusConflict, "conflict")
	f.do(t, "POST", "/api/v1/oncall/swaps/"+sw.ID+"/frobnicate", "", nil, ana...).refused(t, http.StatusNotFound, "not_found")
	f.do(t, "POST", "/api/v1/oncall/swaps/999/accept", "", nil, ana...).refused(t, http.StatusNotFound, "not_found")
	f.do(t, "POST", "/api/v1/oncall/swaps/0/accept", "", nil, ana...).refused(t, http.StatusBadRequest, "bad_request")
	var at oncallapi.ShiftView
	f.do(t, "GET", "/api/v1/oncall/at?time="+url.QueryEscape(chenWeek.Format(time.RFC3339)), viewer, nil).ok(t, http.StatusOK, &at)
	if at.Member != "ana" || at.Source != rota.SourceSwap {
		t.Fatalf("on call in chen's turn after the swap %+v", at)
	}
	if got := f.auditActions(t); !slices.Contains(got, "oncall.swap.request") || !slices.Contains(got, "oncall.swap.accept") {
		t.Fatalf("audit %v", got)
	}
}

// TestSwapImpersonation (docs/oncall.md, "Swaps"): an on-call principal
// cannot request a swap in another member's name nor accept, decline or
// cancel one that is not theirs; a principal that is no member takes no
// step; an administrator may act for anyone, and the audit says in whose
// name.
func TestSwapImpersonation(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{now: anaWeek})
	admin, oncallToken := f.token(t, auth.RoleAdmin), f.token(t, auth.RoleOncall)
	chen, ana, bjorn := as("chen", auth.RoleOncall), as("ana", auth.RoleOncall), as("bjorn", auth.RoleOncall)
	nobody := as("dave", auth.RolePostmaster) // a user who is no member, above on-call
	req := map[string]any{"rota": "ukevakt", "requester": "chen", "counterpart": "ana", "mine": chenWeek, "theirs": anaNext}

	// Asking in someone else's name, or as no member; a token (a machine's
	// credential) below admin names no member either.
	f.do(t, "POST", "/api/v1/oncall/swaps", "", req, bjorn...).refused(t, http.StatusForbidden, "forbidden")
	f.do(t, "POST", "/api/v1/oncall/swaps", "", req, ana...).refused(t, http.StatusForbidden, "forbidden")
	f.do(t, "POST", "/api/v1/oncall/swaps", "", req, nobody...).refused(t, http.StatusForbidden, "forbidden")
	f.do(t, "POST", "/api/v1/oncall/swaps", oncallToken, req).refused(t, http.StatusForbidden, "forbidden")
	var list oncallapi.SwapsResponse
	f.do(t, "GET", "/api/v1/oncall/swaps", admin, nil).ok(t, http.StatusOK, &list)
	if len(list.Swaps) != 0 {
		t.Fatalf("refused requests stored swaps: %+v", list.Swaps)
	}

	var sw team.SwapRecord
	f.do(t, "POST", "/api/v1/oncall/swaps", "", req, chen...).ok(t, http.StatusCreated, &sw)
	// The requester accepting their own request, a bystander deciding it,
	// the counterpart cancelling it: all refused, the swap stays pending.
	f.do(t, "POST", "/api/v1/oncall/swaps/"+sw.ID+"/accept", "", nil, chen...).refused(t, http.StatusForbidden, "forbidden")
	f.do(t, "POST", "/api/v1/oncall/swaps/"+sw.ID+"/accept", "", nil, bjorn...).refused(t, http.StatusForbidden, "forbidden")
	f.do(t, "POST", "/api/v1/oncall/swaps/"+sw.ID+"/decline", "", nil, nobody...).refused(t, http.StatusForbidden, "forbidden")
	f.do(t, "POST", "/api/v1/oncall/swaps/"+sw.ID+"/accept", oncallToken, nil).refused(t, http.StatusForbidden, "forbidden")
	f.do(t, "POST", "/api/v1/oncall/swaps/"+sw.ID+"/cancel", "", nil, ana...).refused(t, http.StatusForbidden, "forbidden")
	f.do(t, "GET", "/api/v1/oncall/swaps", admin, nil).ok(t, http.StatusOK, &list)
	if len(list.Swaps) != 1 || list.Swaps[0].State != rota.SwapRequested {
		t.Fatalf("after refused decisions: %+v", list.Swaps)
	}
	var at oncallapi.ShiftView
	f.do(t, "GET", "/api/v1/oncall/at?time="+url.QueryEscape(chenWeek.Format(time.RFC3339)), admin, nil).ok(t, http.StatusOK, &at)
	if at.Member != "chen" {
		t.Fatalf("on call in chen's turn: %s, want chen", at.Member)
	}

	// An administrator accepts in ana's name; the audit says so.
	var acc team.SwapRecord
	f.do(t, "POST", "/api/v1/oncall/swaps/"+sw.ID+"/accept", admin, nil).ok(t, http.StatusOK, &acc)
	if acc.State != rota.SwapAccepted || acc.DecidedBy != "token:test-admin" {
		t.Fatalf("accepted by the administrator: %+v", acc)
	}
	entries, err := accessstore.New(f.db).ListAudit(context.Background(), time.Time{}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var accepts []string
	for _, e := range entries {
		if e.Action == "oncall.swap.accept" {
			accepts = append(accepts, e.Actor+": "+e.Detail)
		}
	}
	if len(accepts) != 1 || !strings.Contains(accepts[0], "token:test-admin: administrator, in the name of ana") {
		t.Fatalf("audit of the administrator's accept: %q", accepts)
	}
}

func TestUnavailability(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{now: anaWeek})
	viewer, oncall := f.token(t, auth.RoleViewer), f.token(t, auth.RoleOncall)
	start, end := time.Date(2026, 4, 1, 8, 0, 0, 0, oslo), time.Date(2026, 4, 1, 12, 0, 0, 0, oslo)
	var created oncallapi.CreatedResponse
	f.do(t, "POST", "/api/v1/oncall/unavailability", oncall, map[string]any{"member": "ana", "start": start, "end": end, "reason": "flight"}).
		ok(t, http.StatusCreated, &created)
	if created.ID <= 0 {
		t.Fatalf("created %+v", created)
	}
	var gaps oncallapi.GapsResponse
	f.do(t, "GET", "/api/v1/oncall/gaps", viewer, nil).ok(t, http.StatusOK, &gaps)
	if len(gaps.Gaps) != 1 || gaps.Gaps[0].Member != "ana" || !gaps.Gaps[0].Start.Equal(start) || !gaps.Gaps[0].End.Equal(end) {
		t.Fatalf("gaps %+v", gaps)
	}
	f.do(t, "POST", "/api/v1/oncall/unavailability", oncall, map[string]any{"member": "dave", "start": start, "end": end}).
		refused(t, http.StatusBadRequest, "bad_request")
	f.do(t, "POST", "/api/v1/oncall/unavailability", oncall, map[string]any{"member": "ana", "start": end, "end": start}).
		refused(t, http.StatusBadRequest, "bad_request")
	if got := f.auditActions(t); !slices.Contains(got, "oncall.unavailability.add") {
		t.Fatalf("audit %v", got)
	}
}
