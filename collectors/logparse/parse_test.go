package logparse

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// parseOne frames and parses a line, failing the test on a framing error.
func parseOne(t *testing.T, line string) Event {
	t.Helper()
	ev, err := ParseLine(NewFramer(time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC), time.UTC), line)
	if err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	return ev
}

// ignoreFrame compares events without their Frame.
var ignoreFrame = cmpopts.IgnoreTypes(Frame{})

type parseCase struct {
	name string
	line string
	want Event
}

func runParseCases(t *testing.T, cases []parseCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := parseOne(t, tc.line)
			if diff := cmp.Diff(tc.want, got, ignoreFrame); diff != "" {
				t.Errorf("%s\n(-want +got):\n%s", tc.line, diff)
			}
		})
	}
}

func TestParsePostfix(t *testing.T) {
	t.Parallel()
	runParseCases(t, []parseCase{
		{"connect", "Nov 22 10:53:23 mx postfix/smtpd[28015]: connect from unknown[127.0.4.64]",
			&SmtpdConnect{ClientName: "unknown", ClientIP: "127.0.4.64"}},
		{"disconnect", "Nov 22 10:53:23 mx postfix/smtpd[28015]: disconnect from unknown[127.0.4.64] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4",
			&SmtpdDisconnect{ClientName: "unknown", ClientIP: "127.0.4.64", CommandsOK: 3, CommandsTotal: 4,
				Commands: []CommandCount{{"ehlo", 1, 1}, {"mail", 1, 1}, {"rcpt", 0, 1}, {"quit", 1, 1}}}},
		{"noqueue reject", "Nov 22 10:53:23 mx postfix/smtpd[28015]: NOQUEUE: reject: RCPT from unknown[127.0.4.64]: 450 4.2.0 <nina.svensson@uni.example>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/uni.example.html; from=<winner@offers.example> to=<nina.svensson@uni.example> proto=ESMTP helo=<mail.cheapdeals.example>",
			&Reject{Action: "reject", Stage: "RCPT", ClientName: "unknown", ClientIP: "127.0.4.64", Code: 450, Enhanced: "4.2.0",
				Reason: "<nina.svensson@uni.example>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/uni.example.html",
				From:   "winner@offers.example", To: "nina.svensson@uni.example", Proto: "ESMTP", Helo: "mail.cheapdeals.example"}},
		{"queue-id reject", "Nov 22 10:54:16 mx postfix/smtpd[28157]: 1727FBA170: reject: RCPT from mail.example.com[127.0.1.14]: 450 4.2.0 <x.zhou@dept.uni.example>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/dept.uni.example.html; from=<sofia.novak@example.com> to=<x.zhou@dept.uni.example> proto=ESMTP helo=<mail.example.com>",
			&Reject{QueueID: "1727FBA170", Action: "reject", Stage: "RCPT", ClientName: "mail.example.com", ClientIP: "127.0.1.14", Code: 450, Enhanced: "4.2.0",
				Reason: "<x.zhou@dept.uni.example>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/dept.uni.example.html",
				From:   "sofia.novak@example.com", To: "x.zhou@dept.uni.example", Proto: "ESMTP", Helo: "mail.example.com"}},
		{"MAIL size reject", "Nov 22 10:55:00 mx postfix/submission/smtpd[28120]: NOQUEUE: reject: MAIL from unknown[127.0.2.56]: 552 5.3.4 Message size exceeds fixed limit; from=<rita.haddad@uni.example> proto=ESMTP helo=<client.example>",
			&Reject{Action: "reject", Stage: "MAIL", ClientName: "unknown", ClientIP: "127.0.2.56", Code: 552, Enhanced: "5.3.4",
				Reason: "Message size exceeds fixed limit", From: "rita.haddad@uni.example", Proto: "ESMTP", Helo: "client.example"}},
		{"header_checks", "Nov 22 11:05:00 mx postfix/cleanup[1]: 4A1B2C3D4E: reject: header Subject: make money fast from localhost[127.0.0.1]; from=<a@x.example> to=<b@uni.example> proto=ESMTP helo=<localhost>: 5.7.1 Message content rejected",
			&Reject{QueueID: "4A1B2C3D4E", Action: "reject", Stage: "header", ClientName: "localhost", ClientIP: "127.0.0.1", Enhanced: "5.7.1",
				Reason: "Message content rejected", Detail: "Subject: make money fast", From: "a@x.example", To: "b@uni.example", Proto: "ESMTP", Helo: "localhost"}},
		{"client sasl", "Nov 22 10:53:25 mx postfix/submission/smtpd[28024]: E0BF0BA129: client=unknown[127.0.2.41], sasl_method=PLAIN, sasl_username=sam.taylor@uni.example",
			&SmtpdClient{QueueID: "E0BF0BA129", ClientName: "unknown", ClientIP: "127.0.2.41", SASLMethod: "PLAIN", SASLUsername: "sam.taylor@uni.example"}},
		{"client", "Nov 22 10:53:26 mx postfix/smtpd[28031]: 5CFE0BA12A: client=localhost[127.0.0.1]",
			&SmtpdClient{QueueID: "5CFE0BA12A", ClientName: "localhost", ClientIP: "127.0.0.1"}},
		{"sasl failure", "Nov 22 10:53:56 mx postfix/submission/smtpd[28024]: warning: pool-2-43.home-isp.example[127.0.2.43]: SASL LOGIN authentication failed: (reason unavailable), sasl_username=maria.garcia@uni.example",
			&SASLFailure{ClientName: "pool-2-43.home-isp.example", ClientIP: "127.0.2.43", Method: "LOGIN", Reason: "(reason unavailable)", Username: "maria.garcia@uni.example"}},
		{"sasl failure, lost auth server", "Nov 22 11:10:00 mx postfix/submission/smtpd[1]: warning: unknown[127.0.6.9]: SASL PLAIN authentication failed: Connection lost to authentication server",
			&SASLFailure{ClientName: "unknown", ClientIP: "127.0.6.9", Method: "PLAIN", Reason: "Connection lost to authentication server"}},
		{"lost connection", "Nov 22 10:55:00 mx postfix/smtpd[1]: lost connection after RCPT from unknown[127.0.4.9]",
			&SessionError{What: "lost connection", Stage: "RCPT", ClientName: "unknown", ClientIP: "127.0.4.9"}},
		{"timeout", "Nov 22 10:55:00 mx postfix/smtpd[1]: timeout after DATA (1234 bytes) from unknown[127.0.4.9]",
			&SessionError{What: "timeout", Stage: "DATA", Detail: "(1234 bytes)", ClientName: "unknown", ClientIP: "127.0.4.9"}},
		{"pipelining", `Nov 22 10:55:00 mx postfix/smtpd[1]: improper command pipelining after CONNECT from unknown[127.0.8.3]: EHLO scanner.example\r\n`,
			&SessionError{What: "improper command pipelining", Stage: "CONNECT", ClientName: "unknown", ClientIP: "127.0.8.3", Detail: `EHLO scanner.example\r\n`}},
		{"tls", "Nov 22 10:55:00 mx postfix/smtpd[1]: Anonymous TLS connection established from unknown[127.0.2.41]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256",
			&TLSConnection{Trust: "Anonymous", Inbound: true, PeerName: "unknown", PeerIP: "127.0.2.41", Protocol: "TLSv1.3", Cipher: "TLS_AES_256_GCM_SHA384"}},
		{"size limit", "Nov 22 10:55:00 mx postfix/smtpd[1]: warning: 4A1B2C3D4E: queue file size limit exceeded",
			&SizeLimitExceeded{QueueID: "4A1B2C3D4E"}},
		{"message-id", "Nov 22 10:53:26 mx postfix/cleanup[28034]: 5CFE0BA12A: message-id=<20261122105325.acffa7b2f0b3@uni.example>",
			&CleanupMessageID{QueueID: "5CFE0BA12A", MessageID: "20261122105325.acffa7b2f0b3@uni.example"}},
		{"qmgr", "Nov 22 10:53:26 mx postfix/qmgr[28010]: 5CFE0BA12A: from=<sam.taylor@uni.example>, size=2093, nrcpt=2 (queue active)",
			&QmgrQueued{QueueID: "5CFE0BA12A", From: "sam.taylor@uni.example", Size: 2093, NRcpt: 2}},
		{"qmgr null sender", "Nov 22 10:53:26 mx postfix/qmgr[28010]: C3797BA1A9: from=<>, size=4093, nrcpt=1 (queue active)",
			&QmgrQueued{QueueID: "C3797BA1A9", Size: 4093, NRcpt: 1}},
		{"removed", "Nov 22 10:53:26 mx postfix/qmgr[28010]: 5CFE0BA12A: removed", &QmgrRemoved{QueueID: "5CFE0BA12A"}},
		{"expired", "Nov 22 11:10:00 mx postfix/qmgr[28010]: 5CFE0BA12A: from=<a@uni.example>, status=expired, returned to sender",
			&QmgrExpired{QueueID: "5CFE0BA12A", From: "a@uni.example"}},
		{"hand-off to amavis", "Nov 22 10:53:44 mx postfix/smtp[28026]: A0271BA139: to=<karen.p@webmail.example>, orig_to=<karen.petrov@uni.example>, relay=127.0.0.1[127.0.0.1]:10026, delay=0.31, delays=0.01/0/0.01/0.3, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as E5977BA13D)",
			&Delivery{QueueID: "A0271BA139", Agent: "smtp", To: "karen.p@webmail.example", OrigTo: "karen.petrov@uni.example", Relay: "127.0.0.1[127.0.0.1]:10026",
				Delay: 0.31, Delays: [4]float64{0.01, 0, 0.01, 0.3}, DSN: "2.0.0", Status: "sent",
				Reply: "250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as E5977BA13D", QueuedAs: "E5977BA13D", FilterMTA: true}},
		{"amavis discarded", "Nov 22 10:54:45 mx postfix/smtp[28198]: 91B03BA191: to=<rita.haddad@uni.example>, relay=127.0.0.1[127.0.0.1]:10024, delay=0.34, delays=0.01/0/0.01/0.32, dsn=2.7.0, status=sent (250 2.7.0 Ok, discarded, id=28219-10 - spam)",
			&Delivery{QueueID: "91B03BA191", Agent: "smtp", To: "rita.haddad@uni.example", Relay: "127.0.0.1[127.0.0.1]:10024",
				Delay: 0.34, Delays: [4]float64{0.01, 0, 0.01, 0.32}, DSN: "2.7.0", Status: "sent", Reply: "250 2.7.0 Ok, discarded, id=28219-10 - spam", FilterDiscarded: true}},
		{"lmtp", "Nov 22 11:00:30 mx postfix/lmtp[30193]: D8E35BA186: to=<nina.svensson@uni.example>, relay=mx.uni.example[private/dovecot-lmtp], delay=0.06, delays=0.05/0/0/0.01, dsn=2.0.0, status=sent (250 2.0.0 <nina.svensson@uni.example> aLX/N07LAmvtbgAAg+zDdQ Saved)",
			&Delivery{QueueID: "D8E35BA186", Agent: "lmtp", To: "nina.svensson@uni.example", Relay: "mx.uni.example[private/dovecot-lmtp]",
				Delay: 0.06, Delays: [4]float64{0.05, 0, 0, 0.01}, DSN: "2.0.0", Status: "sent", Reply: "250 2.0.0 <nina.svensson@uni.example> aLX/N07LAmvtbgAAg+zDdQ Saved"}},
		{"remote with conn_use", "Nov 22 10:53:45 mx postfix/smtp[28072]: E5977BA13D: to=<karen.p@webmail.example>, relay=mx.webmail.example[127.0.0.1]:2525, conn_use=2, delay=0.07, delays=0.01/0.01/0/0.05, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 2BB56CBA60)",
			&Delivery{QueueID: "E5977BA13D", Agent: "smtp", To: "karen.p@webmail.example", Relay: "mx.webmail.example[127.0.0.1]:2525", ConnUse: 2,
				Delay: 0.07, Delays: [4]float64{0.01, 0.01, 0, 0.05}, DSN: "2.0.0", Status: "sent", Reply: "250 2.0.0 Ok: queued as 2BB56CBA60", QueuedAs: "2BB56CBA60"}},
		{"deferred", "Nov 22 10:58:00 mx postfix/smtp[1]: 4A1B2C3D4E: to=<a@slowisp.example>, relay=mx.slowisp.example[127.0.0.1]:2525, delay=31, delays=0.01/30/0.01/0.02, dsn=4.0.0, status=deferred (host mx.slowisp.example[127.0.0.1] said: 451 4.0.0 <a@slowisp.example>: Service temporarily unavailable, please try again later (in reply to RCPT TO command))",
			&Delivery{QueueID: "4A1B2C3D4E", Agent: "smtp", To: "a@slowisp.example", Relay: "mx.slowisp.example[127.0.0.1]:2525", Delay: 31, Delays: [4]float64{0.01, 30, 0.01, 0.02},
				DSN: "4.0.0", Status: "deferred", Reply: "host mx.slowisp.example[127.0.0.1] said: 451 4.0.0 <a@slowisp.example>: Service temporarily unavailable, please try again later (in reply to RCPT TO command)"}},
		{"bounce notice", "Nov 22 10:55:00 mx postfix/bounce[28315]: B2861BA1A8: sender non-delivery notification: C3797BA1A9",
			&BounceNotice{QueueID: "B2861BA1A8", Type: "sender non-delivery", NotifyQueueID: "C3797BA1A9"}},
		{"pickup", "Nov 22 10:54:19 mx postfix/pickup[28009]: 0E375BA172: uid=0 from=<root>", &Pickup{QueueID: "0E375BA172", UID: 0, From: "root"}},
		{"postscreen pass", "Nov 22 10:54:19 mx postfix/postscreen[1]: PASS NEW [192.0.2.7]:41234",
			&Postscreen{Action: "PASS NEW", ClientIP: "192.0.2.7", ClientPort: 41234}},
		{"postscreen dnsbl", "Nov 22 10:54:19 mx postfix/postscreen[1]: DNSBL rank 3 for [192.0.2.7]:41234",
			&Postscreen{Action: "DNSBL", ClientIP: "192.0.2.7", ClientPort: 41234, Detail: "rank 3 for"}},
		{"warning", "Nov 22 10:55:00 mx postfix/cleanup[28320]: warning: mail_stream_cleanup: close error",
			&PostfixWarning{Severity: "warning", Text: "mail_stream_cleanup: close error"}},
		{"master", "Nov 22 10:53:13 mx postfix/master[28008]: daemon started -- version 3.7.11, configuration /etc/postfix",
			&Notice{Text: "daemon started -- version 3.7.11, configuration /etc/postfix"}},
		{"unknown smtpd shape", "Nov 22 10:53:13 mx postfix/smtpd[1]: something new", &Unknown{}},
		{"unknown daemon", "Nov 22 10:53:13 mx postfix/frobnicate[1]: x", &Unknown{}},
	})
}

