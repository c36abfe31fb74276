package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/pgtest"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
)

// TestMain lets the test binary act as the postvakt binary when
// POSTVAKT_TEST_AS_MAIN=1, so tests can start real `postvakt serve`
// processes without building a second binary.
func TestMain(m *testing.M) {
	if os.Getenv("POSTVAKT_TEST_AS_MAIN") == "1" {
		main()
		return
	}
	pgtest.Main(m)
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	body = strings.ReplaceAll(body, "DATADIR", filepath.Join(dir, "data"))
	p := filepath.Join(dir, "postvakt.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// dataConfig writes a configuration as writeConfig does and creates its
// database with `migrate up`, as an operator does before the first
// command that reads or changes data.
func dataConfig(t *testing.T, body string) string {
	t.Helper()
	p := writeConfig(t, body)
	if code, _, errOut := runCLI(t, "migrate", "up", "--config", p); code != exitOK {
		t.Fatalf("migrate up: %d %s", code, errOut)
	}
	return p
}

func TestCheckConfig(t *testing.T) {
	t.Parallel()
	good := writeConfig(t, "data_dir: DATADIR\nhttp:\n  listen: 127.0.0.1:9999\n")
	if code, out, errOut := runCLI(t, "check-config", "--config", good); code != exitOK || !strings.Contains(out, "valid") {
		t.Fatalf("good file: %d %q %q", code, out, errOut)
	}
	unknown := writeConfig(t, "data_dir: DATADIR\nhttp:\n  listne: 127.0.0.1:9999\n")
	code, _, errOut := runCLI(t, "check-config", "--config", unknown)
	if code != exitConfig || !strings.Contains(errOut, unknown+`:3: unknown key "listne"`) {
		t.Fatalf("unknown key: %d %q", code, errOut)
	}
	badValue := writeConfig(t, "data_dir: DATADIR\nhttp:\n  max_body_bytes: 12\n")
	code, _, errOut = runCLI(t, "check-config", "--config", badValue)
	if code != exitConfig || !strings.Contains(errOut, badValue+`:3: http.max_body_bytes: "12"`) {
		t.Fatalf("bad value: %d %q", code, errOut)
	}
	if code, _, _ := runCLI(t, "check-config", "--config", filepath.Join(t.TempDir(), "missing.yaml")); code != exitConfig {
		t.Fatalf("missing file: %d, want %d (README)", code, exitConfig)
	}
	if code, _, _ := runCLI(t, "check-config", "--config", filepath.Join("..", "..", "examples", "postvakt.yaml")); code != exitOK {
		t.Fatalf("example file: %d", code)
	}
}

func TestHelpOnEveryCommand(t *testing.T) {
	t.Parallel()
	var walk func(path []string, cs []*command)
	walk = func(path []string, cs []*command) {
		for _, c := range cs {
			p := append(append([]string(nil), path...), c.name)
			code, out, errOut := runCLI(t, append(p, "--help")...)
			if code != exitOK || !strings.Contains(out, "Usage:") || !strings.Contains(out, c.summary) {
				t.Errorf("%v --help: %d %q %q", p, code, out, errOut)
			}
			walk(p, c.subs)
		}
	}
	walk(nil, commands())
	if code, _, errOut := runCLI(t, "frobnicate"); code != exitUsage || !strings.Contains(errOut, "unknown command") {
		t.Errorf("unknown command: %d %q", code, errOut)
	}
}

func TestTokenCommands(t *testing.T) {
	t.Parallel()
	cfg := dataConfig(t, "data_dir: DATADIR\n")
	code, secret, errOut := runCLI(t, "token", "create", "--config", cfg, "--name", "ops", "--role", "postmaster")
	if code != exitOK || !strings.HasPrefix(secret, "pvt_") {
		t.Fatalf("create: %d %q %q", code, secret, errOut)
	}
	if code, _, errOut := runCLI(t, "token", "create", "--config", cfg, "--name", "x", "--role", "root"); code != exitError || !strings.Contains(errOut, "unknown role") {
		t.Fatalf("bad role: %d %q", code, errOut)
	}
	if code, _, _ := runCLI(t, "token", "create", "--config", cfg); code != exitUsage {
		t.Fatalf("missing flags: %d", code)
	}
	code, out, _ := runCLI(t, "token", "list", "--config", cfg)
	if code != exitOK || !strings.Contains(out, "ops") || !strings.Contains(out, "active") || strings.Contains(out, strings.TrimSpace(secret)) {
		t.Fatalf("list: %d %q", code, out)
	}
	if code, out, _ := runCLI(t, "token", "revoke", "--config", cfg, "1"); code != exitOK || !strings.Contains(out, "revoked") {
		t.Fatalf("revoke: %d %q", code, out)
	}
	if _, out, _ := runCLI(t, "token", "list", "--config", cfg); !strings.Contains(out, "revoked") {
		t.Fatalf("list after revoke: %q", out)
	}
	if code, _, _ := runCLI(t, "migrate", "status", "--config", cfg); code != exitOK {
		t.Fatalf("migrate status: %d", code)
	}
}

// proc is a `postvakt serve` child process.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs bytes.Buffer
	done chan struct{}
}

func startServe(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve"}, args...)...)
	// The engine's fixed default ports would collide between parallel
	// tests; tests of the engine enable it with their own listen addresses.
	cmd.Env = append(append(os.Environ(), "POSTVAKT_TEST_AS_MAIN=1", "POSTVAKT_SMTP_ENABLED=false"), env...)
	cmd.Dir = t.TempDir() // a relative data_dir lands here, not in the source tree
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		_ = cmd.Wait()
	})
	return p
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

