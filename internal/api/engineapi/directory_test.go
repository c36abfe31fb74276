package engineapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/internal/api/engineapi"
	"github.com/uni-mail/postvakt/internal/auth"
)

// TestDirectoryAPI manages the engine's directory through the API:
// helpdesk reads, postmaster changes, the password is never returned,
// conflicts and unknown addresses are JSON errors, every change is audited.
func TestDirectoryAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	helpdesk, pm, admin := auth.RoleHelpdesk, auth.RolePostmaster, auth.RoleAdmin
	base := "/api/v1/directory"

	if code := f.call(t, "POST", base+"/domains", helpdesk, map[string]string{"name": "uni.example"}, nil); code != 403 {
		t.Fatalf("helpdesk added a domain: %d", code)
	}
	if code := f.call(t, "POST", base+"/domains", pm, map[string]string{"name": "uni.example"}, nil); code != 201 {
		t.Fatalf("add domain: %d", code)
	}
	var mb map[string]any
	if code := f.call(t, "POST", base+"/mailboxes", pm, map[string]any{"address": "ola@uni.example", "password": "a long secret", "quota": "1GB"}, &mb); code != 201 {
		t.Fatalf("add mailbox: %d", code)
	}
	if mb["quota_bytes"].(float64) != 1<<30 || mb["has_password"] != true {
		t.Fatalf("mailbox %v", mb)
	}
	for k := range mb {
		if strings.Contains(strings.ToLower(k), "hash") {
			t.Fatalf("the API shows %s", k)
		}
	}
	if code := f.call(t, "POST", base+"/mailboxes", pm, map[string]any{"address": "ola@uni.example"}, nil); code != 409 {
		t.Fatalf("duplicate mailbox: %d", code)
	}
	if code := f.call(t, "POST", base+"/mailboxes", pm, map[string]any{"address": "x@else.example"}, nil); code != 400 {
		t.Fatalf("mailbox in a foreign domain: %d", code)
	}
	if code := f.call(t, "PATCH", base+"/mailboxes/ola@uni.example", pm, map[string]any{"quota": "5GB", "locked": true, "reason": "phished"}, &mb); code != 200 {
		t.Fatalf("patch: %d", code)
	}
	if mb["quota_bytes"].(float64) != 5<<30 || mb["locked"] != true || mb["locked_reason"] != "phished" {
		t.Fatalf("after patch %v", mb)
	}
	if code := f.call(t, "PATCH", base+"/mailboxes/ola@uni.example", pm, map[string]any{"quota": "lots"}, nil); code != 400 {
		t.Fatalf("bad quota: %d", code)
	}
	if code := f.call(t, "GET", base+"/mailboxes/nobody@uni.example", helpdesk, nil, nil); code != 404 {
		t.Fatalf("unknown mailbox: %d", code)
	}
	var list struct {
		Mailboxes []map[string]any `json:"mailboxes"`
	}
	if code := f.call(t, "GET", base+"/mailboxes", helpdesk, nil, &list); code != 200 || len(list.Mailboxes) != 1 {
		t.Fatalf("list: %d %v", code, list)
	}
	if code := f.call(t, "POST", base+"/aliases", pm, map[string]any{"address": "it-support@uni.example", "kind": "list", "targets": []string{"ola@uni.example", "kari@remote.example"}}, nil); code != 201 {
		t.Fatalf("add list: %d", code)
	}
	if code := f.call(t, "POST", base+"/aliases", pm, map[string]any{"address": "abuse@uni.example", "kind": "function", "targets": []string{"kari@remote.example"}}, nil); code != 201 {
		t.Fatalf("add function: %d", code)
	}
	var aliases struct {
		Aliases []struct {
			Address string
			Targets []string
		} `json:"aliases"`
	}
	if code := f.call(t, "GET", base+"/aliases", helpdesk, nil, &aliases); code != 200 || len(aliases.Aliases) != 2 {
		t.Fatalf("aliases: %d %+v", code, aliases)
	}
	aliases.Aliases = nil
	if code := f.call(t, "GET", base+"/aliases?target="+url.QueryEscape("OLA@Uni.Example"), helpdesk, nil, &aliases); code != 200 ||
		len(aliases.Aliases) != 1 || aliases.Aliases[0].Address != "it-support@uni.example" ||
		strings.Join(aliases.Aliases[0].Targets, ",") != "kari@remote.example,ola@uni.example" {
		t.Fatalf("aliases targeting ola: %d %+v", code, aliases)
	}
	aliases.Aliases = nil
	if code := f.call(t, "GET", base+"/aliases?target=nobody@uni.example", helpdesk, nil, &aliases); code != 200 || len(aliases.Aliases) != 0 {
		t.Fatalf("aliases targeting nobody: %d %+v", code, aliases)
	}
	if code := f.call(t, "GET", base+"/aliases?target=not-an-address", helpdesk, nil, nil); code != 400 {
		t.Fatalf("bad target: %d", code)
	}
	if code := f.call(t, "DELETE", base+"/aliases/it-support@uni.example", pm, nil, nil); code != 204 {
		t.Fatalf("remove list: %d", code)
	}
	var audit struct {
		Entries []auth.AuditEntry `json:"entries"`
	}
	f.call(t, "GET", "/api/v1/audit", admin, nil, &audit)
	actions := map[string]bool{}
	for _, e := range audit.Entries {
		actions[e.Action] = true
		if strings.Contains(e.Detail, "a long secret") {
			t.Fatal("a password reached the audit log")
		}
	}
	for _, a := range []string{"directory.add-domain", "directory.add-mailbox", "directory.update-mailbox", "directory.add-alias", "directory.remove-alias"} {
		if !actions[a] {
			t.Errorf("no audit entry %s: %v", a, actions)
		}
	}
}

