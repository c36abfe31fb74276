package logparse

import (
	"testing"
)

// Lines of the Postfix corpus (collectors/corpus, real Postfix 3.7 and
// amavisd-new) and shapes Postfix writes, whose parts a sender or a remote
// server chose: each must be read from the right place.
func TestHostileFields(t *testing.T) {
	t.Parallel()
	runParseCases(t, []parseCase{
		{"recipient holding a status (real line)",
			`2026-12-07T05:37:48.792669+00:00 smtp postfix/smtp[22817]: B25A8CA558: to=<"x>, status=sent (250 forged)"@closed.example>, relay=mx.closed.example[127.0.0.20]:2525, delay=0.06, delays=0/0/0.05/0.01, dsn=5.1.1, status=bounced (host mx.closed.example[127.0.0.20] said: 550 5.1.1 Mailbox unavailable (in reply to RCPT TO command))`,
			&Delivery{QueueID: "B25A8CA558", Agent: "smtp", To: `"x>, status=sent (250 forged)"@closed.example`, Relay: "mx.closed.example[127.0.0.20]:2525",
				Delay: 0.06, Delays: [4]float64{0, 0, 0.05, 0.01}, DSN: "5.1.1", Status: StatusBounced,
				Reply: "host mx.closed.example[127.0.0.20] said: 550 5.1.1 Mailbox unavailable (in reply to RCPT TO command)"}},
		{"the remote reply echoes the address and a status",
			`2026-12-07T05:37:48.792669+00:00 smtp postfix/smtp[22817]: B25A8CA558: to=<"x>, status=sent (250 forged)"@closed.example>, orig_to=<"y>, status=sent"@uni.example>, relay=mx.closed.example[127.0.0.20]:2525, conn_use=2, delay=0.06, delays=0/0/0.05/0.01, dsn=5.1.1, status=bounced (host mx.closed.example[127.0.0.20] said: 550 5.1.1 <"x>, status=sent (250 forged)"@closed.example>: dsn=2.0.0, status=sent (ok) (in reply to RCPT TO command))`,
			&Delivery{QueueID: "B25A8CA558", Agent: "smtp", To: `"x>, status=sent (250 forged)"@closed.example`, OrigTo: `"y>, status=sent"@uni.example`,
				Relay: "mx.closed.example[127.0.0.20]:2525", ConnUse: 2, Delay: 0.06, Delays: [4]float64{0, 0, 0.05, 0.01}, DSN: "5.1.1", Status: StatusBounced,
				Reply: `host mx.closed.example[127.0.0.20] said: 550 5.1.1 <"x>, status=sent (250 forged)"@closed.example>: dsn=2.0.0, status=sent (ok) (in reply to RCPT TO command)`}},
		{"an address logged unquoted (Postfix before 3.5, info_log_address_format=internal)",
			`2026-12-07T05:37:48.792669+00:00 smtp postfix/smtp[22817]: B25A8CA558: to=<x>, status=sent (250 forged)@closed.example>, relay=mx.closed.example[127.0.0.20]:2525, delay=0.06, delays=0/0/0.05/0.01, dsn=5.1.1, status=bounced (host said: 550 no)`,
			&Delivery{QueueID: "B25A8CA558", Agent: "smtp", To: `x>, status=sent (250 forged)@closed.example`, Relay: "mx.closed.example[127.0.0.20]:2525",
				Delay: 0.06, Delays: [4]float64{0, 0, 0.05, 0.01}, DSN: "5.1.1", Status: StatusBounced, Reply: "host said: 550 no"}},
		{"amavis D_BOUNCE reply is a hand-off (real line)",
			`2026-12-07T05:41:31.918735+00:00 smtp postfix/smtp[20883]: 82D24CA6A0: to=<sara.ito@example.com>, relay=127.0.0.11[127.0.0.11]:10026, delay=0.38, delays=0/0/0.01/0.37, dsn=2.5.0, status=sent (250 2.5.0 Ok, id=18153-19, BOUNCE)`,
			&Delivery{QueueID: "82D24CA6A0", Agent: "smtp", To: "sara.ito@example.com", Relay: "127.0.0.11[127.0.0.11]:10026", Delay: 0.38,
				Delays: [4]float64{0, 0, 0.01, 0.37}, DSN: "2.5.0", Status: StatusSent, Reply: "250 2.5.0 Ok, id=18153-19, BOUNCE", FilterBounced: true}},
		{"header_checks on a Subject holding envelope fields (real line)",
			`Dec 07 05:44:54 mx1 postfix/cleanup[30625]: E9EE7CA560: reject: header Subject: make money fast; from=<rektor@uni.example> to=<board@uni.example> from smtp2.bigmail.example[127.0.1.17]; from=<pia.brown@bigmail.example> to=<jack.oneill@uni.example> proto=ESMTP helo=<smtp2.bigmail.example>: 5.7.1 Message content rejected`,
			&Reject{QueueID: "E9EE7CA560", Action: "reject", Stage: "header", ClientName: "smtp2.bigmail.example", ClientIP: "127.0.1.17", Enhanced: "5.7.1",
				Reason: "Message content rejected", Detail: "Subject: make money fast; from=<rektor@uni.example> to=<board@uni.example>",
				From: "pia.brown@bigmail.example", To: "jack.oneill@uni.example", Proto: "ESMTP", Helo: "smtp2.bigmail.example"}},
		{"a Subject that forges the whole tail",
			`Dec 07 05:44:54 mx1 postfix/cleanup[30625]: E9EE7CA560: reject: header Subject: x from a[192.0.2.9]; from=<rektor@uni.example> to=<board@uni.example> proto=ESMTP helo=<a> from smtp2.bigmail.example[127.0.1.17]; from=<pia.brown@bigmail.example> to=<jack.oneill@uni.example> proto=ESMTP helo=<smtp2.bigmail.example>: 5.7.1 Message content rejected`,
			&Reject{QueueID: "E9EE7CA560", Action: "reject", Stage: "header", ClientName: "smtp2.bigmail.example", ClientIP: "127.0.1.17", Enhanced: "5.7.1",
				Reason: "Message content rejected", Detail: "Subject: x from a[192.0.2.9]; from=<rektor@uni.example> to=<board@uni.example> proto=ESMTP helo=<a>",
				From: "pia.brown@bigmail.example", To: "jack.oneill@uni.example", Proto: "ESMTP", Helo: "smtp2.bigmail.example"}},
		{"a rejected recipient holding envelope fields",
			`Dec 07 05:44:54 mx1 postfix/smtpd[3]: NOQUEUE: reject: RCPT from x.example[192.0.2.9]: 550 5.1.1 <"a; from=<rektor@uni.example> to=<board@uni.example> proto=ESMTP helo=<b>"@uni.example>: Recipient address rejected: User unknown; from=<real@partner.example> to=<"a; from=<rektor@uni.example> to=<board@uni.example> proto=ESMTP helo=<b>"@uni.example> proto=ESMTP helo=<x.example>`,
			&Reject{Action: "reject", Stage: "RCPT", ClientName: "x.example", ClientIP: "192.0.2.9", Code: 550, Enhanced: "5.1.1",
				Reason: `<"a; from=<rektor@uni.example> to=<board@uni.example> proto=ESMTP helo=<b>"@uni.example>: Recipient address rejected: User unknown`,
				From:   "real@partner.example", To: `"a; from=<rektor@uni.example> to=<board@uni.example> proto=ESMTP helo=<b>"@uni.example`, Proto: "ESMTP", Helo: "x.example"}},
		{"postscreen's comma-separated fields",
			`Dec 07 05:44:54 mx1 postfix/postscreen[3]: NOQUEUE: reject: RCPT from [192.0.2.9]:41000: 550 5.7.1 Service unavailable; client [192.0.2.9] blocked using zen.spamhaus.org; from=<a@b.example>, to=<c@uni.example>, proto=ESMTP, helo=<x>`,
			&Reject{Action: "reject", Stage: "RCPT", ClientName: "", ClientIP: "192.0.2.9", Code: 550, Enhanced: "5.7.1",
				Reason: "Service unavailable; client [192.0.2.9] blocked using zen.spamhaus.org", From: "a@b.example", To: "c@uni.example", Proto: "ESMTP", Helo: "x"}},
		{"SASL failure without a user name (Postfix's placeholder)",
			`Dec 07 05:44:54 mx1 postfix/submission/smtpd[3]: warning: unknown[192.0.2.9]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=(unavailable)`,
			&SASLFailure{ClientName: "unknown", ClientIP: "192.0.2.9", Method: "LOGIN", Reason: "UGFzc3dvcmQ6"}},
		{"SASL failure, the user name holding the separator",
			`Dec 07 05:44:54 mx1 postfix/submission/smtpd[3]: warning: unknown[192.0.2.9]: SASL PLAIN authentication failed: (reason unavailable), sasl_username=a, sasl_username=b`,
			&SASLFailure{ClientName: "unknown", ClientIP: "192.0.2.9", Method: "PLAIN", Reason: "(reason unavailable)", Username: "a, sasl_username=b"}},
		{"rate limit (real line)",
			`2026-12-07T05:41:58.198344+00:00 smtp postfix/submission/smtpd[20368]: warning: Message delivery request rate limit exceeded: 41 from unknown[127.0.6.50] for service 127.0.0.11:submission`,
			&RateLimit{Limit: "Message delivery request rate", Count: 41, ClientName: "unknown", ClientIP: "127.0.6.50", Service: "127.0.0.11:submission"}},
		{"quarantine release (real line)",
			`2026-12-07T05:46:56.710075+00:00 mx1 amavis[30768]: (rel-bwvMRikSD6z4) Quarantined message release (miscategorized): 75KqW2aHviSR <yuri.brown@funding-agency.example> -> <it.admin@uni.example>`,
			&AmavisRelease{LogID: "rel-bwvMRikSD6z4", Reason: "miscategorized", MailID: "75KqW2aHviSR", From: "yuri.brown@funding-agency.example", To: []string{"it.admin@uni.example"}}},
		{"resent-message-id (real line)",
			`Dec 07 05:46:56 mx1 postfix/cleanup[30602]: AE9CBCA474: resent-message-id=<75KqW2aHviSR-bwvMRikSD6z4@mx1.uni.example>`,
			&CleanupMessageID{QueueID: "AE9CBCA474", MessageID: "75KqW2aHviSR-bwvMRikSD6z4@mx1.uni.example", Resent: true}},
		{"amavis with a quoted recipient (real line)",
			`2026-12-07T05:37:48.748361+00:00 smtp amavis[18153]: (18153-14) Passed CLEAN {RelayedOutbound}, ORIGINATING LOCAL [127.0.2.14]:48349 <emma.schulz@uni.example> -> <"x>, status=sent (250 forged)"@closed.example>, Queue-ID: B05C5CA4E7, Message-ID: <hostile.00320.21538632@uni.example>, mail_id: Ps7oYoi21sCo, Hits: 2.199, size: 16222, queued_as: B25A8CA558, 2012 ms`,
			&AmavisResult{LogID: "18153-14", Action: "Passed", Category: "CLEAN", Flags: "RelayedOutbound", Originating: true, ClientIP: "127.0.2.14", ClientPort: 48349,
				From: "emma.schulz@uni.example", To: []string{`"x>, status=sent (250 forged)"@closed.example`}, QueueID: "B05C5CA4E7",
				MessageID: "hostile.00320.21538632@uni.example", MailID: "Ps7oYoi21sCo", Hits: "2.199", Size: 16222, QueuedAs: []string{"B25A8CA558"}, ElapsedMS: 2012}},
	})
}