// stop sends sig and returns the exit code.
func (p *proc) stop(t *testing.T, sig syscall.Signal) int {
	t.Helper()
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("process did not stop on %v; log:\n%s", sig, p.log())
	}
	_ = p.cmd.Wait()
	return p.cmd.ProcessState.ExitCode()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitHTTP(t *testing.T, p *proc, url string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s not ready; log:\n%s", url, p.log())
}

func get(t *testing.T, url, bearer string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeWithExampleConfig runs `postvakt serve --config
// examples/postvakt.yaml` on SQLite and on PostgreSQL (database.url from
// POSTVAKT_DATABASE_URL) and checks both behave the same: health,
// readiness, metrics, 401 and 403, graceful shutdown on SIGTERM.
func TestServeWithExampleConfig(t *testing.T) {
	t.Parallel()
	example, err := filepath.Abs(filepath.Join("..", "..", "examples", "postvakt.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range storagetest.Dialects() {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			dbURL := storagetest.URL(t, d)
			addr := freeAddr(t)
			env := []string{"POSTVAKT_DATABASE_URL=" + dbURL, "POSTVAKT_HTTP_LISTEN=" + addr}
			p := startServe(t, env, "--config", example)
			base := "http://" + addr
			waitHTTP(t, p, base+"/readyz")
			if code, body := get(t, base+"/healthz", ""); code != 200 || body != "ok\n" {
				t.Fatalf("healthz %d %q", code, body)
			}
			if code, body := get(t, base+"/metrics", ""); code != 200 || !strings.Contains(body, "postvakt_build_info") {
				t.Fatalf("metrics %d", code)
			}
			if code, body := get(t, base+"/api/v1/tokens", ""); code != 401 || !strings.Contains(body, `"unauthorized"`) {
				t.Fatalf("no token: %d %s", code, body)
			}
			// A token created by the CLI against the same database.
			cfg := writeConfig(t, "data_dir: DATADIR\ndatabase:\n  url: "+dbURL+"\n")
			code, secret, errOut := runCLI(t, "token", "create", "--config", cfg, "--name", "helpdesk", "--role", "helpdesk")
			if code != 0 {
				t.Fatalf("token create: %s", errOut)
			}
			if code, body := get(t, base+"/api/v1/tokens", strings.TrimSpace(secret)); code != 403 || !strings.Contains(body, `"forbidden"`) {
				t.Fatalf("small role: %d %s", code, body)
			}
			if code, _ := get(t, base+"/api/v1/whoami", strings.TrimSpace(secret)); code != 200 {
				t.Fatalf("whoami: %d", code)
			}
			if code := p.stop(t, syscall.SIGTERM); code != 0 {
				t.Fatalf("exit code %d after SIGTERM; log:\n%s", code, p.log())
			}
			if !strings.Contains(p.log(), "msg=stopped") {
				t.Fatalf("no graceful stop in log:\n%s", p.log())
			}
		})
	}
}

var tickRe = regexp.MustCompile(`msg="scheduled job done" job=scheduler_history_cleanup tick=(\S+)`)

// TestTwoReplicasRunAJobOncePerTick starts two `postvakt serve` processes
// with the same configuration on one PostgreSQL, with a job scheduled every
// second, and checks from both logs that every tick ran exactly once, on one
// of them.
func TestTwoReplicasRunAJobOncePerTick(t *testing.T) {
	t.Parallel()
	dbURL := storagetest.URL(t, storage.Postgres)
	cfg := writeConfig(t, `data_dir: DATADIR
database:
  url: `+dbURL+`
log:
  level: debug
scheduler:
  jobs:
    scheduler_history_cleanup:
      schedule: "@every 1s"
`)
	// Migrate first so both replicas start at once without racing on it.
	if code, _, errOut := runCLI(t, "migrate", "up", "--config", cfg); code != 0 {
		t.Fatalf("migrate up: %s", errOut)
	}
	var ps []*proc
	for i := 0; i < 2; i++ {
		addr := freeAddr(t)
		p := startServe(t, []string{"POSTVAKT_HTTP_LISTEN=" + addr}, "--config", cfg)
		waitHTTP(t, p, "http://"+addr+"/readyz")
		ps = append(ps, p)
	}
	time.Sleep(5 * time.Second)
	ticks := map[string][]int{}
	for i, p := range ps {
		if code := p.stop(t, syscall.SIGTERM); code != 0 {
			t.Fatalf("replica %d exit %d", i, code)
		}
		for _, m := range tickRe.FindAllStringSubmatch(p.log(), -1) {
			ticks[m[1]] = append(ticks[m[1]], i)
		}
	}
	if len(ticks) < 4 {
		t.Fatalf("only %d ticks ran in 5 s:\n%s\n%s", len(ticks), ps[0].log(), ps[1].log())
	}
	for tick, who := range ticks {
		if len(who) != 1 {
			t.Errorf("tick %s ran %d times (replicas %v)", tick, len(who), who)
		}
	}
	t.Logf("%d ticks, each run once: %v", len(ticks), fmt.Sprint(ticks))
}

// TestSIGHUPReloadsLogLevel changes log.level in the file and sends SIGHUP;
// a file with an error is rejected and the service keeps running.
func TestSIGHUPReloadsLogLevel(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	cfg := writeConfig(t, "data_dir: DATADIR\nhttp:\n  listen: "+addr+"\n")
	p := startServe(t, nil, "--config", cfg)
	waitHTTP(t, p, "http://"+addr+"/readyz")
	if err := os.WriteFile(cfg, []byte("data_dir: "+filepath.Join(filepath.Dir(cfg), "data")+"\nhttp:\n  listen: "+addr+"\nlog:\n  level: debug\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, p, `applied=log.level`)
	get(t, "http://"+addr+"/healthz", "")
	waitLog(t, p, `level=DEBUG msg="http request" method=GET path=/healthz`)
	if err := os.WriteFile(cfg, []byte("log:\n  level: loud\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, p, "configuration rejected")
	if code, _ := get(t, "http://"+addr+"/healthz", ""); code != 200 {
		t.Fatal("service died after a rejected reload")
	}
	if code := p.stop(t, syscall.SIGINT); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

func waitLog(t *testing.T, p *proc, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(p.log(), s) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("log never showed %q:\n%s", s, p.log())
}

// TestCheckConfigIntakeAndChannels: check-config names each bad value of
// oncall.channels, oncall.contact_rules, oncall.integrations and
// oncall.incident_mail with its line.
func TestCheckConfigIntakeAndChannels(t *testing.T) {
	t.Parallel()
	const team = `data_dir: DATADIR
oncall:
  members: [{id: ana, name: Ana, email: ana@uni.example, phone: "+4722000001"}]
  rotas: [{name: r, members: [ana], start: "2026-01-05", handover_weekday: monday, handover_time: "09:00", time_zone: Europe/Oslo}]
  escalation_policies: [{name: p, rota: r, steps: [{after: 0s, notify: [oncall]}]}]
`
	good := writeConfig(t, team+`  channels:
    - {name: sms, type: sms, url: "https://gw.uni.example/send", body: '{"to":{{json .Phone}},"text":{{json .Text}}}'}
    - {name: mm, type: mattermost, url: "https://chat.uni.example/hooks/x"}
  contact_rules:
    "*": [{channel: mm, after: 0s}, {channel: sms, after: 5m}]
  integrations: [{name: nagios, token_sha256: 33008ea374a93b18297c7ff15b324d599c30cbeac8a9073b82f7837fe0049e27}]
  incident_mail: {address: incident@uni.example, severity: critical}
`)
	if code, out, errOut := runCLI(t, "check-config", "--config", good); code != exitOK {
		t.Fatalf("good file: %d %q %q", code, out, errOut)
	}
	bad := writeConfig(t, team+`  channels:
    - {name: sms, type: pager, url: "https://gw.uni.example/send"}
    - {name: gw, type: sms, url: "https://gw.uni.example/send", body: '{{.Nope}}'}
    - {name: slack, type: teams, url: "ftp://x"}
  contact_rules:
    ana: [{channel: sms, after: 5m}, {channel: pigeon, after: 0s}]
    zoe: [{channel: gw, after: 0s}]
  integrations: [{name: "bad name", token_sha256: abc}, {name: ok, token_sha256: 33008ea374a93b18297c7ff15b324d599c30cbeac8a9073b82f7837fe0049e27, policy: nope}]
  incident_mail: {address: "Incident <incident@uni.example>", severity: urgent}
`)
	code, _, errOut := runCLI(t, "check-config", "--config", bad)
	if code != exitConfig {
		t.Fatalf("bad file: %d %q", code, errOut)
	}
	for _, want := range []string{
		`oncall.channels[0].type: "pager"`,
		`oncall.channels[1].body: "{{.Nope}}"`,
		`oncall.channels[2].name: "slack"`,
		`oncall.channels[2].url: "(secret)"`,
		`oncall.contact_rules.ana[1].channel: "pigeon"`,
		`oncall.contact_rules.zoe: "zoe": no such member`,
		`oncall.integrations[0]: "bad name"`,
		`oncall.integrations[1].policy: "nope"`,
		`oncall.incident_mail: "Incident <incident@uni.example>"`,
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("check-config output lacks %s:\n%s", want, errOut)
		}
	}
}

// TestCheckConfigComplaintsAndTickets: check-config names the bad value of
// the keys of spam complaints and of the tickets' closed loop and
// attachments, with its line.
func TestCheckConfigComplaintsAndTickets(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ body, want string }{
		{"content:\n  complaints:\n    address: not-an-address\n", `content.complaints.address: "not-an-address"`},
		{"content:\n  complaints:\n    rule_score: 0\n", `content.complaints.rule_score`},
		{"content:\n  complaints:\n    reload_every: 100ms\n", `content.complaints.reload_every`},
		{"tickets:\n  close_after: 10m\n", `tickets.close_after: "10m0s"`},
		{"tickets:\n  attachment_max_bytes: 1000\n  attachments_max_bytes: 10\n", `tickets.attachments_max_bytes: "10"`},
	} {
		p := writeConfig(t, "data_dir: DATADIR\n"+c.body)
		code, _, errOut := runCLI(t, "check-config", "--config", p)
		if code != exitConfig || !strings.Contains(errOut, c.want) {
			t.Errorf("%q: %d %q, want %s", c.body, code, errOut, c.want)
		}
	}
}
