package engine_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/dnsbl/dnsbltest"
	"github.com/uni-mail/postvakt/engine/event"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
)

// Greylisting (RFC 6647; docs/configuration.md, smtp.greylist): unknown
// triplet 451 4.7.1, retry after the delay 250, early retry still 451; a
// DNSBL-listed client (RFC 5782; test DNS server on loopback) waits the
// long delay; after N passes the client network is whitelisted.
func TestEngineGreylistFlow(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		h := startEngine(t, db, func(c *engine.Config) { c.Greylist.AutoWhitelistAfter = 2 }, nil)
		h.mailbox("anna@uni.example", nil)
		h.mailbox("bert@uni.example", nil)
		h.mailbox("cleo@uni.example", nil)
		c := h.dial(h.mx)
		wantCode(t, send(c, "s@else.example", []string{"anna@uni.example"}, msg("one")), 451, "4.7.1")
		h.clock.Advance(30 * time.Second)
		wantCode(t, send(c, "s@else.example", []string{"anna@uni.example"}, msg("one")), 451, "4.7.1")
		h.clock.Advance(31 * time.Second)
		wantCode(t, send(c, "s@else.example", []string{"anna@uni.example"}, msg("one")), 250, "")
		// A known triplet passes at once; it is one pass toward the whitelist.
		wantCode(t, send(c, "s@else.example", []string{"anna@uni.example"}, msg("two")), 250, "")
		// New triplet: deferred; the client has 2 passes now, so whitelisted.
		if got := h.metric(`postvakt_smtp_greylist_decisions_total{reason="retried"}`); got != "1" {
			t.Fatalf("retried = %q", got)
		}
		wantCode(t, send(c, "other@else.example", []string{"bert@uni.example"}, msg("three")), 250, "")
		if got := h.metric(`postvakt_smtp_greylist_decisions_total{reason="auto_whitelist"}`); got != "1" {
			t.Fatalf("auto_whitelist = %q", got)
		}
		if got := h.metric(`postvakt_smtp_rejects_total{listener="mx",reason="greylisted"}`); got != "2" {
			t.Fatalf("greylisted rejects = %q", got)
		}
	})
}

func TestEngineGreylistDNSBLDelay(t *testing.T) {
	t.Parallel()
	dns, err := dnsbltest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dns.Close() })
	dns.List("1.0.0.127.bl.test.example")
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		h := startEngine(t, db, func(c *engine.Config) {
			c.DNSBL.Zones = []string{"bl.test.example", "clean.test.example"}
		}, dns.Resolver())
		h.mailbox("anna@uni.example", nil)
		c := h.dial(h.mx)
		wantCode(t, send(c, "s@else.example", []string{"anna@uni.example"}, msg("one")), 451, "4.7.1")
		h.clock.Advance(61 * time.Second) // enough for a clean client, not for a listed one
		wantCode(t, send(c, "s@else.example", []string{"anna@uni.example"}, msg("one")), 451, "4.7.1")
		h.clock.Advance(1000 * time.Second)
		wantCode(t, send(c, "s@else.example", []string{"anna@uni.example"}, msg("one")), 250, "")
		if got := h.metric(`postvakt_smtp_dnsbl_lookups_total{result="listed"}`); got != "1" {
			t.Fatalf("dnsbl listed = %q", got)
		}
	})
}

