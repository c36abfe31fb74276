package app

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/store"
	"github.com/uni-mail/postvakt/internal/api/engineapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/pgtest"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
)

// TestMailboxViewOverSMTP runs the service with the engine on loopback, on
// SQLite and on PostgreSQL: a message delivered over SMTP to a local
// mailbox is listed for a postmaster with its headers; helpdesk reads its
// headers (subject masked) but not the message (403); the postmaster
// downloads it byte for byte as stored and deletes it, and the mailbox's
// quota usage goes down by its size; the audit log has every access with
// the mailbox as target.
func TestMailboxViewOverSMTP(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole service")
	}
	t.Parallel()
	for _, dialect := range []storage.Dialect{storage.SQLite, storage.Postgres} {
		t.Run(dialect.String(), func(t *testing.T) {
			t.Parallel()
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
			cfg.SMTP.DMARC.Check = false // no DNS here: SPF, DKIM and DMARC have their own tests
			cfg.SMTP.Greylist.Enabled = false
			cfg.SMTP.Limits.ShutdownTimeout = 2 * time.Second
			cfg.SMTP.Directory.Domains = []string{"uni.example"}
			cfg.SMTP.Directory.Mailboxes = []engine.MailboxConfig{{Address: "ola@uni.example"}}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			pm, hd, admin := apiToken(t, cfg, auth.RolePostmaster), apiToken(t, cfg, auth.RoleHelpdesk), apiToken(t, cfg, auth.RoleAdmin)
			app := startApp(t, cfg, time.Now)
			waitListening(t, 10*time.Second, mx)
			sent := "From: Kari <kari@partner.example>\nTo: ola@uni.example\nSubject: exam results\nMessage-ID: <mv-1@partner.example>\n\nFrom the committee:\nyou passed.\n"
			sendMail(t, mx, "kari@partner.example", []string{"ola@uni.example"}, sent)

			base := app.base + "/api/v1/directory/mailboxes/ola@uni.example"
			var list engineapi.MessageList
			if code := call(t, "GET", base+"/messages", pm, nil, &list); code != http.StatusOK || len(list.Messages) != 1 {
				t.Fatalf("postmaster list: %d %+v", code, list)
			}
			m := list.Messages[0]
			if m.Subject != "exam results" || m.From != "Kari <kari@partner.example>" || m.MessageID != "<mv-1@partner.example>" || m.To != "ola@uni.example" {
				t.Errorf("listed: %+v", m)
			}
			var mbox engineapi.MailboxView
			call(t, "GET", base, pm, nil, &mbox)
			if mbox.UsedBytes != m.Size || m.Size == 0 {
				t.Errorf("used %d, message size %d", mbox.UsedBytes, m.Size)
			}

			msg := fmt.Sprintf("%s/messages/%d", base, m.ID)
			var head engineapi.MessageHeaders
			if code := call(t, "GET", msg, hd, nil, &head); code != http.StatusOK || head.Subject != "(hidden)" ||
				store.Get(head.Headers, "Message-ID") != "<mv-1@partner.example>" || store.Get(head.Headers, "Received") == "" {
				t.Errorf("helpdesk headers: %d %+v", code, head)
			}
			if code := call(t, "GET", msg+"/raw", hd, nil, nil); code != http.StatusForbidden {
				t.Errorf("helpdesk raw: %d", code)
			}

			req, _ := http.NewRequest("GET", msg+"/raw", nil)
			req.Header.Set("Authorization", "Bearer "+pm)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "message/rfc822" || int64(len(raw)) != m.Size ||
				!strings.HasPrefix(string(raw), "Received: ") || !strings.HasSuffix(string(raw), strings.ReplaceAll(sent, "\n", "\r\n")) {
				t.Fatalf("download: %d %v %q", resp.StatusCode, resp.Header, raw)
			}

			if code := call(t, "DELETE", msg, pm, nil, nil); code != http.StatusNoContent {
				t.Fatalf("delete: %d", code)
			}
			call(t, "GET", base, pm, nil, &mbox)
			if mbox.UsedBytes != 0 {
				t.Errorf("used %d after the delete, want 0", mbox.UsedBytes)
			}
			if code := call(t, "GET", base+"/messages", pm, nil, &list); code != http.StatusOK || len(list.Messages) != 0 {
				t.Errorf("list after the delete: %d %+v", code, list)
			}

			var audit struct{ Entries []auth.AuditEntry }
			call(t, "GET", app.base+"/api/v1/audit", admin, nil, &audit)
			seen := map[string]bool{}
			for _, e := range audit.Entries {
				if strings.HasPrefix(e.Action, "mailbox.") && e.Target == "ola@uni.example" {
					seen[e.Action+" "+e.Actor] = true
				}
			}
			for _, w := range []string{"mailbox.list token:test-postmaster", "mailbox.read_headers token:test-helpdesk",
				"mailbox.download token:test-postmaster", "mailbox.delete token:test-postmaster"} {
				if !seen[w] {
					t.Errorf("no audit entry %q: %v", w, seen)
				}
			}
			if seen["mailbox.download token:test-helpdesk"] {
				t.Error("the refused download is audited as done")
			}
			app.stop()

			// the download is the stored message, byte for byte
			db, err := storage.Open(context.Background(), cfg.DatabaseURL(), storage.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			stored, err := enginestore.New(db).MailBody(context.Background(), store.Hash(raw))
			if err != nil || string(stored) != string(raw) {
				t.Errorf("stored body %q, %v; downloaded %q", stored, err, raw)
			}
		})
	}
}

