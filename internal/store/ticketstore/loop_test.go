package ticketstore_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/ticketstore"
	"github.com/uni-mail/postvakt/oncall/notice"
	"github.com/uni-mail/postvakt/oncall/notice/smtpsink"
	"github.com/uni-mail/postvakt/oncall/sla"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

// TestConformanceTicketClosedLoop: a reported fault that is resolved
// mails the reporter (a real SMTP server on loopback); the reporter's
// "not solved" reply, delivered over SMTP to the intake, reopens it; the
// second resolution, left quiet for tickets.close_after, closes by the
// tick with a closing mail, all in one thread.
func TestConformanceTicketClosedLoop(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		relay := smtpsink.Start(t, nil)
		e := newTicketEnv(t, db, lon(2026, 11, 24, 10, 0), &notice.SMTPSender{Addr: relay.Addr, Timeout: 5 * time.Second},
			func(o *tickets.Options) { o.Config.CloseAfter = 5 * 24 * time.Hour })
		errs := make(chan error, 10)
		intake := smtpsink.Start(t, func(m smtpsink.Message) error {
			_, _, err := e.svc.Intake(ctx, bytes.NewReader(m.Data))
			errs <- err
			return err
		})
		client := &notice.SMTPSender{Addr: intake.Addr, Timeout: 5 * time.Second}
		send := func(raw string) {
			t.Helper()
			if err := client.Send(ctx, "kari@uni.example", []string{"feil@uni.example"}, []byte(strings.ReplaceAll(raw, "\n", "\r\n"))); err != nil {
				t.Fatal(err)
			}
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		send(`From: Kari <kari@uni.example>
To: feil@uni.example
Subject: Webmail shows an error
Message-ID: <r1@client.uni.example>

Error 500 on login.
`)
		all, _ := e.svc.List(ctx, tickets.Filter{All: true})
		if len(all) != 1 {
			t.Fatalf("%d tickets", len(all))
		}
		id := all[0].ID
		e.clock.Set(lon(2026, 11, 24, 11, 0))
		if _, err := e.svc.Act(ctx, id, tickets.ActResolve, tickets.ActRequest{Actor: "ana", Note: "The webmail node was restarted."}); err != nil {
			t.Fatal(err)
		}
		msgs, err := relay.Wait(2, 5*time.Second) // acknowledgement, resolution
		if err != nil {
			t.Fatal(err)
		}
		res := parseReceived(t, msgs[1].Data)
		subj, _ := res.h.Subject()
		body := res.parts["text/plain"]
		if msgs[1].To[0] != "kari@uni.example" || subj != fmt.Sprintf("[#%d] Resolved: Webmail shows an error", id) ||
			!strings.Contains(body, "The webmail node was restarted.") || !strings.Contains(body, `"not solved"`) ||
			!strings.Contains(body, "Sun 2026-11-29 11:00 GMT") {
			t.Fatalf("resolution mail %q:\n%s", subj, body)
		}
		// The reporter replies to the resolution: not solved.
		e.clock.Set(lon(2026, 11, 25, 9, 0))
		send(fmt.Sprintf(`From: kari@uni.example
To: feil@uni.example
Subject: Re: resolved
Message-ID: <r2@client.uni.example>
In-Reply-To: <%s>

Sorry, it is not solved: the error is back.
`, res.msgID(t)))
		tk, _ := e.svc.Get(ctx, id)
		if tk.State != tickets.StateInvestigating || !tk.ResolvedAt.IsZero() {
			t.Fatalf("not reopened: %s", tk.State)
		}
		// A thank-you to a resolved ticket does not reopen it.
		e.clock.Set(lon(2026, 11, 25, 10, 0))
		if _, err := e.svc.Act(ctx, id, tickets.ActResolve, tickets.ActRequest{Actor: "ana", Note: "The disk was full."}); err != nil {
			t.Fatal(err)
		}
		send(fmt.Sprintf(`From: kari@uni.example
To: feil@uni.example
Subject: Re: [#%d] Resolved
Message-ID: <r3@client.uni.example>

Thanks, works now!
`, id))
		// Quiet for less than close_after: still resolved; then closed.
		for _, c := range []struct {
			at    time.Time
			state string
		}{{lon(2026, 11, 30, 9, 59), tickets.StateResolved}, {lon(2026, 11, 30, 10, 0), tickets.StateClosed}} {
			e.clock.Set(c.at)
			if err := e.svc.Tick(ctx, c.at); err != nil {
				t.Fatal(err)
			}
			if tk, _ = e.svc.Get(ctx, id); tk.State != c.state {
				t.Fatalf("at %v: %s, want %s", c.at, tk.State, c.state)
			}
		}
		msgs, err = relay.Wait(4, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		closing := parseReceived(t, msgs[3].Data)
		if s, _ := closing.h.Subject(); s != fmt.Sprintf("[#%d] Closed: Webmail shows an error", id) || !strings.Contains(closing.parts["text/plain"], "now closed") {
			t.Fatalf("closing mail %q", s)
		}
		tl, _ := e.svc.Timeline(ctx, id)
		var states []string
		for _, ev := range tl {
			if ev.Kind == tickets.EvState {
				states = append(states, ev.Actor+":"+ev.ToState)
			}
		}
		if fmt.Sprint(states) != "[ana:resolved kari@uni.example:investigating ana:resolved postvakt:closed]" {
			t.Fatalf("states %v", states)
		}
	})
}

