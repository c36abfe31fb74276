package reports

import (
	"reflect"
	"testing"
	"time"
)

var oslo = func() *time.Location { l, _ := time.LoadLocation("Europe/Oslo"); return l }()

func utcHour(mo time.Month, d, h int) time.Time { return time.Date(2026, mo, d, h, 0, 0, 0, time.UTC) }

// TestMailDaysOfFollowLocalDays: hours are summed into local days, also on
// the day DST ends (25 October 2026 in Oslo has 25 hours); received is
// inbound and internal, sent is outbound and relayed.
func TestMailDaysOfFollowLocalDays(t *testing.T) {
	t.Parallel()
	rows := []Bucket{
		{Start: utcHour(10, 24, 21), Dim: "inbound", Count: 1, Bytes: 10},  // 23:00 on the 24th
		{Start: utcHour(10, 24, 22), Dim: "inbound", Count: 2, Bytes: 20},  // 00:00 on the 25th (CEST)
		{Start: utcHour(10, 25, 22), Dim: "internal", Count: 3, Bytes: 30}, // 23:00 on the 25th (CET)
		{Start: utcHour(10, 25, 23), Dim: "outbound", Count: 4, Bytes: 40}, // 00:00 on the 26th
		{Start: utcHour(10, 25, 23), Dim: "relayed", Count: 5, Bytes: 50},
		{Start: utcHour(10, 25, 23), Dim: "bounce", Count: 9, Bytes: 90}, // neither
	}
	day := func(d int) time.Time { return time.Date(2026, 10, d, 0, 0, 0, 0, oslo) }
	want := []MailDay{
		{Day: day(24), ReceivedCount: 1, ReceivedBytes: 10},
		{Day: day(25), ReceivedCount: 5, ReceivedBytes: 50},
		{Day: day(26), SentCount: 9, SentBytes: 90},
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

// TestLoginLogCovers: the log must reach back to within a day of from.
func TestLoginLogCovers(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, 10, 1, 0, 0, 0, 0, oslo)
	for _, c := range []struct {
		first time.Time
		has   bool
		want  bool
	}{
		{from.AddDate(0, -1, 0), true, true},
		{from.Add(24 * time.Hour), true, true},
		{from.Add(24*time.Hour + time.Second), true, false},
		{time.Time{}, false, false},
	} {
		if got := LoginLogCovers(c.first, c.has, from); got != c.want {
			t.Errorf("LoginLogCovers(%v, %v) = %v, want %v", c.first, c.has, got, c.want)
		}
	}
}