// TestWebMailboxMessages: through the web, helpdesk sees the messages of a
// mailbox (delivered over SMTP) and a message's header with the subject
// masked, and is refused the download, the deletion and the export;
// a postmaster sees the subject, downloads the message as stored, exports
// the mailbox as mboxrd (streamed from the API) and deletes the message
// with the form's CSRF token, after which the quota used is 0.
func TestWebMailboxMessages(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole service")
	}
	t.Parallel()
	cfg := webConfig(t)
	sc := engine.Default()
	sc.DMARC.Check = false // no DNS here: SPF, DKIM and DMARC have their own tests
	sc.Hostname = "mx.uni.example"
	mx := "127.0.0.1:" + freePort(t)
	sc.MX.Listen, sc.Submission.Listen = mx, ""
	sc.Greylist.Enabled = false
	sc.Directory.Domains = []string{"uni.example"}
	sc.Directory.Mailboxes = []engine.MailboxConfig{{Address: "ola@uni.example"}}
	cfg.SMTP = sc
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	app := startApp(t, cfg, time.Now)
	webUsers(t, cfg, auth.RolePostmaster, auth.RoleHelpdesk)
	pmTok := apiToken(t, cfg, auth.RolePostmaster)
	eventually(t, 10*time.Second, "SMTP listening", func() bool {
		c, err := net.DialTimeout("tcp", mx, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	sendMail(t, mx, "kari@partner.example", []string{"ola@uni.example"},
		"From: kari@partner.example\nTo: ola@uni.example\nSubject: exam results\nMessage-ID: <web-1@partner.example>\n\nFrom the committee: passed.\n")
	var list engineapi.MessageList
	if code := call(t, "GET", app.base+"/api/v1/directory/mailboxes/ola@uni.example/messages", pmTok, nil, &list); code != 200 || len(list.Messages) != 1 {
		t.Fatalf("list: %d %+v", code, list)
	}
	id := list.Messages[0].ID
	page := fmt.Sprintf("/directory/mailboxes/ola@uni.example/messages/%d", id)

	hd, hdTok := signedIn(t, app.base, "helpdesk")
	if resp, body := hd.do("GET", "/directory/mailboxes/ola@uni.example", nil, nil); resp.StatusCode != 200 ||
		!strings.Contains(body, `href="/directory/mailboxes/ola@uni.example/messages"`) || strings.Contains(body, "export.mbox") {
		t.Errorf("mailbox page for helpdesk: %d", resp.StatusCode)
	}
	resp, body := hd.do("GET", "/directory/mailboxes/ola@uni.example/messages", nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, fmt.Sprintf(`id="msg-%d"`, id)) || !strings.Contains(body, "(hidden)") ||
		strings.Contains(body, "exam results") || strings.Contains(body, "/raw") || !strings.Contains(body, "UTC") {
		t.Errorf("messages for helpdesk: %d\n%s", resp.StatusCode, body)
	}
	resp, body = hd.do("GET", page, nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "&lt;web-1@partner.example&gt;") || strings.Contains(body, "exam results") ||
		strings.Contains(body, "committee") {
		t.Errorf("message for helpdesk: %d\n%s", resp.StatusCode, body)
	}
	for _, p := range []string{page + "/raw", "/directory/mailboxes/ola@uni.example/export.mbox"} {
		if resp, body := hd.do("GET", p, nil, nil); resp.StatusCode != http.StatusForbidden || strings.Contains(body, "committee") {
			t.Errorf("helpdesk GET %s: %d", p, resp.StatusCode)
		}
	}
	if resp, _ := hd.do("POST", page+"/delete", url.Values{"csrf": {hdTok}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("helpdesk delete: %d", resp.StatusCode)
	}

	pm, _ := signedIn(t, app.base, "postmaster")
	resp, body = pm.do("GET", page, nil, nil)
	if resp.StatusCode != 200 || !strings.Contains(body, "<h1>exam results</h1>") || !strings.Contains(body, `id="download"`) {
		t.Fatalf("message for postmaster: %d\n%s", resp.StatusCode, body)
	}
	tok := formToken(t, body)
	resp, raw := pm.do("GET", page+"/raw", nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "message/rfc822" || !strings.HasPrefix(raw, "Received: ") ||
		!strings.HasSuffix(raw, "\r\n\r\nFrom the committee: passed.\r\n") || int64(len(raw)) != list.Messages[0].Size {
		t.Errorf("download: %d %v %q", resp.StatusCode, resp.Header, raw)
	}
	resp, mbox := pm.do("GET", "/directory/mailboxes/ola@uni.example/export.mbox", nil, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Disposition") != `attachment; filename="ola@uni.example.mbox"` ||
		!strings.HasPrefix(mbox, "From kari@partner.example ") || !strings.HasSuffix(mbox, "\n\n>From the committee: passed.\n\n") ||
		mbox[strings.Index(mbox, "\n")+1:] != storeMbox(t, raw) {
		t.Errorf("export: %d %v %q", resp.StatusCode, resp.Header, mbox)
	}
	if resp, _ := pm.do("POST", page+"/delete", url.Values{}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("delete without CSRF: %d", resp.StatusCode)
	}
	if resp, _ := pm.do("POST", page+"/delete", url.Values{"csrf": {tok}}, nil); resp.StatusCode != http.StatusSeeOther ||
		resp.Header.Get("Location") != "/directory/mailboxes/ola@uni.example/messages?ok=deleted" {
		t.Fatalf("delete: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	var mb engineapi.MailboxView
	call(t, "GET", app.base+"/api/v1/directory/mailboxes/ola@uni.example", pmTok, nil, &mb)
	if mb.UsedBytes != 0 {
		t.Errorf("used %d after the delete", mb.UsedBytes)
	}
	if _, body := pm.do("GET", "/directory/mailboxes/ola@uni.example/messages", nil, nil); !strings.Contains(body, "No messages in this mailbox.") {
		t.Errorf("messages after the delete:\n%s", body)
	}
}

// storeMbox is raw as the one message of an mboxrd export, its From_ line
// taken from raw's export (the arrival time is the engine's).
func storeMbox(t *testing.T, raw string) string {
	t.Helper()
	var b strings.Builder
	w := store.NewMboxWriter(&b)
	if err := w.Write("x", time.Time{}, []byte(raw)); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	_, rest, _ := strings.Cut(b.String(), "\n")
	return rest
}
