package logparse

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// seedLines returns up to max lines of a sample file whose program tag
// matches fam (FamilyNone: any), one per distinct shape prefix; nil if the
// sample is absent.
func seedLines(name string, fam Family, max int) []string {
	fh, err := os.Open(filepath.Join(sampleDir, name))
	if err != nil {
		return nil
	}
	defer fh.Close()
	fr := NewFramer(sampleRef, time.UTC)
	seen := map[string]bool{}
	var out []string
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() && len(out) < max {
		line := sc.Text()
		f, err := fr.Frame(line)
		if err != nil || (fam != FamilyNone && FamilyOf(f.Program) != fam) {
			continue
		}
		shape := f.Program + " " + Parse(f).Kind().String()
		if len(f.Message) > 12 {
			shape += " " + strings.Map(func(r rune) rune {
				if r >= '0' && r <= '9' {
					return 'N'
				}
				return r
			}, f.Message[:12])
		}
		if seen[shape] {
			continue
		}
		seen[shape] = true
		out = append(out, line)
	}
	return out
}

// checkEvent states the invariants every parse result keeps.
func checkEvent(t *testing.T, ev Event, msg string) {
	if ev == nil {
		t.Fatalf("nil event for %q", msg)
	}
	if ev.Kind() >= numKinds {
		t.Fatalf("kind %d out of range", ev.Kind())
	}
	if ev.Header().Message != msg {
		t.Fatalf("header message %q, want %q", ev.Header().Message, msg)
	}
	_ = ev.Kind().String()
}

func FuzzParseLine(f *testing.F) {
	for _, s := range []string{
		"Nov 22 10:53:10 mx postfix/smtpd[1]: connect from a[1.2.3.4]",
		"<13>2026-11-22T10:53:18.486012+00:00 mx dovecot: imap-login: Login: user=<a>",
		"", "<", "Nov 22", "2026-11-22T10:53:18Z mx x[1]:",
	} {
		f.Add(s)
	}
	for _, s := range seedLines("postfix.log", FamilyNone, 300) {
		f.Add(s)
	}
	for _, s := range seedLines("syslog-mail.log", FamilyNone, 300) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		fr := NewFramer(time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC), time.UTC)
		fm, err := fr.Frame(line)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		rest := line
		if i := strings.IndexByte(rest, '>'); strings.HasPrefix(rest, "<") && i > 0 {
			rest = rest[i+1:]
		}
		yearless := rest != "" && rest[0] >= 'A' && rest[0] <= 'Z'
		if yearless && fm.Time.After(time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC).Add(MaxFuture)) {
			t.Fatalf("year-less time %v too far in the future", fm.Time)
		}
		checkEvent(t, Parse(fm), fm.Message)
		checkArena(t, fm)
	})
}

// checkArena checks that an Arena gives the event Parse gives, with a few
// events before it in the same blocks.
func checkArena(t *testing.T, fm Frame) {
	t.Helper()
	a := new(Arena)
	for range 3 {
		a.Parse(fm)
	}
	if got, want := a.Parse(fm), Parse(fm); !reflect.DeepEqual(got, want) {
		t.Fatalf("Arena.Parse = %#v, Parse = %#v", got, want)
	}
}

// fuzzFamily fuzzes one parser with messages, seeded from sample lines of
// its family.
func fuzzFamily(f *testing.F, fam Family, programs []string, parse func(Frame) Event, seeds ...string) {
	for _, s := range seeds {
		for _, p := range programs {
			f.Add(p, s)
		}
	}
	for _, name := range []string{"postfix.log", "syslog-mail.log"} {
		for _, line := range seedLines(name, fam, 200) {
			fm, err := NewFramer(sampleRef, time.UTC).Frame(line)
			if err == nil {
				f.Add(fm.Program, fm.Message)
			}
		}
	}
	f.Fuzz(func(t *testing.T, program, msg string) {
		fm := Frame{Host: "mx", Program: program, Message: msg, Priority: -1}
		checkEvent(t, parse(fm), msg)
		checkEvent(t, Parse(fm), msg)
		checkArena(t, fm)
	})
}

func FuzzPostfix(f *testing.F) {
	fuzzFamily(f, FamilyPostfix, []string{"postfix/smtpd", "postfix/smtp", "postfix/cleanup", "postfix/qmgr", "postfix/postscreen"}, ParsePostfix,
		"ABCDE12345: to=<a>, relay=x[1.2.3.4]:25, delay=1, delays=0/0/0/0, dsn=2.0.0, status=sent (250 ok)",
		"NOQUEUE: reject: RCPT from x[1.2.3.4]: 554 5.7.1 <a>: Relay access denied; from=<b> to=<a> proto=ESMTP helo=<h>",
		"ABCDE12345: reject: header Subject: x from y[1.2.3.4]; from=<a> to=<b> proto=ESMTP helo=<h>: 5.7.1 no",
		"disconnect from x[1.2.3.4] ehlo=1 rcpt=0/1 commands=1/2", "warning: x[1.2.3.4]: SASL LOGIN authentication failed: y",
		"PASS NEW [1.2.3.4]:5", "ABCDE12345: from=<>, size=1, nrcpt=1 (queue active)")
}

