package apispec

import (
	"bytes"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
)

// specRoutes are the routes openapi.yaml describes, with their roles, as
// the server would register them.
func specRoutes(t *testing.T) []server.Route {
	t.Helper()
	var doc struct {
		Paths map[string]map[string]operation `yaml:"paths"`
	}
	if err := yaml.Unmarshal(Spec, &doc); err != nil {
		t.Fatal(err)
	}
	var out []server.Route
	for p, ops := range doc.Paths {
		for m, op := range ops {
			role := auth.Role(op.Role)
			if op.Role == RolePublic {
				role = ""
			}
			out = append(out, server.Route{Pattern: strings.ToUpper(m) + " " + p, Role: role})
		}
	}
	if len(out) < 100 {
		t.Fatalf("openapi.yaml describes %d operations", len(out))
	}
	return out
}

// TestCheckFailsOnDrift: Check passes the routes the description names,
// and fails — naming the route — when a route is registered without a
// description, with another role, when the description's summary is
// missing, or when it describes a route that is not registered.
func TestCheckFailsOnDrift(t *testing.T) {
	t.Parallel()
	routes := specRoutes(t)
	if err := Check(Spec, routes); err != nil {
		t.Fatalf("the description's own routes: %v", err)
	}
	cases := []struct {
		name   string
		spec   []byte
		routes []server.Route
		want   string
	}{
		{"a synthetic route added without a description", Spec, append(routes[:len(routes):len(routes)], server.Route{Pattern: "GET /api/v1/synthetic", Role: auth.RoleViewer}),
			"route GET /api/v1/synthetic is not in openapi.yaml"},
		{"another role", Spec, withRole(routes, "GET /api/v1/whoami", auth.RoleAdmin), `route GET /api/v1/whoami: role admin, openapi.yaml says x-postvakt-role "viewer"`},
		{"public made private", Spec, withRole(routes, "POST /api/v1/alertmanager", auth.RoleViewer), `route POST /api/v1/alertmanager: role viewer, openapi.yaml says x-postvakt-role "public"`},
		{"a route removed", Spec, without(routes, "GET /api/v1/whoami"), "openapi.yaml describes GET /api/v1/whoami, which is not a registered route"},
		{"no summary", bytes.Replace(Spec, []byte("summary: The calling token's name and role"), []byte("summary: ''"), 1), routes, "route GET /api/v1/whoami: openapi.yaml has no summary"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.spec, tc.routes)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check = %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func withRole(rs []server.Route, pattern string, role auth.Role) []server.Route {
	out := append([]server.Route(nil), rs...)
	for i := range out {
		if out[i].Pattern == pattern {
			out[i].Role = role
		}
	}
	return out
}

func without(rs []server.Route, pattern string) []server.Route {
	var out []server.Route
	for _, r := range rs {
		if r.Pattern != pattern {
			out = append(out, r)
		}
	}
	return out
}
