package app

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/ingest"
	"github.com/uni-mail/postvakt/collectors/trace"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/txlogstore"
)

// helpdeskPostfix and helpdeskSyslog are a user's morning in the formats of
// the sample logs (/work/shared/samples/real-logs: Postfix's own log file
// with whole seconds, rsyslog's with microseconds): a partner greylisted
// twice (Postfix's 450 and postgrey's line for each try) and then
// delivered, a message refused by LMTP for quota (bounced), and a message
// delivered at once.
const helpdeskPostfix = `Nov 22 10:53:23 mx postfix/smtpd[28015]: connect from mail.partner-univ.example[127.0.1.10]
Nov 22 10:53:23 mx postfix/smtpd[28015]: NOQUEUE: reject: RCPT from mail.partner-univ.example[127.0.1.10]: 450 4.2.0 <ola.hansen@uni.example>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/uni.example.html; from=<rafael.novak@partner-univ.example> to=<ola.hansen@uni.example> proto=ESMTP helo=<mail.partner-univ.example>
Nov 22 10:53:23 mx postfix/smtpd[28015]: disconnect from mail.partner-univ.example[127.0.1.10] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4
Nov 22 10:53:25 mx postfix/smtpd[28015]: connect from mail.partner-univ.example[127.0.1.10]
Nov 22 10:53:25 mx postfix/smtpd[28015]: NOQUEUE: reject: RCPT from mail.partner-univ.example[127.0.1.10]: 450 4.2.0 <ola.hansen@uni.example>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/uni.example.html; from=<rafael.novak@partner-univ.example> to=<ola.hansen@uni.example> proto=ESMTP helo=<mail.partner-univ.example>
Nov 22 10:53:25 mx postfix/smtpd[28015]: disconnect from mail.partner-univ.example[127.0.1.10] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4
Nov 22 10:54:10 mx postfix/smtpd[28031]: connect from smtp1.bigmail.example[127.0.1.12]
Nov 22 10:54:10 mx postfix/smtpd[28031]: 1C0FFBA101: client=smtp1.bigmail.example[127.0.1.12]
Nov 22 10:54:10 mx postfix/cleanup[28025]: 1C0FFBA101: message-id=<q1@bigmail.example>
Nov 22 10:54:10 mx postfix/qmgr[27900]: 1C0FFBA101: from=<wendy.silva@bigmail.example>, size=4100000, nrcpt=1 (queue active)
Nov 22 10:54:10 mx postfix/smtpd[28031]: disconnect from smtp1.bigmail.example[127.0.1.12] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5
Nov 22 10:54:11 mx postfix/lmtp[28040]: 1C0FFBA101: to=<ola.hansen@uni.example>, relay=mx.uni.example[private/dovecot-lmtp], delay=0.5, delays=0.1/0/0.1/0.3, dsn=5.2.2, status=bounced (host mx.uni.example[private/dovecot-lmtp] said: 552 5.2.2 <ola.hansen@uni.example> Quota exceeded (mailbox for user is full) (in reply to end of DATA command))
Nov 22 10:54:11 mx postfix/bounce[28050]: 1C0FFBA101: sender non-delivery notification: 2D0FFBA102
Nov 22 10:54:11 mx postfix/qmgr[27900]: 1C0FFBA101: removed
Nov 22 10:54:30 mx postfix/smtpd[28015]: connect from mail.partner-univ.example[127.0.1.10]
Nov 22 10:54:30 mx postfix/smtpd[28015]: 3E0FFBA103: client=mail.partner-univ.example[127.0.1.10]
Nov 22 10:54:30 mx postfix/cleanup[28025]: 3E0FFBA103: message-id=<m1@partner-univ.example>
Nov 22 10:54:30 mx postfix/qmgr[27900]: 3E0FFBA103: from=<rafael.novak@partner-univ.example>, size=1200, nrcpt=1 (queue active)
Nov 22 10:54:30 mx postfix/smtpd[28015]: disconnect from mail.partner-univ.example[127.0.1.10] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5
Nov 22 10:54:31 mx postfix/lmtp[28040]: 3E0FFBA103: to=<ola.hansen@uni.example>, relay=mx.uni.example[private/dovecot-lmtp], delay=0.4, delays=0.1/0/0.1/0.2, dsn=2.0.0, status=sent (250 2.0.0 <ola.hansen@uni.example> Saved)
Nov 22 10:54:31 mx postfix/qmgr[27900]: 3E0FFBA103: removed
Nov 22 10:55:40 mx postfix/smtpd[28031]: connect from out.newsletter-service.example[127.0.1.13]
Nov 22 10:55:40 mx postfix/smtpd[28031]: 4F0FFBA104: client=out.newsletter-service.example[127.0.1.13]
Nov 22 10:55:40 mx postfix/cleanup[28025]: 4F0FFBA104: message-id=<n1@newsletter-service.example>
Nov 22 10:55:40 mx postfix/qmgr[27900]: 4F0FFBA104: from=<hannah.brown@newsletter-service.example>, size=3000, nrcpt=1 (queue active)
Nov 22 10:55:40 mx postfix/smtpd[28031]: disconnect from out.newsletter-service.example[127.0.1.13] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5
Nov 22 10:55:41 mx postfix/lmtp[28040]: 4F0FFBA104: to=<ola.hansen@uni.example>, relay=mx.uni.example[private/dovecot-lmtp], delay=0.3, delays=0.1/0/0.1/0.1, dsn=2.0.0, status=sent (250 2.0.0 <ola.hansen@uni.example> Saved)
Nov 22 10:55:41 mx postfix/qmgr[27900]: 4F0FFBA104: removed
`