// TestParseForgery checks that text a client controls cannot produce an
// event of another program or shape.
func TestParseForgery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		line string
		want Kind
	}{
		// a HELO name containing a delivery status, in smtpd's reject line
		{"Nov 22 10:53:23 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT from unknown[127.0.4.64]: 450 4.2.0 <a@uni.example>: Recipient address rejected: Greylisted; from=<b@x.example> to=<a@uni.example> proto=ESMTP helo=<x status=sent (250 ok)>", KindReject},
		// the same text as smtpd's own message: smtpd does not write delivery lines
		{"Nov 22 10:53:23 mx postfix/smtpd[1]: ABCDE12345: to=<a@uni.example>, relay=x[1.2.3.4]:25, delay=1, delays=0/0/0/0, dsn=2.0.0, status=sent (250 ok)", KindUnknown},
		// another program's line with Postfix text in it
		{"Nov 22 10:53:23 mx webapp[1]: ABCDE12345: to=<a@uni.example>, relay=x[1.2.3.4]:25, delay=1, delays=0/0/0/0, dsn=2.0.0, status=sent (250 ok)", KindUnknown},
		{"2026-11-22T10:53:24.232955+00:00 mx postgrey[1]: imap-login: Login: user=<a>, method=PLAIN, rip=1.2.3.4, lip=127.0.0.1, session=<x>", KindNotice},
		{"2026-11-22T10:53:24.232955+00:00 mx roundcube: Failed login for postfix/smtp[1]: x from 1.2.3.4 in session abc", KindRoundcubeLogin},
	} {
		if got := parseOne(t, tc.line).Kind(); got != tc.want {
			t.Errorf("%s\n kind %v, want %v", tc.line, got, tc.want)
		}
	}
	// Dovecot: a user name carrying fake fields does not override rip.
	ev := parseOne(t, "2026-11-22T10:53:24.232955+00:00 mx dovecot: imap-login: Login: user=<x>, rip=6.6.6.6>, method=PLAIN, rip=127.0.2.26, lip=127.0.0.1, mpid=1, session=<s1>").(*DovecotLogin)
	if ev.RemoteIP != "127.0.2.26" || ev.Session != "s1" {
		t.Errorf("forged dovecot fields: %+v", ev)
	}
	// postgrey: a sender with ", recipient=" does not replace the recipient.
	pg := parseOne(t, "2026-11-22T10:53:24.2+00:00 mx postgrey[1]: action=pass, reason=triplet found, client_name=a, client_address=1.2.3.4, sender=x, recipient=evil@x, recipient=real@uni.example").(*PostgreyResult)
	if pg.Recipient != "real@uni.example" {
		t.Errorf("postgrey recipient %q", pg.Recipient)
	}
}

