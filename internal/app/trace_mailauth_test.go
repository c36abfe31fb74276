package app

import (
	"html"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/trace"
	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/pgtest"
	"github.com/uni-mail/postvakt/oncall/units/dnscheck/dnstest"
)

// TestTraceShowsMailAuthAndRewrite runs the service with the engine and
// the collectors, on SQLite and on PostgreSQL: a message accepted on the
// MX carries the MX's SPF, DKIM and DMARC results into the transaction
// log, and the trace shows them (API and web page); a message submitted
// as a nickname of a rewriting domain is traced under the permanent
// address with the sender as submitted. All DNS comes from a local server.
func TestTraceShowsMailAuthAndRewrite(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole service")
	}
	t.Parallel()
	hash, err := directory.HashPassword("pw", directory.HashParams{MemoryKiB: 8 * 1024, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, dialect := range []storage.Dialect{storage.SQLite, storage.Postgres} {
		t.Run(dialect.String(), func(t *testing.T) {
			t.Parallel()
			dns := dnstest.Start(t,
				`good.example. 300 IN TXT "v=spf1 ip4:127.0.0.0/8 -all"`,
				`_dmarc.good.example. 300 IN TXT "v=DMARC1; p=reject"`,
			)
			cfg := config.Default()
			cfg.DataDir = filepath.Join(t.TempDir(), "data")
			if dialect == storage.Postgres {
				cfg.Database.URL = pgtest.NewDatabase(t)
			}
			cfg.HTTP.Listen = "127.0.0.1:0"
			cfg.Scheduler.Enabled = false
			mx, sub := freeAddr(t), freeAddr(t)
			cfg.SMTP.Enabled = true
			cfg.SMTP.Hostname = "mx.uni.example"
			cfg.SMTP.MX.Listen, cfg.SMTP.Submission.Listen = mx, sub
			cfg.SMTP.TLS.Disabled, cfg.SMTP.InsecureAuthLoopback = true, true
			cfg.SMTP.DMARC.Check = true
			cfg.SMTP.DNSBL.Resolver = dns.Addr
			cfg.SMTP.Greylist.Enabled = false
			cfg.SMTP.Limits.ShutdownTimeout = 2 * time.Second
			cfg.SMTP.Directory.Domains = []string{"uni.example"}
			cfg.SMTP.Directory.RewriteFrom = []string{"uni.example"}
			cfg.SMTP.Directory.Mailboxes = []engine.MailboxConfig{
				{Address: "anna@uni.example"},
				{Address: "123456@uni.example", Nickname: "jan.novak@uni.example", PasswordHash: hash},
			}
			cfg.Collectors.Timezone, cfg.Collectors.CommitInterval = "UTC", 20*time.Millisecond
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			token := apiToken(t, cfg, auth.RoleHelpdesk)
			webUsers(t, cfg, auth.RoleHelpdesk)
			app := startApp(t, cfg, time.Now)
			waitListening(t, 10*time.Second, mx, sub)

			sendMail(t, mx, "news@good.example", []string{"anna@uni.example"},
				"From: <news@good.example>\nTo: anna@uni.example\nSubject: news\nMessage-ID: <news-1@good.example>\n\nhello\n")
			sendMailAuth(t, sub, "123456@uni.example", "jan.novak@uni.example", []string{"anna@uni.example"},
				"From: \"Jan Novak\" <jan.novak@uni.example>\nTo: anna@uni.example\nSubject: ahoj\nMessage-ID: <jan-1@uni.example>\n\nahoj\n")

			find := func(page trace.Page, msgid string) (trace.Message, bool) {
				for _, m := range page.Messages {
					if m.MessageID == msgid {
						return m, true
					}
				}
				return trace.Message{}, false
			}
			var checked, rewritten trace.Message
			eventually(t, 10*time.Second, "both messages in the trace", func() bool {
				page := traceTo(t, app.base, token, "anna@uni.example")
				var ok1, ok2 bool
				checked, ok1 = find(page, "news-1@good.example")
				rewritten, ok2 = find(page, "jan-1@uni.example")
				return ok1 && ok2
			})
			if checked.AuthResults != "spf=pass dkim=none dmarc=pass (p=reject disposition=none)" {
				t.Errorf("auth_results of the MX's message: %q", checked.AuthResults)
			}
			if checked.OriginalFrom != "" {
				t.Errorf("original_from of a message not rewritten: %q", checked.OriginalFrom)
			}
			if rewritten.From != "123456@uni.example" || !strings.Contains(rewritten.OriginalFrom, "envelope jan.novak@uni.example") ||
				!strings.Contains(rewritten.OriginalFrom, "From: \"Jan Novak\" <jan.novak@uni.example>") {
				t.Errorf("rewritten message: from %q original_from %q", rewritten.From, rewritten.OriginalFrom)
			}
			if rewritten.AuthResults != "" {
				t.Errorf("submitted mail is not checked, yet auth_results %q", rewritten.AuthResults)
			}

			b := newClient(t, app.base)
			if resp, _ := b.login("helpdesk", testPassword); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("login: %d", resp.StatusCode)
			}
			resp, page := b.do("GET", "/trace?to=anna@uni.example", nil, nil)
			page = html.UnescapeString(page)
			if resp.StatusCode != http.StatusOK ||
				!strings.Contains(page, `<span class="auth-results">spf=pass dkim=none dmarc=pass (p=reject disposition=none)</span>`) ||
				!strings.Contains(page, `<span class="original-from">envelope jan.novak@uni.example; From: "Jan Novak" <jan.novak@uni.example></span>`) {
				t.Errorf("trace page %d without the results or the original sender:\n%s", resp.StatusCode, page)
			}
			resp, csv := b.do("GET", "/trace.csv?to=anna@uni.example", nil, nil)
			if resp.StatusCode != http.StatusOK || !strings.HasSuffix(strings.SplitN(csv, "\n", 2)[0], ",auth_results,original_from") ||
				!strings.Contains(csv, ",spf=pass dkim=none dmarc=pass (p=reject disposition=none),") ||
				!strings.Contains(csv, `"envelope jan.novak@uni.example; From: ""Jan Novak"" <jan.novak@uni.example>"`) {
				t.Errorf("trace CSV %d without the results or the original sender:\n%s", resp.StatusCode, csv)
			}
		})
	}
}
