package app

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/internal/auth"
)

// TestDirectoryAPI manages the engine's directory through the API (issue
// 3): helpdesk reads, postmaster changes, the password is never returned,
// conflicts and unknown addresses are JSON errors, every change is audited.
func TestDirectoryAPI(t *testing.T) {
	t.Parallel()
	slackAPI, sink := newFakeSlack(t), newSMTPSink(t)
	cfg := oncallConfig(t, slackAPI.srv.URL, sink.addr, time.Hour, 2*time.Hour)
	sc := engine.Default()
	sc.Hostname = "mx.uni.example"
	sc.MX.Listen, sc.Submission.Listen = "127.0.0.1:"+freePort(t), ""
	cfg.SMTP = sc
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	app := startApp(t, cfg, time.Now)
	helpdesk, pm, admin := apiToken(t, cfg, auth.RoleHelpdesk), apiToken(t, cfg, auth.RolePostmaster), apiToken(t, cfg, auth.RoleAdmin)
	base := app.base + "/api/v1/directory"

	if code := call(t, "POST", base+"/domains", helpdesk, map[string]string{"name": "uni.example"}, nil); code != 403 {
		t.Fatalf("helpdesk added a domain: %d", code)
	}
	if code := call(t, "POST", base+"/domains", pm, map[string]string{"name": "uni.example"}, nil); code != 201 {
		t.Fatalf("add domain: %d", code)
	}
	var mb map[string]any
	if code := call(t, "POST", base+"/mailboxes", pm, map[string]any{"address": "ola@uni.example", "password": "a long secret", "quota": "1GB"}, &mb); code != 201 {
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
	if code := call(t, "POST", base+"/mailboxes", pm, map[string]any{"address": "ola@uni.example"}, nil); code != 409 {
		t.Fatalf("duplicate mailbox: %d", code)
	}
	if code := call(t, "POST", base+"/mailboxes", pm, map[string]any{"address": "x@else.example"}, nil); code != 400 {
		t.Fatalf("mailbox in a foreign domain: %d", code)
	}
	if code := call(t, "PATCH", base+"/mailboxes/ola@uni.example", pm, map[string]any{"quota": "5GB", "locked": true, "reason": "phished"}, &mb); code != 200 {
		t.Fatalf("patch: %d", code)
	}
	if mb["quota_bytes"].(float64) != 5<<30 || mb["locked"] != true || mb["locked_reason"] != "phished" {
		t.Fatalf("after patch %v", mb)
	}
	if code := call(t, "PATCH", base+"/mailboxes/ola@uni.example", pm, map[string]any{"quota": "lots"}, nil); code != 400 {
		t.Fatalf("bad quota: %d", code)
	}
	if code := call(t, "GET", base+"/mailboxes/nobody@uni.example", helpdesk, nil, nil); code != 404 {
		t.Fatalf("unknown mailbox: %d", code)
	}
	var list struct {
		Mailboxes []map[string]any `json:"mailboxes"`
	}
	if code := call(t, "GET", base+"/mailboxes", helpdesk, nil, &list); code != 200 || len(list.Mailboxes) != 1 {
		t.Fatalf("list: %d %v", code, list)
	}
	if code := call(t, "POST", base+"/aliases", pm, map[string]any{"address": "it-support@uni.example", "kind": "list", "targets": []string{"ola@uni.example", "kari@remote.example"}}, nil); code != 201 {
		t.Fatalf("add list: %d", code)
	}
	if code := call(t, "POST", base+"/aliases", pm, map[string]any{"address": "abuse@uni.example", "kind": "function", "targets": []string{"kari@remote.example"}}, nil); code != 201 {
		t.Fatalf("add function: %d", code)
	}
	var aliases struct {
		Aliases []struct {
			Address string
			Targets []string
		} `json:"aliases"`
	}
	if code := call(t, "GET", base+"/aliases", helpdesk, nil, &aliases); code != 200 || len(aliases.Aliases) != 2 {
		t.Fatalf("aliases: %d %+v", code, aliases)
	}
	aliases.Aliases = nil
	if code := call(t, "GET", base+"/aliases?target="+url.QueryEscape("OLA@Uni.Example"), helpdesk, nil, &aliases); code != 200 ||
		len(aliases.Aliases) != 1 || aliases.Aliases[0].Address != "it-support@uni.example" ||
		strings.Join(aliases.Aliases[0].Targets, ",") != "kari@remote.example,ola@uni.example" {
		t.Fatalf("aliases targeting ola: %d %+v", code, aliases)
	}
	aliases.Aliases = nil
	if code := call(t, "GET", base+"/aliases?target=nobody@uni.example", helpdesk, nil, &aliases); code != 200 || len(aliases.Aliases) != 0 {
		t.Fatalf("aliases targeting nobody: %d %+v", code, aliases)
	}
	if code := call(t, "GET", base+"/aliases?target=not-an-address", helpdesk, nil, nil); code != 400 {
		t.Fatalf("bad target: %d", code)
	}
	if code := call(t, "DELETE", base+"/aliases/it-support@uni.example", pm, nil, nil); code != 204 {
		t.Fatalf("remove list: %d", code)
	}
	var audit struct {
		Entries []auth.AuditEntry `json:"entries"`
	}
	call(t, "GET", app.base+"/api/v1/audit", admin, nil, &audit)
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
