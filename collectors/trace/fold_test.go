package trace

import (
	"fmt"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/txlog"
)

// TestArrangeFolds: refusals of one sender → recipient from one client
// fold into one result, Postfix's 450 and postgrey's line for the same try
// count once, a message accepted after them takes them in, and results
// come newest first; without fold every hit is its own result.
func TestArrangeFolds(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	grey := func(at time.Duration, src, from, rcpt, ip string) Hit {
		r := txlog.Row{Time: t0.Add(at), Node: "mx", Source: src, MailFrom: from, Rcpt: rcpt, ClientIP: ip, Status: txlog.StatusGreylisted}
		if src == "postfix" {
			r.Time = r.Time.Truncate(time.Second)
			r.Status, r.Code, r.Reply = txlog.StatusRejected, 450, "450 4.2.0 <"+rcpt+">: Recipient address rejected: Greylisted"
		}
		return Hit{Row: &r, Time: r.Time}
	}
	hits := []Hit{
		// a partner greylisted twice (each try logged by Postfix and postgrey), then accepted
		grey(0, "postfix", "a@partner.example", "ola@uni.example", "192.0.2.7"),
		grey(300*time.Millisecond, "postgrey", "a@partner.example", "ola@uni.example", "192.0.2.7"),
		grey(5*time.Minute, "postfix", "a@partner.example", "ola@uni.example", "192.0.2.7"),
		grey(5*time.Minute+200*time.Millisecond, "postgrey", "a@partner.example", "ola@uni.example", "192.0.2.7"),
		{Key: "m1", Time: t0.Add(11 * time.Minute), From: "a@partner.example", Rcpts: []string{"ola@uni.example"}, Client: "192.0.2.7"},
		// a bot greylisted four times, never back
		grey(time.Minute, "postgrey", "bot@spam.example", "ola@uni.example", "198.51.100.9"),
		grey(2*time.Minute, "postgrey", "bot@spam.example", "ola@uni.example", "198.51.100.9"),
		grey(3*time.Minute, "postgrey", "bot@spam.example", "ola@uni.example", "198.51.100.9"),
		grey(4*time.Minute, "postgrey", "bot@spam.example", "ola@uni.example", "198.51.100.9"),
		// the same sender from another client is another result
		grey(6*time.Minute, "postgrey", "bot@spam.example", "ola@uni.example", "198.51.100.10"),
		// a message nothing was refused for
		{Key: "m2", Time: t0.Add(20 * time.Minute), From: "b@partner.example", Rcpts: []string{"ola@uni.example"}, Client: "192.0.2.8"},
	}
	rs := Arrange(hits, true)
	var got []string
	for _, r := range rs {
		got = append(got, fmt.Sprintf("%s/%d/%s", r.ResultKey()[:min(2, len(r.ResultKey()))], len(attempts(r.Folded)), r.Last.Sub(t0)))
	}
	want := "[m2/0/20m0s m1/2/11m0s mx/1/6m0s mx/4/4m0s]"
	if fmt.Sprint(got) != want {
		t.Errorf("folded %v, want %s", got, want)
	}
	ms := Build(Found{Rows: []txlog.Row{*rs[3].Row}, Order: []string{rs[3].ResultKey()}, Folded: map[string][]txlog.Row{rs[3].ResultKey(): rs[3].Folded}})
	if len(ms) != 1 || ms[0].Summary != "refused 4× (greylisted)" {
		t.Errorf("refusals: %+v", ms)
	}
	m := Message{State: "removed", Recipients: []Recipient{{Rcpt: "ola@uni.example", Status: "delivered"}}, Attempts: attempts(rs[1].Folded)}
	if s := summary(m); s != "greylisted 2×, then delivered" {
		t.Errorf("summary %q", s)
	}
	if n := len(Arrange(hits, false)); n != len(hits) {
		t.Errorf("unfolded: %d results, want %d", n, len(hits))
	}
	if rs := Arrange(hits, false); rs[0].Key != "m2" || rs[len(rs)-1].Row.Source != "postfix" {
		t.Errorf("unfolded order: %+v first, %+v last", rs[0].Hit, rs[len(rs)-1].Hit)
	}
}
