package oncallapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os/exec"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"
	"github.com/uni-mail/postvakt/internal/api/oncallapi"
	"github.com/uni-mail/postvakt/internal/auth"
)

// TestOncallICalFeed: the rota and member feeds behind secret URLs are
// text/calendar, parse with an independent iCalendar parser (Python's
// icalendar, Debian package python3-icalendar) and agree with the API's
// schedule for 8 weeks.
func TestOncallICalFeed(t *testing.T) {
	t.Parallel()
	requireTool(t, "/usr/bin/python3", "python3-icalendar")
	if err := exec.Command("/usr/bin/python3", "-c", "import icalendar").Run(); err != nil {
		requireTool(t, "/nonexistent/python3-icalendar", "python3-icalendar")
	}
	// 8 weeks across the DST change
	f := newFixture(t, fixtureOptions{linkKey: testLinkKey, now: time.Date(2026, 3, 18, 12, 0, 0, 0, oslo)})
	admin := f.token(t, auth.RoleAdmin)

	var feeds oncallapi.FeedsResponse
	f.do(t, "GET", "/api/v1/oncall/feeds", admin, nil).ok(t, http.StatusOK, &feeds)
	fd := feeds.Feeds["ukevakt"]
	if fd.Rota == "" || fd.Members["ana"] == "" {
		t.Fatalf("feeds %+v", feeds)
	}
	// Keep the path and the secret, use the test server's address.
	local := func(u string) string {
		p, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		return p.RequestURI()
	}
	rotaFeed, chenFeed := local(fd.Rota), local(fd.Members["chen"])
	// An override shows in both.
	f.do(t, "POST", "/api/v1/oncall/overrides", admin, map[string]any{"rota": "ukevakt", "member": "chen",
		"start": time.Date(2026, 4, 1, 18, 0, 0, 0, oslo), "end": time.Date(2026, 4, 2, 8, 0, 0, 0, oslo)}).ok(t, http.StatusCreated, nil)
	fetch := func(u string) []icsEvent {
		r := f.do(t, "GET", u, "", nil)
		if r.status != http.StatusOK || r.header.Get("Content-Type") != "text/calendar; charset=utf-8" {
			t.Fatalf("feed %d %q", r.status, r.header.Get("Content-Type"))
		}
		return parseWithPython(t, r.body)
	}
	f.do(t, "GET", strings.Split(rotaFeed, "?")[0]+"?key=0000", "", nil).refused(t, http.StatusNotFound, "not_found")
	events := fetch(rotaFeed)
	var sched oncallapi.ScheduleResponse
	from := f.clock.Now()
	f.do(t, "GET", "/api/v1/oncall/schedule?rota=ukevakt&weeks=8&from="+url.QueryEscape(from.Format(time.RFC3339)), admin, nil).ok(t, http.StatusOK, &sched)
	if len(sched.Shifts) < 8 {
		t.Fatalf("%d shifts in 8 weeks", len(sched.Shifts))
	}
	for i, s := range sched.Shifts {
		ok := false
		for _, e := range events {
			sameStart := e.Start.Equal(s.Start) || (i == 0 && !e.Start.After(s.Start) && e.End.After(s.Start))
			sameEnd := e.End.Equal(s.End) || (i == len(sched.Shifts)-1 && !e.End.Before(s.End))
			if sameStart && sameEnd && e.Summary == "On call: "+s.Name {
				ok = true
			}
		}
		if !ok {
			t.Errorf("API shift %s %s–%s not in the feed", s.Member, s.Start, s.End)
		}
	}
	mine := fetch(chenFeed)
	n := 0
	for _, e := range mine {
		if e.Summary != "On call: Chen Wei" {
			t.Errorf("member feed has %q", e.Summary)
		}
		if e.End.After(from) && e.Start.Before(from.AddDate(0, 0, 56)) {
			n++
		}
	}
	want := 0
	for _, s := range sched.Shifts {
		if s.Member == "chen" {
			want++
		}
	}
	if n != want {
		t.Fatalf("member feed has %d shifts in the 8 weeks, the API %d", n, want)
	}
}

type icsEvent struct {
	UID, Summary string
	Start, End   time.Time
}

func parseWithPython(t *testing.T, ics []byte) []icsEvent {
	t.Helper()
	const script = `import sys, json, icalendar
cal = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
out = []
for ev in cal.walk('VEVENT'):
    out.append({"UID": str(ev['UID']), "Summary": str(ev['SUMMARY']),
                "Start": ev.decoded('DTSTART').isoformat(), "End": ev.decoded('DTEND').isoformat()})
print(json.dumps(out))
`
	cmd := exec.Command("/usr/bin/python3", "-c", script)
	cmd.Stdin = bytes.NewReader(ics)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python icalendar: %v", err)
	}
	var raw []struct{ UID, Summary, Start, End string }
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatal(err)
	}
	var evs []icsEvent
	for _, r := range raw {
		s, err1 := time.Parse(time.RFC3339, r.Start)
		e, err2 := time.Parse(time.RFC3339, r.End)
		if err1 != nil || err2 != nil {
			t.Fatalf("times %q %q", r.Start, r.End)
		}
		evs = append(evs, icsEvent{UID: r.UID, Summary: r.Summary, Start: s, End: e})
	}
	return evs
}

