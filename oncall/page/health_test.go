package page

import (
	"strings"
	"testing"
)

// TestCheckHealth: no channel, every recent page failed, one sent, and
// results that say nothing of a channel's health.
func TestCheckHealth(t *testing.T) {
	t.Parallel()
	fail := func(ch, e string) Record { return Record{Channel: ch, Result: ResultFailed, Error: e} }
	for _, c := range []struct {
		name     string
		channels []string
		recent   []Record
		want     string // "" healthy
		keys     []string
	}{
		{"no channel", nil, nil, "No paging channel is configured", []string{"oncall.slack.bot_token", "oncall.email.relay"}},
		{"quiet", []string{"email"}, nil, "", nil},
		{"all failed", []string{"slack", "email"}, []Record{fail("slack", "invalid_auth"), fail("email", "dial tcp: refused"), fail("email", "dial tcp: refused")},
			"email: 2 failed (last: dial tcp: refused); slack: 1 failed (last: invalid_auth)", []string{"oncall.email.relay", "oncall.slack.bot_token"}},
		{"one channel works", []string{"slack", "email"}, []Record{fail("slack", "x"), {Channel: "email", Result: ResultSent}}, "", nil},
		{"skipped and pending say nothing", []string{"slack"}, []Record{{Channel: "slack", Result: ResultSkipped}, {Channel: "slack", Result: "pending"}}, "", nil},
	} {
		h := CheckHealth(c.channels, c.recent)
		if c.want == "" {
			if h != nil {
				t.Errorf("%s: %+v, want healthy", c.name, h)
			}
			continue
		}
		if h == nil || !strings.Contains(h.Problem, c.want) {
			t.Errorf("%s: %+v, want %q", c.name, h, c.want)
			continue
		}
		for _, k := range c.keys {
			if !strings.Contains(strings.Join(h.Keys, " "), k) {
				t.Errorf("%s: keys %v lack %s", c.name, h.Keys, k)
			}
		}
	}
}