func FuzzDovecot(f *testing.F) {
	fuzzFamily(f, FamilyDovecot, []string{"dovecot"}, ParseDovecot,
		"imap-login: Login: user=<a>, method=PLAIN, rip=1.2.3.4, lip=5.6.7.8, mpid=1, TLS, session=<s>",
		"auth: passwd-file(u,1.2.3.4,<s>): Password mismatch", "lmtp(u)<1><s>: msgid=<m>: saved mail to INBOX",
		"imap(u)<1><s>: Disconnected: Logged out in=1 out=2")
}

func FuzzAmavis(f *testing.F) {
	fuzzFamily(f, FamilyAmavis, []string{"amavis"}, ParseAmavis,
		"(1-01) Passed CLEAN {RelayedInbound}, [1.2.3.4]:5 <a> -> <b>,<c>, Queue-ID: ABCDE12345, Message-ID: <m>, mail_id: x, Hits: 1, size: 2, queued_as: ABCDE12346/ABCDE12347, 3 ms",
		"(1-01) Blocked INFECTED (Eicar) {DiscardedInbound}, [1.2.3.4]:5 <a> -> <b>, Queue-ID: ABCDE12345...")
}

func FuzzPostgrey(f *testing.F) {
	fuzzFamily(f, FamilyPostgrey, []string{"postgrey"}, ParsePostgrey,
		"ABCDE12345: action=greylist, reason=early-retry (3s missing), client_name=a, client_address=1.2.3.4, sender=b, recipient=c")
}

func FuzzRspamdRoundcube(f *testing.F) {
	f.Add("rspamd", "<a>; task; rspamd_task_write_log: id: <m>, qid: <Q>, ip: 1.2.3.4, from: <a>, (default: F (no action): [1.50/15.00] [A(1){x,y;},B(0){}]), len: 1")
	f.Add("rspamd", "(default: T (")
	f.Add("roundcube", "<s> Successful login for alice (ID: 12) from 1.2.3.4 in session s")
	f.Add("roundcube", "Failed login for bob from 1.2.3.4 in session s (error: 0)")
	f.Add("clamd", "/tmp/x: Eicar FOUND")
	f.Fuzz(func(t *testing.T, program, msg string) {
		fm := Frame{Program: program, Message: msg}
		checkEvent(t, ParseRspamd(fm), msg)
		checkEvent(t, ParseRoundcube(fm), msg)
		checkEvent(t, ParseClamd(fm), msg)
	})
}

func FuzzExim(f *testing.F) {
	fuzzFamily(f, FamilyExim, []string{"exim", "exim4"}, ParseExim,
		`1xaRNo-0006UC-1l <= a@b.example H=(h) [192.0.2.1]:2 P=esmtpa A=LOGIN:a@b.example S=1 id=m@b.example T="x" for c@d.example e@f.example`,
		`1xaRNo-0006UC-1l => it.admin <postmaster@uni.example> R=local_user T=local_maildir S=2 QT=0s DT=0s`,
		`1xaRO1-0006Z7-1X == al@flaky.example R=r T=t defer (-44) H=h [192.0.2.1] DT=0s: SMTP error: 451 4.7.1 x`,
		`1xaROL-0006dw-1X ** n@closed.example R=r T=t H=h [192.0.2.1]: SMTP error: 550 5.1.1 no DT=0s`,
		`H=(x) [192.0.2.1]:3 F=<a@b.example> temporarily rejected RCPT <c@d.example>: later`,
		`rejected MAIL FROM:<a@b.example> H=(x) [192.0.2.1]:3: message too big: size=2 max=1`,
		`PLAIN authenticator failed for (x) [192.0.2.1]:3: 535 Incorrect authentication data (set_id=a)`,
		`1xaRNc-0006QU-2P Completed`)
}