func TestParseDovecot(t *testing.T) {
	t.Parallel()
	runParseCases(t, []parseCase{
		{"imap login", "2026-11-22T10:53:24.232955+00:00 mx dovecot: imap-login: Login: user=<l.romero@dept.uni.example>, method=PLAIN, rip=127.0.2.26, lip=127.0.0.1, mpid=28023, TLS, session=<khFOSdtg+7l/AAIa>",
			&DovecotLogin{Service: "imap", User: "l.romero@dept.uni.example", Method: "PLAIN", RemoteIP: "127.0.2.26", LocalIP: "127.0.0.1", MPID: 28023, TLS: true, Session: "khFOSdtg+7l/AAIa"}},
		{"pop3 aborted after auth failure", "2026-11-22T10:54:00.1+00:00 mx dovecot: pop3-login: Disconnected: Aborted login by logging out (auth failed, 3 attempts in 51 secs): user=<it.admin@uni.example>, method=PLAIN, rip=127.0.6.41, lip=127.0.0.1, session=<abc>",
			&DovecotLoginEnd{Service: "pop3", Reason: "Disconnected: Aborted login by logging out (auth failed, 3 attempts in 51 secs)", AuthFailed: true, Attempts: 3,
				User: "it.admin@uni.example", Method: "PLAIN", RemoteIP: "127.0.6.41", LocalIP: "127.0.0.1", Session: "abc"}},
		{"2.3 disconnected form", "2026-11-22T10:54:00.1+00:00 mx dovecot: imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<bob>, method=PLAIN, rip=192.0.2.1, lip=192.0.2.2, TLS, session=<s>",
			&DovecotLoginEnd{Service: "imap", Reason: "Disconnected (auth failed, 1 attempts in 2 secs)", AuthFailed: true, Attempts: 1,
				User: "bob", Method: "PLAIN", RemoteIP: "192.0.2.1", LocalIP: "192.0.2.2", TLS: true, Session: "s"}},
		{"auth mismatch with session", "2026-11-22T10:53:30.542472+00:00 mx dovecot: auth: passwd-file(w.lee@dept.uni.example,127.0.2.50,<OX+uSdtgw5l/AAIy>): Password mismatch",
			&DovecotAuthFailure{Driver: "passwd-file", User: "w.lee@dept.uni.example", RemoteIP: "127.0.2.50", Session: "OX+uSdtgw5l/AAIy", Reason: "Password mismatch"}},
		{"auth from postfix", "2026-11-22T10:53:54.312788+00:00 mx dovecot: auth: passwd-file(maria.garcia@uni.example,127.0.2.43): Password mismatch",
			&DovecotAuthFailure{Driver: "passwd-file", User: "maria.garcia@uni.example", RemoteIP: "127.0.2.43", Reason: "Password mismatch"}},
		{"userdb lookup", "2026-11-22T10:55:12.299823+00:00 mx dovecot: auth: passwd-file(departed.user@uni.example): unknown user",
			&DovecotAuthFailure{Driver: "passwd-file", User: "departed.user@uni.example", Reason: "unknown user"}},
		{"odd user name", "2026-11-22T10:55:12.299823+00:00 mx dovecot: auth: passwd-file(prof_(weber)_uni_example,127.0.2.14,<eiEJUttgXYx/AAIO>): unknown user",
			&DovecotAuthFailure{Driver: "passwd-file", User: "prof_(weber)_uni_example", RemoteIP: "127.0.2.14", Session: "eiEJUttgXYx/AAIO", Reason: "unknown user"}},
		{"lmtp saved", "2026-11-22T10:53:26.489851+00:00 mx dovecot: lmtp(leo.fischer@uni.example)<28035><rHaIHKbJAmuDbQAAg+zDdQ>: msgid=<20261122105325.acffa7b2f0b3@uni.example>: saved mail to INBOX",
			&DovecotLMTPDelivery{User: "leo.fischer@uni.example", Session: "rHaIHKbJAmuDbQAAg+zDdQ", MessageID: "20261122105325.acffa7b2f0b3@uni.example", Mailbox: "INBOX", Saved: true}},
		{"lmtp quota", "2026-11-22T10:59:12.498053+00:00 mx dovecot: lmtp(sam.taylor@uni.example)<28035><oPMsHADLAmuDbQAAg+zDdQ>: msgid=<20261122105728.169f22b55fd1@webmail.example>: save failed to INBOX: Quota exceeded (mailbox for user is full)",
			&DovecotLMTPDelivery{User: "sam.taylor@uni.example", Session: "oPMsHADLAmuDbQAAg+zDdQ", MessageID: "20261122105728.169f22b55fd1@webmail.example", Mailbox: "INBOX", Error: "Quota exceeded (mailbox for user is full)"}},
		{"imap logout", "2026-11-22T10:53:26.050453+00:00 mx dovecot: imap(henry.dubois@uni.example)<28028><ilhpSdtgpdh/AAIq>: Disconnected: Logged out in=32 out=806 deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0",
			&DovecotLogout{Service: "imap", User: "henry.dubois@uni.example", PID: 28028, Session: "ilhpSdtgpdh/AAIq", Reason: "Logged out",
				Stats: "in=32 out=806 deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0", HasReads: true}},
		{"imap logout with reads", "Dec  7 05:53:04 imap dovecot: imap(s.iyer@dept.uni.example)<6486><qz/k1gRio51/AAIi>: Disconnected: Logged out in=150 out=30754 deleted=0 expunged=0 trashed=0 hdr_count=2 hdr_bytes=218 body_count=2 body_bytes=29296",
			&DovecotLogout{Service: "imap", User: "s.iyer@dept.uni.example", PID: 6486, Session: "qz/k1gRio51/AAIi", Reason: "Logged out",
				Stats: "in=150 out=30754 deleted=0 expunged=0 trashed=0 hdr_count=2 hdr_bytes=218 body_count=2 body_bytes=29296", Reads: 2, ReadBytes: 29296, HasReads: true}},
		{"imap closed with reads", "Dec  7 05:58:01 imap dovecot: imap(s.iyer@dept.uni.example)<7001><abc>: Disconnected: Connection closed (FETCH finished 0.004 secs ago) in=141 out=96575 deleted=0 expunged=0 trashed=0 hdr_count=1 hdr_bytes=100 body_count=3 body_bytes=95000",
			&DovecotLogout{Service: "imap", User: "s.iyer@dept.uni.example", PID: 7001, Session: "abc", Reason: "Connection closed (FETCH finished 0.004 secs ago)",
				Stats: "in=141 out=96575 deleted=0 expunged=0 trashed=0 hdr_count=1 hdr_bytes=100 body_count=3 body_bytes=95000", Reads: 3, ReadBytes: 95000, HasReads: true}},
		{"pop3 logout", "Dec  7 05:53:05 imap dovecot: pop3(j.tanaka@dept.uni.example)<6490><zZfs1gRiE5N/AAIf>: Disconnected: Logged out top=0/0, retr=1/4343, del=0/1, size=4326",
			&DovecotLogout{Service: "pop3", User: "j.tanaka@dept.uni.example", PID: 6490, Session: "zZfs1gRiE5N/AAIf", Reason: "Logged out",
				Stats: "top=0/0, retr=1/4343, del=0/1, size=4326", Reads: 1, ReadBytes: 4343, HasReads: true}},
		{"pop3 odd counter", "Dec  7 05:53:05 imap dovecot: pop3(u)<1><s>: Disconnected: Logged out top=0/0, xretr=9/9, retr=x/1, size=1",
			&DovecotLogout{Service: "pop3", User: "u", PID: 1, Session: "s", Reason: "Logged out", Stats: "top=0/0, xretr=9/9, retr=x/1, size=1"}},
		{"imap closed", "2026-11-22T10:53:24.257706+00:00 mx dovecot: imap(l.romero@dept.uni.example)<28023><khFOSdtg+7l/AAIa>: Disconnected: Connection closed (APPEND finished 0.005 secs ago) in=1539 out=826",
			&DovecotLogout{Service: "imap", User: "l.romero@dept.uni.example", PID: 28023, Session: "khFOSdtg+7l/AAIa", Reason: "Connection closed (APPEND finished 0.005 secs ago)", Stats: "in=1539 out=826"}},
		{"lmtp connect", "2026-11-22T10:53:26.478963+00:00 mx dovecot: lmtp(28035): Connect from local", &Notice{Text: "lmtp(28035): Connect from local"}},
		{"unknown", "2026-11-22T10:53:26.478963+00:00 mx dovecot: something", &Unknown{}},
	})
}

