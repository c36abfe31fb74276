package correlate

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/logparse"
)

// sampleDir is the shared real-log sample; its README.md holds the
// "Reference counts for this sample" asserted below.
const sampleDir = "../../../shared/samples/real-logs"

// sampleRef is just after the instant the sample files were cut.
var sampleRef = time.Date(2026, 11, 22, 11, 0, 31, 0, time.UTC)

// loadSample frames and parses every line of the named files and returns the
// events merged in time order (stable, so each file keeps its own order).
func loadSample(tb testing.TB, names ...string) []logparse.Event {
	tb.Helper()
	var evs []logparse.Event
	for _, name := range names {
		path := filepath.Join(sampleDir, name)
		fh, err := os.Open(path)
		if os.IsNotExist(err) {
			tb.Skipf("sample logs not present at %s; skipping", path)
		}
		if err != nil {
			tb.Fatal(err)
		}
		fr := logparse.NewFramer(sampleRef, time.UTC)
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		n := 0
		for sc.Scan() {
			n++
			ev, err := logparse.ParseLine(fr, sc.Text())
			if err != nil {
				tb.Fatalf("%s:%d: %v", name, n, err)
			}
			evs = append(evs, ev)
		}
		fh.Close()
		if err := sc.Err(); err != nil {
			tb.Fatal(err)
		}
	}
	sort.SliceStable(evs, func(i, j int) bool { return evs[i].Header().Time.Before(evs[j].Header().Time) })
	return evs
}

type collect struct {
	msgs    []*Message
	rejects int
	logins  []Login
}

func feed(tb testing.TB, evs []logparse.Event, opts Options) (*Correlator, *collect) {
	tb.Helper()
	col := &collect{}
	opts.Messages = MessageSinkFunc(func(m *Message) error { col.msgs = append(col.msgs, m); return nil })
	opts.Rejects = RejectSinkFunc(func(*logparse.Reject) error { col.rejects++; return nil })
	opts.Logins = LoginSinkFunc(func(l Login) error { col.logins = append(col.logins, l); return nil })
	c := New(opts)
	for _, ev := range evs {
		if err := c.Add(ev); err != nil {
			tb.Fatal(err)
		}
	}
	if err := c.Flush(); err != nil {
		tb.Fatal(err)
	}
	return c, col
}

