package attack

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"text/template"
	"time"
)

//go:embed testdata/postvakt.yaml.tmpl
var configTemplate string

// The people and secrets of the target: web users (`postvakt user add`),
// a mailbox (`postvakt directory add-mailbox`), API tokens (`postvakt token
// create`) and the secrets the environment gives `serve`.
const (
	WebPassword  = "correct horse battery staple"
	MailPassword = "mailbox password 42"
	Mailbox      = "ola@uni.example"
	// BigMailbox takes the large messages of smtp-data-parallel (190 of
	// 24 MB): a quota that holds them all, so that the attack measures the
	// engine's memory and not the mailbox filling up.
	BigMailbox   = "archive@uni.example"
	FaultAddress = "fault@uni.example"
	amToken      = "attack-alertmanager-token-0123456789"
	linkKey      = "attack-link-key-0123456789abcdef0123456789"
)

// Env is a running `postvakt serve` under attack and what the suite needs
// to reach it.
type Env struct {
	Bin, Dir, Config string
	HTTP             string // base URL
	MX, Submission   string // host:port
	Proc             Proc
	Slack            *FakeSlack
	// Tokens by name: admin, postmaster, helpdesk, viewer.
	Tokens map[string]string

	cmd    *exec.Cmd
	exited chan struct{} // closed when serve has ended
	stderr *lockedBuffer
}

