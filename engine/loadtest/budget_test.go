//go:build loadtest

package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/uni-mail/postvakt/engine/directory"
)

// rssLimit is the acceptance bound on the peak resident set.
const rssLimit = 512 << 20

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// proc reads figures of a process from /proc.
type proc struct{ pid int }

func (p proc) status(key string) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.pid))
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key+":"); ok {
			f := strings.Fields(v)
			n, _ := strconv.ParseInt(f[0], 10, 64)
			return n << 10 // kB
		}
	}
	return -1
}

// cpu is user+system time.
func (p proc) cpu() time.Duration {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+k) * time.Second / 100 // USER_HZ
}

// server is a running `postvakt serve`.
type server struct {
	proc
	http, mx, sub string
	log           *bytes.Buffer
}

func start(t *testing.T) *server {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "postvakt")
	build := exec.Command("go", "build", "-o", bin, "github.com/uni-mail/postvakt/cmd/postvakt")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	hash, err := directory.HashPassword("the right password", directory.DefaultHashParams())
	if err != nil {
		t.Fatal(err)
	}
	s := &server{http: freePort(t), mx: freePort(t), sub: freePort(t), log: &bytes.Buffer{}}
	var mb strings.Builder
	mb.WriteString(fmt.Sprintf("      - {address: anna@uni.example, quota_bytes: 1099511627776, password_hash: %q}\n", hash))
	for i := range 1000 {
		// A thousand real accounts, so that every guess costs a full hash.
		mb.WriteString(fmt.Sprintf("      - {address: u%04d@uni.example, password_hash: %q}\n", i, hash))
	}
	cfg := fmt.Sprintf(`data_dir: %s
log: {level: warn}
http: {listen: %q}
content: {enabled: true}
smtp:
  hostname: mx.uni.example
  mx: {listen: %q}
  submission: {listen: %q, auth: true}
  whitelist: {clients: ["127.0.0.0/8"]}
  directory:
    domains: [uni.example]
    mailboxes:
%s`, filepath.Join(dir, "data"), s.http, s.mx, s.sub, mb.String())
	cf := filepath.Join(dir, "postvakt.yaml")
	if err := os.WriteFile(cf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--config", cf)
	cmd.Stdout, cmd.Stderr = s.log, s.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.pid = cmd.Process.Pid
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("postvakt's log:\n%s", s.log.String())
		}
	})
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if r, err := http.Get("http://" + s.http + "/healthz"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("postvakt did not come up:\n%s", s.log.String())
		}
	}
	return s
}

// watch checks, while a phase runs, that /healthz answers (every 200 ms)
// and that ordinary mail is accepted (a small message every second).
type watch struct {
	stop                       chan struct{}
	wg                         sync.WaitGroup
	health, healthFail         atomic.Int64
	healthMax                  atomic.Int64 // ns
	mail, mailFail             atomic.Int64
	mailMax                    atomic.Int64 // ns
	lastHealthErr, lastMailErr atomic.Value
	mu                         sync.Mutex
	healthTimes                []time.Duration
	pressure0                  time.Duration
	start                      time.Time
}

// cpuPressure is the machine's total time some task waited for a CPU
// (/proc/pressure/cpu): the run may share the machine with other work.
func cpuPressure() time.Duration {
	b, _ := os.ReadFile("/proc/pressure/cpu")
	for _, f := range strings.Fields(string(b)) {
		if v, ok := strings.CutPrefix(f, "total="); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return time.Duration(n) * time.Microsecond
		}
	}
	return 0
}

func maxStore(a *atomic.Int64, v int64) {
	for p := a.Load(); v > p && !a.CompareAndSwap(p, v); p = a.Load() {
	}
}

