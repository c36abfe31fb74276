package ingest

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/collectors/txlog"
)

// importLines imports lines as one file through the real import path.
func importLines(t *testing.T, o Options, lines ...string) *memStore {
	t.Helper()
	file := filepath.Join(t.TempDir(), "mail.log")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st := &memStore{}
	o.Store, o.BatchSize = st, 100
	if _, err := Import(context.Background(), New(o), ImportOptions{Files: []string{file}}); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestSessionsRecordReads: Dovecot's logout lines become session records
// with the messages read (IMAP body_count, POP3 retr), whether the session
// logged out or the connection closed; IMAP sessions logged in from a
// webmail host are webmail's; a logout without counters is no record.
func TestSessionsRecordReads(t *testing.T) {
	t.Parallel()
	st := importLines(t, Options{WebmailNetworks: []netip.Prefix{netip.MustParsePrefix("192.0.2.80/32")}},
		"2026-12-07T05:51:39.000000+00:00 imap dovecot: imap-login: Login: user=<carol@uni.example>, method=PLAIN, rip=127.0.2.12, lip=127.0.0.12, mpid=5899, TLS, session=<A1>",
		"2026-12-07T05:52:22.000000+00:00 imap dovecot: imap(carol@uni.example)<5899><A1>: Disconnected: Logged out in=126 out=7061 deleted=0 expunged=0 trashed=0 hdr_count=1 hdr_bytes=103 body_count=2 body_bytes=5895",
		"2026-12-07T05:53:00.000000+00:00 imap dovecot: imap-login: Login: user=<dan@uni.example>, method=PLAIN, rip=192.0.2.80, lip=127.0.0.12, mpid=6000, TLS, session=<W1>",
		"2026-12-07T05:54:00.000000+00:00 imap dovecot: imap(dan@uni.example)<6000><W1>: Disconnected: Connection closed (FETCH finished 0.004 secs ago) in=141 out=96575 deleted=0 expunged=0 trashed=0 hdr_count=1 hdr_bytes=100 body_count=3 body_bytes=95000",
		"2026-12-07T05:55:05.000000+00:00 imap dovecot: pop3(j.tanaka@uni.example)<6490><P1>: Disconnected: Logged out top=0/0, retr=1/4343, del=0/1, size=4326",
		"2026-12-07T05:56:00.000000+00:00 imap dovecot: imap(old@uni.example)<7000><O1>: Disconnected: Logged out bytes=10/20",
	)
	want := []txlog.Session{
		{Service: "imap", User: "carol@uni.example", Session: "A1", RemoteIP: "127.0.2.12", Reads: 2, ReadBytes: 5895},
		{Service: "webmail", User: "dan@uni.example", Session: "W1", RemoteIP: "192.0.2.80", Reads: 3, ReadBytes: 95000},
		{Service: "pop3", User: "j.tanaka@uni.example", Session: "P1", Reads: 1, ReadBytes: 4343},
	}
	if len(st.b.Sessions) != len(want) {
		t.Fatalf("%d sessions: %+v", len(st.b.Sessions), st.b.Sessions)
	}
	for i, w := range want {
		g := st.b.Sessions[i]
		if g.Service != w.Service || g.User != w.User || g.Session != w.Session || g.RemoteIP != w.RemoteIP ||
			g.Reads != w.Reads || g.ReadBytes != w.ReadBytes || g.Node != "imap" || g.Source != "dovecot" {
			t.Errorf("session %d = %+v, want %+v", i, g, w)
		}
	}
}

// TestRefusedAfterDataIsNotReceived: a message that header_checks refused
// after its data has a queue ID but was never accepted.
func TestRefusedAfterDataIsNotReceived(t *testing.T) {
	t.Parallel()
	st := importLines(t, Options{},
		"2026-11-03T10:00:00.000000+00:00 mx1 postfix/smtpd[100]: connect from unknown[203.0.113.9]",
		"2026-11-03T10:00:00.010000+00:00 mx1 postfix/smtpd[100]: 3A00000001: client=unknown[203.0.113.9]",
		"2026-11-03T10:00:00.015000+00:00 mx1 postfix/cleanup[101]: 3A00000001: reject: header Subject: make money fast from unknown[203.0.113.9]; from=<w@lottery.example> to=<a@uni.example> proto=ESMTP helo=<bot.example>: 5.7.1 Spam not accepted",
		"2026-11-03T10:00:00.030000+00:00 mx1 postfix/smtpd[100]: disconnect from unknown[203.0.113.9] ehlo=1 mail=1 rcpt=1 data=0/1 quit=1 commands=4/5",
	)
	for _, m := range st.b.Messages {
		if m.Received != 0 {
			t.Errorf("refused message counted as received: %+v", m)
		}
	}
	var rejects int
	for _, r := range st.b.Rows {
		if r.Status == txlog.StatusRejected && r.Stage == "header" {
			rejects++
		}
	}
	if rejects != 1 {
		t.Errorf("%d header rejects, want 1", rejects)
	}
}

// TestSessionAddressSurvivesRestart: the client address of a Dovecot
// session that logged in before a restart and out after it is in the
// committed state, so the webmail read is still webmail's.
func TestSessionAddressSurvivesRestart(t *testing.T) {
	t.Parallel()
	lines := []string{
		"2026-12-07T05:53:00.000000+00:00 imap dovecot: imap-login: Login: user=<dan@uni.example>, method=PLAIN, rip=192.0.2.80, lip=127.0.0.12, mpid=6000, TLS, session=<W1>",
		"2026-12-07T05:53:01.000000+00:00 imap dovecot: imap-login: Login: user=<eve@uni.example>, method=PLAIN, rip=192.0.2.81, lip=127.0.0.12, mpid=6001, TLS, session=<W2>",
		"2026-12-07T05:54:00.000000+00:00 imap dovecot: imap(dan@uni.example)<6000><W1>: Disconnected: Logged out in=141 out=96575 deleted=0 expunged=0 trashed=0 hdr_count=1 hdr_bytes=100 body_count=3 body_bytes=95000",
		"2026-12-07T05:55:00.000000+00:00 imap dovecot: imap(eve@uni.example)<6001><W2>: Disconnected: Logged out in=141 out=96575 deleted=0 expunged=0 trashed=0 hdr_count=1 hdr_bytes=100 body_count=1 body_bytes=9000",
	}
	webmail := []netip.Prefix{netip.MustParsePrefix("192.0.2.80/31")}
	st := &memStore{}
	var off int64
	for part, ls := range [][]string{lines[:2], lines[2:3], lines[3:]} {
		p := New(Options{Store: st, KeepState: true, WebmailNetworks: webmail})
		if part > 0 {
			cp, err := st.Checkpoint(context.Background(), txlog.StateSource)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.Restore(cp); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.AddStream(Stream{ID: 1, Source: SourceFile, Checkpoint: "file:x", Ref: sampleRef, Start: off}); err != nil {
			t.Fatal(err)
		}
		for _, l := range ls {
			end := off + int64(len(l)) + 1
			p.Line(1, l, off, end)
			off = end
		}
		if err := p.Commit(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if len(st.b.Sessions) != 2 {
		t.Fatalf("%d sessions: %+v", len(st.b.Sessions), st.b.Sessions)
	}
	for _, s := range st.b.Sessions {
		if s.Service != "webmail" || !strings.HasPrefix(s.RemoteIP, "192.0.2.8") {
			t.Errorf("after a restart: %+v, want a webmail session from its address", s)
		}
	}
	// the state's items follow the sessions: none is left once both ended
	cp, _ := st.Checkpoint(context.Background(), txlog.StateSource)
	for k := range cp.Items {
		if strings.HasPrefix(k, "w:") {
			t.Errorf("item %s left after its session ended", k)
		}
	}
}
