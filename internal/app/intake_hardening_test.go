package app

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

// TestFaultAddressHostileMail (docs/tickets.md, "Intake"): through
// postvakt's own engine, automatic replies and a loop from the fault
// address itself are accepted (250, never 451: a deferral would have the
// sender retry for days and hold back the message's other recipients),
// open no ticket and are counted as ignored; "[#ID]" in a Subject adds to
// ticket ID only from its reporter or staff, while from anyone else it
// opens a new ticket.
func TestFaultAddressHostileMail(t *testing.T) {
	t.Parallel()
	slackAPI, sink := newFakeSlack(t), newSMTPSink(t)
	cfg := oncallConfig(t, slackAPI.srv.URL, sink.addr, time.Hour, 2*time.Hour)
	sc := engine.Default()
	sc.DMARC.Check = false // no DNS here: SPF, DKIM and DMARC have their own tests
	sc.Hostname = "mx.uni.example"
	sc.MX.Listen, sc.Submission.Listen = "127.0.0.1:"+freePort(t), ""
	sc.Whitelist.Clients = []string{"127.0.0.0/8"}
	sc.Directory.Domains = []string{"uni.example"}
	sc.Directory.Mailboxes = []engine.MailboxConfig{{Address: "fault@uni.example"}, {Address: "anna@uni.example"}}
	cfg.SMTP = sc
	cfg.Tickets.FaultAddress = "fault@uni.example"
	cfg.Tickets.StaffAddresses = []string{"@it.uni.example"}
	cfg.Notices.Relay.Addr = sink.addr
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	app := startApp(t, cfg, time.Now)
	token := apiToken(t, cfg, "oncall")

	// send mails msg from sender to rcpts and returns the SMTP error, if any.
	n := 0
	send := func(sender string, rcpts []string, headers, body string) error {
		t.Helper()
		n++
		c, err := smtp.Dial(sc.MX.Listen)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		msg := headers + fmt.Sprintf("\nMessage-ID: <m%d@test.example>\nDate: %s\n\n%s\n", n, time.Now().Format(time.RFC1123Z), body)
		return c.SendMail(sender, rcpts, strings.NewReader(strings.ReplaceAll(msg, "\n", "\r\n")))
	}
	listTickets := func() []tickets.Ticket {
		var list struct {
			Tickets []tickets.Ticket `json:"tickets"`
		}
		call(t, "GET", app.base+"/api/v1/tickets", token, nil, &list)
		return list.Tickets
	}
	timeline := func(id int64) string {
		var view struct {
			Timeline []tickets.Event `json:"timeline"`
		}
		call(t, "GET", fmt.Sprintf("%s/api/v1/tickets/%d", app.base, id), token, nil, &view)
		var b strings.Builder
		for _, e := range view.Timeline {
			b.WriteString(e.Body + "\n")
		}
		return b.String()
	}

	// Automatic mail and a loop: 250 for every recipient, no ticket.
	auto := []struct{ sender, headers string }{
		{"ooo@else.example", "From: Ola <ooo@else.example>\nSubject: Out of office\nAuto-Submitted: auto-replied"},
		{"robot@else.example", "From: robot@else.example\nSubject: Report\nAuto-Submitted: auto-generated"},
		{"news@else.example", "From: news@else.example\nSubject: Newsletter\nPrecedence: bulk"},
		{"junk@else.example", "From: junk@else.example\nSubject: Offer\nPrecedence: junk"},
		{"list@else.example", "From: list@else.example\nSubject: [list] digest\nPrecedence: list"},
		{"", "From: MAILER-DAEMON@else.example\nSubject: Undelivered Mail Returned to Sender"},
		{"fault@uni.example", "From: fault@uni.example\nSubject: Re: [#1] our own acknowledgement"},
	}
	for _, a := range auto {
		if err := send(a.sender, []string{"fault@uni.example", "anna@uni.example"}, a.headers+"\nTo: fault@uni.example, anna@uni.example", "I am away."); err != nil {
			t.Fatalf("%q: %v, want 250 (accepted and ignored)", a.headers, err)
		}
	}
	// Auto-Submitted: no is a person's mail: it opens the first ticket.
	if err := send("kari@else.example", []string{"fault@uni.example"}, "From: Kari <kari@else.example>\nTo: fault@uni.example\nSubject: Webmail down\nAuto-Submitted: no",
		"Nobody can log in since 10:05."); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the report's ticket", func() bool { return len(listTickets()) == 1 })
	time.Sleep(300 * time.Millisecond)
	list := listTickets()
	if len(list) != 1 || list[0].Title != "Webmail down" {
		t.Fatalf("tickets %+v, want only the report", list)
	}
	if got := metricValue(t, app.base, `postvakt_tickets_intake_messages_total{result="ignored"}`); got != float64(len(auto)) {
		t.Errorf("ignored messages counted %v, want %d", got, len(auto))
	}
	id := list[0].ID
	tag := "[#" + strconv.FormatInt(id, 10) + "]"

	// "[#ID]" from an outsider: a new ticket, nothing added to the first.
	if err := send("mallory@evil.example", []string{"fault@uni.example"}, "From: mallory@evil.example\nTo: fault@uni.example\nSubject: Re: "+tag+" Webmail down",
		"Click http://evil.example/reset to fix it."); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the outsider's new ticket", func() bool { return len(listTickets()) == 2 })
	if strings.Contains(timeline(id), "evil.example") {
		t.Fatalf("the outsider's text reached ticket %d:\n%s", id, timeline(id))
	}
	// From the reporter, from a team member (oncall.members) and from a
	// staff domain (tickets.staff_addresses): comments on the ticket.
	for i, from := range []string{"kari@else.example", "ana@example.edu", "helpdesk@it.uni.example"} {
		text := fmt.Sprintf("Update %d from %s.", i, from)
		if err := send(from, []string{"fault@uni.example"}, "From: "+from+"\nTo: fault@uni.example\nSubject: "+tag+" Webmail down", text); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, "the comment from "+from, func() bool { return strings.Contains(timeline(id), text) })
	}
	if got := len(listTickets()); got != 2 {
		t.Fatalf("%d tickets, want 2", got)
	}
}

// metricValue reads one sample of /metrics; -1 when it is absent. /metrics
// must answer 200.
func metricValue(t *testing.T, base, series string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %s", resp.Status)
	}
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(b)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}
