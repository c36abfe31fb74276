package engine_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/uni-mail/postvakt/engine/queue"
	"github.com/uni-mail/postvakt/engine/store"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
)

// nextHop is a real go-smtp server on 127.0.0.1:0 standing in for the next
// hop: it answers 451 4.3.0 to DATA while tempfail is set, and records
// what it accepted.
type nextHop struct {
	addr     string
	tempfail atomic.Bool
	rcptFail map[string]*smtp.SMTPError
	// dataFail, over LMTP, is the reply after DATA for a recipient
	// (RFC 2033 §4.2: one reply per accepted recipient).
	dataFail map[string]*smtp.SMTPError
	conns    atomic.Int32
	mu       sync.Mutex
	got      []hopMsg
}

type hopMsg struct {
	from, to string
	body     []byte
	tls      bool // it came over TLS
}

func startNextHop(t *testing.T) *nextHop { return startHop(t, false) }

func startHop(t *testing.T, lmtp bool) *nextHop { return startHopTLS(t, lmtp, nil) }

// startHopTLS starts a next hop that offers STARTTLS with cfg (nil: no
// TLS).
func startHopTLS(t *testing.T, lmtp bool, cfg *tls.Config) *nextHop {
	t.Helper()
	h := &nextHop{rcptFail: map[string]*smtp.SMTPError{}, dataFail: map[string]*smtp.SMTPError{}}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		h.conns.Add(1)
		return &hopSession{h: h, conn: c}, nil
	}))
	s.Domain = "nexthop.test"
	s.AllowInsecureAuth = true
	s.LMTP = lmtp
	s.TLSConfig = cfg
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = ln.Addr().String()
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return h
}

type hopSession struct {
	h    *nextHop
	conn *smtp.Conn
	from string
	tos  []string
}

func (s *hopSession) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *hopSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if e := s.h.rcptFail[to]; e != nil {
		return e
	}
	s.tos = append(s.tos, to)
	return nil
}

// Data records one message per recipient.
func (s *hopSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.h.tempfail.Load() {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.h.mu.Lock()
	_, isTLS := s.conn.TLSConnectionState()
	for _, to := range s.tos {
		s.h.got = append(s.h.got, hopMsg{from: s.from, to: to, body: b, tls: isTLS})
	}
	s.h.mu.Unlock()
	return nil
}

// LMTPData answers per recipient: dataFail's reply, or 250 (recorded).
func (s *hopSession) LMTPData(r io.Reader, st smtp.StatusCollector) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	for _, to := range s.tos {
		if e := s.h.dataFail[to]; e != nil {
			st.SetStatus(to, e)
			continue
		}
		s.h.got = append(s.h.got, hopMsg{from: s.from, to: to, body: b})
		st.SetStatus(to, nil)
	}
	return nil
}

func (s *hopSession) Reset()        { s.from, s.tos = "", nil }
func (s *hopSession) Logout() error { return nil }

func (h *nextHop) messages() []hopMsg {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hopMsg(nil), h.got...)
}

// clock is an injected clock tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// commitRemote commits a message the way the engine does, with one relay
// queue entry per remote recipient.
func commitRemote(t *testing.T, st *enginestore.Store, qid, from, authUser string, at time.Time, rcpts ...string) {
	t.Helper()
	body := []byte(fmt.Sprintf("Received: from test\r\nFrom: <%s>\r\nTo: <%s>\r\nSubject: test %s\r\nMessage-ID: <%s@uni.example>\r\n\r\nHello\r\n", from, rcpts[0], qid, qid))
	m := &store.Message{QueueID: qid, ReceivedAt: at, Node: "n1", Listener: "submission", ClientIP: "127.0.0.1", HELO: "client",
		AuthUser: authUser, MailFrom: from, Rcpts: rcpts, MessageID: "<" + qid + "@uni.example>", Subject: "test", Body: body, BodyHash: store.Hash(body)}
	for _, r := range rcpts {
		m.Deliveries = append(m.Deliveries, store.Delivery{Rcpt: r, Remote: r})
	}
	if err := st.MailCommit(context.Background(), []*store.Message{m}); err != nil {
		t.Fatal(err)
	}
}

