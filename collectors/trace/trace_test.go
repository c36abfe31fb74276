package trace

import (
	"errors"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/txlog"
)

func TestParseTime(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	oslo, _ := time.LoadLocation("Europe/Oslo")
	for _, c := range []struct {
		in   string
		want time.Time
	}{
		{"", time.Time{}},
		{"2026-11-22T10:53:00Z", time.Date(2026, 11, 22, 10, 53, 0, 0, time.UTC)},
		{"2026-11-22", time.Date(2026, 11, 22, 0, 0, 0, 0, oslo)},
		{"2026-11-22 10:53", time.Date(2026, 11, 22, 10, 53, 0, 0, oslo)},
		{"24h", now.Add(-24 * time.Hour)},
		{"-5h", now.Add(-5 * time.Hour)},
	} {
		got, err := ParseTime(c.in, now, oslo)
		if err != nil || !got.Equal(c.want) {
			t.Errorf("%q: %v %v, want %v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"yesterday", "-5x", "2026-13-01"} {
		if _, err := ParseTime(bad, now, nil); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestNormalize(t *testing.T) {
	t.Parallel()
	q := Query{From: " <Ola@UNI.example> ", MessageID: "<a@b>"}
	if err := q.Normalize(); err != nil || q.From != "ola@uni.example" || q.MessageID != "a@b" || q.Limit != 50 {
		t.Errorf("%+v %v", q, err)
	}
	for _, bad := range []Query{{}, {Status: "lost"}, {IP: "1.2.3.4", Since: time.Unix(10, 0), Until: time.Unix(5, 0)}} {
		if err := bad.Normalize(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	for _, bad := range []Query{{From: "\x00"}, {From: "a@b\x00"}, {Subject: "x\x00"}, {MessageID: "<a\nb@c>"},
		{QueueID: "Q\x1b"}, {To: "a@b\x7f"}, {Subject: "\xff\xfe"}, {IP: "1.2.3.4\t"}} {
		if err := bad.Normalize(); !errors.Is(err, ErrControl) {
			t.Errorf("%+q: %v, want ErrControl", bad, err)
		}
	}
	q = Query{To: "x@y", Limit: 100000, Subject: "secret"}
	q.Normalize()
	if q.Limit != MaxLimit || q.String() != "to=x@y subject=(given)" {
		t.Errorf("%d %q", q.Limit, q.String())
	}
}

// TestBuild joins rows to their message by key and by queue ID, orders
// the timeline by stage within a second, and keeps an unrelated reject
// apart.
func TestBuild(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	f := Found{
		Messages: []txlog.MessageRow{{MsgKey: "k1", Node: "mx", FirstSeen: t0, LastSeen: t0.Add(time.Second),
			QueueIDs: []string{"Q1", "Q2"}, MailFrom: "a@b", Origin: "smtpd", Received: 1, Subject: "s"}},
		Rows: []txlog.Row{
			{Time: t0.Add(time.Second), Node: "mx", MsgKey: "k1", QueueID: "Q2", Rcpt: "r@x", Status: txlog.StatusSent, Agent: "lmtp"},
			{Time: t0.Add(time.Second + 300*time.Millisecond), Node: "mx", QueueID: "Q1", Status: txlog.StatusScanned, AVVerdict: "Passed CLEAN"},
			{Time: t0.Add(time.Second), Node: "mx", MsgKey: "k1", QueueID: "Q1", Rcpt: "r@x", Status: txlog.StatusSent, Handoff: true},
			{Time: t0, Node: "mx", Rcpt: "r@x", Status: txlog.StatusRejected, Stage: "RCPT", Code: 550},
		},
	}
	ms := Build(f)
	if len(ms) != 2 {
		t.Fatalf("%d messages", len(ms))
	}
	var steps []string
	for _, s := range ms[0].Steps {
		steps = append(steps, s.Step)
	}
	if len(steps) != 4 || steps[0] != "accepted" || steps[1] != "filter" || steps[2] != "scanned" || steps[3] != "delivered" {
		t.Errorf("timeline %v", steps)
	}
	if ms[0].Verdict != "Passed CLEAN" || len(ms[0].Recipients) != 1 || ms[0].Recipients[0].Status != "delivered" {
		t.Errorf("%+v", ms[0])
	}
	if ms[1].State != "refused" || ms[1].Steps[0].Code != 550 {
		t.Errorf("reject %+v", ms[1])
	}
}

// TestRecipientStateIsItsLastRealStep: queued mail is queued, not
// delivered; a deferral keeps it waiting; the next hop's 250 delivers it;
// a quarantined message is quarantined until released (docs/collectors.md,
// "The engine").
func TestRecipientStateIsItsLastRealStep(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	msg := txlog.MessageRow{MsgKey: "mx1/Q1", Node: "mx1", FirstSeen: t0, LastSeen: t0, QueueIDs: []string{"Q1"}, Origin: "engine", Received: 1}
	row := func(d time.Duration, rcpt, status string) txlog.Row {
		return txlog.Row{Time: t0.Add(d), Node: "mx1", MsgKey: "mx1/Q1", QueueID: "Q1", Rcpt: rcpt, Status: status}
	}
	state := func(rows ...txlog.Row) map[string]string {
		ms := Build(Found{Messages: []txlog.MessageRow{msg}, Rows: rows})
		out := map[string]string{}
		for _, r := range ms[0].Recipients {
			out[r.Rcpt] = r.Status
		}
		return out
	}
	for _, c := range []struct {
		name string
		rows []txlog.Row
		want string
	}{
		{"queued only", []txlog.Row{row(0, "x@r", txlog.StatusQueued)}, "queued"},
		{"deferred", []txlog.Row{row(0, "x@r", txlog.StatusQueued), row(time.Minute, "x@r", txlog.StatusDeferred)}, "deferred"},
		{"delivered after two deferrals", []txlog.Row{row(0, "x@r", txlog.StatusQueued), row(time.Minute, "x@r", txlog.StatusDeferred),
			row(2*time.Minute, "x@r", txlog.StatusDeferred), row(3*time.Minute, "x@r", txlog.StatusSent)}, "delivered"},
		// whole-second log times: within a second the stage decides
		{"same second", []txlog.Row{row(0, "x@r", txlog.StatusSent), row(0, "x@r", txlog.StatusDeferred), row(0, "x@r", txlog.StatusQueued)}, "delivered"},
		{"held", []txlog.Row{row(0, "x@r", txlog.StatusQueued), row(time.Second, "x@r", txlog.StatusHeld)}, "held"},
		{"released", []txlog.Row{row(0, "x@r", txlog.StatusQueued), row(time.Second, "x@r", txlog.StatusHeld),
			row(time.Minute, "x@r", txlog.StatusReleased)}, "released"},
		{"quarantined", []txlog.Row{row(0, "x@r", txlog.StatusQuarantined)}, "quarantined"},
		{"released from the quarantine", []txlog.Row{row(0, "x@r", txlog.StatusQuarantined), row(time.Hour, "x@r", txlog.StatusReleased),
			row(time.Hour, "x@r", txlog.StatusSent)}, "delivered"},
		{"bounced", []txlog.Row{row(0, "x@r", txlog.StatusQueued), row(time.Second, "x@r", txlog.StatusBounced)}, "bounced"},
		{"deleted by a postmaster", []txlog.Row{row(0, "x@r", txlog.StatusQueued), row(time.Second, "x@r", txlog.StatusDeleted)}, "deleted"},
	} {
		if got := state(c.rows...)["x@r"]; got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