const helpdeskSyslog = `2026-11-22T10:53:23.541493+00:00 mx postgrey[27874]: action=greylist, reason=new, client_name=mail.partner-univ.example, client_address=127.0.1.10, sender=rafael.novak@partner-univ.example, recipient=ola.hansen@uni.example
2026-11-22T10:53:25.212004+00:00 mx postgrey[27874]: action=greylist, reason=early-retry (3s missing), client_name=mail.partner-univ.example, client_address=127.0.1.10, sender=rafael.novak@partner-univ.example, recipient=ola.hansen@uni.example
2026-11-22T10:54:30.104512+00:00 mx postgrey[27874]: action=pass, reason=triplet found, delay=67, client_name=mail.partner-univ.example, client_address=127.0.1.10, sender=rafael.novak@partner-univ.example, recipient=ola.hansen@uni.example
`

// TestTraceHelpdesk: the trace of a user with greylisted, bounced and
// delivered mail, fed as log lines through the collectors' import, lists
// one row per message, newest first, with the bounce reason in the row
// and the total count of matching messages; with folding (the page's
// default) the two greylisted tries and the delivery are one row, without
// it every refusal is a row of its own (docs/web.md, "Trace").
func TestTraceHelpdesk(t *testing.T) {
	t.Parallel()
	cfg := webConfig(t)
	dir := t.TempDir()
	var paths []string
	for name, text := range map[string]string{"postfix.log": helpdeskPostfix, "syslog-mail.log": helpdeskSyslog} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		end := time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC)
		os.Chtimes(p, end, end) // the year of Postfix's timestamps
		paths = append(paths, p)
	}
	ctx := context.Background()
	db, err := storage.Open(ctx, cfg.DatabaseURL(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.MigrateUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	po, err := PipelineOptions(cfg.Collectors, txlogstore.New(db))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.Import(ctx, ingest.New(po), ingest.ImportOptions{Files: paths, Loc: time.UTC}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	clock := &testClock{t: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}
	app := startApp(t, cfg, clock.Now)
	webUsers(t, cfg, auth.RoleHelpdesk)
	tok := apiToken(t, cfg, auth.RoleHelpdesk)

	user := url.QueryEscape("ola.hansen@uni.example")
	var folded, plain trace.Page
	if code := call(t, "GET", app.base+"/api/v1/trace?fold=1&to="+user, tok, nil, &folded); code != http.StatusOK {
		t.Fatalf("trace: %d", code)
	}
	type row struct{ from, summary, status, reason string }
	var got []row
	for _, m := range folded.Messages {
		r := row{from: m.From, summary: m.Summary}
		if len(m.Recipients) == 1 {
			r.status, r.reason = m.Recipients[0].Status, m.Recipients[0].Reason
		}
		got = append(got, r)
	}
	want := []row{
		{"hannah.brown@newsletter-service.example", "", "delivered", "250 2.0.0 <ola.hansen@uni.example> Saved"},
		{"rafael.novak@partner-univ.example", "greylisted 2×, then delivered", "delivered", "250 2.0.0 <ola.hansen@uni.example> Saved"},
		{"wendy.silva@bigmail.example", "", "bounced", "host mx.uni.example[private/dovecot-lmtp] said: 552 5.2.2 <ola.hansen@uni.example> Quota exceeded (mailbox for user is full) (in reply to end of DATA command)"},
	}
	if len(got) != len(want) || folded.Total != 3 {
		t.Fatalf("folded: total %d, rows %+v, want %+v", folded.Total, got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("folded row %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if m := folded.Messages[1]; len(m.Attempts) != 2 || !m.Attempts[0].Greylisted || m.Direction != "inbound" {
		t.Errorf("greylisted message: %d attempts %+v, direction %s", len(m.Attempts), m.Attempts, m.Direction)
	}
	// unfolded: each refusal line (and postgrey's pass) is a result, still newest first
	if code := call(t, "GET", app.base+"/api/v1/trace?to="+user, tok, nil, &plain); code != http.StatusOK {
		t.Fatalf("trace: %d", code)
	}
	if plain.Total != 8 || len(plain.Messages) != 8 {
		t.Errorf("unfolded: total %d, %d rows, want 8", plain.Total, len(plain.Messages))
	}
	for i := 1; i < len(plain.Messages); i++ {
		// (whole seconds: Postfix's lines have no fraction, postgrey's do)
		if plain.Messages[i].FirstSeen.Truncate(time.Second).After(plain.Messages[i-1].FirstSeen) {
			t.Errorf("unfolded row %d (%s) is newer than row %d (%s)", i, plain.Messages[i].FirstSeen, i-1, plain.Messages[i-1].FirstSeen)
		}
	}
	// the total is the count, not the page size
	var small trace.Page
	if code := call(t, "GET", app.base+"/api/v1/trace?limit=2&to="+user, tok, nil, &small); code != http.StatusOK ||
		small.Total != 8 || len(small.Messages) != 2 || small.NextOffset != 2 {
		t.Errorf("paged: %d total %d, %d rows, next %d", code, small.Total, len(small.Messages), small.NextOffset)
	}
	// filters: outcome and direction
	var bounced trace.Page
	if code := call(t, "GET", app.base+"/api/v1/trace?fold=1&status=bounced&direction=inbound&to="+user, tok, nil, &bounced); code != http.StatusOK ||
		bounced.Total != 1 || bounced.Messages[0].From != "wendy.silva@bigmail.example" {
		t.Errorf("bounced: %d %+v", code, bounced)
	}
	if code := call(t, "GET", app.base+"/api/v1/trace?direction=sideways&to="+user, tok, nil, nil); code != http.StatusBadRequest {
		t.Errorf("unknown direction: %d", code)
	}

	// the page, as the helpdesk sees it (folding on by default)
	c := newClient(t, app.base)
	if resp, _ := c.login("helpdesk", testPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	resp, body := c.do("GET", "/trace?to="+user, nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /trace: %d", resp.StatusCode)
	}
	if n := strings.Count(body, `<tr class="trace-row`); n != 3 {
		t.Errorf("page shows %d rows, want 3", n)
	}
	for _, s := range []string{`id="trace-count">3<`, "showing 1–3", "<strong>greylisted 2×, then delivered</strong>",
		`<span class="badge status-bounced">bounced</span> <span class="reason">host mx.uni.example[private/dovecot-lmtp] said: 552 5.2.2 &lt;ola.hansen@uni.example&gt; Quota exceeded`,
		`id="trace-fold" checked`, `<option value="inbound">inbound</option>`} {
		if !strings.Contains(body, s) {
			t.Errorf("page lacks %q", s)
		}
	}
	first, second, third := strings.Index(body, "hannah.brown@"), strings.Index(body, "rafael.novak@"), strings.Index(body, "wendy.silva@")
	if first < 0 || !(first < second && second < third) {
		t.Errorf("page not newest first: %d %d %d", first, second, third)
	}
	// folding off on the form: every refusal is a row
	_, body = c.do("GET", "/trace?fold=0&to="+user, nil, nil)
	if n := strings.Count(body, `<tr class="trace-row`); n != 8 || strings.Contains(body, `id="trace-fold" checked`) {
		t.Errorf("unfolded page shows %d rows, want 8", n)
	}
}