func TestParseAmavis(t *testing.T) {
	t.Parallel()
	runParseCases(t, []parseCase{
		{"passed clean", "2026-11-22T10:53:26.406530+00:00 mx amavis[27924]: (27924-01) Passed CLEAN {RelayedInternal,RelayedOutbound}, ORIGINATING LOCAL [127.0.2.41]:49131 <sam.taylor@uni.example> -> <leo.fischer@uni.example>,<diana.walsh@webmail.example>, Queue-ID: E0BF0BA129, Message-ID: <20261122105325.acffa7b2f0b3@uni.example>, mail_id: jhWjp4glRMai, Hits: 1.199, size: 1403, queued_as: 5CFE0BA12A, 453 ms",
			&AmavisResult{LogID: "27924-01", Action: "Passed", Category: "CLEAN", Flags: "RelayedInternal,RelayedOutbound", Originating: true,
				ClientIP: "127.0.2.41", ClientPort: 49131, From: "sam.taylor@uni.example", To: []string{"leo.fischer@uni.example", "diana.walsh@webmail.example"},
				QueueID: "E0BF0BA129", MessageID: "20261122105325.acffa7b2f0b3@uni.example", MailID: "jhWjp4glRMai", Hits: "1.199", Size: 1403,
				QueuedAs: []string{"5CFE0BA12A"}, ElapsedMS: 453}},
		{"blocked infected", "2026-11-22T10:55:12.1+00:00 mx amavis[28218]: (28218-19) Blocked INFECTED (Eicar-Test-Signature.UNOFFICIAL) {DiscardedInbound,Quarantined}, [127.0.1.23]:47109 <petra.walsh@library-consortium.example> -> <l.romero@dept.uni.example>, quarantine: I/virus-Id2jhBhsHJYb, Queue-ID: 6EF39BA1A2, Message-ID: <20261122105345.50cb3a168817@library-consortium.example>, mail_id: Id2jhBhsHJYb, Hits: -, size: 1803, 145 ms",
			&AmavisResult{LogID: "28218-19", Action: "Blocked", Category: "INFECTED", Detail: "Eicar-Test-Signature.UNOFFICIAL", Flags: "DiscardedInbound,Quarantined",
				ClientIP: "127.0.1.23", ClientPort: 47109, From: "petra.walsh@library-consortium.example", To: []string{"l.romero@dept.uni.example"},
				Quarantine: "I/virus-Id2jhBhsHJYb", QueueID: "6EF39BA1A2", MessageID: "20261122105345.50cb3a168817@library-consortium.example", MailID: "Id2jhBhsHJYb", Hits: "-", Size: 1803, ElapsedMS: 145}},
		{"spammy split", "2026-11-22T10:57:00.1+00:00 mx amavis[29268]: (29268-01) Passed SPAMMY {RelayedTaggedInbound,RelayedOpenRelay}, [127.0.1.20]:53169 <hannah.smith@funding-agency.example> -> <karen.petrov@uni.example>,<karen.p@webmail.example>, Queue-ID: 22A2ABA257, Message-ID: <20261122105640.2b9ffb1d1078@funding-agency.example>, mail_id: SYeOPpTueSZU, Hits: 9.882, size: 1371, queued_as: CB135BA259/CD78BBA25D, 1004 ms",
			&AmavisResult{LogID: "29268-01", Action: "Passed", Category: "SPAMMY", Flags: "RelayedTaggedInbound,RelayedOpenRelay",
				ClientIP: "127.0.1.20", ClientPort: 53169, From: "hannah.smith@funding-agency.example", To: []string{"karen.petrov@uni.example", "karen.p@webmail.example"},
				QueueID: "22A2ABA257", MessageID: "20261122105640.2b9ffb1d1078@funding-agency.example", MailID: "SYeOPpTueSZU", Hits: "9.882", Size: 1371,
				QueuedAs: []string{"CB135BA259", "CD78BBA25D"}, ElapsedMS: 1004}},
		{"truncated", "2026-11-22T10:57:33.340040+00:00 mx amavis[29432]: (29432-02) Passed CLEAN {RelayedInternal}, ORIGINATING LOCAL [127.0.2.53]:52389 <a@uni.example> -> <b@uni.example>, Queue-ID: DD0D2BA291, Message-ID: <m@x>, mail_id: 56fD8tdrjX0C, Hits: 1.199, size: 79559, queued_as: 3AF0CBA294, 36...",
			&AmavisResult{LogID: "29432-02", Action: "Passed", Category: "CLEAN", Flags: "RelayedInternal", Originating: true, ClientIP: "127.0.2.53", ClientPort: 52389,
				From: "a@uni.example", To: []string{"b@uni.example"}, QueueID: "DD0D2BA291", MessageID: "m@x", MailID: "56fD8tdrjX0C", Hits: "1.199", Size: 79559,
				QueuedAs: []string{"3AF0CBA294"}, Truncated: true}},
		{"continuation", "2026-11-22T10:57:33.342025+00:00 mx amavis[29432]: (29432-02) ...4 ms", &AmavisPart{LogID: "29432-02", Text: "4 ms"}},
		{"middle piece", "2026-11-22T10:57:33.342025+00:00 mx amavis[29432]: (29432-02) ...ABC, Hits: 1...", &AmavisPart{LogID: "29432-02", Text: "ABC, Hits: 1", More: true}},
		{"startup", "2026-11-22T10:53:10.1+00:00 mx amavis[27908]: No decoder for       .7z  ", &Notice{Text: "No decoder for       .7z  "}},
		{"unknown per-message", "2026-11-22T10:53:10.1+00:00 mx amavis[27908]: (27908-01) something else", &Unknown{}},
	})
}

