package engine_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
)

// The engine under hostile load and lying clients (docs/resources.md):
// each test fails on an engine without the limit it
// checks.

// rawConn is an SMTP client that speaks line by line, so that a test can
// break the protocol's rules.
type rawConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawConn{t: t, c: c, r: bufio.NewReader(c)}
}

func (rc *rawConn) send(lines ...string) {
	rc.t.Helper()
	if _, err := rc.c.Write([]byte(strings.Join(lines, "\r\n") + "\r\n")); err != nil {
		rc.t.Fatal(err)
	}
}

// reply reads one reply (all its lines) and returns its last line; "" at
// the end of the connection.
func (rc *rawConn) reply() string {
	rc.t.Helper()
	_ = rc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		l, err := rc.r.ReadString('\n')
		if err != nil {
			return ""
		}
		l = strings.TrimRight(l, "\r\n")
		if len(l) < 4 || l[3] != '-' {
			return l
		}
	}
}

func plainResp(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
}

// RFC 5321 §4.5.1: every server accepts the bare "postmaster" recipient
// (RFC 5321 §4.1.1.3 forward-path "<Postmaster>", any case); it reaches
// smtp.postmaster.
func TestEngineBarePostmaster(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t, storage.SQLite)
	h := startEngine(t, db, func(c *engine.Config) {
		c.Whitelist.Clients = []string{"127.0.0.0/8"}
		c.Postmaster = "hostmaster@uni.example"
	}, nil)
	hm := h.mailbox("hostmaster@uni.example", nil)
	for _, rcpt := range []string{"postmaster", "Postmaster", "POSTMASTER"} {
		rc := dialRaw(t, h.mx)
		rc.reply()
		rc.send("EHLO client.example.org")
		rc.reply()
		rc.send("MAIL FROM:<s@else.example>")
		if l := rc.reply(); !strings.HasPrefix(l, "250") {
			t.Fatalf("MAIL: %q", l)
		}
		rc.send("RCPT TO:<" + rcpt + ">")
		if l := rc.reply(); !strings.HasPrefix(l, "250") {
			t.Fatalf("RCPT TO:<%s> got %q, want 250", rcpt, l)
		}
		rc.send("DATA")
		rc.reply()
		rc.send("Subject: to "+rcpt, "", "hello", ".")
		if l := rc.reply(); !strings.HasPrefix(l, "250") {
			t.Fatalf("DATA: %q", l)
		}
	}
	msgs, err := h.st.MailMessages(context.Background(), hm.ID)
	if err != nil || len(msgs) != 3 {
		t.Fatalf("postmaster's mailbox has %d messages (%v), want 3", len(msgs), err)
	}
}