// The engine's policy table (docs/configuration.md, "Mail engine": checks →
// whitelists → greylisting → recipient validation → size and quota), on one
// server per database: each case is one transaction.
func TestEnginePolicyTable(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		st := enginestore.New(db)
		h := startEngine(t, db, func(c *engine.Config) {
			c.Whitelist.Clients = []string{"127.0.0.0/8"} // greylisting has its own test
			c.Trusted.Senders = []string{"studentsystem@uni.example"}
			c.Limits.MaxRecipients = 3
			c.Limits.MaxMessageBytes = 4096
			c.Postmaster = "hostmaster@uni.example"
		}, nil)
		ctx := context.Background()
		h.mailbox("anna@uni.example", func(n *directory.NewMailbox) { n.Nickname = "anna.a@uni.example" })
		h.mailbox("hostmaster@uni.example", nil)
		full := h.mailbox("full@uni.example", func(n *directory.NewMailbox) { n.QuotaBytes = 10 })
		h.mailbox("locked@uni.example", func(n *directory.NewMailbox) { n.Locked = true })
		h.mailbox("fwd@uni.example", func(n *directory.NewMailbox) { n.ForwardTo = "anna@uni.example" })
		if err := h.dir.AddAlias(ctx, "it-staff@uni.example", directory.KindList, []string{"anna@uni.example", "fwd@uni.example", "ext@else.example"}); err != nil {
			t.Fatal(err)
		}
		// Fill "full" past its quota with one accepted message.
		if err := send(h.dial(h.mx), "s@else.example", []string{"full@uni.example"}, msg("filler")); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name string
			from string
			to   []string
			body string
			code int
			enh  string
		}{
			{"local mailbox", "s@else.example", []string{"anna@uni.example"}, msg("a"), 250, ""},
			{"nickname", "s@else.example", []string{"Anna.A@UNI.example"}, msg("b"), 250, ""},
			{"list with remote member", "s@else.example", []string{"it-staff@uni.example"}, msg("c"), 250, ""},
			{"null sender", "", []string{"anna@uni.example"}, msg("bounce"), 250, ""},
			{"unknown recipient", "s@else.example", []string{"nobody@uni.example"}, msg("d"), 550, "5.1.1"},
			{"relay denied", "s@else.example", []string{"someone@else.example"}, msg("e"), 554, "5.7.1"},
			{"bad recipient syntax", "s@else.example", []string{"a..b@uni.example"}, msg("f"), 501, "5.1.3"},
			{"bad sender syntax", "x@@else", []string{"anna@uni.example"}, msg("g"), 501, "5.1.7"},
			{"locked mailbox", "s@else.example", []string{"locked@uni.example"}, msg("h"), 550, "5.2.1"},
			{"over quota from outside", "s@else.example", []string{"full@uni.example"}, msg("i"), 452, "4.2.2"},
			{"over quota trusted sender", "studentsystem@uni.example", []string{"full@uni.example"}, msg("exam results"), 250, ""},
			{"too many recipients", "s@else.example", []string{"anna@uni.example", "fwd@uni.example", "hostmaster@uni.example", "anna.a@uni.example"}, msg("j"), 452, "4.5.3"},
			{"too big", "s@else.example", []string{"anna@uni.example"}, msg("k") + strings.Repeat(strings.Repeat("x", 70)+"\r\n", 80), 552, "5.3.4"},
			{"line too long", "s@else.example", []string{"anna@uni.example"}, msg("k2") + strings.Repeat("x", 3000) + "\r\n", 500, "5.5.2"},
			{"mail loop", "s@else.example", []string{"anna@uni.example"}, strings.Repeat("Received: from x by y; Mon, 23 Nov 2026 09:00:00 +0000\r\n", 50) + msg("l"), 554, "5.4.6"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				wantCode(t, send(h.dial(h.mx), tc.from, tc.to, tc.body), tc.code, tc.enh)
			})
		}
		// The trusted sender's copy in the full mailbox is From and Subject only.
		msgs, err := st.MailMessages(ctx, full.ID)
		if err != nil || len(msgs) != 2 || msgs[0].Truncated || !msgs[1].Truncated {
			t.Fatalf("full mailbox = %+v, %v", msgs, err)
		}
		body, err := st.MailBody(ctx, msgs[1].BodyHash)
		if err != nil || string(body) != "From: Sender <s@else.example>\r\nSubject: exam results\r\n\r\n" {
			t.Fatalf("truncated body = %q, %v", body, err)
		}
		// anna: a, b, c (once, though reached directly and through fwd), bounce.
		anna, _ := h.dir.Mailbox(ctx, "anna@uni.example")
		if got, _ := st.MailMessages(ctx, anna.ID); len(got) != 4 {
			t.Fatalf("anna has %d messages, want 4", len(got))
		}
		stats, _ := st.MailStats(ctx)
		if stats.QueuedMail != 1 {
			t.Fatalf("relay queue = %d, want 1 (ext@else.example)", stats.QueuedMail)
		}
		for series, want := range map[string]string{
			`postvakt_smtp_rejects_total{listener="mx",reason="unknown_recipient"}`: "1",
			`postvakt_smtp_rejects_total{listener="mx",reason="relay_denied"}`:      "1",
			`postvakt_smtp_rejects_total{listener="mx",reason="over_quota"}`:        "1",
			`postvakt_smtp_deliveries_total{result="truncated"}`:                    "1",
			`postvakt_smtp_deliveries_total{result="queued"}`:                       "1",
			`postvakt_smtp_messages_total{direction="inbound",result="accepted"}`:   "6",
		} {
			if got := h.metric(series); got != want {
				t.Errorf("%s = %q, want %s", series, got, want)
			}
		}
	})
}