func TestParsePostgreyClamd(t *testing.T) {
	t.Parallel()
	runParseCases(t, []parseCase{
		{"greylist", "2026-11-22T10:57:33.141821+00:00 mx postgrey[27874]: action=greylist, reason=new, client_name=mail.cityhall.example, client_address=127.0.1.18, sender=anna.kowalczyk@cityhall.example, recipient=x.zhou@dept.uni.example",
			&PostgreyResult{Action: "greylist", Reason: "new", Delay: -1, ClientName: "mail.cityhall.example", ClientAddress: "127.0.1.18", Sender: "anna.kowalczyk@cityhall.example", Recipient: "x.zhou@dept.uni.example"}},
		{"greylist with qid", "2026-11-22T10:54:16.1+00:00 mx postgrey[27874]: 1727FBA170: action=greylist, reason=new, client_name=mail.example.com, client_address=127.0.1.14, sender=sofia.novak@example.com, recipient=x.zhou@dept.uni.example",
			&PostgreyResult{QueueID: "1727FBA170", Action: "greylist", Reason: "new", Delay: -1, ClientName: "mail.example.com", ClientAddress: "127.0.1.14", Sender: "sofia.novak@example.com", Recipient: "x.zhou@dept.uni.example"}},
		{"early retry", "2026-11-22T10:54:16.1+00:00 mx postgrey[27874]: action=greylist, reason=early-retry (3s missing), client_name=unknown, client_address=127.0.4.1, sender=a@b.example, recipient=c@uni.example",
			&PostgreyResult{Action: "greylist", Reason: "early-retry", RetryMissing: 3, Delay: -1, ClientName: "unknown", ClientAddress: "127.0.4.1", Sender: "a@b.example", Recipient: "c@uni.example"}},
		{"pass", "2026-11-22T10:54:16.1+00:00 mx postgrey[27874]: action=pass, reason=triplet found, delay=42, client_name=unknown, client_address=127.0.4.1, sender=a@b.example, recipient=c@uni.example",
			&PostgreyResult{Action: "pass", Reason: "triplet found", Delay: 42, ClientName: "unknown", ClientAddress: "127.0.4.1", Sender: "a@b.example", Recipient: "c@uni.example"}},
		{"startup", "2026-11-22T10:53:10.303466+00:00 mx postgrey[27874]: Process Backgrounded", &Notice{Text: "Process Backgrounded"}},
		{"clamd found", "2026-11-22T10:54:21.1+00:00 mx clamd[1]: /var/lib/amavis/tmp/amavis-x/parts/p002: Eicar-Test-Signature.UNOFFICIAL FOUND",
			&ClamdFound{Path: "/var/lib/amavis/tmp/amavis-x/parts/p002", Signature: "Eicar-Test-Signature.UNOFFICIAL"}},
	})
}

