// Package apispec owns the contract of the HTTP API: openapi.yaml, an
// OpenAPI 3.0 description of every /api/v1 route with its method,
// summary, description, least role (x-postvakt-role, "public" for a route
// that checks its own credential), parameters and main response schemas.
// It is embedded in the binary and served at GET /api/v1/openapi.yaml to
// any signed-in caller (role viewer), and Check holds it to the routes
// the server actually registers, so a route cannot be added, removed or
// given another role without the description following (docs/api.md,
// "OpenAPI").
package apispec

import (
	_ "embed"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
)

// Spec is openapi.yaml.
//
//go:embed openapi.yaml
var Spec []byte

// Route is where the description is served.
const Route = "GET /api/v1/openapi.yaml"

// Register serves Spec at Route to the role viewer and above.
func Register(srv *server.Server) {
	srv.Handle(Route, auth.RoleViewer, func(w http.ResponseWriter, _ *http.Request) error {
		w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, err := w.Write(Spec)
		return err
	})
}

// RolePublic is the x-postvakt-role of a route without a least role.
const RolePublic = "public"

// operation is what Check reads of an OpenAPI operation.
type operation struct {
	Summary     string `yaml:"summary"`
	Description string `yaml:"description"`
	Role        string `yaml:"x-postvakt-role"`
	Responses   map[string]any
}

var methods = []string{"get", "put", "post", "delete", "patch", "head", "options"}

// Check compares an OpenAPI description with the registered routes (those
// under /api/): every route must be an operation of the same method and
// path with a summary, a description, responses and its role as
// x-postvakt-role ("public" for a route without one), and every operation
// must be a registered route. The error lists every difference.
func Check(spec []byte, routes []server.Route) error {
	var doc struct {
		OpenAPI string                          `yaml:"openapi"`
		Paths   map[string]map[string]operation `yaml:"paths"`
	}
	if err := yaml.Unmarshal(spec, &doc); err != nil {
		return fmt.Errorf("openapi.yaml: %w", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		return fmt.Errorf("openapi.yaml: openapi %q, want 3.x", doc.OpenAPI)
	}
	var errs []error
	seen := map[string]bool{}
	for _, r := range routes {
		method, path, ok := strings.Cut(r.Pattern, " ")
		if !ok || !strings.HasPrefix(path, "/api/") {
			continue
		}
		key := strings.ToLower(method) + " " + path
		seen[key] = true
		op, ok := doc.Paths[path][strings.ToLower(method)]
		if !ok {
			errs = append(errs, fmt.Errorf("route %s is not in openapi.yaml", r.Pattern))
			continue
		}
		want := string(r.Role)
		if want == "" {
			want = RolePublic
		}
		switch {
		case strings.TrimSpace(op.Summary) == "":
			errs = append(errs, fmt.Errorf("route %s: openapi.yaml has no summary", r.Pattern))
		case strings.TrimSpace(op.Description) == "":
			errs = append(errs, fmt.Errorf("route %s: openapi.yaml has no description", r.Pattern))
		case len(op.Responses) == 0:
			errs = append(errs, fmt.Errorf("route %s: openapi.yaml has no responses", r.Pattern))
		}
		if op.Role != want {
			errs = append(errs, fmt.Errorf("route %s: role %s, openapi.yaml says x-postvakt-role %q", r.Pattern, want, op.Role))
		}
	}
	paths := make([]string, 0, len(doc.Paths))
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		for _, m := range methods {
			if _, ok := doc.Paths[p][m]; ok && !seen[m+" "+p] {
				errs = append(errs, fmt.Errorf("openapi.yaml describes %s %s, which is not a registered route", strings.ToUpper(m), p))
			}
		}
	}
	return errors.Join(errs...)
}