// Start builds nothing: it sets up a fresh directory with the
// configuration, users, a mailbox and tokens through the CLI, starts
// `postvakt serve` and waits until it is ready.
func Start(ctx context.Context, bin string) (*Env, error) {
	dir, err := os.MkdirTemp("", "postvakt-attack-")
	if err != nil {
		return nil, err
	}
	e := &Env{Bin: bin, Dir: dir, Tokens: map[string]string{}, stderr: &lockedBuffer{}}
	e.Slack, err = NewFakeSlack()
	if err != nil {
		return nil, err
	}
	ports := map[string]int{}
	for _, k := range []string{"HTTPPort", "MXPort", "SubmissionPort"} {
		if ports[k], err = freePort(); err != nil {
			return nil, err
		}
	}
	vals := map[string]any{"Dir": dir, "SlackPort": e.Slack.Port}
	for k, v := range ports {
		vals[k] = v
	}
	var cfg bytes.Buffer
	if err := template.Must(template.New("cfg").Parse(configTemplate)).Execute(&cfg, vals); err != nil {
		return nil, err
	}
	e.Config = filepath.Join(dir, "postvakt.yaml")
	if err := os.WriteFile(e.Config, cfg.Bytes(), 0o600); err != nil {
		return nil, err
	}
	e.HTTP = fmt.Sprintf("http://127.0.0.1:%d", ports["HTTPPort"])
	e.MX = fmt.Sprintf("127.0.0.1:%d", ports["MXPort"])
	e.Submission = fmt.Sprintf("127.0.0.1:%d", ports["SubmissionPort"])

	if _, err := e.CLI(ctx, "", "check-config"); err != nil {
		return nil, err
	}
	if _, err := e.CLI(ctx, "", "migrate", "up"); err != nil {
		return nil, err
	}
	for _, u := range [][2]string{{"admin", "admin"}, {"ana", "oncall"}, {"bjorn", "oncall"}, {"chen", "oncall"}, {"kari", "helpdesk"}} {
		if _, err := e.CLI(ctx, WebPassword+"\n", "user", "add", "--role", u[1], "--password-file", "-", u[0]); err != nil {
			return nil, err
		}
	}
	if _, err := e.CLI(ctx, "", "directory", "add-domain", "uni.example"); err != nil {
		return nil, err
	}
	if _, err := e.cliEnv(ctx, []string{"POSTVAKT_PASSWORD=" + MailPassword}, "", "directory", "add-mailbox", Mailbox); err != nil {
		return nil, err
	}
	if _, err := e.CLI(ctx, "", "directory", "add-mailbox", FaultAddress); err != nil {
		return nil, err
	}
	if _, err := e.CLI(ctx, "", "directory", "add-mailbox", "--quota", "8GB", BigMailbox); err != nil {
		return nil, err
	}
	tokenRE := regexp.MustCompile(`pvt_[A-Za-z0-9_-]+`)
	for _, tk := range [][2]string{{"admin", "admin"}, {"postmaster", "postmaster"}, {"helpdesk", "helpdesk"}, {"viewer", "viewer"}} {
		out, err := e.CLI(ctx, "", "token", "create", "--name", tk[0], "--role", tk[1])
		if err != nil {
			return nil, err
		}
		if e.Tokens[tk[0]] = tokenRE.FindString(out); e.Tokens[tk[0]] == "" {
			return nil, fmt.Errorf("token create %s: no secret in %q", tk[0], out)
		}
	}

	e.cmd = exec.Command(bin, "serve", "--config", e.Config)
	e.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the suite
	e.cmd.Env = append(os.Environ(), "POSTVAKT_SLACK_BOT_TOKEN=xoxb-attack", "POSTVAKT_SLACK_SIGNING_SECRET=attack-signing-secret-0123456789", "POSTVAKT_ALERTMANAGER_TOKEN="+amToken,
		"POSTVAKT_ONCALL_LINK_KEY="+linkKey)
	e.cmd.Stdout, e.cmd.Stderr = e.stderr, e.stderr
	if err := e.cmd.Start(); err != nil {
		return nil, err
	}
	e.exited = make(chan struct{})
	go func() { _ = e.cmd.Wait(); close(e.exited) }()
	e.Proc = Proc{PID: e.cmd.Process.Pid}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(e.HTTP + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) || !e.Alive() {
			e.Stop()
			return nil, fmt.Errorf("postvakt serve did not become ready: %s", e.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, addr := range []string{e.MX, e.Submission} {
		if err := waitListen(addr, 30*time.Second); err != nil {
			e.Stop()
			return nil, err
		}
	}
	return e, nil
}

// Stop stops the server (SIGINT, then SIGKILL) and the fake Slack.
func (e *Env) Stop() {
	if e.Alive() {
		_ = e.cmd.Process.Signal(os.Interrupt)
		select {
		case <-e.exited:
		case <-time.After(20 * time.Second):
			_ = e.cmd.Process.Kill()
			<-e.exited
		}
	}
	e.Slack.Close()
}

// Alive reports whether the server process still runs.
func (e *Env) Alive() bool {
	if e.exited == nil {
		return false
	}
	select {
	case <-e.exited:
		return false
	default:
		return true
	}
}

// Log is what the server wrote to standard error so far.
func (e *Env) Log() string { return e.stderr.String() }

// CLI runs the postvakt binary with the target's configuration.
func (e *Env) CLI(ctx context.Context, stdin string, args ...string) (string, error) {
	return e.cliEnv(ctx, nil, stdin, args...)
}

func (e *Env) cliEnv(ctx context.Context, env []string, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, e.Bin, args...)
	cmd.Env = append(append(os.Environ(), "POSTVAKT_CONFIG="+e.Config), env...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("postvakt %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// API calls the JSON API with the named token ("" for none) and returns
// the status and body.
func (e *Env) API(method, path, token string, body string) (int, []byte, http.Header, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.HTTP+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+e.Tokens[token])
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header, err
}

// FakeSlack stands in for Slack's Web API, which cannot run here: it
// answers conversations.open and chat.postMessage and keeps each post.
type FakeSlack struct {
	Port  int
	srv   *http.Server
	mu    sync.Mutex
	posts []url.Values
}

// NewFakeSlack listens on a free loopback port.
func NewFakeSlack() (*FakeSlack, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f := &FakeSlack{Port: ln.Addr().(*net.TCPAddr).Port}
	f.srv = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		method := strings.TrimPrefix(r.URL.Path, "/api/")
		w.Header().Set("Content-Type", "application/json")
		switch method {
		case "conversations.open":
			_, _ = io.WriteString(w, `{"ok":true,"channel":{"id":"D`+r.PostForm.Get("users")+`"}}`)
		case "chat.postMessage":
			f.mu.Lock()
			f.posts = append(f.posts, r.PostForm)
			f.mu.Unlock()
			_, _ = io.WriteString(w, `{"ok":true,"channel":"`+r.PostForm.Get("channel")+`","ts":"1700000000.000100"}`)
		default:
			_, _ = io.WriteString(w, `{"ok":false,"error":"unknown_method"}`)
		}
	})}
	go func() { _ = f.srv.Serve(ln) }()
	return f, nil
}

// Posts returns the chat.postMessage calls so far.
func (f *FakeSlack) Posts() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.posts...)
}

// Close stops the fake.
func (f *FakeSlack) Close() { _ = f.srv.Close() }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitListen(addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("nothing listens on %s", addr)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > 8<<20 { // keep the last words of a chatty server, not all
		l.b.Reset()
	}
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