// TestDirectoryJSON pins the JSON of each directory response: the keys of
// every object, and [] rather than null for an empty list.
func TestDirectoryJSON(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	pm, helpdesk := auth.RolePostmaster, auth.RoleHelpdesk
	base := "/api/v1/directory"
	for _, c := range []struct{ path, want string }{
		{"/domains", `{"domains":[]}`},
		{"/mailboxes", `{"mailboxes":[]}`},
		{"/aliases", `{"aliases":[]}`},
		{"/mailbox-search", `{"limit":50,"mailboxes":[],"offset":0,"total":0}`},
	} {
		code, b := f.do(t, "GET", base+c.path, helpdesk, nil)
		if code != http.StatusOK || compact(b) != c.want {
			t.Errorf("GET %s: %d %s, want %s", c.path, code, b, c.want)
		}
	}
	mailbox := "address created_at external_forward_allowed has_password keep_copy locked quota_bytes used_bytes"
	withName := "address created_at display_name external_forward_allowed has_password keep_copy locked quota_bytes used_bytes"
	full := "address created_at display_name external_forward_allowed forward_to has_password keep_copy locked locked_reason nickname quota_bytes used_bytes"
	for _, c := range []struct {
		method, path string
		body         any
		code         int
		keys         string
	}{
		{"POST", "/domains", map[string]string{"name": "uni.example"}, 201, "name"},
		{"POST", "/mailboxes", map[string]any{"address": "kari@uni.example"}, 201, mailbox},
		{"POST", "/mailboxes", map[string]any{"address": "ola@uni.example", "display_name": "Ola"}, 201, withName},
		{"PATCH", "/mailboxes/ola@uni.example", map[string]any{"nickname": "ola.n@uni.example", "locked": true,
			"forward": map[string]any{"to": "kari@remote.example", "keep_copy": true, "external_allowed": true}}, 200, full},
		{"PATCH", "/mailboxes/ola@uni.example", map[string]any{"display_name": "Ola"}, 400, "error"}, // not a field PATCH takes
		{"POST", "/aliases", map[string]any{"address": "it@uni.example", "kind": "list", "targets": []string{"ola@uni.example"}}, 201, "address kind targets"},
		{"POST", "/aliases", map[string]any{"address": "it2@uni.example", "kind": "group"}, 400, "error"},
	} {
		code, b := f.do(t, c.method, base+c.path, pm, c.body)
		if code != c.code || keys(t, b) != c.keys {
			t.Errorf("%s %s: %d %s, want %d with keys %s", c.method, c.path, code, b, c.code, c.keys)
		}
	}
	for _, c := range []struct{ path, keys string }{
		{"/domains", "domains"},
		{"/mailboxes", "mailboxes"},
		{"/mailboxes/ola.n@uni.example", full},
		{"/aliases", "aliases"},
		{"/mailbox-search?q=ola", "limit mailboxes offset total"},
	} {
		code, b := f.do(t, "GET", base+c.path, helpdesk, nil)
		if code != http.StatusOK || keys(t, b) != c.keys {
			t.Errorf("GET %s: %d %s, want keys %s", c.path, code, b, c.keys)
		}
	}
	// Domains and aliases are the directory's own types, whose JSON keys
	// are their Go field names.
	var domains struct {
		Domains []map[string]any `json:"domains"`
	}
	var aliases struct {
		Aliases []map[string]any `json:"aliases"`
	}
	f.call(t, "GET", base+"/domains", helpdesk, nil, &domains)
	f.call(t, "GET", base+"/aliases", helpdesk, nil, &aliases)
	if len(domains.Domains) != 1 || domains.Domains[0]["Name"] != "uni.example" || domains.Domains[0]["CreatedAt"] == nil || len(domains.Domains[0]) != 2 {
		t.Errorf("domains: %+v", domains)
	}
	if len(aliases.Aliases) != 1 || aliases.Aliases[0]["Address"] != "it@uni.example" || aliases.Aliases[0]["Kind"] != "list" ||
		fmt.Sprint(aliases.Aliases[0]["Targets"]) != "[ola@uni.example]" || len(aliases.Aliases[0]) != 3 {
		t.Errorf("aliases: %+v", aliases)
	}
	var added engineapi.AliasAdded
	if code := f.call(t, "POST", base+"/aliases", pm, map[string]any{"address": "team@uni.example", "targets": []string{"ola@uni.example"}}, &added); code != 201 ||
		added.Address != "team@uni.example" || added.Kind != directory.KindAlias || fmt.Sprint(added.Targets) != "[ola@uni.example]" {
		t.Errorf("alias without a kind: %d %+v", code, added)
	}
}

