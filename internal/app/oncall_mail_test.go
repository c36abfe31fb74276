package app

import (
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/oncall/incident"
)

// TestIncidentMailThroughEngine: mail to oncall.incident_mail's address,
// received by postvakt's own engine over real SMTP, opens an incident
// whose title is the decoded subject; the same message delivered again
// (same Message-ID) opens no second one; an automatic reply (RFC 3834)
// opens none; the page reaches the person on call.
func TestIncidentMailThroughEngine(t *testing.T) {
	t.Parallel()
	slackAPI, sink := newFakeSlack(t), newSMTPSink(t)
	cfg := oncallConfig(t, slackAPI.srv.URL, sink.addr, time.Hour, 2*time.Hour)
	sc := engine.Default()
	sc.DMARC.Check = false // no DNS here: SPF, DKIM and DMARC have their own tests
	sc.Hostname = "mx.uni.example"
	sc.MX.Listen, sc.Submission.Listen = "127.0.0.1:"+freePort(t), ""
	sc.Whitelist.Clients = []string{"127.0.0.0/8"}
	sc.Directory.Domains = []string{"uni.example"}
	sc.Directory.Mailboxes = []engine.MailboxConfig{{Address: "incident@uni.example"}}
	cfg.SMTP = sc
	cfg.Oncall.IncidentMail.Address = "incident@uni.example"
	cfg.Oncall.IncidentMail.Severity = "critical"
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
		if err := c.SendMail("noc@else.example", []string{"incident@uni.example"}, strings.NewReader(strings.ReplaceAll(msg, "\n", "\r\n"))); err != nil {
			t.Fatalf("send: %v", err)
		}
	}
	report := "From: NOC <noc@else.example>\nTo: incident@uni.example\nSubject: =?UTF-8?Q?Kj=C3=B8_p=C3=A5_mx2_vokser?=\n" +
		"Message-ID: <noc-4711@else.example>\nDate: " + time.Now().Format(time.RFC1123Z) + "\n\nThe queue on mx2 has grown to 9000 since 10:05.\n"
	send(report)
	send(report) // delivered twice
	send("From: Kari <kari@else.example>\nTo: incident@uni.example\nSubject: Out of office\nAuto-Submitted: auto-replied\n" +
		"Message-ID: <ooo-1@else.example>\n\nI am away.\n")
	var list struct {
		Incidents []incident.Incident `json:"incidents"`
	}
	eventually(t, 20*time.Second, "an incident from the e-mail", func() bool {
		call(t, "GET", app.base+"/api/v1/incidents", token, nil, &list)
		return len(list.Incidents) >= 1
	})
	onCall := memberByID(onCallAt(t, time.Now()))
	eventually(t, 10*time.Second, "the page to the person on call", func() bool { return len(sink.to(onCall.Email)) >= 1 })
	call(t, "GET", app.base+"/api/v1/incidents", token, nil, &list)
	if len(list.Incidents) != 1 {
		t.Fatalf("%d incidents, want 1: %+v", len(list.Incidents), list.Incidents)
	}
	in := list.Incidents[0]
	if in.Title != "Kjø på mx2 vokser" || in.Source != "mail" || in.Key != "mail/noc-4711@else.example" || in.Severity != "critical" ||
		!strings.Contains(in.Summary, "grown to 9000") || in.Labels["from"] != "noc@else.example" {
		t.Fatalf("incident %+v", in)
	}
}