// Submission (RFC 6409): AUTH only after STARTTLS (RFC 4954 §4), relaying
// only for authenticated users and smtp.local_networks — never an open
// relay (RFC 5321 §3.6.2).
func TestEngineSubmission(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		h := startEngine(t, db, nil, nil)
		h.mailbox("anna@uni.example", func(n *directory.NewMailbox) { n.Password = "correct horse" })
		h.mailbox("lock@uni.example", func(n *directory.NewMailbox) { n.Password = "pw"; n.Locked = true })

		t.Run("AUTH before STARTTLS refused", func(t *testing.T) {
			c := h.dial(h.sub)
			if ok, _ := c.Extension("AUTH"); ok {
				t.Fatal("AUTH advertised before STARTTLS")
			}
			wantCode(t, c.Auth(plainAuth("anna@uni.example", "correct horse")), 538, "5.7.11")
			if got := h.metric(`postvakt_smtp_auth_attempts_total{listener="submission",result="tls_required"}`); got != "1" {
				t.Fatalf("tls_required = %q", got)
			}
		})
		t.Run("unauthenticated relay denied", func(t *testing.T) {
			wantCode(t, send(h.dial(h.sub), "anna@uni.example", []string{"x@else.example"}, msg("r1")), 554, "5.7.1")
			wantCode(t, send(h.dial(h.sub), "anna@uni.example", []string{"anna@uni.example"}, msg("r2")), 554, "5.7.1")
		})
		t.Run("wrong password", func(t *testing.T) {
			c := h.dialTLS(h.sub)
			wantCode(t, c.Auth(plainAuth("anna@uni.example", "wrong")), 535, "5.7.8")
			if got := h.metric(`postvakt_smtp_auth_attempts_total{listener="submission",result="bad_password"}`); got != "1" {
				t.Fatalf("bad_password = %q", got)
			}
		})
		t.Run("locked account", func(t *testing.T) {
			wantCode(t, h.dialTLS(h.sub).Auth(plainAuth("lock@uni.example", "pw")), 535, "5.7.8")
		})
		t.Run("too many failures", func(t *testing.T) {
			c := h.dialTLS(h.sub)
			for range 3 {
				wantCode(t, c.Auth(plainAuth("anna@uni.example", "nope")), 535, "5.7.8")
			}
			wantCode(t, c.Auth(plainAuth("anna@uni.example", "correct horse")), 421, "4.7.0")
		})
		t.Run("authenticated sends anywhere", func(t *testing.T) {
			c := h.dialTLS(h.sub)
			if err := c.Auth(plainAuth("anna@uni.example", "correct horse")); err != nil {
				t.Fatal(err)
			}
			wantCode(t, send(c, "anna@uni.example", []string{"x@else.example", "anna@uni.example"}, msg("out")), 250, "")
			wantCode(t, send(c, "ceo@uni.example", []string{"x@else.example"}, msg("spoof")), 553, "5.7.1")
		})
		t.Run("AUTH LOGIN", func(t *testing.T) {
			c := h.dialTLS(h.sub)
			if err := c.Auth(&loginClient{user: "anna@uni.example", pass: "correct horse"}); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("MX offers no AUTH and never relays", func(t *testing.T) {
			c := h.dialTLS(h.mx)
			wantCode(t, c.Auth(plainAuth("anna@uni.example", "correct horse")), 503, "5.5.1")
			wantCode(t, send(c, "anna@uni.example", []string{"x@else.example"}, msg("m")), 554, "5.7.1")
		})
		// events reach the stream asynchronously: wait for the last ones
		var auths, ok int
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			auths, ok = 0, 0
			for _, e := range h.events.all() {
				if a, is := e.(*event.Auth); is {
					auths++
					if a.Success {
						ok++
					}
				}
			}
			if (auths >= 8 && ok == 2) || time.Now().After(deadline) {
				break
			}
		}
		if auths < 8 || ok != 2 {
			t.Fatalf("auth events = %d (%d ok)", auths, ok)
		}
	})
}

type loginClient struct{ user, pass string }

func (l *loginClient) Start() (string, []byte, error) { return "LOGIN", nil, nil }
func (l *loginClient) Next(ch []byte) ([]byte, error) {
	switch string(ch) {
	case "Username:":
		return []byte(l.user), nil
	case "Password:":
		return []byte(l.pass), nil
	}
	return nil, fmt.Errorf("unexpected challenge %q", ch)
}

