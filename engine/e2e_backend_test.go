package engine_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/event"
	"github.com/uni-mail/postvakt/engine/queue"
	"github.com/uni-mail/postvakt/internal/dovecottest"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
)

// backendDomain is delivered to Dovecot's LMTP in these tests.
const backendDomain = "ug.example"

// startBackendEngine starts Dovecot with users and an engine whose
// backendDomain goes to Dovecot's LMTP (smtp.directory.delivery), and
// returns the relay queue that delivers it.
func startBackendEngine(t *testing.T, mutate func(*engine.Config), users ...dovecottest.User) (*harness, *dovecottest.Dovecot, *queue.Runner, *prometheus.Registry) {
	t.Helper()
	dv := dovecottest.Start(t, users...)
	db := storagetest.Open(t, storage.SQLite)
	var cfg engine.Config
	h := startEngine(t, db, func(c *engine.Config) {
		c.Greylist.Enabled = false
		c.Directory.Delivery = map[string]string{backendDomain: "lmtp:" + dv.LMTP, "uni.example": "store"}
		if mutate != nil {
			mutate(c)
		}
		cfg = *c
	}, nil)
	if err := engine.ApplyDirectoryConfig(context.Background(), cfg, h.dir); err != nil {
		t.Fatal(err)
	}
	rc := queue.Default()
	rc.Enabled, rc.Hostname = true, "mx.uni.example"
	rc.TLS.Level = queue.TLSNone
	rc.Timeout = 10 * time.Second
	reg := prometheus.NewRegistry()
	r, err := queue.New(queue.Options{Config: rc, Store: h.st, Node: "n1", Clock: h.clock.Now, Registerer: reg,
		Backends: cfg.Directory.Backends(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return h, dv, r, reg
}

// TestEngineDeliversToDovecotLMTP: mail for a domain delivered to a back
// end goes MX → relay queue → Dovecot's LMTP, and its user reads it over
// IMAP; while Dovecot is down it waits in the queue (the client was told
// 250 once it was durable) and arrives when Dovecot is back; the embedded
// store of a "store" domain is untouched.
func TestEngineDeliversToDovecotLMTP(t *testing.T) {
	t.Parallel()
	h, dv, r, reg := startBackendEngine(t, nil,
		dovecottest.User{Name: "alice@" + backendDomain, Password: "alice-pw"},
		dovecottest.User{Name: "bob@" + backendDomain, Password: "bob-pw"})
	ctx := context.Background()
	local := h.mailbox("carol@uni.example", nil)

	body := "From: <s@else.example>\r\nTo: <alice@ug.example>\r\nSubject: via lmtp\r\nMessage-ID: <lmtp-1@else.example>\r\n\r\nHello Alice.\r\n"
	wantCode(t, send(h.dial(h.mx), "s@else.example", []string{"alice@" + backendDomain, "bob@" + backendDomain, "carol@uni.example"}, body), 250, "")
	if n, err := r.RunOnce(ctx); n != 2 || err != nil {
		t.Fatalf("RunOnce = %d, %v; want the two back-end recipients", n, err)
	}
	msgs, err := dv.FetchIMAP("alice@"+backendDomain, "alice-pw")
	if err != nil || len(msgs) != 1 || !bytes.Contains(msgs[0], []byte("Hello Alice.")) || !bytes.Contains(msgs[0], []byte("Received: from client.example.org")) {
		t.Fatalf("alice over IMAP: %v, %q\n%s", err, msgs, dv.Log())
	}
	if got := dv.Maildir("bob@" + backendDomain); len(got) != 1 {
		t.Fatalf("bob's maildir has %d messages", len(got))
	}
	if sm, err := h.st.MailMessages(ctx, local.ID); err != nil || len(sm) != 1 {
		t.Fatalf("carol (store) has %d messages, %v", len(sm), err)
	}
	if v := testutil.ToFloat64(mustCounter(t, reg, "postvakt_queue_deliveries_total", "sent")); v != 2 {
		t.Fatalf("deliveries sent = %v", v)
	}
	if v := gathered(t, reg, "postvakt_queue_backend_deliveries_total", "agent", "lmtp", "result", "sent"); v != 2 {
		t.Fatalf("back-end deliveries sent = %v", v)
	}
	// The trace: each back-end recipient was queued at the MX.
	queued := 0
	for _, e := range h.events.all() {
		if rc, ok := e.(*event.Recipient); ok && rc.Outcome == event.OutcomeQueued && strings.HasSuffix(rc.Target, "@"+backendDomain) {
			queued++
		}
	}
	if queued != 2 {
		t.Fatalf("%d queued recipient events, want 2", queued)
	}

	// Dovecot down: the MX still accepts, the queue defers.
	dv.Stop()
	body2 := "From: <s@else.example>\r\nSubject: while down\r\nMessage-ID: <lmtp-2@else.example>\r\n\r\nSecond.\r\n"
	wantCode(t, send(h.dial(h.mx), "s@else.example", []string{"alice@" + backendDomain}, body2), 250, "")
	if n, _ := r.RunOnce(ctx); n != 1 {
		t.Fatalf("RunOnce while down = %d", n)
	}
	es, err := h.st.QueueList(ctx, queue.Filter{Recipient: "alice@" + backendDomain})
	if err != nil || len(es) != 1 || es[0].State != queue.StateDeferred || es[0].Attempts != 1 {
		t.Fatalf("queue while Dovecot is down: %+v, %v", es, err)
	}
	if v := gathered(t, reg, "postvakt_queue_backend_deliveries_total", "agent", "lmtp", "result", "deferred"); v != 1 {
		t.Fatalf("back-end deliveries deferred = %v", v)
	}
	dv.Start()
	h.clock.Advance(31 * time.Minute) // RFC 5321 §4.5.4.1: the first retry after 30 minutes
	if n, err := r.RunOnce(ctx); n != 1 || err != nil {
		t.Fatalf("RunOnce after restart = %d, %v", n, err)
	}
	msgs, err = dv.FetchIMAP("alice@"+backendDomain, "alice-pw")
	if err != nil || len(msgs) != 2 || !bytes.Contains(msgs[1], []byte("Second.")) {
		t.Fatalf("alice after Dovecot's return: %v, %d messages", err, len(msgs))
	}
	if es, _ := h.st.QueueList(ctx, queue.Filter{}); len(es) != 0 {
		t.Fatalf("queue not empty: %+v", es)
	}
}

// gathered is the value of the series of name with the label pairs kv.
func gathered(t *testing.T, reg *prometheus.Registry, name string, kv ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(kv); i += 2 {
				if labels[kv[i]] != kv[i+1] {
					continue next
				}
			}
			return m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s%v", name, kv)
	return 0
}