func (s *server) watch() *watch {
	w := &watch{stop: make(chan struct{})}
	// An answer within 30 s counts as an answer; the distribution is
	// reported with the machine's CPU pressure (it may be shared with other
	// work).
	hc := &http.Client{Timeout: 30 * time.Second}
	w.pressure0, w.start = cpuPressure(), time.Now()
	w.wg.Add(2)
	go func() {
		defer w.wg.Done()
		for {
			select {
			case <-w.stop:
				return
			case <-time.After(200 * time.Millisecond):
			}
			t0 := time.Now()
			r, err := hc.Get("http://" + s.http + "/healthz")
			if err == nil {
				r.Body.Close()
				if r.StatusCode != 200 {
					err = fmt.Errorf("HTTP %d", r.StatusCode)
				}
			}
			w.health.Add(1)
			maxStore(&w.healthMax, int64(time.Since(t0)))
			w.mu.Lock()
			w.healthTimes = append(w.healthTimes, time.Since(t0))
			w.mu.Unlock()
			if err != nil {
				w.healthFail.Add(1)
				w.lastHealthErr.Store(err.Error())
			}
		}
	}()
	go func() {
		defer w.wg.Done()
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			case <-time.After(time.Second):
			}
			t0 := time.Now()
			err := sendMail(s.mx, "127.0.0.1", fmt.Sprintf("ordinary-%d-%d", time.Now().UnixNano(), i), nil)
			w.mail.Add(1)
			maxStore(&w.mailMax, int64(time.Since(t0)))
			if err != nil {
				w.mailFail.Add(1)
				w.lastMailErr.Store(err.Error())
			}
		}
	}()
	return w
}

func (w *watch) end(t *testing.T, phase string) {
	close(w.stop)
	w.wg.Wait()
	sort.Slice(w.healthTimes, func(i, j int) bool { return w.healthTimes[i] < w.healthTimes[j] })
	pct := func(p float64) time.Duration {
		if len(w.healthTimes) == 0 {
			return 0
		}
		return w.healthTimes[int(p*float64(len(w.healthTimes)-1))].Round(time.Millisecond)
	}
	stall := float64(cpuPressure()-w.pressure0) / float64(time.Since(w.start))
	t.Logf("%s: /healthz %d checks, %d unanswered, p50 %s, p95 %s, slowest %s; ordinary mail %d sent, %d failed, slowest %s; machine CPU pressure (some) %.0f%%",
		phase, w.health.Load(), w.healthFail.Load(), pct(0.5), pct(0.95), time.Duration(w.healthMax.Load()).Round(time.Millisecond),
		w.mail.Load(), w.mailFail.Load(), time.Duration(w.mailMax.Load()).Round(time.Millisecond), 100*stall)
	if w.healthFail.Load() > 0 {
		t.Errorf("%s: /healthz failed %d times (last: %v)", phase, w.healthFail.Load(), w.lastHealthErr.Load())
	}
	if w.mail.Load() == 0 || w.mailFail.Load() > 0 {
		t.Errorf("%s: ordinary mail: %d of %d failed (last: %v)", phase, w.mailFail.Load(), w.mail.Load(), w.lastMailErr.Load())
	}
}

