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