// RFC 5321 §3.8: a 421 reply closes the session. After the AUTH failures
// of smtp.limits.max_auth_failures the engine answers 421 and closes the
// connection: nothing pipelined after it is answered or acted on.
func TestEngine421ClosesSession(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t, storage.SQLite)
	h := startEngine(t, db, func(c *engine.Config) { c.InsecureAuthLoopback = true }, nil)
	h.mailbox("anna@uni.example", func(n *directory.NewMailbox) { n.Password = "correct horse" })
	rc := dialRaw(t, h.sub)
	rc.reply()
	rc.send("EHLO client.example.org")
	rc.reply()
	for range 3 {
		rc.send("AUTH PLAIN " + plainResp("anna@uni.example", "wrong"))
		if l := rc.reply(); !strings.HasPrefix(l, "535 5.7.8") {
			t.Fatalf("wrong password: %q", l)
		}
	}
	// The fourth attempt, with the right password, and commands pipelined
	// behind it.
	rc.send("AUTH PLAIN "+plainResp("anna@uni.example", "correct horse"), "NOOP", "MAIL FROM:<anna@uni.example>", "RCPT TO:<x@else.example>")
	if l := rc.reply(); !strings.HasPrefix(l, "421 4.7.0") {
		t.Fatalf("after 3 failures got %q, want 421 4.7.0", l)
	}
	if l := rc.reply(); l != "" {
		t.Fatalf("after 421 the session answered %q; want the connection closed", l)
	}
	if got := h.metric(`postvakt_smtp_commands_total{listener="submission",command="mail"}`); got != "0" {
		t.Fatalf("MAIL after 421 was acted on: commands{mail} = %s", got)
	}
	// The connection's slot is released.
	for deadline := time.Now().Add(5 * time.Second); h.metric(`postvakt_smtp_connections_active{listener="submission"}`) != "0"; {
		if time.Now().After(deadline) {
			t.Fatalf("connection still counted active: %s", h.metric(`postvakt_smtp_connections_active{listener="submission"}`))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// RFC 5321 §3.1, §4.3.1: the client waits for the greeting. One that
// sends a command first is refused with 521 5.5.1 and disconnected, as
// Postfix's postscreen does (PREGREET); one that waits is greeted.
func TestEnginePregreet(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t, storage.SQLite)
	h := startEngine(t, db, func(c *engine.Config) { c.Limits.PregreetWait = 300 * time.Millisecond }, nil)

	early := dialRaw(t, h.mx)
	early.send("EHLO early.example")
	if l := early.reply(); !strings.HasPrefix(l, "521 5.5.1") {
		t.Fatalf("client that talked first got %q, want 521 5.5.1", l)
	}
	if l := early.reply(); l != "" {
		t.Fatalf("after 521: %q; want the connection closed", l)
	}
	// Pipelining (RFC 2920) after the greeting is still fine.
	polite := dialRaw(t, h.mx)
	if l := polite.reply(); !strings.HasPrefix(l, "220 ") {
		t.Fatalf("greeting %q", l)
	}
	polite.send("EHLO polite.example", "NOOP")
	if l := polite.reply(); !strings.HasPrefix(l, "250") {
		t.Fatalf("EHLO: %q", l)
	}
	if l := polite.reply(); !strings.HasPrefix(l, "250") {
		t.Fatalf("NOOP: %q", l)
	}
	if got := h.metric(`postvakt_smtp_rejects_total{listener="mx",reason="pregreet"}`); got != "1" {
		t.Fatalf("rejects{pregreet} = %q", got)
	}
}

// A client that waited for its greeting is remembered for
// smtp.limits.pregreet_ttl (postscreen_greet_ttl): its later connections
// are greeted without the pre-greet pause, until the TTL runs out; with a
// TTL of 0 every connection waits.
func TestEnginePregreetPass(t *testing.T) {
	t.Parallel()
	const wait = 700 * time.Millisecond
	greet := func(t *testing.T, addr string) time.Duration {
		t.Helper()
		start := time.Now()
		c := dialRaw(t, addr)
		if l := c.reply(); !strings.HasPrefix(l, "220 ") {
			t.Fatalf("greeting %q", l)
		}
		d := time.Since(start)
		c.c.Close()
		return d
	}
	t.Run("ttl", func(t *testing.T) {
		db := storagetest.Open(t, storage.SQLite)
		h := startEngine(t, db, func(c *engine.Config) {
			c.Limits.PregreetWait, c.Limits.PregreetTTL = wait, time.Hour
		}, nil)
		if d := greet(t, h.mx); d < wait {
			t.Fatalf("first connection greeted after %v, want the %v pre-greet wait", d, wait)
		}
		for i := range 3 {
			if d := greet(t, h.mx); d >= wait {
				t.Fatalf("connection %d after a pass greeted after %v, want at once", i+2, d)
			}
		}
		h.clock.Advance(time.Hour)
		if d := greet(t, h.mx); d < wait {
			t.Fatalf("after the TTL greeted after %v, want the %v wait again", d, wait)
		}
		if d := greet(t, h.mx); d >= wait {
			t.Fatalf("after passing again greeted after %v, want at once", d)
		}
	})
	t.Run("zero", func(t *testing.T) {
		db := storagetest.Open(t, storage.SQLite)
		h := startEngine(t, db, func(c *engine.Config) {
			c.Limits.PregreetWait, c.Limits.PregreetTTL = wait, 0
		}, nil)
		for i := range 2 {
			if d := greet(t, h.mx); d < wait {
				t.Fatalf("connection %d greeted after %v; with pregreet_ttl 0 every connection waits %v", i+1, d, wait)
			}
		}
	})
}

// authTry is one AUTH PLAIN attempt on a fresh connection; it returns the
// reply's code and enhanced code ("535 5.7.8").
func authTry(addr, local, user, pass string) (string, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(conn)
	read := func() (string, error) {
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return "", err
			}
			if len(l) < 4 || l[3] != '-' {
				return strings.TrimRight(l, "\r\n"), nil
			}
		}
	}
	if _, err := read(); err != nil {
		return "", err
	}
	fmt.Fprintf(conn, "EHLO guesser.example\r\n")
	if _, err := read(); err != nil {
		return "", err
	}
	fmt.Fprintf(conn, "AUTH PLAIN %s\r\n", plainResp(user, pass))
	l, err := read()
	if err != nil {
		return "", err
	}
	f := strings.Fields(l)
	if len(f) < 2 {
		return l, nil
	}
	return f[0] + " " + f[1], nil
}

