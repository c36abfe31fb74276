package app

import (
	"fmt"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

// TestFaultAddressThroughEngine runs the fault-address intake
// (docs/tickets.md, "Intake") through postvakt's own engine: a report
// mailed to the fault address opens a ticket, the reporter gets an
// acknowledgement, and a reply to it lands on the same ticket as a comment.
func TestFaultAddressThroughEngine(t *testing.T) {
	t.Parallel()
	slackAPI, sink := newFakeSlack(t), newSMTPSink(t)
	cfg := oncallConfig(t, slackAPI.srv.URL, sink.addr, time.Hour, 2*time.Hour)
	sc := engine.Default()
	sc.DMARC.Check = false // no DNS here: SPF, DKIM and DMARC have their own tests
	sc.Hostname = "mx.uni.example"
	sc.MX.Listen, sc.Submission.Listen = "127.0.0.1:"+freePort(t), ""
	sc.Whitelist.Clients = []string{"127.0.0.0/8"}
	sc.Directory.Domains = []string{"uni.example"}
	sc.Directory.Mailboxes = []engine.MailboxConfig{{Address: "fault@uni.example"}}
	cfg.SMTP = sc
	cfg.Tickets.FaultAddress = "fault@uni.example"
	cfg.Notices.Relay.Addr = sink.addr
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	app := startApp(t, cfg, time.Now)
	token := apiToken(t, cfg, "oncall")

	send := func(msg string) {
		t.Helper()
		c, err := smtp.Dial(sc.MX.Listen)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.SendMail("kari@else.example", []string{"fault@uni.example"}, strings.NewReader(strings.ReplaceAll(msg, "\n", "\r\n"))); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	send("From: Kari <kari@else.example>\nTo: fault@uni.example\nSubject: Webmail down for the law faculty\n" +
		"Message-ID: <report-1@else.example>\nDate: " + time.Now().Format(time.RFC1123Z) + "\n\nNobody at the law faculty can log in to webmail since 10:05.\n")

	var list struct {
		Tickets []tickets.Ticket `json:"tickets"`
	}
	eventually(t, 20*time.Second, "a ticket from the e-mail", func() bool {
		call(t, "GET", app.base+"/api/v1/tickets", token, nil, &list)
		return len(list.Tickets) == 1
	})
	tk := list.Tickets[0]
	if tk.Title != "Webmail down for the law faculty" {
		t.Fatalf("ticket %+v", tk)
	}
	var ack *mail.Message
	eventually(t, 20*time.Second, "the acknowledgement to the reporter", func() bool {
		if msgs := sink.to("kari@else.example"); len(msgs) > 0 {
			m, err := mail.ReadMessage(strings.NewReader(msgs[0].Data))
			ack = m
			return err == nil
		}
		return false
	})
	send("From: Kari <kari@else.example>\nTo: fault@uni.example\nSubject: Re: " + ack.Header.Get("Subject") + "\n" +
		"Message-ID: <report-2@else.example>\nIn-Reply-To: " + ack.Header.Get("Message-Id") + "\nReferences: " + ack.Header.Get("Message-Id") +
		"\nDate: " + time.Now().Format(time.RFC1123Z) + "\n\nIt works again for some of us.\n")
	var view struct {
		Timeline []tickets.Event `json:"timeline"`
	}
	eventually(t, 20*time.Second, "the reply as a comment on the same ticket", func() bool {
		call(t, "GET", fmt.Sprintf("%s/api/v1/tickets/%d", app.base, tk.ID), token, nil, &view)
		for _, e := range view.Timeline {
			if strings.Contains(e.Body, "It works again for some of us") {
				return true
			}
		}
		return false
	})
	call(t, "GET", app.base+"/api/v1/tickets", token, nil, &list)
	if len(list.Tickets) != 1 {
		t.Fatalf("the reply opened a ticket of its own: %d tickets", len(list.Tickets))
	}
}