// TestConformanceTicketDuplicate: a second report of a fault that is
// being handled, marked as its duplicate, runs no clocks of its own:
// past the response target (an injected clock) the parent breaches and
// is paged, the duplicate neither, and compliance counts the parent once.
func TestConformanceTicketDuplicate(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		e := newTicketEnv(t, db, lon(2026, 11, 24, 10, 0), nil, nil)
		parent, err := e.svc.Open(ctx, tickets.OpenRequest{Title: "Submission refuses logins", Service: "smtp", Severity: "major"})
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Set(lon(2026, 11, 24, 10, 5))
		child, err := e.svc.Open(ctx, tickets.OpenRequest{Title: "Cannot send", Service: "smtp", Severity: "major", Source: "user_report"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.MarkDuplicate(ctx, child.ID, child.ID, "ana"); err == nil {
			t.Fatal("a ticket duplicated itself")
		}
		dup, err := e.svc.MarkDuplicate(ctx, child.ID, parent.ID, "ana")
		if err != nil || dup.DuplicateOf() != parent.ID || len(dup.Clocks) != 0 {
			t.Fatalf("%v %+v", err, dup)
		}
		if _, err := e.svc.MarkDuplicate(ctx, parent.ID, child.ID, "ana"); err == nil {
			t.Fatal("a duplicate became a parent")
		}
		// Two business hours later: the parent's response clock breached.
		at := lon(2026, 11, 24, 12, 10)
		e.clock.Set(at)
		if err := e.svc.Tick(ctx, at); err != nil {
			t.Fatal(err)
		}
		p, _ := e.svc.Get(ctx, parent.ID)
		if ck, _ := p.Clock(sla.KindResponse); !ck.Breached() {
			t.Fatalf("parent response clock %+v", ck)
		}
		c, _ := e.svc.Get(ctx, child.ID)
		if len(c.Clocks) != 0 {
			t.Fatalf("duplicate has clocks %+v", c.Clocks)
		}
		for _, pg := range e.pager.list() {
			if pg.TicketID == tickets.ID(child.ID) {
				t.Fatalf("the duplicate was paged: %+v", pg)
			}
		}
		if len(e.pager.list()) == 0 {
			t.Fatal("the parent's breach was not paged")
		}
		tl, _ := e.svc.Timeline(ctx, child.ID)
		for _, ev := range tl {
			if ev.Kind == tickets.EvBreach || ev.Kind == tickets.EvWarning {
				t.Fatalf("duplicate timeline: %+v", ev)
			}
		}
		comp, err := ticketstore.New(db).TicketCompliance(ctx, lon(2026, 11, 1, 0, 0))
		if err != nil {
			t.Fatal(err)
		}
		var breached int
		for _, cc := range comp {
			if cc.Clock == sla.KindResponse {
				breached += cc.Breached
			}
		}
		if breached != 1 {
			t.Fatalf("compliance %+v", comp)
		}
		// A resolved parent is no longer being handled.
		if _, err := e.svc.Act(ctx, parent.ID, tickets.ActResolve, tickets.ActRequest{Actor: "ana"}); err != nil {
			t.Fatal(err)
		}
		third, _ := e.svc.Open(ctx, tickets.OpenRequest{Title: "Also cannot send", Service: "smtp"})
		if _, err := e.svc.MarkDuplicate(ctx, third.ID, parent.ID, "ana"); err == nil {
			t.Fatal("a duplicate of a resolved ticket")
		}
	})
}