// TestFeedURLs: the feeds need the links key; a feed's URL carries its
// secret; a wrong secret, rota or member is 404; the member feed has only
// the member's turns.
func TestFeedURLs(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{linkKey: testLinkKey})
	admin := f.token(t, auth.RoleAdmin)
	var feeds oncallapi.FeedsResponse
	f.do(t, "GET", "/api/v1/oncall/feeds", admin, nil).ok(t, http.StatusOK, &feeds)
	want := oncallapi.RotaFeeds{Rota: oncallapi.FeedURL(testBaseURL, testLinkKey, "ukevakt", ""), Members: map[string]string{
		"ana":   testBaseURL + "/api/v1/oncall/feed/ukevakt/ana?key=" + oncallapi.FeedSecret(testLinkKey, "ukevakt", "ana"),
		"bjorn": oncallapi.FeedURL(testBaseURL, testLinkKey, "ukevakt", "bjorn"),
		"chen":  oncallapi.FeedURL(testBaseURL, testLinkKey, "ukevakt", "chen"),
	}}
	if len(feeds.Feeds) != 1 || !reflect.DeepEqual(feeds.Feeds["ukevakt"], want) {
		t.Fatalf("feeds %+v, want %+v", feeds, want)
	}
	if s := oncallapi.FeedSecret(testLinkKey, "ukevakt", "ana"); len(s) != 32 || s == oncallapi.FeedSecret(testLinkKey, "ukevakt", "") ||
		s == oncallapi.FeedSecret("another-key-0123456789abcdef0123456789", "ukevakt", "ana") {
		t.Fatalf("secret %q", s)
	}
	ana := "/api/v1/oncall/feed/ukevakt/ana?key=" + oncallapi.FeedSecret(testLinkKey, "ukevakt", "ana")
	r := f.do(t, "GET", ana, "", nil)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "text/calendar; charset=utf-8" ||
		r.header.Get("Content-Disposition") != `inline; filename="ukevakt.ics"` || !bytes.Contains(r.body, []byte("SUMMARY:On call: Ana Berg")) ||
		bytes.Contains(r.body, []byte("Chen Wei")) {
		t.Fatalf("ana's feed: %d %v\n%s", r.status, r.header, r.body)
	}
	for _, bad := range []string{
		"/api/v1/oncall/feed/ukevakt/ana?key=" + oncallapi.FeedSecret(testLinkKey, "ukevakt", "chen"),
		"/api/v1/oncall/feed/other?key=" + oncallapi.FeedSecret(testLinkKey, "other", ""),
		"/api/v1/oncall/feed/ukevakt/dave?key=" + oncallapi.FeedSecret(testLinkKey, "ukevakt", "dave"),
		"/api/v1/oncall/feed/ukevakt",
	} {
		f.do(t, "GET", bad, "", nil).refused(t, http.StatusNotFound, "not_found")
	}

	// Without the links key there are no feeds.
	off := newFixture(t, fixtureOptions{})
	off.do(t, "GET", "/api/v1/oncall/feeds", off.token(t, auth.RoleAdmin), nil).refused(t, http.StatusNotFound, "not_found")
	off.do(t, "GET", "/api/v1/oncall/feed/ukevakt?key="+oncallapi.FeedSecret("", "ukevakt", ""), "", nil).refused(t, http.StatusNotFound, "not_found")
}

