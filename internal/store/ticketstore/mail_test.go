package ticketstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	gomail "github.com/emersion/go-message/mail"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/ticketstore"
	"github.com/uni-mail/postvakt/oncall/notice"
	"github.com/uni-mail/postvakt/oncall/notice/smtpsink"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

// received is one message as parsed from what the SMTP server stored.
type received struct {
	h     gomail.Header
	parts map[string]string // content type → body
}

func parseReceived(t *testing.T, data []byte) received {
	t.Helper()
	mr, err := gomail.CreateReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse received mail: %v\n%s", err, data)
	}
	r := received{h: mr.Header, parts: map[string]string{}}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if ih, ok := p.Header.(*gomail.InlineHeader); ok {
			ct, _, _ := ih.ContentType()
			b, _ := io.ReadAll(p.Body)
			r.parts[ct] = string(b)
		}
	}
	return r
}

func (r received) msgID(t *testing.T) string {
	t.Helper()
	id, err := r.h.MessageID()
	if err != nil || id == "" {
		t.Fatalf("Message-ID: %q %v", id, err)
	}
	return id
}

// TestConformanceNoticeThread: an outage with
// three updates and a resolution, sent to a real SMTP server on loopback,
// arrives as four messages in one thread; the headers are checked on the
// received mail.
func TestConformanceNoticeThread(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		sink := smtpsink.Start(t, nil)
		clock := &testClock{t: lon(2026, 11, 24, 10, 0)}
		cfg := notice.DefaultConfig()
		cfg.AnnounceTo, cfg.From, cfg.Relay.Addr = "itss-announce@uni.example", `"E-mail operations" <drift@uni.example>`, sink.Addr
		cfg.TimeZone = "Europe/London"
		svc, err := notice.New(notice.Options{
			Config: cfg, Store: ticketstore.New(db), Sender: &notice.SMTPSender{Addr: sink.Addr, Timeout: 5 * time.Second},
			Now: clock.Now, Services: map[string]string{"smtp": "SMTP", "imap": "IMAP"}, StatusURL: "https://ops.uni.example/status",
		})
		if err != nil {
			t.Fatal(err)
		}
		n, err := svc.Create(ctx, notice.CreateRequest{
			Kind: notice.KindOutage, Title: "Outgoing mail delayed", Services: []string{"smtp"},
			Symptoms: "Mail to external recipients waits in the queue.", Impact: "Delays of up to an hour.",
			HandlingPlan: "Finding the cause in the relay cluster.", StartedAt: lon(2026, 11, 24, 9, 40),
			Body: "We are investigating.", Actor: "ana",
		})
		if err != nil {
			t.Fatal(err)
		}
		for i, st := range []string{notice.Identified, notice.Monitoring, notice.Resolved} {
			clock.Set(lon(2026, 11, 24, 10, 30+i*30))
			next := clock.Now().Add(time.Hour)
			if _, err := svc.Change(ctx, n.ID, notice.ChangeRequest{State: st, Body: "Now " + st + ".", NextUpdateAt: &next, Actor: "ana"}); err != nil {
				t.Fatalf("%s: %v", st, err)
			}
		}
		msgs, err := sink.Wait(4, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
		if msgs = sink.Messages(); len(msgs) != 4 {
			t.Fatalf("%d messages, want 4", len(msgs))
		}
		var first string
		for i, m := range msgs {
			if m.From != "drift@uni.example" || len(m.To) != 1 || m.To[0] != "itss-announce@uni.example" {
				t.Fatalf("envelope %d: %s → %v", i, m.From, m.To)
			}
			r := parseReceived(t, m.Data)
			id := r.msgID(t)
			subject, _ := r.h.Subject()
			from, _ := r.h.AddressList("From")
			to, _ := r.h.AddressList("To")
			date, err := r.h.Date()
			if err != nil || date.IsZero() || len(from) != 1 || from[0].Address != "drift@uni.example" ||
				len(to) != 1 || to[0].Address != "itss-announce@uni.example" {
				t.Fatalf("message %d headers: date %v %v from %v to %v", i, date, err, from, to)
			}
			state := []string{"Investigating", "Identified", "Monitoring", "Resolved"}[i]
			if !strings.Contains(subject, "["+state+"]") || !strings.Contains(subject, "Outgoing mail delayed") {
				t.Fatalf("message %d subject %q", i, subject)
			}
			text, html := r.parts["text/plain"], r.parts["text/html"]
			if !strings.Contains(text, "SMTP") || !strings.Contains(text, "Tue 2026-11-24 09:40 GMT") ||
				!strings.Contains(text, "Mail to external recipients") || !strings.Contains(html, "Finding the cause") {
				t.Fatalf("message %d bodies:\n%s\n%s", i, text, html)
			}
			irt, _ := r.h.MsgIDList("In-Reply-To")
			refs, _ := r.h.MsgIDList("References")
			if i == 0 {
				first = id
				if len(irt) != 0 || len(refs) != 0 {
					t.Fatalf("first message threads on %v %v", irt, refs)
				}
				continue
			}
			if id == first || len(irt) != 1 || irt[0] != first || len(refs) == 0 || refs[0] != first {
				t.Fatalf("message %d: Message-ID %s In-Reply-To %v References %v; first %s", i, id, irt, refs, first)
			}
			if i == 3 && (!strings.Contains(text, "Resolved:") || !strings.Contains(text, "Tue 2026-11-24 11:30 GMT") ||
				!strings.Contains(text, "Duration:       1h 50m")) {
				t.Fatalf("resolution text:\n%s", text)
			}
		}
		got, _ := svc.Get(ctx, n.ID)
		if got.ThreadID != first || got.State != notice.Resolved || got.Duration() != 110*time.Minute {
			t.Fatalf("notice %+v", got)
		}
		for _, u := range got.Updates {
			if u.SentAt.IsZero() || u.Attempts != 1 {
				t.Fatalf("update not marked sent: %+v", u)
			}
		}
		if _, err := svc.Change(ctx, n.ID, notice.ChangeRequest{State: notice.Monitoring}); !errors.Is(err, notice.ErrTransition) {
			t.Fatalf("out of resolved: %v", err)
		}

		// The public status page and feed show it; a private one is hidden.
		clock.Set(lon(2026, 11, 24, 12, 0))
		if _, err := svc.Create(ctx, notice.CreateRequest{Kind: notice.KindOutage, Title: "Internal DNS test", Services: []string{"smtp"},
			Public: new(bool), Announce: new(bool)}); err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(svc.StatusHandler())
		defer srv.Close()
		for _, path := range []string{"/status", "/status/feed.atom"} {
			resp, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(b), "Outgoing mail delayed") || strings.Contains(string(b), "Internal DNS test") {
				t.Fatalf("%s: %d\n%s", path, resp.StatusCode, b)
			}
			if path == "/status/feed.atom" && (!strings.Contains(string(b), `<feed xmlns="http://www.w3.org/2005/Atom">`) || !strings.Contains(resp.Header.Get("Content-Type"), "atom")) {
				t.Fatalf("feed:\n%s", b)
			}
		}
		if len(sink.Messages()) != 4 {
			t.Fatalf("unannounced notice was sent")
		}
	})
}

