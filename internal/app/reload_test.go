package app

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
)

// TestReloadCapabilities (docs/configuration.md, "Reloading"): after POST
// /api/v1/admin/reload, the notices go to the new announce list, the
// probes are the new ones, and the directory takes the new address rules,
// without a restart; the reply names what was applied.
func TestReloadCapabilities(t *testing.T) {
	t.Parallel()
	sink := newSMTPSink(t)
	dir := t.TempDir()
	probeLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer probeLn.Close()
	go func() {
		for {
			c, err := probeLn.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	yaml := func(announce, probe, personal string) string {
		return `data_dir: ` + filepath.Join(dir, "data") + `
http:
  listen: 127.0.0.1:0
scheduler:
  enabled: false
smtp:
  enabled: true
  mx:
    listen: 127.0.0.1:0
  submission:
    listen: ""
  address_rules:
    personal: "` + personal + `"
  directory:
    domains: [uni.example]
notices:
  announce_to: ` + announce + `
  from: drift@example.edu
  relay:
    addr: ` + sink.addr + `
probes:
  targets:
    - {name: ` + probe + `, service: smtp, kind: tcp, address: "` + probeLn.Addr().String() + `"}
`
	}
	path := filepath.Join(dir, "postvakt.yaml")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(yaml("first@example.edu", "smtp-a", "^[a-z]{2,8}$"))
	cfg, err := config.Load(path, []string{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Config: cfg, ConfigPath: path, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil)),
			Ready: func(a net.Addr) { addr <- a }})
	}()
	var base string
	select {
	case a := <-addr:
		base = "http://" + a.String()
	case err := <-done:
		t.Fatalf("did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("did not start")
	}
	defer func() { cancel(); <-done }()
	admin, oncall, pm := apiToken(t, cfg, auth.RoleAdmin), apiToken(t, cfg, auth.RoleOncall), apiToken(t, cfg, auth.RolePostmaster)

	preview := func() string {
		var p struct{ To string }
		if code := call(t, "POST", base+"/api/v1/notices/preview", oncall, map[string]any{"kind": "outage", "title": "x", "services": []string{"smtp"}}, &p); code != http.StatusOK {
			t.Fatalf("preview: %d", code)
		}
		return p.To
	}
	run := func(name string) int {
		return call(t, "POST", base+"/api/v1/probes/"+name+"/run", oncall, nil, nil)
	}
	mailbox := func(address string) int {
		return call(t, "POST", base+"/api/v1/directory/mailboxes", pm, map[string]any{"address": address}, nil)
	}
	if to := preview(); to != "first@example.edu" {
		t.Fatalf("announce list before: %q", to)
	}
	if code := run("smtp-a"); code != http.StatusOK {
		t.Fatalf("probe smtp-a before: %d", code)
	}
	if code := run("smtp-b"); code != http.StatusNotFound {
		t.Fatalf("probe smtp-b before: %d", code)
	}
	if code := mailbox("ola2@uni.example"); code != http.StatusBadRequest {
		t.Fatalf("a personal address with a digit under rules that forbid it: %d", code)
	}

	write(yaml("second@example.edu", "smtp-b", "^[a-z0-9]{2,8}$"))
	var rep struct {
		Applied         []string `json:"applied"`
		RestartRequired []string `json:"restart_required"`
	}
	if code := call(t, "POST", base+"/api/v1/admin/reload", admin, nil, &rep); code != http.StatusOK {
		t.Fatalf("reload: %d", code)
	}
	for _, k := range []string{"notices.announce_to", "probes.targets", "smtp.address_rules.personal"} {
		if !slices.Contains(rep.Applied, k) {
			t.Errorf("reload applied %v, not %s", rep.Applied, k)
		}
	}
	if len(rep.RestartRequired) != 0 {
		t.Errorf("restart required for %v", rep.RestartRequired)
	}
	if to := preview(); to != "second@example.edu" {
		t.Errorf("announce list after the reload: %q", to)
	}
	if code := call(t, "POST", base+"/api/v1/notices", oncall, map[string]any{"kind": "outage", "title": "Mail delayed", "services": []string{"smtp"}}, nil); code != http.StatusCreated {
		t.Fatalf("create notice: %d", code)
	}
	eventually(t, 10*time.Second, "the announcement to the new list", func() bool { return len(sink.to("second@example.edu")) == 1 })
	if n := len(sink.to("first@example.edu")); n != 0 {
		t.Errorf("%d announcements to the old list", n)
	}
	if code := run("smtp-b"); code != http.StatusOK {
		t.Errorf("probe smtp-b after the reload: %d", code)
	}
	if code := run("smtp-a"); code != http.StatusNotFound {
		t.Errorf("probe smtp-a after the reload: %d", code)
	}
	if code := mailbox("ola2@uni.example"); code != http.StatusCreated {
		t.Errorf("a personal address with a digit under the new rules: %d", code)
	}

	// A file with an error: 422 naming file and line, nothing changes.
	write(strings.Replace(yaml("third@example.edu", "smtp-c", "^[a-z0-9]{2,8}$"), "  listen: 127.0.0.1:0\nscheduler", "  listen: 127.0.0.1:0\n  bogus: 1\nscheduler", 1))
	req, _ := http.NewRequest("POST", base+"/api/v1/admin/reload", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Error struct{ Code, Message string }
	}
	_ = json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnprocessableEntity || e.Error.Code != "invalid_configuration" ||
		!strings.Contains(e.Error.Message, path+`:4: unknown key "bogus"`) {
		t.Errorf("bad file: %d %+v", resp.StatusCode, e)
	}
	if to := preview(); to != "second@example.edu" {
		t.Errorf("announce list after a refused reload: %q", to)
	}
}
