package app

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/uni-mail/postvakt/internal/api/apispec"
	"github.com/uni-mail/postvakt/internal/auth"
)

// TestOpenAPICoversEveryRoute: with every capability configured, each
// route the server registers under /api/ is in the embedded openapi.yaml
// with its method, a summary, a description and its role, and the file
// describes nothing else (apispec.Check; its own test shows a synthetic
// route without a description fails). The file is a valid OpenAPI 3
// document (kin-openapi) and is served at GET /api/v1/openapi.yaml to a
// viewer, not without a token.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	t.Parallel()
	env, ts, issue := newAPIEnv(t)
	if err := apispec.Check(apispec.Spec, env.Server.Routes()); err != nil {
		t.Fatalf("openapi.yaml and the registered routes differ:\n%v", err)
	}
	doc := loadSpec(t)
	if n := len(doc.Paths.Map()); n < 80 {
		t.Fatalf("%d paths", n)
	}
	req, _ := http.NewRequest("GET", ts.URL+"/api/v1/openapi.yaml", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without a token: %d", resp.StatusCode)
	}
	req.Header.Set("Authorization", "Bearer "+issue(auth.RoleViewer))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(body, apispec.Spec) || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/yaml") {
		t.Errorf("as a viewer: %d %q, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
}

func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(apispec.Spec)
	if err != nil {
		t.Fatalf("load openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableSchemaFormatValidation()); err != nil {
		t.Fatalf("openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	return doc
}

// TestOpenAPIResponses records answers of the real server — incidents
// opened, listed, read and acknowledged, whoami, and error answers (no
// token, too small a role, no such incident, bad input, the generic
// intake's 401) — and validates each (status, content type, body) against
// openapi.yaml's schema for its operation with kin-openapi.
func TestOpenAPIResponses(t *testing.T) {
	t.Parallel()
	_, ts, issue := newAPIEnv(t)
	doc := loadSpec(t)
	oncallTok, viewer := issue(auth.RoleOncall), issue(auth.RoleViewer)
	ctx := context.Background()
	check := func(pattern, path, token, body string, wantStatus int) []byte {
		t.Helper()
		method, tmpl, _ := strings.Cut(pattern, " ")
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, ts.URL+path, rd)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != wantStatus {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, wantStatus)
		}
		item := doc.Paths.Value(tmpl)
		if item == nil || item.GetOperation(method) == nil {
			t.Fatalf("%s is not in openapi.yaml", pattern)
		}
		route := &routers.Route{Spec: doc, Path: tmpl, PathItem: item, Method: method, Operation: item.GetOperation(method)}
		in := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
			Status: resp.StatusCode, Header: resp.Header, Options: &openapi3filter.Options{IncludeResponseStatus: true},
		}
		in.SetBodyBytes(b)
		if err := openapi3filter.ValidateResponse(ctx, in); err != nil {
			t.Errorf("%s %s → %d does not match openapi.yaml: %v\n%s", method, path, resp.StatusCode, err, b)
		}
		return b
	}
	check("POST /api/v1/incidents", "/api/v1/incidents", oncallTok, `{"title":"Queue stuck on mx1","summary":"9000 messages","severity":"critical"}`, 201)
	check("GET /api/v1/incidents", "/api/v1/incidents?status=open", viewer, "", 200)
	check("GET /api/v1/incidents/{id}", "/api/v1/incidents/1", viewer, "", 200)
	check("POST /api/v1/incidents/{id}/ack", "/api/v1/incidents/1/ack", oncallTok, "", 200)
	check("GET /api/v1/whoami", "/api/v1/whoami", viewer, "", 200)
	check("GET /api/v1/incidents/{id}", "/api/v1/incidents/999", viewer, "", 404)
	check("POST /api/v1/incidents", "/api/v1/incidents", viewer, `{"title":"x"}`, 403)
	check("POST /api/v1/incidents", "/api/v1/incidents", oncallTok, `{"title":`, 400)
	check("GET /api/v1/incidents", "/api/v1/incidents", "", "", 401)
	check("POST /api/v1/integrations/{name}/events", "/api/v1/integrations/nagios/events", "wrong", `{"summary":"x","dedup_key":"k"}`, 401)
	check("GET /api/v1/tickets", "/api/v1/tickets", viewer, "", 200)
}