// TestConformanceNoticeReminderAndOutbox checks maintenance reminders and
// that a failed announcement is retried by the outbox in the same thread.
func TestConformanceNoticeReminderAndOutbox(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		sink := smtpsink.Start(t, nil)
		clock := &testClock{t: lon(2026, 11, 20, 10, 0)}
		cfg := notice.DefaultConfig()
		cfg.AnnounceTo, cfg.From, cfg.Relay.Addr, cfg.Language = "itss-announce@uni.example", "drift@uni.example", sink.Addr, "nb"
		down := true
		real := &notice.SMTPSender{Addr: sink.Addr, Timeout: 5 * time.Second}
		sender := notice.SenderFunc(func(ctx context.Context, from string, to []string, msg []byte) error {
			if down {
				return errors.New("relay down")
			}
			return real.Send(ctx, from, to, msg)
		})
		svc, err := notice.New(notice.Options{Config: cfg, Store: ticketstore.New(db), Sender: sender, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		start := lon(2026, 11, 24, 6, 0)
		n, err := svc.Create(ctx, notice.CreateRequest{Kind: notice.KindMaintenance, Title: "Oppgradering av IMAP",
			Services: []string{"imap"}, StartedAt: start, PlannedEnd: start.Add(2 * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if len(sink.Messages()) != 0 {
			t.Fatal("sent while the relay was down")
		}
		down = false
		for _, at := range []time.Time{lon(2026, 11, 21, 10, 0), start.Add(-23 * time.Hour), start.Add(-22 * time.Hour), start.Add(-30 * time.Minute), start.Add(-10 * time.Minute)} {
			clock.Set(at)
			if err := svc.Tick(ctx, at); err != nil {
				t.Fatal(err)
			}
		}
		msgs, err := sink.Wait(3, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var subjects []string
		var thread string
		for i, m := range msgs {
			r := parseReceived(t, m.Data)
			s, _ := r.h.Subject()
			subjects = append(subjects, s)
			if i == 0 {
				thread = r.msgID(t)
			} else if irt, _ := r.h.MsgIDList("In-Reply-To"); len(irt) != 1 || irt[0] != thread {
				t.Fatalf("reminder %d not in thread: %v", i, irt)
			}
		}
		want := fmt.Sprint([]string{"[Planlagt] Planlagt vedlikehold: Oppgradering av IMAP",
			"[Påminnelse: Planlagt] Planlagt vedlikehold: Oppgradering av IMAP",
			"[Påminnelse: Planlagt] Planlagt vedlikehold: Oppgradering av IMAP"})
		if fmt.Sprint(subjects) != want {
			t.Fatalf("subjects %q", subjects)
		}
		got, _ := svc.Get(ctx, n.ID)
		if len(got.Updates) != 3 || got.Updates[0].Attempts != 2 || got.Updates[1].Tag != "24h0m0s" || got.Updates[2].Tag != "1h0m0s" {
			t.Fatalf("updates %+v", got.Updates)
		}
	})
}

// TestConformanceTicketIntake: an e-mail to the
// fault address, delivered over SMTP to a server that hands DATA to
// tickets.Intake, opens a ticket and the reporter gets an acknowledgement;
// a reply to the acknowledgement lands on the same ticket as a comment.
func TestConformanceTicketIntake(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		relay := smtpsink.Start(t, nil) // where acknowledgements go
		e := newTicketEnv(t, db, lon(2026, 11, 24, 10, 0),
			&notice.SMTPSender{Addr: relay.Addr, Timeout: 5 * time.Second}, nil)
		type outcome struct {
			id      string
			created bool
			err     error
		}
		results := make(chan outcome, 10)
		intake := smtpsink.Start(t, func(m smtpsink.Message) error {
			id, created, err := e.svc.Intake(ctx, bytes.NewReader(m.Data))
			results <- outcome{id, created, err}
			if errors.Is(err, tickets.ErrIgnored) {
				return nil
			}
			return err
		})
		client := &notice.SMTPSender{Addr: intake.Addr, Timeout: 5 * time.Second}
		send := func(raw string) outcome {
			t.Helper()
			raw = strings.ReplaceAll(raw, "\n", "\r\n")
			if err := client.Send(ctx, "kari@uni.example", []string{"feil@uni.example"}, []byte(raw)); err != nil {
				t.Fatal(err)
			}
			select {
			case o := <-results:
				return o
			case <-time.After(5 * time.Second):
				t.Fatal("intake not called")
			}
			return outcome{}
		}
		first := send(`From: Kari Nordmann <kari@uni.example>
To: feil@uni.example
Subject: Cannot send mail from Thunderbird
Date: Tue, 24 Nov 2026 10:00:00 +0000
Message-ID: <report-1@client.uni.example>
Content-Type: text/plain; charset=utf-8

Since this morning Thunderbird says "relay access denied".
`)
		if first.err != nil || !first.created || first.id == "" {
			t.Fatalf("report: %+v", first)
		}
		id, _ := tickets.ParseID(first.id)
		tk, err := e.svc.Get(ctx, id)
		if err != nil || tk.Title != "Cannot send mail from Thunderbird" || tk.ReporterEmail != "kari@uni.example" ||
			tk.Reporter != "Kari Nordmann" || tk.Source != "user_report" || !strings.Contains(tk.Symptoms, "relay access denied") {
			t.Fatalf("ticket %+v %v", tk, err)
		}
		acks, err := relay.Wait(1, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		ack := parseReceived(t, acks[0].Data)
		subject, _ := ack.h.Subject()
		irt, _ := ack.h.MsgIDList("In-Reply-To")
		if acks[0].To[0] != "kari@uni.example" || !strings.Contains(subject, "[#"+first.id+"]") ||
			len(irt) != 1 || irt[0] != "report-1@client.uni.example" || ack.h.Get("Auto-Submitted") != "auto-generated" ||
			!strings.Contains(ack.parts["text/plain"], "Tue 2026-11-24 11:00 GMT") {
			t.Fatalf("acknowledgement %q %v\n%s", subject, irt, acks[0].Data)
		}
		ackID := ack.msgID(t)

		e.clock.Set(lon(2026, 11, 24, 10, 20))
		reply := send(fmt.Sprintf(`From: kari@uni.example
To: feil@uni.example
Subject: Re: something else entirely
Message-ID: <reply-1@client.uni.example>
In-Reply-To: <%s>
References: <report-1@client.uni.example> <%s>
Content-Type: text/plain; charset=utf-8

It also fails from my phone.

On Tue, 24 Nov 2026, feil@uni.example wrote:
> we have received your report
`, ackID, ackID))
		if reply.err != nil || reply.created || reply.id != first.id {
			t.Fatalf("reply: %+v", reply)
		}
		// A reply that only keeps [#ID] in the subject also threads.
		bySubject := send(fmt.Sprintf(`From: kari@uni.example
To: feil@uni.example
Subject: Re: [#%s] Received
Message-ID: <reply-2@client.uni.example>
Content-Type: text/html; charset=utf-8

<p>Now it works &amp; thanks!</p>
`, first.id))
		if bySubject.err != nil || bySubject.created || bySubject.id != first.id {
			t.Fatalf("reply by subject: %+v", bySubject)
		}
		// An out-of-office answer that matches nothing opens nothing.
		auto := send(`From: someone@elsewhere.example
To: feil@uni.example
Subject: Out of office
Auto-Submitted: auto-replied
Message-ID: <ooo@elsewhere.example>

I am away.
`)
		if !errors.Is(auto.err, tickets.ErrIgnored) || auto.id != "" {
			t.Fatalf("auto reply: %+v", auto)
		}
		tl, _ := e.svc.Timeline(ctx, id)
		var comments []string
		for _, ev := range tl {
			if ev.Kind == tickets.EvMailIn {
				comments = append(comments, ev.Body)
			}
		}
		if len(comments) != 2 || !strings.Contains(comments[0], "It also fails from my phone.") ||
			strings.Contains(comments[0], "we have received") || !strings.Contains(comments[1], "Now it works & thanks!") {
			t.Fatalf("comments %q", comments)
		}
		if all, _ := e.svc.List(ctx, tickets.Filter{All: true}); len(all) != 1 {
			t.Fatalf("%d tickets, want 1", len(all))
		}
	})
}
