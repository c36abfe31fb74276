package oncallapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/internal/auth"
)

// below is the role just under each role: a token with it is refused.
var below = map[auth.Role]auth.Role{auth.RoleHelpdesk: auth.RoleViewer, auth.RoleOncall: auth.RoleHelpdesk,
	auth.RolePostmaster: auth.RoleOncall, auth.RoleAdmin: auth.RolePostmaster}

// TestRoutesRefuse: every route with a role answers 401 without a token or
// with a bad one, and 403 to a token below its role, in the error
// envelope; the public routes refuse without their own credentials.
func TestRoutesRefuse(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{linkKey: testLinkKey})
	tokens := map[auth.Role]string{}
	for _, r := range auth.Roles() {
		tokens[r] = f.token(t, r)
	}
	// A swap's steps are taken by a member's own principal (a web user
	// named after the member), whatever the role.
	member := as("ana", auth.RoleOncall)
	for _, rt := range []struct {
		method, path string
		role         auth.Role
	}{
		{"GET", "/api/v1/oncall/rotas", auth.RoleViewer},
		{"GET", "/api/v1/oncall/now", auth.RoleViewer},
		{"GET", "/api/v1/oncall/at?time=2026-04-01T10:00:00Z", auth.RoleViewer},
		{"GET", "/api/v1/oncall/schedule", auth.RoleViewer},
		{"GET", "/api/v1/oncall/gaps", auth.RoleViewer},
		{"GET", "/api/v1/oncall/fairness", auth.RoleViewer},
		{"GET", "/api/v1/oncall/overrides", auth.RoleViewer},
		{"POST", "/api/v1/oncall/overrides", auth.RoleOncall},
		{"DELETE", "/api/v1/oncall/overrides/1", auth.RoleOncall},
		{"GET", "/api/v1/oncall/swaps", auth.RoleViewer},
		{"POST", "/api/v1/oncall/swaps", auth.RoleOncall},
		{"POST", "/api/v1/oncall/swaps/1/accept", auth.RoleOncall},
		{"POST", "/api/v1/oncall/unavailability", auth.RoleOncall},
		{"GET", "/api/v1/oncall/feeds", auth.RoleAdmin},
		{"GET", "/api/v1/oncall/feeds/mine", auth.RoleViewer},
		{"GET", "/api/v1/oncall/history", auth.RoleViewer},
		{"GET", "/api/v1/oncall/members", auth.RoleOncall},
		{"POST", "/api/v1/oncall/members", auth.RolePostmaster},
		{"PATCH", "/api/v1/oncall/members/ana", auth.RolePostmaster},
		{"DELETE", "/api/v1/oncall/members/nobody", auth.RolePostmaster},
		{"GET", "/api/v1/oncall/rotas/ukevakt/versions", auth.RoleOncall},
		{"POST", "/api/v1/oncall/rotas/ukevakt/versions", auth.RolePostmaster},
		{"DELETE", "/api/v1/oncall/rotas/ukevakt/versions/9", auth.RolePostmaster},
		{"POST", "/api/v1/oncall/rotas", auth.RolePostmaster},
		{"GET", "/api/v1/incidents", auth.RoleViewer},
		{"POST", "/api/v1/incidents", auth.RoleOncall},
		{"GET", "/api/v1/incidents/1", auth.RoleViewer},
		{"POST", "/api/v1/incidents/1/ack", auth.RoleOncall},
		{"POST", "/api/v1/incidents/1/resolve", auth.RoleOncall},
		{"POST", "/api/v1/incidents/1/escalate", auth.RoleOncall},
		{"POST", "/api/v1/incidents/1/page", auth.RoleOncall},
		{"POST", "/api/v1/incidents/1/reassign", auth.RoleOncall},
		{"POST", "/api/v1/incidents/1/notes", auth.RoleOncall},
		{"GET", "/api/v1/heartbeats", auth.RoleViewer},
	} {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			f.do(t, rt.method, rt.path, "", nil).refused(t, http.StatusUnauthorized, "unauthorized")
			f.do(t, rt.method, rt.path, "pv_not-a-real-token", nil).refused(t, http.StatusUnauthorized, "unauthorized")
			if b, ok := below[rt.role]; ok {
				f.do(t, rt.method, rt.path, tokens[b], nil).refused(t, http.StatusForbidden, "forbidden")
			}
			tok, hdr := tokens[rt.role], []string(nil)
			if strings.HasPrefix(rt.path, "/api/v1/oncall/swaps/") {
				tok, hdr = "", member
			}
			if r := f.do(t, rt.method, rt.path, tok, nil, hdr...); r.status == http.StatusUnauthorized || r.status == http.StatusForbidden {
				t.Fatalf("refused a %s token: %d %s", rt.role, r.status, r.body)
			}
		})
	}
	// Routes with their own credentials.
	f.do(t, "GET", "/api/v1/oncall/feed/ukevakt?key=0000", "", nil).refused(t, http.StatusNotFound, "not_found")
	f.do(t, "POST", "/api/v1/heartbeats/watchdog", tokens[auth.RoleAdmin], nil).refused(t, http.StatusUnauthorized, "unauthorized")
	f.do(t, "POST", "/api/v1/slack/interactivity", "", "payload=%7B%7D").refused(t, http.StatusUnauthorized, "unauthorized")
	f.do(t, "POST", "/api/v1/alertmanager", tokens[auth.RoleAdmin], `{"version":"4"}`).refused(t, http.StatusUnauthorized, "unauthorized")
	if r := f.do(t, "GET", "/api/v1/oncall/ack?t=forged", "", nil); r.status != http.StatusForbidden {
		t.Fatalf("forged ack link: %d", r.status)
	}
}