func relayConfig(hop string) queue.Config {
	c := queue.Default()
	c.Enabled, c.Hostname = true, "mx.uni.example"
	c.Transports = map[string]string{"*": "smtp:" + hop}
	c.MinBackoff, c.MaxBackoff, c.MaxLifetime = 30*time.Minute, 4*time.Hour, 5*24*time.Hour
	return c
}

// TestEngineQueueDeliversRetriesAndBounces checks the relay queue
// (docs/configuration.md, `relay:`): mail to a remote domain queues, is
// delivered to a real next hop on loopback, survives a next hop that
// answers 451 for a while (retried with backoff, RFC 5321 §4.5.4.1), and
// bounces with an RFC 3464 DSN after relay.max_lifetime (time injected).
func TestEngineQueueDeliversRetriesAndBounces(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		st := enginestore.New(db)
		ctx := context.Background()
		hop := startNextHop(t)
		clk := &clock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
		reg := prometheus.NewRegistry()
		r, err := queue.New(queue.Options{Config: relayConfig(hop.addr), Store: st, Node: "n1", Clock: clk.Now, Registerer: reg})
		if err != nil {
			t.Fatal(err)
		}

		// 1. Delivered: three recipients over one reused connection.
		commitRemote(t, st, "Q1", "alice@uni.example", "alice@uni.example", clk.Now(), "a@remote.example", "b@remote.example", "c@remote.example")
		if n, err := r.RunOnce(ctx); err != nil || n != 3 {
			t.Fatalf("RunOnce = %d, %v", n, err)
		}
		if got := hop.messages(); len(got) != 3 || got[0].from != "alice@uni.example" || !bytes.Contains(got[0].body, []byte("Subject: test Q1")) {
			t.Fatalf("next hop got %+v", got)
		}
		if c := hop.conns.Load(); c != 3 && c != 1 {
			// ConcurrencyPerDestination 4 ≥ 3 entries: up to one connection each.
			t.Logf("connections: %d", c)
		}
		if n := testutil.ToFloat64(mustCounter(t, reg, "postvakt_queue_deliveries_total", "sent")); n != 3 {
			t.Fatalf("sent = %v", n)
		}

		// 2. 451 for a while, then 250: retried after the backoff.
		hop.tempfail.Store(true)
		commitRemote(t, st, "Q2", "bob@uni.example", "bob@uni.example", clk.Now(), "d@remote.example")
		if n, _ := r.RunOnce(ctx); n != 1 {
			t.Fatalf("first attempt: %d", n)
		}
		es, _ := st.QueueList(ctx, queue.Filter{QueueID: "Q2"})
		if len(es) != 1 || es[0].State != queue.StateDeferred || es[0].Attempts != 1 || !es[0].NextAttemptAt.Equal(clk.Now().Add(30*time.Minute)) ||
			!strings.Contains(es[0].LastError, "451") {
			t.Fatalf("after 451: %+v", es)
		}
		if n, _ := r.RunOnce(ctx); n != 0 {
			t.Fatalf("retried before the backoff: %d", n)
		}
		clk.Add(30 * time.Minute)
		r.RunOnce(ctx)
		es, _ = st.QueueList(ctx, queue.Filter{QueueID: "Q2"})
		if len(es) != 1 || es[0].Attempts != 2 || !es[0].NextAttemptAt.Equal(clk.Now().Add(time.Hour)) {
			t.Fatalf("second 451: backoff must double: %+v", es)
		}
		if err := r.RefreshMetrics(ctx); err != nil {
			t.Fatal(err)
		}
		if v := testutil.ToFloat64(mustGauge(t, reg, "postvakt_queue_messages", "deferred")); v != 1 {
			t.Fatalf("deferred gauge = %v", v)
		}
		if v := testutil.ToFloat64(mustGauge(t, reg, "postvakt_queue_oldest_age_seconds", "deferred")); v != 1800 {
			t.Fatalf("oldest deferred age = %v", v)
		}
		hop.tempfail.Store(false)
		clk.Add(time.Hour)
		r.RunOnce(ctx)
		if es, _ := st.QueueList(ctx, queue.Filter{QueueID: "Q2"}); len(es) != 0 {
			t.Fatalf("not delivered after the next hop recovered: %+v", es)
		}
		if got := hop.messages(); len(got) != 4 || got[3].to != "d@remote.example" {
			t.Fatalf("next hop got %d messages", len(got))
		}

		// 3. 451 until the maximum lifetime: a DSN to the sender.
		hop.tempfail.Store(true)
		start := clk.Now()
		commitRemote(t, st, "Q3", "carol@uni.example", "carol@uni.example", start, "e@remote.example")
		attempts := 0
		for clk.Now().Sub(start) <= 5*24*time.Hour+time.Hour {
			if n, _ := r.RunOnce(ctx); n > 0 {
				attempts++
			}
			if es, _ := st.QueueList(ctx, queue.Filter{QueueID: "Q3"}); len(es) == 0 {
				break
			}
			clk.Add(10 * time.Minute)
		}
		if es, _ := st.QueueList(ctx, queue.Filter{QueueID: "Q3"}); len(es) != 0 {
			t.Fatalf("not bounced after the lifetime: %+v", es)
		}
		// 30m, 1h, 2h, then 4h steps over five days: about 32 attempts.
		if attempts < 25 || attempts > 40 {
			t.Fatalf("%d attempts in 5 days", attempts)
		}
		if elapsed := clk.Now().Sub(start); elapsed < 5*24*time.Hour || elapsed > 5*24*time.Hour+10*time.Minute {
			t.Fatalf("bounced after %v", elapsed)
		}
		dsns, _ := st.QueueList(ctx, queue.Filter{Recipient: "carol@uni.example"})
		if len(dsns) != 1 || dsns[0].MailFrom != "" {
			t.Fatalf("DSN entries = %+v", dsns)
		}
		hop.tempfail.Store(false)
		r.RunOnce(ctx)
		got := hop.messages()
		dsn := got[len(got)-1]
		if dsn.from != "" || dsn.to != "carol@uni.example" {
			t.Fatalf("DSN envelope %q → %q", dsn.from, dsn.to)
		}
		for _, want := range []string{"multipart/report; report-type=delivery-status", "message/delivery-status",
			"Reporting-MTA: dns; mx.uni.example", "Final-Recipient: rfc822; e@remote.example", "Action: failed", "Status: 4.4.7",
			"Diagnostic-Code: smtp; 451 4.3.0", "text/rfc822-headers", "Subject: test Q3"} {
			if !bytes.Contains(dsn.body, []byte(want)) {
				t.Errorf("DSN lacks %q:\n%s", want, dsn.body)
			}
		}
		if n := testutil.ToFloat64(mustCounter(t, reg, "postvakt_queue_deliveries_total", "bounced")); n != 1 {
			t.Fatalf("bounced = %v", n)
		}

		// 4. A permanent failure bounces at once; a bounce is never bounced.
		hop.rcptFail["nobody@remote.example"] = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		commitRemote(t, st, "Q4", "dave@uni.example", "dave@uni.example", clk.Now(), "nobody@remote.example")
		r.RunOnce(ctx)
		dsns, _ = st.QueueList(ctx, queue.Filter{Recipient: "dave@uni.example"})
		if len(dsns) != 1 {
			t.Fatalf("no DSN for a 550: %+v", dsns)
		}
		hop.rcptFail["dave@uni.example"] = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		r.RunOnce(ctx)
		if all, _ := st.QueueList(ctx, queue.Filter{}); len(all) != 0 {
			t.Fatalf("a bounce of a bounce was queued: %+v", all)
		}
	})
}

