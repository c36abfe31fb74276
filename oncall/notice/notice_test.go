package notice

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	gomail "github.com/emersion/go-message/mail"

	"github.com/uni-mail/postvakt/oncall/notice/smtpsink"
)

func TestCanMove(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		kind, from, to string
		ok             bool
	}{
		{KindOutage, Investigating, Identified, true},
		{KindOutage, Monitoring, Investigating, true},
		{KindOutage, Investigating, Resolved, true},
		{KindOutage, Resolved, Monitoring, false},
		{KindOutage, Investigating, InProgress, false},
		{KindMaintenance, Scheduled, InProgress, true},
		{KindMaintenance, InProgress, Scheduled, false},
		{KindMaintenance, Scheduled, Cancelled, true},
		{KindMaintenance, Completed, InProgress, false},
	} {
		if got := CanMove(c.kind, c.from, c.to); got != c.ok {
			t.Errorf("%s %s→%s: %v", c.kind, c.from, c.to, got)
		}
	}
}

// TestMailOverSMTP renders a message and sends it with SMTPSender to a
// real server on loopback, then parses what arrived.
// TestWindow: a maintenance notice plans its services down from its start
// to its end, or to its planned end while running; an outage notice and a
// cancelled maintenance plan nothing.
func TestWindow(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 10, 27, 6, 0, 0, 0, time.UTC)
	planned, ended := start.Add(time.Hour), start.Add(90*time.Minute)
	for _, c := range []struct {
		name     string
		n        Notice
		end      time.Time
		ok       bool
		wantZero bool
	}{
		{"ended", Notice{Kind: KindMaintenance, State: Completed, StartedAt: start, PlannedEnd: planned, EndedAt: ended}, ended, true, false},
		{"running", Notice{Kind: KindMaintenance, State: InProgress, StartedAt: start, PlannedEnd: planned}, planned, true, false},
		{"open-ended", Notice{Kind: KindMaintenance, State: InProgress, StartedAt: start}, time.Time{}, true, false},
		{"cancelled", Notice{Kind: KindMaintenance, State: Cancelled, StartedAt: start, PlannedEnd: planned, EndedAt: start}, time.Time{}, false, true},
		{"outage", Notice{Kind: KindOutage, State: Resolved, StartedAt: start, EndedAt: ended}, time.Time{}, false, true},
	} {
		s, e, ok := c.n.Window()
		if ok != c.ok || !e.Equal(c.end) || (c.ok && !s.Equal(start)) || (c.wantZero && !s.IsZero()) {
			t.Errorf("%s: Window() = %v, %v, %v; want %v, %v, %v", c.name, s, e, ok, start, c.end, c.ok)
		}
	}
	if r := (Notice{ID: 12}).Ref(); r != "N-12" {
		t.Errorf("Ref = %q", r)
	}
}

func TestMailOverSMTP(t *testing.T) {
	t.Parallel()
	sink := smtpsink.Start(t, nil)
	m := Mail{From: `"Drift" <drift@uni.example>`, To: []string{"list@uni.example"}, Subject: "[Løst] Driftsavbrudd: IMAP",
		Date: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC), MessageID: "n1@uni.example", InReplyTo: []string{"n0@uni.example"},
		References: []string{"n0@uni.example"}, Text: "Løst.", HTML: "<p>Løst.</p>", AutoSubmitted: true}
	b, err := m.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	s := &SMTPSender{Addr: sink.Addr, Timeout: 5 * time.Second}
	if err := s.Send(context.Background(), m.From, m.To, b); err != nil {
		t.Fatal(err)
	}
	got, err := sink.Wait(1, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	mr, err := gomail.CreateReader(bytes.NewReader(got[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	subj, _ := mr.Header.Subject()
	irt, _ := mr.Header.MsgIDList("In-Reply-To")
	if subj != m.Subject || len(irt) != 1 || irt[0] != "n0@uni.example" || got[0].From != "drift@uni.example" {
		t.Fatalf("subject %q irt %v from %s", subj, irt, got[0].From)
	}
	var parts []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := p.Header.(*gomail.InlineHeader).ContentType()
		body, _ := io.ReadAll(p.Body)
		parts = append(parts, ct+"="+strings.TrimSpace(string(body)))
	}
	if strings.Join(parts, "|") != "text/plain=Løst.|text/html=<p>Løst.</p>" {
		t.Fatalf("parts %q", parts)
	}
	if err := (&SMTPSender{}).Send(context.Background(), m.From, m.To, b); err != ErrNoRelay {
		t.Fatalf("no relay: %v", err)
	}
}

func TestTemplatesRenderBothLanguages(t *testing.T) {
	t.Parallel()
	tpl, err := LoadTemplates()
	if err != nil {
		t.Fatal(err)
	}
	n := Notice{Kind: KindMaintenance, Title: "IMAP upgrade", Services: []string{"imap"}, State: Scheduled}
	for lang, want := range map[string]string{"en": "[Scheduled] Planned maintenance: IMAP upgrade", "nb": "[Planlagt] Planlagt vedlikehold: IMAP upgrade"} {
		d := MailData{Notice: n, Update: Update{State: Scheduled}, Kind: Label(lang, n.Kind), State: Label(lang, Scheduled), Services: "IMAP", Started: "Tue"}
		text, html, subject, err := tpl.Render(lang, d)
		if err != nil || subject != want || !strings.Contains(text, "IMAP") || !strings.Contains(html, "<table>") {
			t.Fatalf("%s: %q %v\n%s", lang, subject, err, text)
		}
	}
	if FormatDuration(110*time.Minute) != "1h 50m" || FormatDuration(26*time.Hour) != "1d 2h" {
		t.Fatal("FormatDuration")
	}
}
