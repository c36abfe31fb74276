package engine_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/content"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/event"
	"github.com/uni-mail/postvakt/engine/loadgen"
	"github.com/uni-mail/postvakt/engine/quarantine"
	"github.com/uni-mail/postvakt/engine/queue"
	"github.com/uni-mail/postvakt/engine/sendlimit"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
)

// startContentEngine starts the real engine with content scanning (the
// engine.Options.Filter hook) and abuse control, on db.
func startContentEngine(t testing.TB, db *storage.DB, ab *sendlimit.Controller, edit func(*content.Config)) (*harness, *prometheus.Registry) {
	t.Helper()
	return startContentEngineWith(t, db, ab, edit, nil)
}

// startContentEngineWith is startContentEngine with the engine's
// configuration changed by mutate.
func startContentEngineWith(t testing.TB, db *storage.DB, ab *sendlimit.Controller, edit func(*content.Config), mutate func(*engine.Config)) (*harness, *prometheus.Registry) {
	t.Helper()
	cfg := testConfig()
	cfg.Greylist.Enabled = false
	cfg.Limits.MaxConnsPerIP = 100
	if db.Dialect() == storage.SQLite {
		cfg.Commit.Workers = 1
	}
	if mutate != nil {
		mutate(&cfg)
	}
	reg := prometheus.NewRegistry()
	cc := content.Default()
	cc.Enabled = true
	if edit != nil {
		edit(&cc)
	}
	h := &harness{t: t, db: db, clock: &fakeClock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}, set: metrics.NewSet(), events: &recorder{}}
	sc, err := content.New(content.Options{Config: cc, Quarantine: &quarantine.Service{Store: enginestore.New(db), Clock: h.clock.Now}, Abuse: ab,
		Registerer: reg, Clock: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(engine.Options{Config: cfg, DataDir: t.TempDir(), Store: enginestore.New(db), Metrics: h.set, Logger: testLogger(t),
		Events: h.events, Clock: h.clock.Now, Filter: sc})
	if err != nil {
		t.Fatal(err)
	}
	h.eng, h.dir = eng, eng.Directory()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	<-eng.Ready()
	h.mx, h.sub = eng.Addrs()["mx"].String(), eng.Addrs()["submission"].String()
	if err := h.dir.AddDomain(context.Background(), "uni.example"); err != nil {
		t.Fatal(err)
	}
	return h, reg
}

func ctMessage(subject, body string) string {
	return fmt.Sprintf("From: Sender <s@else.example>\r\nTo: user@uni.example\r\nSubject: %s\r\nDate: Mon, 23 Nov 2026 09:00:00 +0100\r\n"+
		"Message-ID: <%d.%s@else.example>\r\n\r\n%s\r\n", subject, time.Now().UnixNano(), strings.ReplaceAll(subject, " ", "-"), body)
}

func ctAttachment(name string, data []byte) string {
	return "From: Sender <s@else.example>\r\nTo: user@uni.example\r\nSubject: attachment\r\nDate: Mon, 23 Nov 2026 09:00:00 +0100\r\n" +
		"Message-ID: <att." + name + "@else.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b1\r\nContent-Type: application/octet-stream\r\n" +
		"Content-Disposition: attachment; filename=\"" + name + "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString(data) + "\r\n--b1--\r\n"
}

// TestEngineContentEndToEnd runs content scanning and abuse control
// (docs/configuration.md, `content:`) through the real engine with real
// SMTP clients: GTUBE is quarantined and a
// whitelisted recipient gets it untouched; EICAR is quarantined; a .exe
// and a .exe in a zip get 554 5.7.1; an account sending 500 messages in a
// minute is throttled with one alarm; a mass mailing is held by the relay
// queue; locking the account refuses AUTH and holds its queued mail, and
// deleting by sender purges it.
func TestEngineContentEndToEnd(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		st := enginestore.New(db)
		ctx := context.Background()
		alarms := &recorder{}
		ab, err := sendlimit.New(sendlimit.Options{Window: time.Minute, MaxMessages: 100, MaxRecipients: 1000, MassMailing: 20,
			Approved: []string{"news@uni.example"}, Events: alarms, Node: "n1",
			Clock: func() time.Time { return time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC) }})
		if err != nil {
			t.Fatal(err)
		}
		h, _ := startContentEngine(t, db, ab, nil)
		user := h.mailbox("user@uni.example", nil)
		fn := h.mailbox("secteam@uni.example", nil)
		if err := h.dir.AddAlias(ctx, "spam-reports@uni.example", directory.KindFunction, []string{"secteam@uni.example"}); err != nil {
			t.Fatal(err)
		}
		h.mailbox("phished@uni.example", func(n *directory.NewMailbox) { n.Password = "secret" })

		// GTUBE, SpamAssassin's test string, scores as spam.
		gt := "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
		c := h.dial(h.mx)
		wantCode(t, send(c, "s@else.example", []string{"user@uni.example"}, ctMessage("cheap pills", gt)), 250, "2.0.0")
		wantCode(t, send(c, "s@else.example", []string{"spam-reports@uni.example"}, ctMessage("spam sample", gt)), 250, "2.0.0")
		if msgs, _ := st.MailMessages(ctx, user.ID); len(msgs) != 0 {
			t.Fatalf("GTUBE delivered to the user: %+v", msgs)
		}
		items, _ := st.QuarantineList(ctx, quarantine.Filter{Reason: quarantine.ReasonSpam})
		if len(items) != 1 || items[0].Rcpts[0] != "user@uni.example" {
			t.Fatalf("spam quarantine = %+v", items)
		}
		if it, _ := st.QuarantineGet(ctx, items[0].ID); !bytes.Contains(it.Body, []byte("X-Spam-Flag: YES")) || !bytes.Contains(it.Body, []byte("tests=GTUBE")) {
			t.Fatalf("quarantined body not tagged:\n%s", it.Body)
		}
		msgs, _ := st.MailMessages(ctx, fn.ID)
		if len(msgs) != 1 {
			t.Fatalf("whitelisted recipient got %d messages", len(msgs))
		}
		if b, _ := st.MailBody(ctx, msgs[0].BodyHash); bytes.Contains(b, []byte("X-Spam")) || !bytes.Contains(b, []byte(gt)) {
			t.Fatalf("whitelisted copy not untouched:\n%s", b)
		}

		// EICAR is quarantined; .exe, also in a zip, is refused with 554
		// 5.7.1 (content.attachments).
		eicar := `X5O!P%@AP[4\PZX54(P^)7CC)7}$` + `EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`
		wantCode(t, send(c, "s@else.example", []string{"user@uni.example"}, ctAttachment("test.txt", []byte(eicar))), 250, "2.0.0")
		if v, _ := st.QuarantineList(ctx, quarantine.Filter{Reason: quarantine.ReasonVirus}); len(v) != 1 {
			t.Fatalf("virus quarantine = %+v", v)
		}
		wantCode(t, send(c, "s@else.example", []string{"user@uni.example"}, ctAttachment("setup.exe", []byte("MZ"))), 554, "5.7.1")
		var zb bytes.Buffer
		zw := zip.NewWriter(&zb)
		w, _ := zw.Create("invoice.pdf.exe")
		w.Write([]byte("MZ"))
		zw.Close()
		wantCode(t, send(c, "s@else.example", []string{"user@uni.example"}, ctAttachment("invoice.zip", zb.Bytes())), 554, "5.7.1")
		wantCode(t, send(c, "s@else.example", []string{"user@uni.example"}, ctMessage("hello", "a normal message")), 250, "2.0.0")
		if msgs, _ := st.MailMessages(ctx, user.ID); len(msgs) != 1 {
			t.Fatalf("user has %d messages, want only the clean one", len(msgs))
		}

		// 500 messages in a minute from one account: over
		// content.abuse.max_messages (runbook outgoing-spam-burst).
		s := h.dialTLS(h.sub)
		if err := s.Auth(plainAuth("phished@uni.example", "secret")); err != nil {
			t.Fatal(err)
		}
		accepted, deferred := 0, 0
		for i := range 500 {
			err := send(s, "phished@uni.example", []string{fmt.Sprintf("victim%d@remote.example", i%7)}, ctMessage(fmt.Sprintf("offer %d", i), "click here"))
			if err == nil {
				accepted++
				continue
			}
			wantCode(t, err, 451, "4.7.0")
			deferred++
		}
		if accepted != 100 || deferred != 400 {
			t.Fatalf("accepted %d, deferred %d", accepted, deferred)
		}
		var rate []*event.Abuse
		for _, e := range alarms.all() {
			if a, ok := e.(*event.Abuse); ok && a.What == event.AbuseRateLimited {
				rate = append(rate, a)
			}
		}
		if len(rate) != 1 || rate[0].User != "phished@uni.example" {
			t.Fatalf("rate-limit alarms = %+v", rate)
		}

		// The queue holds a mass mailing from an unapproved sender (a new
		// account, so the rate limit does not interfere).
		h.mailbox("teacher@uni.example", func(n *directory.NewMailbox) { n.Password = "pw" })
		s2 := h.dialTLS(h.sub)
		if err := s2.Auth(plainAuth("teacher@uni.example", "pw")); err != nil {
			t.Fatal(err)
		}
		var many []string
		for i := range 21 {
			many = append(many, fmt.Sprintf("r%d@remote.example", i))
		}
		wantCode(t, send(s2, "teacher@uni.example", many, ctMessage("party", "everyone welcome")), 250, "2.0.0")
		hop := startNextHop(t)
		qc := relayConfig(hop.addr)
		qc.Batch = 1000
		r, err := queue.New(queue.Options{Config: qc, Store: st, Node: "n1", Clock: h.clock.Now,
			Gate: ab.QueueGate(func(ctx context.Context, u string) bool {
				e, err := st.DirLookup(ctx, u)
				return err == nil && e.Mailbox != nil && e.Mailbox.Locked
			})})
		if err != nil {
			t.Fatal(err)
		}
		// Lock the phished account first, as `postvakt account lock` does.
		ent, _ := st.DirLookup(ctx, "phished@uni.example")
		if err := st.DirUpdateMailbox(ctx, ent.Mailbox.ID, h.clock.Now(), func(m *directory.Mailbox) error { m.Locked = true; return nil }); err != nil {
			t.Fatal(err)
		}
		if n, err := st.QueueHold(ctx, queue.Filter{AuthUser: "phished@uni.example"}, sendlimit.KindAccountLocked); n != 100 || err != nil {
			t.Fatalf("held %d, %v", n, err)
		}
		wantCode(t, h.dialTLS(h.sub).Auth(plainAuth("phished@uni.example", "secret")), 535, "5.7.8")
		if n, err := r.RunOnce(ctx); err != nil || n != 0 {
			t.Fatalf("RunOnce delivered %d, %v", n, err)
		}
		if got := hop.messages(); len(got) != 0 {
			t.Fatalf("next hop got %d messages", len(got))
		}
		held, _ := st.QueueList(ctx, queue.Filter{State: queue.StateHeld, Sender: "teacher@uni.example"})
		if len(held) != 21 || held[0].HeldReason != sendlimit.KindMassMailingHeld {
			t.Fatalf("mass mailing held = %d %+v", len(held), held[:min(1, len(held))])
		}
		found := false
		for _, e := range alarms.all() {
			if a, ok := e.(*event.Abuse); ok && a.What == event.AbuseMassMailingHeld && a.User == "teacher@uni.example" && a.Rcpts == 21 {
				found = true
			}
		}
		if !found {
			t.Fatal("no mass_mailing_held alarm")
		}
		// Purge what the phished account queued; the postmaster releases
		// the approved mass mailing, which is then delivered.
		if n, _ := st.QueueDelete(ctx, queue.Filter{Sender: "phished@uni.example"}); n != 100 {
			t.Fatalf("purged %d", n)
		}
		if n, _ := st.QueueRelease(ctx, queue.Filter{Sender: "teacher@uni.example"}, h.clock.Now()); n != 21 {
			t.Fatalf("released %d", n)
		}
		r.RunOnce(ctx)
		if got := hop.messages(); len(got) != 21 {
			t.Fatalf("next hop got %d after release", len(got))
		}
		if all, _ := st.QueueList(ctx, queue.Filter{}); len(all) != 0 {
			t.Fatalf("queue not empty: %d", len(all))
		}
	})
}