func TestParseRspamdRoundcube(t *testing.T) {
	t.Parallel()
	runParseCases(t, []parseCase{
		{"rspamd", "2026-11-22T10:54:21.1+00:00 mx rspamd[812]: <a1b2c3>; task; rspamd_task_write_log: id: <m1@x.example>, qid: <4AB12CD3E4>, ip: 192.0.2.5, from: <a@x.example>, (default: F (no action): [1.50/15.00] [MIME_GOOD(-0.10){text/plain;},R_SPF_NA(0.00){},BAYES_HAM(-3.00){99.0%;}]), len: 1234, time: 12.3ms, dns req: 4, digest: <d>, rcpts: <b@uni.example>, mime_rcpts: <b@uni.example>",
			&RspamdResult{MessageID: "m1@x.example", QueueID: "4AB12CD3E4", IP: "192.0.2.5", From: "a@x.example", Action: "no action", Score: 1.5, Threshold: 15,
				Symbols: []string{"MIME_GOOD", "R_SPF_NA", "BAYES_HAM"}}},
		{"rspamd spam", "2026-11-22T10:54:21.1+00:00 mx rspamd[812]: <a1>; task; rspamd_task_write_log: id: <m2>, qid: <ABCDE12345>, ip: 192.0.2.6, from: <>, (default: T (reject): [16.20/15.00] [GTUBE(15.00){}]), len: 10",
			&RspamdResult{MessageID: "m2", QueueID: "ABCDE12345", IP: "192.0.2.6", From: "", IsSpam: true, Action: "reject", Score: 16.2, Threshold: 15, Symbols: []string{"GTUBE"}}},
		{"roundcube ok", "2026-11-22T10:54:21.1+00:00 mx roundcube: <k2j3h4> Successful login for alice.martin@uni.example (ID: 12) from 192.0.2.9 in session k2j3h4",
			&RoundcubeLogin{OK: true, User: "alice.martin@uni.example", UserID: 12, RemoteIP: "192.0.2.9", Session: "k2j3h4"}},
		{"roundcube failed", "2026-11-22T10:54:21.1+00:00 mx roundcube: Failed login for bob from 192.0.2.10 in session zz (error: 0)",
			&RoundcubeLogin{User: "bob", RemoteIP: "192.0.2.10", Session: "zz"}},
	})
}