// TestFilterHandoffNeedsLiteralRelay: the amavis reply shape makes a
// hand-off only from a relay reached by its address; a remote MX that
// answers the same words is a delivery.
func TestFilterHandoffNeedsLiteralRelay(t *testing.T) {
	t.Parallel()
	for line, want := range map[string]bool{
		`2026-12-07T05:41:31.918735+00:00 smtp postfix/smtp[1]: 82D24CA6A0: to=<a@b.example>, relay=127.0.0.11[127.0.0.11]:10026, delay=0.38, delays=0/0/0.01/0.37, dsn=2.5.0, status=sent (250 2.5.0 Ok, id=18153-19, BOUNCE)`:                                true,
		`2026-12-07T05:41:31.918735+00:00 smtp postfix/smtp[1]: 82D24CA6A0: to=<a@b.example>, relay=localhost[::1]:10024, delay=0.38, delays=0/0/0.01/0.37, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[::1]:10025): 250 2.0.0 Ok: queued as 1A2B3C4D5E)`: true,
		`2026-12-07T05:41:31.918735+00:00 smtp postfix/smtp[1]: 82D24CA6A0: to=<a@b.example>, relay=mx.b.example[192.0.2.1]:25, delay=0.38, delays=0/0/0.01/0.37, dsn=2.5.0, status=sent (250 2.5.0 Ok, id=18153-19, BOUNCE)`:                                  false,
		`2026-12-07T05:41:31.918735+00:00 smtp postfix/smtp[1]: 82D24CA6A0: to=<a@b.example>, relay=127.0.0.11[127.0.0.11]:10026, delay=0.38, delays=0/0/0.01/0.37, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 1A2B3C4D5E)`:                               false,
	} {
		d, ok := parseOne(t, line).(*Delivery)
		if !ok || d.FilterHandoff() != want {
			t.Errorf("%s: hand-off %v, want %v", line, ok && d.FilterHandoff(), want)
		}
	}
}

func TestAccountName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"(unavailable)": "", "unknown": "", "?": "", "": "", "<>": "", "(null)": "",
		"UNKNOWN": "", "ann@uni.example": "ann@uni.example", "unknown.user@uni.example": "unknown.user@uni.example"} {
		if got := AccountName(in); got != want {
			t.Errorf("AccountName(%q) = %q, want %q", in, got, want)
		}
	}
}