var _ sasl.Client = (*loginClient)(nil)

// Submission from local networks without AUTH, minus excluded ranges.
func TestEngineLocalNetworks(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t, storage.SQLite)
	for _, tc := range []struct {
		name          string
		local, except []string
		code          int
		enh           string
	}{
		{"local network may submit", []string{"127.0.0.0/8"}, nil, 250, ""},
		{"excluded range (guest Wi-Fi) may not", []string{"127.0.0.0/8"}, []string{"127.0.0.1/32"}, 554, "5.7.1"},
		{"outside may not", []string{"10.0.0.0/8"}, nil, 554, "5.7.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := startEngine(t, db, func(c *engine.Config) { c.LocalNetworks, c.LocalNetworksExcept = tc.local, tc.except }, nil)
			wantCode(t, send(h.dial(h.sub), "printer@uni.example", []string{"x@else.example"}, msg("scan")), tc.code, tc.enh)
		})
	}
}

// AUTH without TLS from loopback when (and only when) configured.
func TestEngineInsecureAuthLoopback(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t, storage.SQLite)
	h := startEngine(t, db, func(c *engine.Config) { c.InsecureAuthLoopback = true }, nil)
	h.mailbox("anna@uni.example", func(n *directory.NewMailbox) { n.Password = "pw" })
	if err := h.dial(h.sub).Auth(plainAuth("anna@uni.example", "pw")); err != nil {
		t.Fatal(err)
	}
}

// One stored body for 400 recipients (docs/performance.md, "Engine").
func TestEngineBulkOneBody(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		st := enginestore.New(db)
		h := startEngine(t, db, func(c *engine.Config) { c.Whitelist.Clients = []string{"127.0.0.1"} }, nil)
		ctx := context.Background()
		var csv strings.Builder
		csv.WriteString("address,quota\n")
		var rcpts []string
		for i := range 400 {
			a := fmt.Sprintf("s%06d@uni.example", i)
			fmt.Fprintf(&csv, "%s,1GB\n", a)
			rcpts = append(rcpts, a)
		}
		if res, err := h.dir.ImportCSV(ctx, strings.NewReader(csv.String())); err != nil || res.Mailboxes != 400 {
			t.Fatalf("import = %+v, %v", res, err)
		}
		before, _ := st.MailStats(ctx)
		wantCode(t, send(h.dial(h.mx), "teacher@else.example", rcpts, msg("exam")), 250, "")
		after, _ := st.MailStats(ctx)
		if after.Bodies-before.Bodies != 1 || after.Messages-before.Messages != 400 {
			t.Fatalf("bodies +%d, messages +%d; want +1, +400", after.Bodies-before.Bodies, after.Messages-before.Messages)
		}
	})
}

// The event stream: one transaction event, one per recipient outcome.
func TestEngineEvents(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t, storage.SQLite)
	h := startEngine(t, db, func(c *engine.Config) { c.Whitelist.Clients = []string{"127.0.0.1"} }, nil)
	h.mailbox("anna@uni.example", nil)
	h.mailbox("bert@uni.example", nil)
	c := h.dial(h.mx)
	if err := c.Mail("s@else.example", nil); err != nil {
		t.Fatal(err)
	}
	_ = c.Rcpt("anna@uni.example", nil)
	_ = c.Rcpt("nobody@uni.example", nil)
	_ = c.Rcpt("bert@uni.example", nil)
	w, _ := c.Data()
	w.Write([]byte(msg("ev")))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		var tx, delivered, refused int
		for _, e := range h.events.all() {
			switch e := e.(type) {
			case *event.Transaction:
				tx++
				if e.QueueID == "" || e.Code != 250 || len(e.Rcpts) != 2 || e.MessageID != "<ev@else.example>" {
					t.Fatalf("transaction event %+v", e)
				}
			case *event.Recipient:
				switch e.Outcome {
				case event.OutcomeDelivered:
					if e.Target != "anna@uni.example" && e.Target != "bert@uni.example" {
						t.Fatalf("delivered event target %q", e.Target)
					}
					delivered++
				case event.OutcomeRefused:
					refused++
					if e.Code != 550 || e.Reason != "unknown_recipient" {
						t.Fatalf("refused event %+v", e)
					}
				}
			}
		}
		if tx == 1 && delivered == 2 && refused == 1 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("events: tx %d delivered %d refused %d", tx, delivered, refused)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