func TestLastQueuedAs(t *testing.T) {
	for _, r := range []string{"", "queued as", "queued as ", "250 2.0.0 Ok: queued as 4Fxyz", "queued as A queued as B",
		"xqueued as queued as queued as C", "from MTA([127.0.0.1]:10025): 250 2.0.0 Ok: queued as 4S7c"} {
		if got, want := lastQueuedAs(r), strings.LastIndex(r, "queued as "); got != want {
			t.Errorf("lastQueuedAs(%q) = %d, want %d", r, got, want)
		}
	}
}

// TestFamilies checks the families table: every family has a name, a
// parser and tags that dispatch to it (Postfix by the shape of its tags);
// names are unique, since they are metric labels and login sources.
func TestFamilies(t *testing.T) {
	t.Parallel()
	names := map[string]Family{FamilyNone.String(): FamilyNone}
	for _, f := range Families() {
		if prev, dup := names[f.String()]; dup || f.String() == "" {
			t.Errorf("family %d: name %q empty or also family %d's", f, f.String(), prev)
		}
		names[f.String()] = f
		if families[f].parse == nil {
			t.Errorf("%s: no parser", f)
		}
		tags := families[f].tags
		if f == FamilyPostfix {
			tags = []string{"postfix/smtpd", "postfix/submission/smtpd", "postfix-out/smtp"}
		}
		if len(tags) == 0 {
			t.Errorf("%s: no program tags", f)
		}
		for _, tag := range tags {
			if got := FamilyOf(tag); got != f {
				t.Errorf("FamilyOf(%q) = %s, want %s", tag, got, f)
			}
		}
	}
	for _, tag := range []string{"", "postfix", "sendmail", "dovecot-lda"} {
		if got := FamilyOf(tag); got != FamilyNone {
			t.Errorf("FamilyOf(%q) = %s, want other", tag, got)
		}
	}
}
