package reports

import (
	"math"
	"reflect"
	"testing"
	"time"
)

var oslo = func() *time.Location { l, _ := time.LoadLocation("Europe/Oslo"); return l }()

func utcHour(mo time.Month, d, h int) time.Time { return time.Date(2026, mo, d, h, 0, 0, 0, time.UTC) }

// TestMailDaysOfFollowLocalDays: hours are summed into local days, also on
// the day DST ends (25 October 2026 in Oslo has 25 hours); received is
// from outside (inbound, relayed), sent from local users (internal,
// outbound), the rest of unknown direction: every message is counted.
func TestMailDaysOfFollowLocalDays(t *testing.T) {
	t.Parallel()
	rows := []Bucket{
		{Start: utcHour(10, 24, 21), Dim: "inbound", Count: 1, Bytes: 10},  // 23:00 on the 24th
		{Start: utcHour(10, 24, 22), Dim: "inbound", Count: 2, Bytes: 20},  // 00:00 on the 25th (CEST)
		{Start: utcHour(10, 25, 22), Dim: "internal", Count: 3, Bytes: 30}, // 23:00 on the 25th (CET)
		{Start: utcHour(10, 25, 23), Dim: "outbound", Count: 4, Bytes: 40}, // 00:00 on the 26th
		{Start: utcHour(10, 25, 23), Dim: "relayed", Count: 5, Bytes: 50},
		{Start: utcHour(10, 25, 23), Dim: "unknown", Count: 9, Bytes: 90},
	}
	day := func(d int) time.Time { return time.Date(2026, 10, d, 0, 0, 0, 0, oslo) }
	want := []MailDay{
		{Day: day(24), ReceivedCount: 1, ReceivedBytes: 10},
		{Day: day(25), ReceivedCount: 2, ReceivedBytes: 20, SentCount: 3, SentBytes: 30},
		{Day: day(26), ReceivedCount: 5, ReceivedBytes: 50, SentCount: 4, SentBytes: 40, UnknownCount: 9, UnknownBytes: 90},
	}
	if got := MailDaysOf(oslo, rows); !reflect.DeepEqual(got, want) {
		t.Errorf("MailDaysOf = %+v\nwant %+v", got, want)
	}
}

// TestScanVerdict maps amavis and rspamd verdicts to the report's.
func TestScanVerdict(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, verdict, action string }{
		{"Passed CLEAN", VerdictClean, ActionDelivered},
		{"Passed SPAMMY", VerdictSpam, ActionTagged},
		{"Blocked SPAM", VerdictSpam, ActionQuarantined},
		{"Blocked INFECTED", VerdictVirus, ActionQuarantined},
		{"Blocked BANNED", VerdictBanned, ActionQuarantined},
		{"Passed BAD-HEADER", "bad_header", ActionDelivered},
		{"Passed", "other", ActionDelivered},
		{"rspamd no action", VerdictClean, ActionDelivered},
		{"rspamd reject", VerdictSpam, ActionRejected},
		{"rspamd soft reject", VerdictSpam, ActionDeferred},
		{"rspamd greylist", VerdictGreylisted, ActionDeferred},
		{"rspamd add header", VerdictSpam, ActionTagged},
		{"rspamd rewrite subject", VerdictSpam, ActionTagged},
	} {
		if v, a := scanVerdict(c.in); v != c.verdict || a != c.action {
			t.Errorf("scanVerdict(%q) = %s, %s; want %s, %s", c.in, v, a, c.verdict, c.action)
		}
	}
}

