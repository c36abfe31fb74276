package app

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/complaint"
	"github.com/uni-mail/postvakt/internal/api/complaintapi"
	"github.com/uni-mail/postvakt/internal/api/engineapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
)

// spamComplaint is a user's complaint to the abuse address with two spam
// messages attached (message/rfc822).
const spamComplaint = `From: Kari <kari@uni.example>
To: abuse@uni.example
Subject: Fwd: two spams
Date: Mon, 07 Dec 2026 10:00:00 +0000
Message-ID: <complaint-1@uni.example>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: text/plain

These two got through.
--outer
Content-Type: message/rfc822

Return-Path: <bounce@pharma.example>
From: Pills <sales@pharma.example>
Subject: Cheap pills for everyone today
Message-ID: <a1@pharma.example>

Order at https://shop.pharma.example/buy
--outer
Content-Type: message/rfc822

From: Prize <winner@lottery.example>
Subject: You have won
Message-ID: <b2@lottery.example>

Claim at https://claim.lottery.example/now
--outer--
`

// TestSpamComplaintRulesThroughEngine: a complaint with two spam
// messages attached, mailed over SMTP on loopback to the abuse address,
// proposes rules naming their senders and domains; a postmaster accepts
// the complaint's rules in one action; the next message from one of those
// senders, over SMTP again, is scored by the accepted rules and
// quarantined as spam, and each rule shows the complaint behind it. A
// message from a sender no complaint names passes.
func TestSpamComplaintRulesThroughEngine(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Scheduler.Enabled = false
	mx := freeAddr(t)
	cfg.SMTP.Enabled = true
	cfg.SMTP.Hostname = "mx.uni.example"
	cfg.SMTP.MX.Listen, cfg.SMTP.Submission.Listen = mx, ""
	cfg.SMTP.DMARC.Check = false // no DNS here: SPF, DKIM and DMARC have their own tests
	cfg.SMTP.Greylist.Enabled = false
	cfg.SMTP.Limits.ShutdownTimeout = 2 * time.Second
	cfg.SMTP.Directory.Domains = []string{"uni.example"}
	cfg.SMTP.Directory.Mailboxes = []engine.MailboxConfig{{Address: "anna@uni.example"}, {Address: "abuse@uni.example"}}
	cfg.Content.Enabled = true
	cfg.Content.Complaints.Address = "abuse@uni.example"
	cfg.Content.Complaints.ReloadEvery = time.Hour // the decision itself reloads this node
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	pm, viewer := apiToken(t, cfg, auth.RolePostmaster), apiToken(t, cfg, auth.RoleViewer)
	app := startApp(t, cfg, time.Now)
	eventually(t, 10*time.Second, "SMTP listening", func() bool {
		c, err := net.DialTimeout("tcp", mx, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	date := "Date: " + time.Now().Format(time.RFC1123Z) + "\n"
	sendMail(t, mx, "kari@uni.example", []string{"abuse@uni.example"}, spamComplaint)

	var list complaintapi.ComplaintsResponse
	eventually(t, 20*time.Second, "the complaint", func() bool {
		call(t, "GET", app.base+"/api/v1/spam-complaints", viewer, nil, &list)
		return len(list.Complaints) == 1
	})
	c := list.Complaints[0]
	if len(c.Parsed.Spam) != 2 || c.Reporter != "kari@uni.example" {
		t.Fatalf("complaint %+v", c)
	}
	var view complaintapi.ComplaintResponse
	call(t, "GET", fmt.Sprintf("%s/api/v1/spam-complaints/%d", app.base, c.ID), viewer, nil, &view)
	var named []string
	for _, r := range view.Rules {
		named = append(named, r.Kind+":"+r.Value)
		if r.State != complaint.Proposed {
			t.Fatalf("rule %+v", r)
		}
	}
	for _, want := range []string{"sender:sales@pharma.example", "sender:bounce@pharma.example", "domain:pharma.example",
		"sender:winner@lottery.example", "domain:lottery.example", "domain:claim.lottery.example"} {
		if !slices.Contains(named, want) {
			t.Errorf("no proposed rule %s in %v", want, named)
		}
	}
	// Proposed rules change nothing yet: the spammer's next message passes.
	sendMail(t, mx, "sales@pharma.example", []string{"anna@uni.example"},
		"From: Pills <sales@pharma.example>\nTo: anna@uni.example\nSubject: Pills again\nMessage-ID: <a2@pharma.example>\n"+date+"\nhttps://shop.pharma.example/2\n")
	// A viewer cannot accept; the postmaster accepts the complaint's rules at once.
	if code := call(t, "POST", fmt.Sprintf("%s/api/v1/spam-complaints/%d/accept", app.base, c.ID), viewer, nil, nil); code != 403 {
		t.Fatalf("viewer accepts: %d", code)
	}
	var dec complaintapi.DecisionResponse
	if code := call(t, "POST", fmt.Sprintf("%s/api/v1/spam-complaints/%d/accept", app.base, c.ID), pm, nil, &dec); code != 200 || dec.Changed != len(view.Rules) {
		t.Fatalf("accept: %d %+v", code, dec)
	}
	var q engineapi.QuarantineList
	var spamItem string
	eventually(t, 20*time.Second, "the next spam from a named sender quarantined by the accepted rules", func() bool {
		sendMail(t, mx, "sales@pharma.example", []string{"anna@uni.example"},
			"From: Pills <sales@pharma.example>\nTo: anna@uni.example\nSubject: Pills once more\nMessage-ID: <a3@pharma.example>\n"+date+"\nhttps://shop.pharma.example/3\n")
		call(t, "GET", app.base+"/api/v1/quarantine?reason=spam", pm, nil, &q)
		for _, it := range q.Items {
			if it.MailFrom == "sales@pharma.example" && strings.Contains(it.Detail, "LOCAL_") {
				spamItem = it.Detail
				return true
			}
		}
		return false
	})
	if strings.Count(spamItem, "LOCAL_") < 2 {
		t.Errorf("the sender and its domain should both hit: %s", spamItem)
	}
	for _, it := range q.Items {
		if it.Subject == "Pills again" {
			t.Errorf("a message before the rules were accepted was quarantined: %+v", it)
		}
	}
	// Every rule shows the complaint behind it.
	var rules complaintapi.RulesResponse
	call(t, "GET", app.base+"/api/v1/spam-rules?state=active", viewer, nil, &rules)
	if len(rules.Rules) != len(view.Rules) {
		t.Fatalf("%d active rules", len(rules.Rules))
	}
	var rv complaintapi.RuleResponse
	call(t, "GET", fmt.Sprintf("%s/api/v1/spam-rules/%d", app.base, rules.Rules[0].ID), viewer, nil, &rv)
	if len(rv.Complaints) != 1 || rv.Complaints[0].ID != c.ID || rv.Rule.DecidedBy == "" {
		t.Fatalf("rule %+v", rv)
	}
	// The web page lists the complaint with its rules, accepted.
	webUsers(t, cfg, auth.RolePostmaster)
	web, _ := signedIn(t, app.base, "postmaster")
	if _, page := web.do("GET", "/spam-complaints", nil, nil); !strings.Contains(page, "sales@pharma.example") ||
		!strings.Contains(page, fmt.Sprintf(`href="/spam-rules/%d"`, rules.Rules[0].ID)) || !strings.Contains(page, "state-active") {
		t.Errorf("the complaints page lacks the complaint's rules")
	}
	if _, page := web.do("GET", fmt.Sprintf("/spam-rules/%d", rules.Rules[0].ID), nil, nil); !strings.Contains(page, fmt.Sprintf("#%d", c.ID)) {
		t.Errorf("the rule's page lacks its complaint")
	}
	// The complaint is counted.
	r, err := http.Get(app.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	for _, want := range []string{`postvakt_spam_complaints_total{result="taken"} 1`, `postvakt_spam_complaints_total{result="no_spam"} 0`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// Someone else's mail is not touched.
	sendMail(t, mx, "friend@partner.example", []string{"anna@uni.example"},
		"From: Friend <friend@partner.example>\nTo: anna@uni.example\nSubject: Lunch\nMessage-ID: <l1@partner.example>\n"+date+"\nSee you.\n")
	time.Sleep(200 * time.Millisecond)
	call(t, "GET", app.base+"/api/v1/quarantine", pm, nil, &q)
	for _, it := range q.Items {
		if it.MailFrom == "friend@partner.example" {
			t.Errorf("an innocent message was quarantined: %+v", it)
		}
	}
}
