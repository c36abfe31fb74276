package complaintstore_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/complaint"
	"github.com/uni-mail/postvakt/engine/spam"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/pgtest"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/complaintstore"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// Complaint is a user's complaint with two spam messages attached as
// message/rfc822 parts.
const Complaint = `From: Kari <kari@uni.example>
To: abuse@uni.example
Subject: Fwd: spam
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: text/plain

Two more of these today.
--outer
Content-Type: message/rfc822

Return-Path: <bounce@pharma.example>
From: "Pills" <sales@pharma.example>
Subject: Cheap pills for everyone today
Message-ID: <a1@pharma.example>

Buy now at https://shop.pharma.example/buy and http://tracker.example/x
--outer
Content-Type: message/rfc822

From: Prize <winner@lottery.example>
Subject: You have won
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/html

<a href="https://claim.lottery.example/now">claim</a> or mail us@gmail.com
--inner--
--outer--
`

func TestComplaintsAndRules(t *testing.T) {
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
		now := t0
		changed := 0
		svc := complaint.New(complaint.Options{Config: complaint.DefaultConfig(), Store: complaintstore.New(db), Now: func() time.Time { return now },
			Local: func(_ context.Context, d string) bool { return d == "uni.example" }, OnChange: func() { changed++ }})
		c, err := svc.Intake(ctx, strings.NewReader(strings.ReplaceAll(Complaint, "\n", "\r\n")))
		if err != nil {
			t.Fatal(err)
		}
		if c.Reporter != "kari@uni.example" || len(c.Parsed.Spam) != 2 || c.Parsed.Spam[0].ReturnPath != "bounce@pharma.example" ||
			c.Parsed.Spam[1].From != "winner@lottery.example" || !slices.Contains(c.Parsed.Spam[1].URLHosts, "claim.lottery.example") {
			t.Fatalf("%+v", c)
		}
		_, rules, err := svc.Complaint(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rules {
			got = append(got, r.Kind+":"+r.Value)
			if r.State != complaint.Proposed || !slices.Equal(r.Complaints, []int64{c.ID}) {
				t.Fatalf("rule %+v", r)
			}
		}
		for _, want := range []string{"sender:bounce@pharma.example", "sender:sales@pharma.example", "domain:pharma.example",
			"domain:shop.pharma.example", "domain:tracker.example", "sender:winner@lottery.example", "domain:lottery.example",
			"domain:claim.lottery.example", "header:cheap pills for everyone today"} {
			if !slices.Contains(got, want) {
				t.Errorf("no proposed rule %s in %v", want, got)
			}
		}
		if slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, "gmail.com") || strings.Contains(s, "uni.example") }) {
			t.Errorf("an exempt domain was proposed: %v", got)
		}
		// A second complaint about the same sender is linked to the same rule.
		now = t0.Add(time.Hour)
		c2, err := svc.Intake(ctx, strings.NewReader("From: per@uni.example\r\nSubject: spam\r\nContent-Type: text/plain\r\n\r\nSee below.\r\n---------- Forwarded message ---------\r\nFrom: sales@pharma.example\r\nSubject: again\r\n\r\nhttps://shop.pharma.example/2\r\n"))
		if err != nil || !c2.Parsed.Inline {
			t.Fatalf("%v %+v", err, c2)
		}
		active, _ := svc.Rules(ctx, complaint.Proposed)
		var sales complaint.Rule
		for _, r := range active {
			if r.Value == "sales@pharma.example" {
				sales = r
			}
		}
		if !slices.Equal(sales.Complaints, []int64{c.ID, c2.ID}) {
			t.Fatalf("rule behind %v", sales.Complaints)
		}
		// Accepting the first complaint's rules is one action.
		n, err := svc.Decide(ctx, c.ID, nil, complaint.Active, "olav")
		if err != nil || n != len(rules) || changed != 1 {
			t.Fatalf("%v %d of %d, changed %d", err, n, len(rules), changed)
		}
		lr, err := svc.ActiveRules(ctx)
		if err != nil || lr.Len() != len(rules) {
			t.Fatalf("%v %d", err, lr.Len())
		}
		if _, err := svc.Decide(ctx, c.ID, nil, complaint.Active, "olav"); !errors.Is(err, complaint.ErrTransition) {
			t.Fatalf("accepted twice: %v", err)
		}
		r, cs, err := svc.Rule(ctx, sales.ID)
		if err != nil || r.State != complaint.Active || r.DecidedBy != "olav" || len(cs) != 2 || cs[1].Parsed.Spam[0].From != "sales@pharma.example" {
			t.Fatalf("%v %+v %+v", err, r, cs)
		}
		hits := lr.Match(spam.Input{MailFrom: "sales@pharma.example"})
		if len(hits) != 2 { // the sender and its domain
			t.Fatalf("hits %+v", hits)
		}
		// A complaint with nothing attached or forwarded stores nothing.
		if _, err := svc.Intake(ctx, strings.NewReader("From: a@uni.example\r\nSubject: hi\r\n\r\njust text\r\n")); !errors.Is(err, complaint.ErrNoSpam) {
			t.Fatalf("no spam: %v", err)
		}
		if l, _ := svc.Complaints(ctx, 10); len(l) != 2 {
			t.Fatalf("%d complaints", len(l))
		}
		// At most max_per_hour complaints an hour: the third within the
		// hour stores nothing; an hour later it is read again.
		cfg := complaint.DefaultConfig()
		cfg.MaxPerHour = 2
		capped := complaint.New(complaint.Options{Config: cfg, Store: complaintstore.New(db), Now: func() time.Time { return now }})
		if _, err := capped.Intake(ctx, strings.NewReader(strings.ReplaceAll(Complaint, "\n", "\r\n"))); !errors.Is(err, complaint.ErrBusy) {
			t.Fatalf("over the hourly bound: %v", err)
		}
		now = now.Add(time.Hour)
		if _, err := capped.Intake(ctx, strings.NewReader(strings.ReplaceAll(Complaint, "\n", "\r\n"))); err != nil {
			t.Fatalf("an hour later: %v", err)
		}
	})
}
