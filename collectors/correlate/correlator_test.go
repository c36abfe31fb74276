package correlate

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/logparse"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// line builds an event from a message logged by program at t0+sec.
func line(t *testing.T, sec float64, program, msg string) logparse.Event {
	t.Helper()
	ts := t0.Add(time.Duration(sec * float64(time.Second))).Format(time.RFC3339Nano)
	ev, err := logparse.ParseLine(logparse.NewFramer(t0, time.UTC), fmt.Sprintf("%s mx %s[1]: %s", ts, program, msg))
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func run(t *testing.T, opts Options, evs ...logparse.Event) (*Correlator, *collect) {
	t.Helper()
	return feed(t, evs, opts)
}

func queueIDs(m *Message) []string {
	var ids []string
	for _, q := range m.Queues {
		ids = append(ids, q.ID)
	}
	return ids
}

func filteredMessage(t *testing.T, childRemovedFirst bool) []logparse.Event {
	evs := []logparse.Event{
		line(t, 0, "postfix/smtpd", "AAAAA11111: client=mail.example.org[192.0.2.1]"),
		line(t, 0, "postfix/cleanup", "AAAAA11111: message-id=<m1@example.org>"),
		line(t, 0, "postfix/qmgr", "AAAAA11111: from=<a@example.org>, size=100, nrcpt=1 (queue active)"),
		line(t, 1, "postfix/smtpd", "BBBBB22222: client=localhost[127.0.0.1]"),
		line(t, 1, "postfix/cleanup", "BBBBB22222: message-id=<m1@example.org>"),
		line(t, 1, "postfix/qmgr", "BBBBB22222: from=<a@example.org>, size=900, nrcpt=1 (queue active)"),
	}
	handoff := []logparse.Event{
		line(t, 1.5, "postfix/smtp", "AAAAA11111: to=<b@uni.example>, relay=127.0.0.1[127.0.0.1]:10024, delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as BBBBB22222)"),
		line(t, 1.5, "postfix/qmgr", "AAAAA11111: removed"),
	}
	child := []logparse.Event{
		line(t, 1.2, "postfix/lmtp", "BBBBB22222: to=<b@uni.example>, relay=mx[private/dovecot-lmtp], delay=0.1, delays=0/0/0/0.1, dsn=2.0.0, status=sent (250 2.0.0 Saved)"),
		line(t, 1.2, "postfix/qmgr", "BBBBB22222: removed"),
	}
	if childRemovedFirst {
		return slices.Concat(evs, child, handoff)
	}
	return slices.Concat(evs, handoff, child)
}

func TestFilteredMessageIsOneRecord(t *testing.T) {
	t.Parallel()
	for _, childFirst := range []bool{false, true} {
		t.Run(fmt.Sprint("childRemovedFirst=", childFirst), func(t *testing.T) {
			t.Parallel()
			c, col := run(t, Options{}, filteredMessage(t, childFirst)...)
			if len(col.msgs) != 1 {
				t.Fatalf("%d records, want 1", len(col.msgs))
			}
			m := col.msgs[0]
			if !slices.Equal(queueIDs(m), []string{"AAAAA11111", "BBBBB22222"}) || m.State != StateRemoved {
				t.Errorf("queues %v state %v", queueIDs(m), m.State)
			}
			if m.Size != 100 || m.ClientIP != "192.0.2.1" || m.MessageID != "m1@example.org" || !m.Queues[1].Reinjected {
				t.Errorf("record %+v", m)
			}
			s := c.Summary()
			if s.MessagesFromClients != 1 || s.Delivered != 1 || s.FilterHandoffs != 1 || s.ReceivedFromClients != 2 {
				// ReceivedFromClients is 2: no amavis line says BBBBB22222 is a re-injection.
				t.Errorf("summary %+v", s)
			}
		})
	}
}

func TestLinkGraceHoldsFinishedRecord(t *testing.T) {
	t.Parallel()
	evs := filteredMessage(t, false)
	// a later unrelated line, 3 minutes on, releases the record without Flush
	evs = append(evs, line(t, 180, "postfix/smtpd", "connect from x[192.0.2.9]"))
	col := &collect{}
	c := New(Options{Messages: MessageSinkFunc(func(m *Message) error { col.msgs = append(col.msgs, m); return nil })})
	for i, ev := range evs {
		if err := c.Add(ev); err != nil {
			t.Fatal(err)
		}
		if i == len(evs)-2 && len(col.msgs) != 0 {
			t.Fatalf("record emitted before LinkGrace")
		}
	}
	if len(col.msgs) != 1 || c.Open() != 0 {
		t.Fatalf("emitted %d, open %d", len(col.msgs), c.Open())
	}
}

func TestQueueIDReuse(t *testing.T) {
	t.Parallel()
	_, col := run(t, Options{},
		line(t, 0, "postfix/smtpd", "CCCCC33333: client=a[192.0.2.1]"),
		line(t, 0, "postfix/qmgr", "CCCCC33333: from=<a@x>, size=1, nrcpt=1 (queue active)"),
		line(t, 1, "postfix/lmtp", "CCCCC33333: to=<b@uni.example>, relay=mx[private/dovecot-lmtp], delay=1, delays=0/0/0/1, dsn=2.0.0, status=sent (250 ok)"),
		line(t, 1, "postfix/qmgr", "CCCCC33333: removed"),
		// the same ID again, within LinkGrace: a new message
		line(t, 5, "postfix/smtpd", "CCCCC33333: client=b[192.0.2.2]"),
		line(t, 5, "postfix/qmgr", "CCCCC33333: from=<c@x>, size=2, nrcpt=1 (queue active)"),
	)
	if len(col.msgs) != 2 {
		t.Fatalf("%d records, want 2", len(col.msgs))
	}
	a, b := col.msgs[0], col.msgs[1]
	if a.ClientIP != "192.0.2.1" || a.State != StateRemoved || len(a.Deliveries) != 1 {
		t.Errorf("first %+v", a)
	}
	if b.ClientIP != "192.0.2.2" || b.State != StateIncomplete || b.From != "c@x" || len(b.Deliveries) != 0 {
		t.Errorf("second %+v", b)
	}
}

func TestIdleHorizonFlushes(t *testing.T) {
	t.Parallel()
	col := &collect{}
	c := New(Options{Horizon: time.Hour, Messages: MessageSinkFunc(func(m *Message) error { col.msgs = append(col.msgs, m); return nil })})
	for _, ev := range []logparse.Event{
		line(t, 0, "postfix/smtpd", "DDDDD44444: client=a[192.0.2.1]"),
		line(t, 10, "postfix/smtp", "DDDDD44444: to=<x@slow.example>, relay=mx.slow.example[192.0.2.8]:25, delay=10, delays=0/0/0/10, dsn=4.0.0, status=deferred (451 later)"),
		line(t, 3000, "postfix/smtpd", "connect from x[192.0.2.9]"),
	} {
		if err := c.Add(ev); err != nil {
			t.Fatal(err)
		}
	}
	if len(col.msgs) != 0 {
		t.Fatal("flushed before the horizon")
	}
	if err := c.Add(line(t, 3700, "postfix/smtpd", "connect from x[192.0.2.9]")); err != nil {
		t.Fatal(err)
	}
	if len(col.msgs) != 1 || col.msgs[0].State != StateIncomplete || c.Summary().DeferredMessages != 1 {
		t.Fatalf("records %d", len(col.msgs))
	}
	// a later line for the flushed ID starts a fresh record and is counted
	if err := c.Add(line(t, 3800, "postfix/qmgr", "DDDDD44444: removed")); err != nil {
		t.Fatal(err)
	}
	if c.Summary().Orphans != 1 {
		t.Errorf("orphans %d", c.Summary().Orphans)
	}
}

func TestDovecotAuthFailureSession(t *testing.T) {
	t.Parallel()
	c, col := run(t, Options{},
		line(t, 0, "dovecot", "auth: passwd-file(bob@uni.example,192.0.2.5,<S1>): Password mismatch"),
		line(t, 1, "dovecot", "pop3-login: Disconnected: Aborted login by logging out (auth failed, 1 attempts in 2 secs): user=<bob@uni.example>, method=PLAIN, rip=192.0.2.5, lip=192.0.2.1, session=<S1>"),
		line(t, 2, "dovecot", "imap-login: Login: user=<amy@uni.example>, method=PLAIN, rip=192.0.2.6, lip=192.0.2.1, mpid=7, TLS, session=<S2>"),
		line(t, 3, "dovecot", "auth: passwd-file(eve@uni.example,192.0.2.7,<S3>): unknown user"),
		line(t, 4, "dovecot", "auth: passwd-file(x@uni.example,192.0.2.8): Password mismatch"),
	)
	a := c.Summary().DovecotAuthFailures
	if a.POP3 != 1 || a.Unresolved != 1 || a.NoSession != 1 || a.NoSessionWithIP != 1 {
		t.Errorf("auth failures %+v", a)
	}
	var got []string
	for _, l := range col.logins {
		got = append(got, fmt.Sprintf("%s/%s/%v", l.Service, l.User, l.OK))
	}
	want := []string{"pop3/bob@uni.example/false", "imap/amy@uni.example/true", "/eve@uni.example/false"}
	if !slices.Equal(got, want) {
		t.Errorf("logins %v, want %v", got, want)
	}
}

func TestSinkErrors(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	c := New(Options{Rejects: RejectSinkFunc(func(*logparse.Reject) error { return boom })})
	err := c.Add(line(t, 0, "postfix/smtpd", "NOQUEUE: reject: RCPT from x[192.0.2.1]: 554 5.7.1 <a@b>: Relay access denied; from=<c@d> to=<a@b> proto=ESMTP helo=<x>"))
	if !errors.Is(err, boom) {
		t.Fatalf("err %v", err)
	}
	if c.Summary().RejectsTotal != 1 {
		t.Error("reject not counted")
	}
}

func TestUnknownCounted(t *testing.T) {
	t.Parallel()
	c, _ := run(t, Options{}, line(t, 0, "postfix/smtpd", "something new"), line(t, 0, "sshd", "Accepted key"))
	u := c.Summary().Unknown
	if u["postfix/smtpd"] != 1 || u["sshd"] != 1 {
		t.Errorf("unknown %v", u)
	}
}
