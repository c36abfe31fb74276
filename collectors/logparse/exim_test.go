package logparse

import (
	"testing"
	"time"
)

// TestParseExim: Exim 4.96's main log lines (collectors/corpus/exim, the
// Exim spec's "Log files" chapter) give the collectors' events.
func TestParseExim(t *testing.T) {
	t.Parallel()
	runParseCases(t, []parseCase{
		{"arrival, authenticated (real line)",
			`2026-12-07 05:35:28 1xaRNo-0006UC-1l <= maria.garcia@uni.example H=([127.0.2.22]) [127.0.2.22]:59703 P=esmtpa A=LOGIN:maria.garcia@uni.example S=25405 id=ex.00099.21711660@uni.example T="Invoice 2291" for dana.berg@partner-univ.example`,
			&EximArrival{ID: "1xaRNo-0006UC-1l", From: "maria.garcia@uni.example", Helo: "[127.0.2.22]", ClientIP: "127.0.2.22", ClientPort: 59703,
				Protocol: "esmtpa", AuthMethod: "LOGIN", AuthUser: "maria.garcia@uni.example", Size: 25405, MessageID: "ex.00099.21711660@uni.example",
				Subject: "Invoice 2291", Recipients: []string{"dana.berg@partner-univ.example"}}},
		{"arrival with TLS and three recipients (real line)",
			`2026-12-07 05:35:16 1xaRNc-0006QU-2P <= lena.weber@example.com H=(mail.example.com) [127.0.1.14]:49547 P=esmtps X=TLS1.3:ECDHE_X25519__RSA_PSS_RSAE_SHA256__AES_256_GCM:256 CV=no S=2573 id=ex.00041.21711551@example.com T="Re: draft" for alice.martin@uni.example karen.petrov@uni.example postmaster@uni.example`,
			&EximArrival{ID: "1xaRNc-0006QU-2P", From: "lena.weber@example.com", Helo: "mail.example.com", ClientIP: "127.0.1.14", ClientPort: 49547,
				Protocol: "esmtps", Size: 2573, MessageID: "ex.00041.21711551@example.com", Subject: "Re: draft",
				Recipients: []string{"alice.martin@uni.example", "karen.petrov@uni.example", "postmaster@uni.example"}}},
		{"a Subject that writes fields",
			`2026-12-07 05:35:16 1xaRNc-0006QU-2P <= a@b.example H=name.example (helo) [192.0.2.1]:1 I=[192.0.2.30]:587 P=esmtp S=10 T="x\" A=LOGIN:ceo@uni.example for board@uni.example" for c@uni.example`,
			&EximArrival{ID: "1xaRNc-0006QU-2P", From: "a@b.example", ClientName: "name.example", Helo: "helo", ClientIP: "192.0.2.1", ClientPort: 1,
				LocalIP: "192.0.2.30", LocalPort: 587, Protocol: "esmtp", Size: 10, Subject: `x" A=LOGIN:ceo@uni.example for board@uni.example`,
				Recipients: []string{"c@uni.example"}}},
		{"Exim's bounce",
			`2026-12-07 05:36:01 1xaROL-0006e1-1Z <= <> R=1xaROL-0006dw-1X U=Debian-exim P=local S=3012`,
			&EximArrival{ID: "1xaROL-0006e1-1Z", Bounce: true, BounceOf: "1xaROL-0006dw-1X", LocalUser: "Debian-exim", Protocol: "local", Size: 3012}},
		{"local delivery to an alias (real line)",
			`2026-12-07 05:35:16 1xaRNc-0006QU-2P => it.admin <postmaster@uni.example> R=local_user T=local_maildir S=2694 QT=0s DT=0s`,
			&Delivery{QueueID: "1xaRNc-0006QU-2P", Agent: "local", To: "it.admin@uni.example", OrigTo: "postmaster@uni.example", Relay: "local_maildir",
				DSN: "2.0.0", Status: StatusSent}},
		{"remote delivery (real line)",
			`2026-12-07 05:35:28 1xaRNo-0006UC-1l => dana.berg@partner-univ.example R=remote_sink T=remote_smtp S=25773 H=127.0.0.21 [127.0.0.21] C="250 2.0.0 Ok: queued as S000001" QT=0s DT=1.5s`,
			&Delivery{QueueID: "1xaRNo-0006UC-1l", Agent: "smtp", To: "dana.berg@partner-univ.example", Relay: "127.0.0.21[127.0.0.21]",
				Delay: 1.5, DSN: "2.0.0", Status: StatusSent, Reply: "250 2.0.0 Ok: queued as S000001"}},
		{"another address of the same delivery",
			`2026-12-07 05:35:28 1xaRNo-0006UC-1l -> b@partner-univ.example R=remote_sink T=remote_smtp H=mx.partner-univ.example [192.0.2.20]:25 C="250 ok"`,
			&Delivery{QueueID: "1xaRNo-0006UC-1l", Agent: "smtp", To: "b@partner-univ.example", Relay: "mx.partner-univ.example[192.0.2.20]:25",
				DSN: "2.0.0", Status: StatusSent, Reply: "250 ok"}},
		{"deferral (real line)",
			`2026-12-07 05:35:41 1xaRO1-0006Z7-1X == al.ex@flaky.example R=remote_sink T=remote_smtp defer (-44) H=127.0.0.21 [127.0.0.21] DT=0s: SMTP error from remote mail server after RCPT TO:<al.ex@flaky.example>: 451 4.7.1 Service temporarily unavailable (attempt 1)`,
			&Delivery{QueueID: "1xaRO1-0006Z7-1X", Agent: "smtp", To: "al.ex@flaky.example", Relay: "127.0.0.21[127.0.0.21]", DSN: "4.7.1", Status: StatusDeferred,
				Reply: "SMTP error from remote mail server after RCPT TO:<al.ex@flaky.example>: 451 4.7.1 Service temporarily unavailable (attempt 1)"}},
		{"no attempt: retry time not reached (real line)",
			`2026-12-07 05:36:41 1xaRO1-0006Z7-1X == al.ex@flaky.example routing defer (-52) DT=0s: retry time not reached`,
			&Notice{QueueID: "1xaRO1-0006Z7-1X", Text: "== al.ex@flaky.example routing defer (-52) DT=0s: retry time not reached"}},
		{"failure (real line)",
			`2026-12-07 05:36:01 1xaROL-0006dw-1X ** nouser.ca@closed.example R=remote_sink T=remote_smtp H=127.0.0.21 [127.0.0.21]: SMTP error from remote mail server after RCPT TO:<nouser.ca@closed.example>: 550 5.1.1 Mailbox unavailable DT=0s`,
			&Delivery{QueueID: "1xaROL-0006dw-1X", Agent: "smtp", To: "nouser.ca@closed.example", Relay: "127.0.0.21[127.0.0.21]", DSN: "5.1.1", Status: StatusBounced,
				Reply: "SMTP error from remote mail server after RCPT TO:<nouser.ca@closed.example>: 550 5.1.1 Mailbox unavailable"}},
		{"completed", `2026-12-07 05:35:16 1xaRNc-0006QU-2P Completed`, &QmgrRemoved{QueueID: "1xaRNc-0006QU-2P"}},
		{"RCPT reject (real line)",
			`2026-12-07 05:35:33 H=(host0.dyn.example) [127.0.4.27]:56419 F=<x@mailer.example> rejected RCPT <anna.berg@gmail.example>: Relay not permitted`,
			&Reject{Action: "reject", Stage: "RCPT", Helo: "host0.dyn.example", ClientIP: "127.0.4.27", Code: 550, From: "x@mailer.example", To: "anna.berg@gmail.example", Reason: "Relay not permitted"}},
		{"temporary RCPT reject (real line)",
			`2026-12-07 05:35:54 H=(smtp.journal-publisher.example) [127.0.1.12]:56135 F=<news@tempfail.example> temporarily rejected RCPT <grace.chen@uni.example>: Temporary local problem, please try again later`,
			&Reject{Action: "reject", Stage: "RCPT", Helo: "smtp.journal-publisher.example", ClientIP: "127.0.1.12", Code: 451, From: "news@tempfail.example", To: "grace.chen@uni.example",
				Reason: "Temporary local problem, please try again later"}},
		{"MAIL reject (real line)",
			`2026-12-07 05:35:25 H=(spam.example) [127.0.5.220]:57237 rejected MAIL <win@lottery-winner.example>: Sender domain blocked`,
			&Reject{Action: "reject", Stage: "MAIL", Helo: "spam.example", ClientIP: "127.0.5.220", Code: 550, From: "win@lottery-winner.example", Reason: "Sender domain blocked"}},
		{"SIZE too big (real shape)",
			`2026-12-07 05:36:30 rejected MAIL FROM:<big@conference-org.example> H=(relay.conference-org.example) [127.0.1.22]:40000: message too big: size=6200000 max=5242880`,
			&Reject{Action: "reject", Stage: "MAIL", Helo: "relay.conference-org.example", ClientIP: "127.0.1.22", Code: 552, Enhanced: "5.3.4", From: "big@conference-org.example",
				Reason: "message too big: size=6200000 max=5242880"}},
		{"connect ACL (real line)",
			`2026-12-07 05:35:28 H=[127.0.7.71]:50623 rejected connection in "connect" ACL: Blocked network`,
			&Reject{Action: "reject", Stage: "CONNECT", ClientIP: "127.0.7.71", Code: 550, Reason: "Blocked network"}},
		{"after DATA, with the message ID",
			`2026-12-07 05:37:01 1xaRPJ-0006xy-1a H=(smtp1.bigmail.example) [127.0.1.16]:40000 F=<xena.weber@bigmail.example> rejected after DATA: Message content rejected`,
			&Reject{Action: "reject", Stage: "DATA", Helo: "smtp1.bigmail.example", ClientIP: "127.0.1.16", Code: 550, From: "xena.weber@bigmail.example", Reason: "Message content rejected"}},
		{"authenticator failed (real line)",
			`2026-12-07 05:35:28 PLAIN authenticator failed for ([127.0.2.22]) [127.0.2.22]:59703: 535 Incorrect authentication data (set_id=maria.garcia@uni.example)`,
			&SASLFailure{ClientIP: "127.0.2.22", Method: "PLAIN", Reason: "535 Incorrect authentication data", Username: "maria.garcia@uni.example"}},
		{"connection", `2026-12-07 05:35:16 SMTP connection from [127.0.1.14]:49547 (TCP/IP connection count = 1)`,
			&Notice{Text: "SMTP connection from [127.0.1.14]:49547 (TCP/IP connection count = 1)"}},
		{"through syslog", `Dec  7 05:35:16 exim1 exim[2012]: 1xaRNc-0006QU-2P Completed`, &QmgrRemoved{QueueID: "1xaRNc-0006QU-2P"}},
	})
}