// TestScanDaysOf counts verdicts and greylisting per local day, verdict
// and action; a greylist pass is no verdict.
func TestScanDaysOf(t *testing.T) {
	t.Parallel()
	verdicts := []Bucket{
		{Start: utcHour(10, 1, 8), Dim: "Blocked SPAM", Count: 2},
		{Start: utcHour(10, 1, 9), Dim: "rspamd reject", Count: 1},
		{Start: utcHour(10, 1, 23), Dim: "Passed CLEAN", Count: 5}, // the 2nd in Oslo
	}
	grey := []Bucket{{Start: utcHour(10, 1, 8), Dim: "greylisted", Count: 3}, {Start: utcHour(10, 1, 8), Dim: "greylist_pass", Count: 7}}
	d1, d2 := time.Date(2026, 10, 1, 0, 0, 0, 0, oslo), time.Date(2026, 10, 2, 0, 0, 0, 0, oslo)
	want := []ScanCount{
		{Day: d1, Verdict: VerdictGreylisted, Action: ActionDeferred, Count: 3},
		{Day: d1, Verdict: VerdictSpam, Action: ActionQuarantined, Count: 2},
		{Day: d1, Verdict: VerdictSpam, Action: ActionRejected, Count: 1},
		{Day: d2, Verdict: VerdictClean, Action: ActionDelivered, Count: 5},
	}
	if got := ScanDaysOf(oslo, verdicts, grey); !reflect.DeepEqual(got, want) {
		t.Errorf("ScanDaysOf = %+v\nwant %+v", got, want)
	}
}

// TestLoginDaysOf counts logins per local day and protocol (SMTP AUTH is
// logged as smtp or submission) and attributes a UTC day's distinct users
// to the local day of its middle.
func TestLoginDaysOf(t *testing.T) {
	t.Parallel()
	logins := []Bucket{
		{Start: utcHour(10, 2, 7), Dim: "imap|ok", Count: 4},
		{Start: utcHour(10, 2, 8), Dim: "imap|failed", Count: 1},
		{Start: utcHour(10, 2, 9), Dim: "submission|ok", Count: 2},
		{Start: utcHour(10, 2, 9), Dim: "smtp|ok", Count: 1},
		{Start: utcHour(10, 2, 10), Dim: "pop|ok", Count: 1},
	}
	users := []Bucket{{Start: utcHour(10, 2, 0), Count: 6}}
	from, to := time.Date(2026, 10, 2, 0, 0, 0, 0, oslo), time.Date(2026, 10, 3, 0, 0, 0, 0, oslo)
	if lo, hi := UniqueUsersSpan(from, to); !lo.Equal(from.Add(-12*time.Hour)) || !hi.Equal(to.Add(-12*time.Hour)) {
		t.Errorf("UniqueUsersSpan = %v, %v", lo, hi)
	}
	want := []LoginDay{
		{Day: from, Protocol: AllProtocols, Users: 6},
		{Day: from, Protocol: ProtocolIMAP, OK: 4, Failed: 1},
		{Day: from, Protocol: ProtocolPOP, OK: 1},
		{Day: from, Protocol: ProtocolSMTPAuth, OK: 3},
	}
	if got := LoginDaysOf(oslo, logins, users); !reflect.DeepEqual(got, want) {
		t.Errorf("LoginDaysOf = %+v\nwant %+v", got, want)
	}
}

// TestTrafficHoursOf: relayed mail counts both in and out.
func TestTrafficHoursOf(t *testing.T) {
	t.Parallel()
	h := utcHour(10, 2, 9)
	rows := []Bucket{{Start: h.Add(time.Hour), Dim: "outbound", Bytes: 7}, {Start: h, Dim: "inbound", Bytes: 1},
		{Start: h, Dim: "relayed", Bytes: 2}, {Start: h, Dim: "internal", Bytes: 100}}
	want := []TrafficHour{{Hour: h, InBytes: 3, OutBytes: 2}, {Hour: h.Add(time.Hour), OutBytes: 7}}
	if got := TrafficHoursOf(rows); !reflect.DeepEqual(got, want) {
		t.Errorf("TrafficHoursOf = %+v\nwant %+v", got, want)
	}
}

