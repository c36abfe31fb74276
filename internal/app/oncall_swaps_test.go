package app

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/oncall/rota"
	"github.com/uni-mail/postvakt/oncall/team"
)

// An undecided swap request reminds the counterpart every day and once
// more two days before the earlier turn; when that turn starts undecided
// the request lapses and both people are told. Each reminder goes out once
// (Slack with the buttons, and e-mail), however often the loop runs.
func TestSwapRemindersAndLapse(t *testing.T) {
	t.Parallel()
	slackAPI, sink := newFakeSlack(t), newSMTPSink(t)
	cfg := oncallConfig(t, slackAPI.srv.URL, sink.addr, 15*time.Minute, 30*time.Minute)
	cfg.Timezone = "Europe/Oslo" // the messages show their times in it
	loc, _ := time.LoadLocation("Europe/Oslo")
	t0 := time.Date(2026, 3, 31, 10, 0, 0, 0, loc)
	clock := &testClock{t: t0}
	// chen has the turn from Mon 13 April 09:00, ana the one from 20 April
	chenTurn, anaTurn := time.Date(2026, 4, 14, 12, 0, 0, 0, loc), time.Date(2026, 4, 21, 12, 0, 0, 0, loc)
	if onCallAt(t, chenTurn) != "chen" || onCallAt(t, anaTurn) != "ana" {
		t.Fatalf("test assumes chen then ana: %s, %s", onCallAt(t, chenTurn), onCallAt(t, anaTurn))
	}
	first := time.Date(2026, 4, 13, 9, 0, 0, 0, loc)
	ana := memberByID("ana")
	// An administrator asks in chen's name (a member's own principal
	// would do as well; TestSwapImpersonation covers who may ask).
	token := apiToken(t, cfg, auth.RoleAdmin)
	app := startApp(t, cfg, clock.Now)

	var sw team.SwapRecord
	if code := call(t, "POST", app.base+"/api/v1/oncall/swaps", token, map[string]any{
		"rota": "ukevakt", "requester": "chen", "counterpart": "ana", "mine": chenTurn, "theirs": anaTurn, "note": "school holiday",
	}, &sw); code != 201 {
		t.Fatalf("request swap: %d", code)
	}
	dm := "D" + ana.SlackID
	expect := func(what string, slackN, mailN int) {
		t.Helper()
		eventually(t, 5*time.Second, what, func() bool {
			return len(slackAPI.posts(dm)) == slackN && len(sink.to(ana.Email)) == slackN && len(sink.to("chen@example.edu")) == mailN
		})
		time.Sleep(300 * time.Millisecond) // several loop ticks: nothing more
		if n, m := len(slackAPI.posts(dm)), len(sink.to(ana.Email)); n != slackN || m != slackN {
			t.Fatalf("%s: %d Slack messages and %d e-mails to ana, want %d", what, n, m, slackN)
		}
	}
	expect("the request to ana", 1, 0)

	clock.Set(t0.Add(23 * time.Hour))
	expect("no reminder before a day has passed", 1, 0)
	clock.Set(t0.Add(24 * time.Hour))
	expect("the first daily reminder", 2, 0)
	last := slackAPI.posts(dm)[1]
	if !strings.Contains(last.Get("blocks"), "postvakt_swap_accept") || !strings.Contains(last.Get("text")+last.Get("blocks"), "Reminder") {
		t.Fatalf("reminder without buttons or wording: %v", last)
	}
	clock.Set(t0.Add(30 * time.Hour))
	expect("nothing more the same day", 2, 0)
	clock.Set(t0.Add(48 * time.Hour))
	expect("the second daily reminder", 3, 0)

	// two days before chen's turn: the last reminder, once
	clock.Set(first.Add(-47 * time.Hour))
	expect("the reminder before the turn", 4, 0)
	clock.Set(first.Add(-1 * time.Hour))
	expect("no daily reminders inside the last window", 4, 0)

	// the turn starts undecided: the request lapses, both are told
	clock.Set(first)
	expect("the lapse notice to ana and chen", 5, 1)
	if got := sink.to("chen@example.edu")[0]; !strings.Contains(got.Data, "lapsed") || !strings.Contains(got.Data, "Mon 2026-04-13 09:00 CEST") {
		t.Fatalf("notice to chen (the turn's start in the service zone): %q", got.Data)
	}
	var list struct {
		Swaps []team.SwapRecord `json:"swaps"`
	}
	if code := call(t, "GET", app.base+"/api/v1/oncall/swaps?rota=ukevakt", token, nil, &list); code != 200 || len(list.Swaps) != 1 || list.Swaps[0].State != rota.SwapLapsed {
		t.Fatalf("swaps: %d %+v, want one, lapsed", code, list.Swaps)
	}
	if code := call(t, "POST", fmt.Sprintf("%s/api/v1/oncall/swaps/%s/accept", app.base, sw.ID), token, nil, nil); code != 409 {
		t.Fatalf("accepting a lapsed swap: %d, want 409", code)
	}
	var now struct {
		Member string `json:"member"`
	}
	if code := call(t, "GET", app.base+"/api/v1/oncall/at?rota=ukevakt&time="+url.QueryEscape(chenTurn.Format(time.RFC3339)), token, nil, &now); code != 200 || now.Member != "chen" {
		t.Fatalf("on call during chen's turn after the lapse: %d %q", code, now.Member)
	}
}