// Password guessing over SMTP AUTH is throttled across sessions and across
// engine nodes (smtp.limits.auth_client_failures per auth_client_window,
// counted in the shared database, like Postfix's
// smtpd_client_auth_rate_limit): two engines on one database, guessed at
// from one address as fast as eight clients can, check no more passwords
// than the rate allows, and refuse the rest with 454 4.7.0 — the right
// password included.
func TestEngineAuthRateAcrossReplicas(t *testing.T) {
	t.Parallel()
	// A window much longer than the run: once the guesses have used up the
	// rate it stays used up, so that the right password below meets a
	// full window however slowly a loaded machine runs the guessers.
	const limit, window = 10, 30 * time.Second
	for _, d := range storagetest.Dialects() {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			u := storagetest.URL(t, d)
			mutate := func(c *engine.Config) {
				c.InsecureAuthLoopback = true
				c.Limits.AuthClientFailures, c.Limits.AuthClientWindow = limit, window
				c.Limits.AuthAccountFailures = 0
				c.Limits.MaxConnsPerIP = 100
			}
			a := startEngineClock(t, storagetest.OpenURL(t, u), mutate, nil, time.Now)
			b := startEngineClock(t, storagetest.OpenURL(t, u), mutate, nil, time.Now)
			a.mailbox("anna@uni.example", func(n *directory.NewMailbox) { n.Password = "correct horse" })
			replicas := []string{a.sub, b.sub}

			var tried, refused [2]atomic.Int64
			var other atomic.Value
			stop := make(chan struct{})
			var wg sync.WaitGroup
			start := time.Now()
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						code, err := authTry(replicas[g%2], "", "anna@uni.example", fmt.Sprintf("guess-%d-%d", g, i))
						switch {
						case err != nil:
							other.Store(err.Error())
						case code == "535 5.7.8":
							tried[g%2].Add(1)
						case code == "454 4.7.0":
							refused[g%2].Add(1)
						default:
							other.Store(code)
						}
					}
				}()
			}
			time.Sleep(5 * time.Second)
			// While the rate is used up, the right password is not checked.
			right, err := authTry(b.sub, "", "anna@uni.example", "correct horse")
			close(stop)
			wg.Wait()
			elapsed := time.Since(start)
			if v := other.Load(); v != nil {
				t.Fatalf("unexpected answer: %v", v)
			}
			if err != nil || right != "454 4.7.0" {
				t.Fatalf("right password while over the rate: %q, %v; want 454 4.7.0", right, err)
			}
			total := tried[0].Load() + tried[1].Load()
			// A sliding window lets limit through at once and then limit
			// per window as the older attempts age out: over a run shorter
			// than the window, limit and the share of it that aged out (one
			// more for rounding). Each engine counting alone would allow
			// twice the limit.
			most := int64(limit) + int64(float64(limit)*elapsed.Seconds()/window.Seconds()) + 1
			t.Logf("%s: %d passwords tried (%d + %d), %d + %d refused, in %s (at most %d: limit %d per %s)",
				d, total, tried[0].Load(), tried[1].Load(), refused[0].Load(), refused[1].Load(), elapsed.Round(time.Millisecond), most, limit, window)
			if total > most {
				t.Fatalf("%d passwords tried in %s: more than %d per %s across the two engines", total, elapsed, limit, window)
			}
			if total < limit || refused[0].Load() == 0 || refused[1].Load() == 0 {
				t.Fatalf("the rate was not reached on both engines: tried %d, refused %d and %d", total, refused[0].Load(), refused[1].Load())
			}
		})
	}
}