// TestFlowAndRejectsOf: the flow and rejects rollups are summed over
// their hours by dimension.
func TestFlowAndRejectsOf(t *testing.T) {
	t.Parallel()
	h := utcHour(10, 2, 9)
	flow := FlowOf([]Bucket{{Start: h, Dim: "outside|delivered_local", Count: 2, Bytes: 20},
		{Start: h.Add(time.Hour), Dim: "outside|delivered_local", Count: 3, Bytes: 30}, {Start: h, Dim: "local|bounced", Count: 1, Bytes: 5}})
	if want := []FlowCount{{Side: "local", Outcome: "bounced", Count: 1, Bytes: 5}, {Side: "outside", Outcome: "delivered_local", Count: 5, Bytes: 50}}; !reflect.DeepEqual(flow, want) {
		t.Errorf("FlowOf = %+v", flow)
	}
	rej := RejectsOf([]Bucket{{Start: h, Dim: "RCPT|550", Count: 2}, {Start: h.Add(time.Hour), Dim: "RCPT|550", Count: 1}, {Start: h, Dim: "header|550", Count: 4}})
	if want := []RejectCount{{Stage: "RCPT", Code: 550, Count: 3}, {Stage: "header", Code: 550, Count: 4}}; !reflect.DeepEqual(rej, want) {
		t.Errorf("RejectsOf = %+v", rej)
	}
}

// TestReasonOf: replies that differ only in the rejected address, other
// addresses, IP addresses, URL paths and queue IDs are one reason.
func TestReasonOf(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"<a@uni.example>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/uni.example.html",
			"Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/…"},
		{"<b@dept.uni.example>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/dept.uni.example.html",
			"Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/…"},
		{"host mx.slowisp.example[127.0.0.20] said: 451 4.3.0 Temporary failure (in reply to RCPT TO command)",
			"host mx.slowisp.example[IP] said: 451 4.3.0 Temporary failure (in reply to RCPT TO command)"},
		{"host mx.closed.example[2001:db8::1] said: 550 5.1.1 <x@closed.example>: user unknown",
			"host mx.closed.example[IP] said: 550 5.1.1 <address>: user unknown"},
		{"250 2.0.0 Ok: queued as 4bWQ0k1Z3Rz9vB", "250 2.0.0 Ok: queued as ID"},
		{"Client host rejected: cannot find your hostname, [203.0.113.9]", "Client host rejected: cannot find your hostname, [IP]"},
		{"", "–"},
	} {
		if got := ReasonOf(c.in); got != c.want {
			t.Errorf("ReasonOf(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestMannWhitney: p-values against published tables and the
// significance rule's minimum of days.
func TestMannWhitney(t *testing.T) {
	t.Parallel()
	// Exact: groups of 3 and 3 fully separated: U = 0, two-sided p = 2/20.
	if p := MannWhitneyP([]float64{1, 2, 3}, []float64{4, 5, 6}); math.Abs(p-0.1) > 1e-12 {
		t.Errorf("exact p = %v, want 0.1", p)
	}
	// Exact: 4 and 5 separated: p = 2/126.
	if p := MannWhitneyP([]float64{10, 11, 12, 13}, []float64{1, 2, 3, 4, 5}); math.Abs(p-2.0/126) > 1e-12 {
		t.Errorf("exact p = %v, want %v", p, 2.0/126)
	}
	// Identical groups: no difference.
	if p := MannWhitneyP([]float64{1, 2, 3, 4}, []float64{1, 2, 3, 4}); p < 0.99 {
		t.Errorf("p of identical groups = %v", p)
	}
	// Too few days: not tested, whatever the values.
	if c := Compare([]float64{100, 200}, []float64{1, 2, 3}); c.Tested || c.Significant {
		t.Errorf("2 days tested: %+v", c)
	}
	// Normal approximation with ties (m·n > 400): a clear shift is found.
	var a, b []float64
	for i := range 25 {
		a = append(a, float64(100+i%5))
		b = append(b, float64(50+i%5))
	}
	if c := Compare(a, b); !c.Tested || !c.Significant || c.P > 1e-6 || math.Abs(c.Change-((102.0-52)/52*100)) > 1e-9 {
		t.Errorf("shifted groups: %+v", c)
	}
}