// BenchmarkEngineContentSMTP is BenchmarkEngineSMTP with content scanning
// on (MIME walk, attachment rules, EICAR check, built-in spam scorer): 20
// concurrent sessions, 4 KiB messages, one connection per message, SQLite.
//
//	go test ./engine/ -run '^$' -bench 'EngineSMTP/sqlite|EngineContentSMTP' -benchtime 3000x
func BenchmarkEngineContentSMTP(b *testing.B) {
	db := storagetest.Open(b, storage.SQLite)
	ab, err := sendlimit.New(sendlimit.Options{})
	if err != nil {
		b.Fatal(err)
	}
	h, _ := startContentEngine(b, db, ab, nil)
	h.mailbox("anna@uni.example", func(n *directory.NewMailbox) { n.QuotaBytes = 1 << 40 })
	b.SetBytes(4096)
	b.ResetTimer()
	res, err := loadgen.Run(context.Background(), loadgen.Options{Addr: h.mx, Concurrency: 20, Count: b.N,
		Sizes: []int{4096}, To: []string{"anna@uni.example"}}, nil)
	b.StopTimer()
	if err != nil || res.Accepted != b.N {
		b.Fatalf("loadgen: %+v, %v", res, err)
	}
	b.ReportMetric(res.PerSecond, "msgs/s")
	b.ReportMetric(float64(res.P99.Microseconds())/1000, "p99-ms")
}