// The per-account limit (smtp.limits.auth_account_failures) holds guessing
// at one account from many client networks; a network that has signed in
// to the account before is known to it and not held back.
func TestEngineAuthAccountLimit(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t, storage.SQLite)
	const limit = 5
	h := startEngineClock(t, db, func(c *engine.Config) {
		c.InsecureAuthLoopback = true
		c.Limits.AuthClientFailures = 0
		c.Limits.AuthAccountFailures, c.Limits.AuthAccountWindow = limit, time.Hour
	}, nil, time.Now)
	h.mailbox("anna@uni.example", func(n *directory.NewMailbox) { n.Password = "correct horse" })
	// Anna signs in from her usual address.
	if code, err := authTry(h.sub, "127.0.0.1", "anna@uni.example", "correct horse"); err != nil || code != "235 2.0.0" {
		t.Fatalf("anna: %q, %v", code, err)
	}
	tried := 0
	for i := range 3 * limit {
		code, err := authTry(h.sub, fmt.Sprintf("127.0.0.%d", 10+i), "Anna@uni.example", fmt.Sprintf("guess-%d", i))
		switch {
		case err != nil:
			t.Fatal(err)
		case code == "535 5.7.8":
			tried++
		case code != "454 4.7.0":
			t.Fatalf("guess %d: %q", i, code)
		}
	}
	if tried != limit {
		t.Fatalf("%d guesses at the account from %d networks were tried, want %d", tried, 3*limit, limit)
	}
	if code, err := authTry(h.sub, "127.0.0.1", "anna@uni.example", "correct horse"); err != nil || code != "235 2.0.0" {
		t.Fatalf("anna from her known network while the account is under attack: %q, %v", code, err)
	}
	if code, _ := authTry(h.sub, "127.0.0.200", "anna@uni.example", "correct horse"); code != "454 4.7.0" {
		t.Fatalf("a new network while the account is over its rate: %q, want 454 4.7.0", code)
	}
}

