package web

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/webauth"
	"github.com/uni-mail/postvakt/oncall/page"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

// TestPagingBanner: a page whose view carries a paging problem shows the
// banner with the keys to set; without one it shows none.
func TestPagingBanner(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 10, 30, 0, 0, time.UTC)
	u := &UI{o: Options{Now: func() time.Time { return now }, Location: time.UTC, Tickets: tickets.DefaultConfig()}}
	pages, err := u.parsePages()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"now", "incidents", "tickets"} {
		for _, h := range []*page.Health{page.CheckHealth(nil, nil), nil} {
			v := &view{Title: "T", Nav: name, User: webauth.User{Name: "ana", Role: auth.RoleViewer}, Now: now, Paging: h}
			switch name {
			case "now":
				v.Data = &nowView{}
			case "incidents":
				v.Data = &incidentsView{}
			default:
				v.Data = &ticketsView{}
			}
			var buf bytes.Buffer
			if err := pages[name].ExecuteTemplate(&buf, "layout.html", v); err != nil {
				t.Fatal(err)
			}
			got := buf.String()
			shown := strings.Contains(got, `id="paging-banner"`)
			if shown != (h != nil) {
				t.Errorf("%s: banner shown %v with health %v", name, shown, h)
			}
			if h != nil && (!strings.Contains(got, "<code>oncall.slack.bot_token</code>") || !strings.Contains(got, "<code>oncall.email.relay</code>")) {
				t.Errorf("%s: banner does not name the keys:\n%s", name, got)
			}
		}
	}
}