// TestEngineContentSubjectTag checks content.spam.domain_actions
// (docs/configuration.md) for a domain that wants spam subject-tagged:
// GTUBE is delivered, tagged and with "(SPAM)" in its stored Subject,
// through the real engine.
func TestEngineContentSubjectTag(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		st := enginestore.New(db)
		ctx := context.Background()
		h, _ := startContentEngine(t, db, nil, func(c *content.Config) {
			c.Spam.DomainActions = map[string]string{"uni.example": "subject"}
		})
		user := h.mailbox("user@uni.example", nil)
		gt := "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
		c := h.dial(h.mx)
		wantCode(t, send(c, "s@else.example", []string{"user@uni.example"}, ctMessage("cheap pills", gt)), 250, "2.0.0")
		msgs, err := st.MailMessages(ctx, user.ID)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("delivered %d messages (%v), want the tagged one", len(msgs), err)
		}
		b, _ := st.MailBody(ctx, msgs[0].BodyHash)
		if !bytes.Contains(b, []byte("\r\nSubject: (SPAM) cheap pills\r\n")) || !bytes.Contains(b, []byte("X-Spam-Flag: YES")) {
			t.Fatalf("stored message not subject-tagged:\n%s", b)
		}
		if items, _ := st.QuarantineList(ctx, quarantine.Filter{}); len(items) != 0 {
			t.Fatalf("quarantined although the domain wants subject tagging: %+v", items)
		}
	})
}
