package probe

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestIMAPAndPOP3Probes runs the imap and pop3 probes (docs/probes.md,
// "Probe kinds") against a real Dovecot, then stops it (the probes fail
// after their retries and raise incidents, "Incidents") and starts it
// again (they recover).
func TestIMAPAndPOP3Probes(t *testing.T) {
	if testing.Short() {
		t.Skip("starts dovecot")
	}
	t.Parallel()
	d := startDovecot(t)
	ca := d.pki.caFile

	t.Run("kinds", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			target  Target
			pw      string
			steps   []string
			wantErr string
		}{
			{name: "imap-starttls", target: Target{Kind: KindIMAP, Address: d.imap, TLS: TLSStartTLS},
				steps: []string{"connect", "greeting", "starttls", "tls", "login", "logout"}},
			{name: "imap-implicit", target: Target{Kind: KindIMAP, Address: d.imaps, TLS: TLSImplicit},
				steps: []string{"connect", "tls", "greeting", "login", "logout"}},
			{name: "pop3-stls", target: Target{Kind: KindPOP3, Address: d.pop3, TLS: TLSStartTLS},
				steps: []string{"connect", "greeting", "stls", "tls", "login", "quit"}},
			{name: "imap-wrong-password", target: Target{Kind: KindIMAP, Address: d.imap, TLS: TLSStartTLS},
				pw: "wrong-secret", wantErr: "imap: LOGIN rejected: NO [AUTHENTICATIONFAILED]"},
			{name: "pop3-wrong-password", target: Target{Kind: KindPOP3, Address: d.pop3, TLS: TLSStartTLS},
				pw: "wrong-secret", wantErr: "pop3: PASS rejected: -ERR [AUTH]"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				tg := tc.target
				tg.Name, tg.Service, tg.TLSCAFile, tg.User, tg.PasswordEnv = "p", "mail", ca, probeUser, "PW"
				tg.Retries = intp(0)
				cfg := DefaultConfig()
				cfg.Targets = []Target{tg}
				pw := probePass
				if tc.pw != "" {
					pw = tc.pw
				}
				r := &Runner{Config: cfg, Getenv: env("PW", pw)}
				res, err := r.Probe(context.Background(), "p")
				if err != nil {
					t.Fatal(err)
				}
				if tc.wantErr != "" {
					if res.OK || !strings.Contains(res.Error, tc.wantErr) {
						t.Fatalf("ok=%v error %q, want %q", res.OK, res.Error, tc.wantErr)
					}
					if strings.Contains(res.Error, pw) {
						t.Fatalf("the error shows the password: %s", res.Error)
					}
					return
				}
				if !res.OK {
					t.Fatalf("failed: %s (steps %+v)", res.Error, res.Steps)
				}
				if got := stepNames(res); !slices.Equal(got, tc.steps) {
					t.Errorf("steps %v, want %v", got, tc.steps)
				}
				if !res.CertExpiry.Equal(d.pki.notAfter) {
					t.Errorf("cert expiry %v, want %v", res.CertExpiry, d.pki.notAfter)
				}
			})
		}
	})

	t.Run("down-and-recovers", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Retries, cfg.RetryInterval, cfg.Timeout = 2, 3*time.Second, 5*time.Second
		cfg.Targets = []Target{
			{Name: "imap1", Service: "imap", Node: "imap1", Kind: KindIMAP, Address: d.imap, TLS: TLSStartTLS,
				TLSCAFile: ca, User: probeUser, PasswordEnv: "PW"},
			{Name: "pop1", Service: "pop", Node: "imap1", Kind: KindPOP3, Address: d.pop3, TLS: TLSStartTLS,
				TLSCAFile: ca, User: probeUser, PasswordEnv: "PW"},
		}
		clock := &fakeClock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
		store, inc, reg := newMemStore(), &incidentLog{}, prometheus.NewRegistry()
		r := &Runner{Config: cfg, Store: store, Incidents: inc, Registerer: reg, Now: clock.Now, Sleep: clock.Sleep,
			Getenv: env("PW", probePass)}
		ctx := context.Background()
		checkAll := func(wantOK bool, wantAttempts int) {
			t.Helper()
			for _, name := range []string{"imap1", "pop1"} {
				res, err := r.Check(ctx, name)
				if err != nil {
					t.Fatal(err)
				}
				if res.OK != wantOK || res.Attempts != wantAttempts {
					t.Fatalf("%s: ok=%v attempts=%d error=%q, want ok=%v attempts=%d", name, res.OK, res.Attempts, res.Error, wantOK, wantAttempts)
				}
			}
		}
		checkAll(true, 1)
		d.stop()
		checkAll(false, 3)
		raised, _ := inc.snapshot()
		var keys []string
		for _, a := range raised {
			keys = append(keys, a.Key)
		}
		if !slices.Equal(keys, []string{"probe/imap1", "probe/pop1"}) {
			t.Fatalf("raised %v", keys)
		}
		if got := testutil.ToFloat64(r.m.success.WithLabelValues("pop", "imap1", "pop3")); got != 0 {
			t.Errorf("pop3 success metric %v while down", got)
		}
		d.start()
		checkAll(true, 1)
		if _, rec := inc.snapshot(); !slices.Contains(rec, "probe/imap1") || !slices.Contains(rec, "probe/pop1") {
			t.Fatalf("recovered %v", rec)
		}
		if got := testutil.ToFloat64(r.m.success.WithLabelValues("imap", "imap1", "imap")); got != 1 {
			t.Errorf("imap success metric %v after recovery", got)
		}
	})
}