// TestFrameEximStamp: Exim's own timestamps, with a fraction, an offset
// (log_timezone) and a pid (+pid) or without.
func TestFrameEximStamp(t *testing.T) {
	t.Parallel()
	oslo, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Fatal(err)
	}
	fr := NewFramer(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC), oslo)
	for line, want := range map[string]Frame{
		"2026-12-07 05:35:16 1xaRNc-0006QU-2P Completed":                  {Time: time.Date(2026, 12, 7, 5, 35, 16, 0, oslo), Program: "exim", Message: "1xaRNc-0006QU-2P Completed"},
		"2026-12-07 05:35:16.250 +0100 [4711] 1xaRNc-0006QU-2P Completed": {Time: time.Date(2026, 12, 7, 4, 35, 16, 250e6, time.UTC), Program: "exim", PID: 4711, Message: "1xaRNc-0006QU-2P Completed"},
	} {
		f, err := fr.Frame(line)
		if err != nil {
			t.Fatal(err)
		}
		if !f.Time.Equal(want.Time) || f.Program != want.Program || f.PID != want.PID || f.Message != want.Message || f.Host != "" {
			t.Errorf("%q: %+v, want %+v", line, f, want)
		}
	}
	for _, bad := range []string{"2026-13-07 05:35:16 x", "2026-12-07 25:35:16 x", "2026-12-07 05:35:16"} {
		if _, err := fr.Frame(bad); err == nil {
			t.Errorf("%q framed", bad)
		}
	}
}
