package app

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/oncall"
)

// TestWebPagingBanner (docs/oncall.md, "Working an incident"): with no
// paging channel configured every page shows the banner naming the keys
// to set; with e-mail to a relay that refuses, the banner appears once a
// page has failed; with a working relay there is none.
func TestWebPagingBanner(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused
	for _, c := range []struct {
		name  string
		relay string // "" no e-mail; "sink" a working one
		want  string // "" no banner
	}{
		{"no channel", "", "No paging channel is configured"},
		{"relay refuses", dead, "Every page of the last hour failed: email: 1 failed"},
		{"relay works", "sink", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			sink := newSMTPSink(t)
			cfg := incidentWebConfig(t, sink, true)
			cfg.Oncall.Retry = oncall.RetryConfig{Attempts: 1, Initial: 10 * time.Millisecond, Max: 10 * time.Millisecond}
			switch c.relay {
			case "":
				cfg.Oncall.Email = oncall.EmailConfig{}
			case "sink":
			default:
				cfg.Oncall.Email.Relay = c.relay
			}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			app := startApp(t, cfg, time.Now)
			webUsers(t, cfg, auth.RoleViewer)
			tok := apiToken(t, cfg, auth.RoleOncall)
			raiseAlert(t, app.base, tok, "BannerTest")
			v, _ := signedIn(t, app.base, "viewer")
			for _, p := range []string{"/", "/incidents", "/tickets"} {
				var body string
				if c.want == "" {
					eventually(t, 15*time.Second, "the page sent", func() bool {
						sink.mu.Lock()
						defer sink.mu.Unlock()
						return len(sink.msgs) > 0
					})
					_, body = v.do("GET", p, nil, nil)
					if strings.Contains(body, `id="paging-banner"`) {
						t.Errorf("%s: a banner with working paging", p)
					}
					continue
				}
				eventually(t, 15*time.Second, "the banner on "+p, func() bool {
					_, body = v.do("GET", p, nil, nil)
					return strings.Contains(body, `id="paging-banner"`)
				})
				if !strings.Contains(body, c.want) || !strings.Contains(body, "<code>oncall.email.relay</code>") {
					t.Errorf("%s: banner lacks %q or the key:\n%s", p, c.want, body)
				}
			}
		})
	}
}