// lda is an SMTP backend delivery that hands messages to dovecot-lda after
// delay, in the background (as a queue would), or drops them.
type lda struct {
	d     *dovecot
	delay atomic.Int64 // time.Duration
	drop  atomic.Bool
	wg    sync.WaitGroup
	mu    sync.Mutex
	errs  []error
}

func (l *lda) deliver(_, _ string, data []byte) error {
	if l.drop.Load() {
		return nil
	}
	delay := time.Duration(l.delay.Load())
	l.wg.Go(func() {
		time.Sleep(delay)
		if err := l.d.deliver(data); err != nil {
			l.mu.Lock()
			l.errs = append(l.errs, err)
			l.mu.Unlock()
		}
	})
	return nil
}

// TestMailLoop checks the loop probe (docs/probes.md, "Probe kinds"): a
// probe message submitted over SMTP (STARTTLS, AUTH) is delivered by
// dovecot-lda and fetched back over IMAP and over POP3; missing and late
// messages fail.
func TestMailLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("starts dovecot")
	}
	t.Parallel()
	requireTool(t, ldaBin, "dovecot-lda")
	d := startDovecot(t)
	delivery := &lda{d: d}
	delivery.delay.Store(int64(50 * time.Millisecond))
	srv := startSMTP(t, d.pki.serverConfig(), func(from, to string, data []byte) error { return delivery.deliver(from, to, data) })
	t.Cleanup(delivery.wg.Wait)

	loop := func(fetch Fetch) Target {
		return Target{Name: "loop-" + string(fetch.Kind), Service: "mail-" + string(fetch.Kind), Kind: KindLoop, Address: srv.addr,
			TLS: TLSStartTLS, TLSCAFile: d.pki.caFile, User: probeUser, PasswordEnv: "PW",
			Recipient: probeUser, Fetch: fetch}
	}
	cfg := DefaultConfig()
	cfg.Loop = LoopConfig{Deadline: 10 * time.Second, Poll: 100 * time.Millisecond, LateAfter: 5 * time.Second}
	cfg.Timeout = 5 * time.Second
	cfg.Targets = []Target{
		loop(Fetch{Kind: FetchIMAP, Address: d.imap}),
		loop(Fetch{Kind: FetchPOP3, Address: d.pop3}),
	}
	reg := prometheus.NewRegistry()
	r := &Runner{Config: cfg, Store: newMemStore(), Registerer: reg, Getenv: env("PW", probePass)}

	for i, name := range []string{"loop-imap", "loop-pop3"} {
		t.Run(name, func(t *testing.T) {
			// A stale probe message from an earlier, lost loop is cleaned up.
			stale := loopMessage(cfg.Targets[i].withDefaults(cfg), newToken(time.Now().Add(-time.Hour)), time.Now().Add(-time.Hour))
			if err := d.deliver(stale); err != nil {
				t.Fatal(err)
			}
			res, err := r.Check(context.Background(), name)
			if err != nil {
				t.Fatal(err)
			}
			if !res.OK {
				t.Fatalf("loop failed: %s (steps %+v)", res.Error, res.Steps)
			}
			if res.LoopDelivery <= 0 || res.LoopDelivery > 5*time.Second {
				t.Errorf("delivery %v", res.LoopDelivery)
			}
			want := []string{"connect", "banner", "ehlo", "starttls", "tls", "ehlo", "auth", "submit", "quit", "fetch"}
			if got := stepNames(res); !slices.Equal(got, want) {
				t.Errorf("steps %v, want %v", got, want)
			}
			if got := testutil.ToFloat64(r.m.loop.WithLabelValues("mail-"+strings.TrimPrefix(name, "loop-"), "lb", "loop")); got <= 0 {
				t.Errorf("delivery metric %v", got)
			}
			if n := d.messages(); n != 0 {
				t.Errorf("%d messages left in the probe mailbox", n)
			}
			t.Logf("delivered in %v", res.LoopDelivery)
		})
	}

	t.Run("missing", func(t *testing.T) {
		delivery.drop.Store(true)
		defer delivery.drop.Store(false)
		c := cfg
		c.Loop = LoopConfig{Deadline: time.Second, Poll: 200 * time.Millisecond, LateAfter: time.Second}
		c.Targets = []Target{loop(Fetch{Kind: FetchIMAP, Address: d.imap})}
		r := &Runner{Config: c, Getenv: env("PW", probePass)}
		res, err := r.Probe(context.Background(), "loop-imap")
		if err != nil {
			t.Fatal(err)
		}
		if res.OK || res.Attempts != 1 || !strings.Contains(res.Error, "message not seen within 1s") {
			t.Fatalf("ok=%v attempts=%d error=%q", res.OK, res.Attempts, res.Error)
		}
	})

	t.Run("late", func(t *testing.T) {
		delivery.delay.Store(int64(700 * time.Millisecond))
		defer delivery.delay.Store(int64(50 * time.Millisecond))
		c := cfg
		c.Loop = LoopConfig{Deadline: 5 * time.Second, Poll: 100 * time.Millisecond, LateAfter: 300 * time.Millisecond}
		c.Targets = []Target{loop(Fetch{Kind: FetchPOP3, Address: d.pop3})}
		r := &Runner{Config: c, Getenv: env("PW", probePass)}
		res, err := r.Probe(context.Background(), "loop-pop3")
		if err != nil {
			t.Fatal(err)
		}
		if res.OK || res.Attempts != 1 || !strings.Contains(res.Error, "delivered late") || res.LoopDelivery < 700*time.Millisecond {
			t.Fatalf("ok=%v attempts=%d delivery=%v error=%q", res.OK, res.Attempts, res.LoopDelivery, res.Error)
		}
	})
}