// TestSampleReferenceCounts feeds both sample files through framing,
// parsing and correlation and checks the README's reference counts.
func TestSampleReferenceCounts(t *testing.T) {
	t.Parallel()
	evs := loadSample(t, "postfix.log", "syslog-mail.log")
	c, col := feed(t, evs, Options{})
	s := c.Summary()
	a := s.DovecotAuthFailures

	check := func(name string, got, want int) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	// "messages from clients: 751" — client=/pickup queue IDs less amavis'
	// re-injections (740): the messages received, and the four refused
	// after their data ("queue file size limit exceeded", 552).
	check("ReceivedFromClients + Refused", s.ReceivedFromClients+s.Refused, 751)
	check("Refused", s.Refused, s.SizeLimit)
	check("Reinjections (amavis queued_as)", s.Reinjections, 740)
	check("QueueIDsWithMessageID", s.QueueIDsWithMessageID, 1502)
	check("Delivered", s.Delivered, 1133)
	check("DeliveredLMTP", s.DeliveredLMTP, 954)
	check("DeliveredRemote", s.DeliveredRemote, 179)
	check("SentLines", s.SentLines, 2268)
	check("FilterHandoffs", s.FilterHandoffs, 1135)
	check("DeferredLines", s.DeferredLines, 26)
	check("DeferredMessages", s.DeferredMessages, 10)
	check("Bounced", s.Bounced, 9)
	check("Expired", s.Expired, 0)
	for k, want := range map[RejectKey]int{
		{"RCPT", 450}: 970, {"RCPT", 550}: 143, {"RCPT", 554}: 118,
		{"RCPT", 504}: 32, {"RCPT", 553}: 7, {"MAIL", 552}: 4,
	} {
		check("Rejects "+k.Stage+" "+strconv.Itoa(k.Code), s.Rejects[k], want)
	}
	check("len(Rejects)", len(s.Rejects), 6)
	check("RejectsTotal", s.RejectsTotal, 1274)
	check("rejects to sink", col.rejects, 1274)
	check("Greylisted", s.Greylisted, 969)
	check("SASLFailures", s.SASLFailures, 12)
	check("DovecotLogins imap", s.DovecotLogins["imap"], 129)
	check("DovecotLogins pop3", s.DovecotLogins["pop3"], 43)
	check("AuthFailures IMAP", a.IMAP, 36)
	check("AuthFailures POP3", a.POP3, 27)
	// "SMTP AUTH via Postfix 17": passdb failures without a login session.
	// 12 carry the client IP and pair one-to-one with Postfix's SASL
	// warnings; the other 5 are "passwd-file(departed.user@uni.example):
	// unknown user" from LMTP's user lookup (see the report).
	check("AuthFailures NoSession", a.NoSession, 17)
	check("AuthFailures NoSessionWithIP", a.NoSessionWithIP, s.SASLFailures)
	check("AuthFailures Unresolved", a.Unresolved, 0)
	check("Amavis Passed CLEAN", s.Amavis["Passed CLEAN"], 720)
	check("Amavis Passed SPAMMY", s.Amavis["Passed SPAMMY"], 10)
	check("Amavis Blocked INFECTED", s.Amavis["Blocked INFECTED"], 6)
	check("Amavis Blocked SPAM", s.Amavis["Blocked SPAM"], 6)
	check("Amavis Blocked BANNED", s.Amavis["Blocked BANNED"], 3)

	// Joined records: one per client message. One message is 1 fewer than
	// the README's figure: its hand-off (11:00:30) names the re-injected
	// queue ID but amavis' line falls after the cut, so the grep definition
	// counts its copy as a second client message.
	check("MessagesFromClients (joined)", s.MessagesFromClients, 750)
	check("ReinjectionsByHandoff", s.ReinjectionsByHandoff, 1120)
	check("records emitted", len(col.msgs), s.Messages)
	check("Orphans", s.Orphans, 0)
	check("Unknown lines", len(s.Unknown), 0)
	if c.Open() != 0 {
		t.Errorf("Open() = %d after Flush", c.Open())
	}
	states := map[State]int{}
	for _, m := range col.msgs {
		states[m.State]++
	}
	t.Logf("records %d (from clients %d, bounces %d), states %v, unknown %v", s.Messages, s.MessagesFromClients, s.Bounces, states, s.Unknown)
}

// TestSampleFilteredMessageJoined follows one submission message from the
// sample through amavis and back.
func TestSampleFilteredMessageJoined(t *testing.T) {
	t.Parallel()
	evs := loadSample(t, "postfix.log", "syslog-mail.log")
	_, col := feed(t, evs, Options{})
	var m *Message
	for _, x := range col.msgs {
		if x.Queues[0].ID == "E0BF0BA129" {
			m = x
		}
	}
	if m == nil {
		t.Fatal("no record for E0BF0BA129")
	}
	ids := []string{}
	for _, q := range m.Queues {
		ids = append(ids, q.ID)
	}
	if !slices.Equal(ids, []string{"E0BF0BA129", "5CFE0BA12A"}) {
		t.Errorf("queues %v", ids)
	}
	if m.Service != "submission" || m.SASLUsername != "sam.taylor@uni.example" || m.State != StateRemoved {
		t.Errorf("service %q sasl %q state %q", m.Service, m.SASLUsername, m.State)
	}
	if m.Filter == nil || m.Filter.Category != "CLEAN" || !m.Queues[1].LinkedByAmavis || !m.Queues[1].LinkedByHandoff {
		t.Errorf("filter %+v queues %+v", m.Filter, m.Queues)
	}
	if m.MessageID != "20261122105325.acffa7b2f0b3@uni.example" {
		t.Errorf("message-id %q", m.MessageID)
	}
	var final []string
	for _, d := range m.Deliveries {
		if !d.Handoff && d.Status == logparse.StatusSent {
			final = append(final, d.To)
		}
	}
	slices.Sort(final)
	if !slices.Equal(final, []string{"diana.walsh@webmail.example", "leo.fischer@uni.example"}) {
		t.Errorf("final deliveries %v", final)
	}
}