// Password hashes in progress are bounded by smtp.limits.password_hash_memory
// over the hash's own memory parameter; a check that cannot start within
// password_hash_wait is answered 454 4.7.0 (RFC 4954 §6) instead of
// queueing without end.
func TestEngineAuthHashGate(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t, storage.SQLite)
	params := directory.HashParams{MemoryKiB: 8 * 1024, Time: 4, Threads: 1}
	h := startEngine(t, db, func(c *engine.Config) {
		c.InsecureAuthLoopback = true
		c.Limits.AuthClientFailures, c.Limits.AuthAccountFailures = 0, 0
		c.Limits.MaxConnsPerIP = 100
		c.Directory.PasswordHash = params
		c.Limits.PasswordHashMemory = int64(params.MemoryKiB) * 1024 // one hash at a time
		c.Limits.PasswordHashWait = 50 * time.Millisecond
	}, nil)
	h.mailbox("anna@uni.example", func(n *directory.NewMailbox) { n.Password = "correct horse" })
	var ok, busy atomic.Int64
	var other atomic.Value
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, err := authTry(h.sub, "", "anna@uni.example", "correct horse")
			switch {
			case err != nil:
				other.Store(err.Error())
			case code == "235 2.0.0":
				ok.Add(1)
			case code == "454 4.7.0":
				busy.Add(1)
			default:
				other.Store(code)
			}
		}()
	}
	wg.Wait()
	if v := other.Load(); v != nil {
		t.Fatalf("unexpected answer %v", v)
	}
	st := h.eng.Resources().Hasher.Stats()
	t.Logf("20 parallel sign-ins: %d in, %d told to retry; %d hashes, at most %d at once, %d bytes", ok.Load(), busy.Load(), st.Hashes, st.PeakInProgress, st.PeakMemory)
	if st.PeakInProgress != 1 || st.PeakMemory > int64(params.MemoryKiB)*1024 {
		t.Fatalf("hashes at once: %d (%d bytes), want 1", st.PeakInProgress, st.PeakMemory)
	}
	if ok.Load() == 0 || busy.Load() == 0 {
		t.Fatalf("%d in, %d busy: want both", ok.Load(), busy.Load())
	}
	if got := h.metric(`postvakt_smtp_auth_attempts_total{listener="submission",result="busy"}`); got != fmt.Sprint(busy.Load()) {
		t.Fatalf("auth_attempts{busy} = %s, want %d", got, busy.Load())
	}
}

// DATA is spooled (smtp.limits.spool_threshold) and the message is held in
// memory once, under smtp.limits.message_memory: a message far larger than
// both is stored intact, the budget is whole again afterwards, and while
// the budget is taken a message waits message_memory_wait and is answered
// 452 4.3.1.
func TestEngineMessageMemoryBudget(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t, storage.SQLite)
	h := startEngine(t, db, func(c *engine.Config) {
		c.Whitelist.Clients = []string{"127.0.0.0/8"}
		c.Limits.SpoolThreshold = 16 << 10
		c.Limits.MessageMemory = 1 << 20
		c.Limits.MessageMemoryWait = 300 * time.Millisecond
	}, nil)
	anna := h.mailbox("anna@uni.example", nil)
	line := strings.Repeat("0123456789abcdef", 4) + "\r\n"
	big := msg("big") + strings.Repeat(line, (3<<20)/len(line))
	if err := send(h.dial(h.mx), "s@else.example", []string{"anna@uni.example"}, big); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	msgs, _ := h.st.MailMessages(ctx, anna.ID)
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	body, err := h.st.MailBody(ctx, msgs[0].BodyHash)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(body, []byte("From: Sender"))
	if i < 0 || sha256.Sum256(body[i:]) != sha256.Sum256([]byte(big)) {
		t.Fatalf("stored message differs from the one sent (%d bytes stored)", len(body))
	}
	mem := h.eng.Resources().Memory
	if st := mem.Stats(); st.Used != 0 || st.Peak > st.Capacity {
		t.Fatalf("budget after the message: %+v", st)
	}
	// Take the whole budget (its share for small reservations and the
	// rest): the next message waits, then gets 452 4.3.1.
	releaseSmall, err := mem.Acquire(ctx, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	releaseLarge, err := mem.Acquire(ctx, 1<<40) // clamped to the rest
	if err != nil {
		t.Fatal(err)
	}
	if st := mem.Stats(); st.Used != st.Capacity {
		t.Fatalf("budget not all taken: %+v", st)
	}
	c := h.dial(h.mx)
	wantCode(t, send(c, "s@else.example", []string{"anna@uni.example"}, msg("small")), 452, "4.3.1")
	releaseSmall()
	releaseLarge()
	wantCode(t, send(c, "s@else.example", []string{"anna@uni.example"}, msg("small")), 250, "")
	if got := h.metric(`postvakt_smtp_rejects_total{listener="mx",reason="insufficient_resources"}`); got != "1" {
		t.Fatalf("rejects{insufficient_resources} = %q", got)
	}
}

var _ = errors.New
var _ = smtp.ErrDataTooLarge