// TestMailboxSearchAPI: the search matches address, nickname and display
// name without regard to case, filters locked mailboxes, pages in address
// order with the total, and refuses a limit out of 1–500.
func TestMailboxSearchAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := t.Context()
	if err := f.dir.AddDomain(ctx, "uni.example"); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"Anna Berg", "Bert Dahl", "Cleo Berg", "Dag Eng", "Eva Falk"} {
		n := directory.NewMailbox{Address: fmt.Sprintf("u%d@uni.example", i), DisplayName: name}
		if _, err := f.dir.AddMailbox(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.dir.SetNickname(ctx, "u4@uni.example", "berg.fan@uni.example"); err != nil {
		t.Fatal(err)
	}
	if err := f.dir.Lock(ctx, "u2@uni.example", "phished"); err != nil {
		t.Fatal(err)
	}
	page := func(query string) (int, engineapi.MailboxPage) {
		t.Helper()
		var p engineapi.MailboxPage
		code := f.call(t, "GET", "/api/v1/directory/mailbox-search"+query, auth.RoleHelpdesk, nil, &p)
		return code, p
	}
	addresses := func(p engineapi.MailboxPage) string {
		var out []string
		for _, m := range p.Mailboxes {
			out = append(out, strings.TrimSuffix(m.Address, "@uni.example"))
		}
		return strings.Join(out, " ")
	}
	for _, c := range []struct {
		query, want          string
		total, offset, limit int
	}{
		{"", "u0 u1 u2 u3 u4", 5, 0, 50},
		{"?q=BERG", "u0 u2 u4", 3, 0, 50},
		{"?q=berg&locked=true", "u2", 1, 0, 50},
		{"?q=berg&offset=1&limit=1", "u2", 3, 1, 1},
		{"?q=nobody", "", 0, 0, 50},
	} {
		code, p := page(c.query)
		if code != http.StatusOK || addresses(p) != c.want || p.Total != c.total || p.Offset != c.offset || p.Limit != c.limit {
			t.Errorf("search %q: %d %+v, want [%s] total %d offset %d limit %d", c.query, code, p, c.want, c.total, c.offset, c.limit)
		}
	}
	for _, q := range []string{"?limit=0", "?limit=501", "?offset=-1", "?limit=x"} {
		code, b := f.do(t, "GET", "/api/v1/directory/mailbox-search"+q, auth.RoleHelpdesk, nil)
		if code != http.StatusBadRequest || errorCode(t, b) != "bad_request" {
			t.Errorf("search %s: %d %s", q, code, b)
		}
	}
}