// TestEngineQueueTransports checks the transport map (an LMTP next hop for
// one domain, SMTP for the rest) and connection reuse: with one connection
// per destination, five messages travel over one connection.
func TestEngineQueueTransports(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		st := enginestore.New(db)
		ctx := context.Background()
		smtpHop, lmtpHop := startHop(t, false), startHop(t, true)
		clk := &clock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
		cfg := relayConfig(smtpHop.addr)
		cfg.Transports["lmtp.example"] = "lmtp:" + lmtpHop.addr
		cfg.ConcurrencyPerDestination = 1
		r, err := queue.New(queue.Options{Config: cfg, Store: st, Node: "n1", Clock: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		commitRemote(t, st, "T1", "a@uni.example", "", clk.Now(), "1@remote.example", "2@remote.example", "3@other.example",
			"4@remote.example", "5@other.example", "x@lmtp.example", "y@lmtp.example")
		if n, err := r.RunOnce(ctx); n != 7 || err != nil {
			t.Fatalf("RunOnce = %d, %v", n, err)
		}
		if got := len(smtpHop.messages()); got != 5 {
			t.Fatalf("SMTP hop got %d", got)
		}
		if got := lmtpHop.messages(); len(got) != 2 || got[0].to != "x@lmtp.example" && got[0].to != "y@lmtp.example" {
			t.Fatalf("LMTP hop got %+v", got)
		}
		if c := smtpHop.conns.Load(); c != 1 {
			t.Fatalf("%d connections for 5 messages to one destination", c)
		}
		// An LMTP per-recipient refusal is permanent: the sender gets a DSN.
		lmtpHop.rcptFail["z@lmtp.example"] = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "unknown"}
		commitRemote(t, st, "T2", "a@uni.example", "", clk.Now(), "z@lmtp.example")
		r.RunOnce(ctx)
		if dsn, _ := st.QueueList(ctx, queue.Filter{Recipient: "a@uni.example"}); len(dsn) != 1 || dsn[0].MailFrom != "" {
			t.Fatalf("DSN = %+v", dsn)
		}
		if _, err := st.QueueDelete(ctx, queue.Filter{Recipient: "a@uni.example"}); err != nil {
			t.Fatal(err)
		}
		// After DATA, one transaction's recipients are answered one by
		// one (RFC 2033 §4.2): 250 delivers u, 452 defers v, 550 bounces w.
		lmtpHop.dataFail["v@lmtp.example"] = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 2, 2}, Message: "mailbox full"}
		lmtpHop.dataFail["w@lmtp.example"] = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		before, conns := len(lmtpHop.messages()), lmtpHop.conns.Load()
		commitRemote(t, st, "T3", "a@uni.example", "", clk.Now(), "u@lmtp.example", "v@lmtp.example", "w@lmtp.example")
		if n, err := r.RunOnce(ctx); n != 3 || err != nil {
			t.Fatalf("RunOnce = %d, %v", n, err)
		}
		if got := lmtpHop.messages()[before:]; len(got) != 1 || got[0].to != "u@lmtp.example" {
			t.Fatalf("LMTP hop delivered %+v, want u only", got)
		}
		if c := lmtpHop.conns.Load() - conns; c != 1 {
			t.Fatalf("%d LMTP connections for one transaction", c)
		}
		left, _ := st.QueueList(ctx, queue.Filter{QueueID: "T3"})
		if len(left) != 1 || left[0].Target != "v@lmtp.example" || left[0].State != queue.StateDeferred || !strings.Contains(left[0].LastError, "452 4.2.2") {
			t.Fatalf("T3 left in the queue: %+v, want v deferred with 452 4.2.2", left)
		}
		dsn, _ := st.QueueList(ctx, queue.Filter{Recipient: "a@uni.example"})
		if len(dsn) != 1 || dsn[0].MailFrom != "" {
			t.Fatalf("DSN for w = %+v", dsn)
		}
		body, err := st.QueueBody(ctx, dsn[0].BodyHash)
		if err != nil || !bytes.Contains(body, []byte("w@lmtp.example")) || bytes.Contains(body, []byte("Final-Recipient: rfc822; v@")) {
			t.Fatalf("DSN body reports the wrong recipient (%v):\n%s", err, body)
		}
	})
}

func mustCounter(t *testing.T, reg *prometheus.Registry, name, label string) prometheus.Collector {
	return mustMetric(t, reg, name, label)
}

func mustGauge(t *testing.T, reg *prometheus.Registry, name, label string) prometheus.Collector {
	return mustMetric(t, reg, name, label)
}

// mustMetric wraps one labelled series of reg as a Collector for testutil.
func mustMetric(t *testing.T, reg *prometheus.Registry, name, label string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == label {
				v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
				g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
				g.Set(v)
				return g
			}
		}
	}
	t.Fatalf("no %s{%s}", name, label)
	return nil
}