// printable reports whether s has no control characters: Postfix and
// Exim replace them before logging (Postfix printable(3), Exim
// string_printing).
func printable(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// quoteLocal writes a local part as Postfix logs an address
// (quote_822_local): quoted, with '"' and '\' escaped, when it holds
// anything but atext and dots.
func quoteLocal(s string) string {
	plain := s != "" && !strings.HasPrefix(s, ".") && !strings.HasSuffix(s, ".") && !strings.Contains(s, "..")
	for i := 0; i < len(s) && plain; i++ {
		c := s[i]
		plain = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-/=?^_`{|}~.", c) >= 0
	}
	if plain {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// FuzzDeliveryNotSteered: whatever the recipient address (sender's text)
// and the reply (the remote server's text) hold — "status=", "dsn=", '>',
// parentheses — the status, the recipient and the reply are the ones
// Postfix wrote (log_adhoc.c).
func FuzzDeliveryNotSteered(f *testing.F) {
	f.Add(`x>, status=sent (250 forged)`, `550 5.1.1 <"x>, status=sent (250 forged)"@a>: no`, uint8(2))
	f.Add(`a, relay=b, delay=1, delays=1/1/1/1, dsn=2.0.0, status=sent (ok)`, `ok) status=sent (`, uint8(1))
	f.Add(`plain.user`, `250 2.0.0 Ok: queued as ABCDE12345`, uint8(0))
	statuses := []string{StatusSent, StatusDeferred, StatusBounced, StatusExpired}
	f.Fuzz(func(t *testing.T, local, reply string, which uint8) {
		if !printable(local) || !printable(reply) || local == "" {
			t.Skip()
		}
		status := statuses[int(which)%len(statuses)]
		to := quoteLocal(local) + "@example.org"
		msg := "ABCDE12345: to=<" + to + ">, relay=mx.example.org[192.0.2.1]:25, delay=0.1, delays=0/0/0/0.1, dsn=5.1.1, status=" + status + " (" + reply + ")"
		ev := ParsePostfix(Frame{Host: "mx", Program: "postfix/smtp", Message: msg})
		d, ok := ev.(*Delivery)
		if !ok {
			t.Fatalf("%q: %T", msg, ev)
		}
		if d.Status != status || d.To != to || d.Reply != reply || d.DSN != "5.1.1" || d.Relay != "mx.example.org[192.0.2.1]:25" {
			t.Fatalf("%q: status %q to %q reply %q dsn %q relay %q", msg, d.Status, d.To, d.Reply, d.DSN, d.Relay)
		}
	})
}

// FuzzRejectNotSteered: whatever a header_checks match (the message's own
// text), a reject reply's echo and the addresses hold — "from=<", "to=<",
// "; ", '>' — the envelope sender and recipient are the ones Postfix
// appended (cleanup_act_log, smtpd_check.c log_whatsup).
func FuzzRejectNotSteered(f *testing.F) {
	f.Add(`make money fast; from=<rektor@uni.example> to=<board@uni.example>`, `pia`, `jack`)
	f.Add(`x from a[192.0.2.9]; from=<r@u> to=<b@u> proto=ESMTP helo=<a>`, `a; from=<r@u> to=<b@u> proto=ESMTP helo=<b>`, `c>`)
	f.Add(`plain`, `a`, `b`)
	f.Fuzz(func(t *testing.T, text, fromLocal, toLocal string) {
		if !printable(text) || !printable(fromLocal) || !printable(toLocal) || fromLocal == "" || toLocal == "" {
			t.Skip()
		}
		if len(text) > 200 {
			text = text[:200] // cleanup logs at most 200 bytes of the match
		}
		from, to := quoteLocal(fromLocal)+"@partner.example", quoteLocal(toLocal)+"@uni.example"
		fields := "; from=<" + from + "> to=<" + to + "> proto=ESMTP helo=<client.example>"
		cleanup := "ABCDE12345: reject: header Subject: " + text + " from client.example[192.0.2.1]" + fields + ": 5.7.1 Message content rejected"
		ev := ParsePostfix(Frame{Host: "mx", Program: "postfix/cleanup", Message: cleanup})
		r, ok := ev.(*Reject)
		if !ok || r.From != from || r.To != to || r.Detail != "Subject: "+text || r.ClientIP != "192.0.2.1" || r.Reason != "Message content rejected" {
			t.Fatalf("%q: %#v", cleanup, ev)
		}
		smtpd := "NOQUEUE: reject: RCPT from client.example[192.0.2.1]: 550 5.1.1 <" + to + ">: Recipient address rejected: " + text + fields
		ev = ParsePostfix(Frame{Host: "mx", Program: "postfix/smtpd", Message: smtpd})
		r, ok = ev.(*Reject)
		if !ok || r.From != from || r.To != to || r.Helo != "client.example" || r.Code != 550 {
			t.Fatalf("%q: %#v", smtpd, ev)
		}
	})
}

// FuzzEximArrivalNotSteered: a Subject (T="…", quoted by Exim with
// backslash escapes) cannot add recipients, an authenticated user or a
// size to an arrival line.
func FuzzEximArrivalNotSteered(f *testing.F) {
	f.Add(`x" A=LOGIN:ceo@uni.example S=1 for board@uni.example`)
	f.Add(`Re: draft`)
	f.Fuzz(func(t *testing.T, subject string) {
		if !printable(subject) {
			t.Skip()
		}
		q := `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(subject) + `"`
		msg := `1xaRNo-0006UC-1l <= ann@uni.example H=(pc) [192.0.2.1]:2000 P=esmtpsa A=PLAIN:ann@uni.example S=1234 id=m@uni.example T=` + q + ` for bob@partner.example`
		ev := ParseExim(Frame{Program: "exim", Message: msg})
		a, ok := ev.(*EximArrival)
		if !ok || a.AuthUser != "ann@uni.example" || a.Size != 1234 || a.Subject != subject ||
			len(a.Recipients) != 1 || a.Recipients[0] != "bob@partner.example" || a.ClientIP != "192.0.2.1" {
			t.Fatalf("%q: %#v", msg, ev)
		}
	})
}