// fakeMailbox is a loopMailbox holding messages in memory.
type fakeMailbox struct {
	msgs      []probeMessage
	listErr   error
	removeErr error
	removed   []string
}

func (m *fakeMailbox) probeMessages() ([]probeMessage, error) { return m.msgs, m.listErr }

func (m *fakeMailbox) remove(ids []string) error {
	if m.removeErr != nil {
		return m.removeErr
	}
	m.removed = append(m.removed, ids...)
	return nil
}

func (m *fakeMailbox) end() error { return nil }
func (m *fakeMailbox) abort()     {}

// TestTake: take removes the loop's own message and stale probe messages,
// and leaves fresh messages of other loops and messages without a token.
func TestTake(t *testing.T) {
	now := time.Unix(1700000000, 0)
	mine := newToken(now)
	msgs := []probeMessage{
		{id: "1", token: newToken(now.Add(-time.Hour))},        // stale
		{id: "2", token: newToken(now.Add(-time.Minute))},      // another loop, fresh
		{id: "3", token: ""},                                   // not a probe message
		{id: "4", token: mine},                                 // this loop's
		{id: "5", token: "not-a-token"},                        // unparseable, kept
		{id: "6", token: newToken(now.Add(-21 * time.Minute))}, // just stale
	}
	mb := &fakeMailbox{msgs: msgs}
	found, err := take(mb, mine, 20*time.Minute, now)
	if err != nil || !found {
		t.Fatalf("take = %v, %v; want found", found, err)
	}
	if want := []string{"1", "4", "6"}; !slices.Equal(mb.removed, want) {
		t.Errorf("removed %v, want %v", mb.removed, want)
	}

	// Not there yet: stale messages go, nothing is found.
	mb = &fakeMailbox{msgs: msgs}
	if found, err := take(mb, newToken(now), 20*time.Minute, now); err != nil || found {
		t.Fatalf("take of a missing token = %v, %v", found, err)
	}
	if want := []string{"1", "6"}; !slices.Equal(mb.removed, want) {
		t.Errorf("removed %v, want %v", mb.removed, want)
	}

	// Nothing to remove: no remove call.
	mb = &fakeMailbox{msgs: msgs[1:3], removeErr: errors.New("must not be called")}
	if found, err := take(mb, mine, 20*time.Minute, now); err != nil || found {
		t.Fatalf("take with nothing to remove = %v, %v", found, err)
	}

	// Errors of listing and removal are returned.
	if _, err := take(&fakeMailbox{listErr: errors.New("list")}, mine, time.Minute, now); err == nil || err.Error() != "list" {
		t.Errorf("list error: %v", err)
	}
	if _, err := take(&fakeMailbox{msgs: msgs, removeErr: errors.New("remove")}, mine, time.Minute, now); err == nil || err.Error() != "remove" {
		t.Errorf("remove error: %v", err)
	}
}