// TestOncallOwnFeeds covers GET /api/v1/oncall/feeds/mine: viewer and
// above, only the caller's own member feed in each rota they belong to
// (member ID matched case-insensitively against the user name), the same
// URL as the admin's GET /api/v1/oncall/feeds gives; nothing for a
// non-member or a token (its principal is "token:NAME"), and nothing when
// oncall.links.key is unset. The user is put in the request context by
// an outer layer, as the web UI's session does.
func TestOncallOwnFeeds(t *testing.T) {
	t.Parallel()
	// ana's member ID differs in case from her (lower-case) user name.
	members := slices.Clone(testMembers)
	members[0].ID = "Ana"
	rt := testRota
	rt.Members = []string{"Ana", "bjorn", "chen"}
	fo := fixtureOptions{members: members, rota: rt, linkKey: testLinkKey}
	f := newFixture(t, fo)
	admin, viewerTok := f.token(t, auth.RoleAdmin), f.token(t, auth.RoleViewer)
	const mine = "/api/v1/oncall/feeds/mine"
	none := oncallapi.OwnFeedsResponse{Feeds: map[string]string{}}
	get := func(f *fixture, token string, header ...string) oncallapi.OwnFeedsResponse {
		t.Helper()
		var out oncallapi.OwnFeedsResponse
		f.do(t, "GET", mine, token, nil, header...).ok(t, http.StatusOK, &out)
		return out
	}

	f.do(t, "GET", mine, "", nil).refused(t, http.StatusUnauthorized, "unauthorized")
	want := oncallapi.FeedURL(testBaseURL, testLinkKey, "ukevakt", "Ana")
	if got := get(f, "", userHeader, "ana"); !reflect.DeepEqual(got, oncallapi.OwnFeedsResponse{Feeds: map[string]string{"ukevakt": want}}) {
		t.Errorf("ana's feeds: %v, want %s", got, want)
	}
	var all oncallapi.FeedsResponse
	f.do(t, "GET", "/api/v1/oncall/feeds", admin, nil).ok(t, http.StatusOK, &all)
	if all.Feeds["ukevakt"].Members["Ana"] != want {
		t.Errorf("admin feeds: Ana's %q, want %q", all.Feeds["ukevakt"].Members["Ana"], want)
	}
	if got := get(f, "", userHeader, "viewer"); !reflect.DeepEqual(got, none) {
		t.Errorf("a non-member's feeds: %v", got)
	}
	if got := get(f, viewerTok); !reflect.DeepEqual(got, none) {
		t.Errorf("a token's feeds: %v", got)
	}

	fo.linkKey = ""
	off := newFixture(t, fo)
	if got := get(off, "", userHeader, "ana"); !reflect.DeepEqual(got, none) {
		t.Errorf("without oncall.links.key: %v", got)
	}
}

// TestOncallICalFeedStableUIDs: two fetches of a rota feed a minute apart
// (and a day apart) give the same UID, DTSTART and DTEND for every shift
// both cover, the first shift included, whose real start lies before the
// feed's 4-week look-back; parsed with golang-ical's reader, and with
// Python's icalendar too where it is installed (python3-icalendar).
func TestOncallICalFeedStableUIDs(t *testing.T) {
	t.Parallel()
	withPython := exec.Command("/usr/bin/python3", "-c", "import icalendar").Run() == nil
	f := newFixture(t, fixtureOptions{linkKey: testLinkKey, now: time.Date(2026, 3, 18, 12, 0, 0, 0, oslo)})
	admin := f.token(t, auth.RoleAdmin)
	var feeds oncallapi.FeedsResponse
	f.do(t, "GET", "/api/v1/oncall/feeds", admin, nil).ok(t, http.StatusOK, &feeds)
	p, err := url.Parse(feeds.Feeds["ukevakt"].Rota)
	if err != nil {
		t.Fatal(err)
	}
	type ev struct{ start, end string }
	fetch := func() map[string]ev {
		r := f.do(t, "GET", p.RequestURI(), "", nil)
		if r.status != http.StatusOK {
			t.Fatalf("feed %d", r.status)
		}
		cal, err := ics.ParseCalendar(bytes.NewReader(r.body))
		if err != nil {
			t.Fatalf("parse feed: %v", err)
		}
		out := map[string]ev{}
		for _, e := range cal.Events() {
			uid := e.GetProperty(ics.ComponentPropertyUniqueId).Value
			if _, dup := out[uid]; dup {
				t.Fatalf("UID %s twice in one feed", uid)
			}
			out[uid] = ev{e.GetProperty(ics.ComponentPropertyDtStart).Value, e.GetProperty(ics.ComponentPropertyDtEnd).Value}
		}
		if len(out) < 20 {
			t.Fatalf("%d events", len(out))
		}
		if withPython {
			py := parseWithPython(t, r.body)
			if len(py) != len(out) {
				t.Fatalf("python icalendar reads %d events, golang-ical %d", len(py), len(out))
			}
			for _, e := range py {
				if _, ok := out[e.UID]; !ok {
					t.Fatalf("python icalendar reads UID %q, golang-ical does not", e.UID)
				}
			}
		}
		return out
	}
	first := fetch()
	for _, step := range []time.Duration{time.Minute, 24 * time.Hour} {
		f.clock.Set(f.clock.Now().Add(step))
		next := fetch()
		common := 0
		for uid, e := range next {
			prev, ok := first[uid]
			if !ok {
				continue
			}
			common++
			if prev != e {
				t.Errorf("after %s: %s moved from %v to %v", step, uid, prev, e)
			}
		}
		// A minute later (no handover 4 weeks ago or 26 weeks ahead in
		// that minute) the feed has exactly the same events; a day later
		// at most one shift has left at each end, none is renamed.
		slack := 0
		if step > time.Minute {
			slack = 1
		}
		if common < len(first)-slack || common < len(next)-slack {
			t.Errorf("after %s: %d UIDs in common of %d and %d", step, common, len(first), len(next))
		}
	}
}
