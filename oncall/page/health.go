package page

import (
	"fmt"
	"sort"
	"strings"
)

// Health is why paging may reach nobody, for the web UI's banner: the
// problem in words and the configuration keys that fix it. Nil means
// paging works as far as postvakt can tell.
type Health struct {
	Problem string
	Keys    []string
}

// channelKeys are the configuration keys of each channel (docs/oncall.md,
// "Paging channels").
var channelKeys = map[string][]string{
	"slack": {"oncall.slack.bot_token", "oncall.slack.channel"},
	"email": {"oncall.email.relay", "oncall.email.from"},
}

// CheckHealth judges paging from the configured channels (Pipeline's
// Channels) and the page log of a recent window, oldest first:
//
//   - no channel configured: nobody is reached (set Slack or e-mail);
//   - every message that ended in the window ended failed on every
//     channel (none sent, at least one failed): the channels are broken.
//
// Messages that are pending, skipped (the channel does not apply to that
// person) or deduplicated say nothing about a channel's health.
func CheckHealth(channels []string, recent []Record) *Health {
	if len(channels) == 0 {
		return &Health{Problem: "No paging channel is configured: incidents reach nobody. Set Slack or e-mail (or both).",
			Keys: []string{"oncall.slack.bot_token", "oncall.slack.signing_secret", "oncall.email.relay", "oncall.email.from"}}
	}
	failed := map[string]int{}
	lastErr := map[string]string{}
	for _, r := range recent {
		switch r.Result {
		case ResultSent:
			return nil
		case ResultFailed:
			failed[r.Channel]++
			lastErr[r.Channel] = r.Error
		}
	}
	if len(failed) == 0 {
		return nil
	}
	var parts, keys []string
	names := make([]string, 0, len(failed))
	for ch := range failed {
		names = append(names, ch)
	}
	sort.Strings(names)
	for _, ch := range names {
		p := fmt.Sprintf("%s: %d failed", ch, failed[ch])
		if e := lastErr[ch]; e != "" {
			if len(e) > 120 {
				e = e[:120] + "…"
			}
			p += " (last: " + e + ")"
		}
		parts = append(parts, p)
		keys = append(keys, channelKeys[ch]...)
	}
	return &Health{Problem: "Every page of the last hour failed: " + strings.Join(parts, "; ") + ".", Keys: keys}
}