// sendMail sends one message to anna@uni.example from local, with body
// after a small header (nil: a line of text).
func sendMail(addr, local, id string, body []byte) error {
	d := net.Dialer{Timeout: 30 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return err
	}
	c := smtp.NewClient(conn)
	c.CommandTimeout, c.SubmissionTimeout = 5*time.Minute, 10*time.Minute
	defer c.Close()
	if err := c.Hello("client.load.example"); err != nil {
		return err
	}
	if err := c.Mail("sender@load.example", nil); err != nil {
		return err
	}
	if err := c.Rcpt("anna@uni.example", nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "From: <sender@load.example>\r\nTo: <anna@uni.example>\r\nSubject: %s\r\nMessage-ID: <%s@load.example>\r\nDate: %s\r\n",
		id, id, time.Now().Format(time.RFC1123Z))
	if body == nil {
		fmt.Fprintf(w, "\r\nAn ordinary message.\r\n")
	} else if _, err := w.Write(body); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// attachment is a MIME body with a text part and a base64 attachment of
// random bytes, total about size bytes.
func attachment(size int) []byte {
	raw := make([]byte, size*3/4-4096)
	rand.Read(raw)
	var b bytes.Buffer
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=LOADTEST\r\n\r\n--LOADTEST\r\nContent-Type: text/plain\r\n\r\nThe data, as promised.\r\n")
	b.WriteString("--LOADTEST\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"data.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(raw)
	for len(enc) > 76 {
		b.WriteString(enc[:76])
		b.WriteString("\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n--LOADTEST--\r\n")
	return b.Bytes()
}

func count(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func codeOf(err error) string {
	var se *smtp.SMTPError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &se):
		return fmt.Sprintf("%d %d.%d.%d", se.Code, se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
	}
	return "error: " + err.Error()
}

// TestResourceBudget is the acceptance of docs/resources.md:
// with the default limits, a real `postvakt serve` stays under
// 512 MB resident through 1,000 concurrent AUTH attempts with wrong
// passwords and 100 concurrent 24 MB messages, and meanwhile answers
// /healthz and accepts ordinary mail.
func TestResourceBudget(t *testing.T) {
	s := start(t)
	base := s.status("VmRSS")
	t.Logf("started: RSS %d MiB", base>>20)

	// Phase 1: 1,000 concurrent AUTH attempts, wrong passwords, each at
	// another real account, from 250 client addresses (127.0.1.x).
	w := s.watch()
	cpu0, t0 := s.cpu(), time.Now()
	var mu sync.Mutex
	codes := map[string]int{}
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			d := net.Dialer{Timeout: 30 * time.Second, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(1+i%250))}}
			code := "error: dial"
			if conn, err := d.Dial("tcp", s.sub); err == nil {
				var c *smtp.Client
				if c, err = smtp.NewClientStartTLS(conn, &tls.Config{InsecureSkipVerify: true}); err == nil {
					c.CommandTimeout = time.Minute
					code = codeOf(c.Auth(sasl.NewPlainClient("", fmt.Sprintf("u%04d@uni.example", i), "a wrong guess")))
					c.Close()
				} else {
					code = codeOf(err)
				}
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	close(gate)
	wg.Wait()
	w.end(t, "AUTH")
	hwmAuth := s.status("VmHWM")
	t.Logf("1,000 concurrent AUTH attempts: %s; %s, %s CPU; peak RSS %d MiB", count(codes),
		time.Since(t0).Round(time.Millisecond), (s.cpu() - cpu0).Round(time.Millisecond), hwmAuth>>20)
	if codes["ok"] > 0 {
		t.Errorf("a wrong password was accepted")
	}
	if codes["535 5.7.8"] == 0 {
		t.Errorf("no password was checked at all: %s", count(codes))
	}
	for c := range codes {
		if c != "535 5.7.8" && c != "454 4.7.0" {
			t.Errorf("unexpected answer %q ×%d", c, codes[c])
		}
	}

	// Phase 2: 100 concurrent 24 MB messages from 50 addresses (127.0.2.x).
	body := attachment(24_000_000)
	w = s.watch()
	cpu0, t0 = s.cpu(), time.Now()
	codes = map[string]int{}
	gate = make(chan struct{})
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			err := sendMail(s.mx, fmt.Sprintf("127.0.2.%d", 1+i%50), fmt.Sprintf("big-%03d-%d", i, time.Now().UnixNano()), body)
			mu.Lock()
			codes[codeOf(err)]++
			mu.Unlock()
		}()
	}
	close(gate)
	wg.Wait()
	w.end(t, "DATA")
	hwm := s.status("VmHWM")
	t.Logf("100 concurrent %d-byte messages: %s; %s, %s CPU; peak RSS %d MiB (overall)", len(body), count(codes),
		time.Since(t0).Round(time.Millisecond), (s.cpu() - cpu0).Round(time.Millisecond), hwm>>20)
	if codes["ok"] != 100 {
		t.Errorf("big messages: %s, want all 100 accepted", count(codes))
	}
	if hwmAuth >= rssLimit || hwm >= rssLimit {
		t.Errorf("peak RSS %d MiB (AUTH phase %d MiB), limit %d MiB", hwm>>20, hwmAuth>>20, rssLimit>>20)
	}
	// The log for the record: what the engine said about the phases.
	sc := bufio.NewScanner(bytes.NewReader(s.log.Bytes()))
	n := 0
	for sc.Scan() {
		if strings.Contains(sc.Text(), "level=ERROR") && n < 5 {
			t.Logf("postvakt: %s", sc.Text())
			n++
		}
	}
	_ = context.Background
}
