package reports

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// The report's days and hours from the collectors' rollups: the hourly
// rows (counts and bytes per metric and dimension, collectors/rollup) are
// summed into local days, so that days follow the report's time zone
// across DST changes; distinct users per day come from the daily rollup of
// UTC days. A Source built on the rollups (internal/store/reportstore)
// reads the rows and leaves the sums to these functions.

// Bucket is one rollup value: the count and bytes of one metric, split by
// Dim, in the hour or the UTC day that begins at Start.
type Bucket struct {
	Start time.Time
	Dim   string
	Count int64
	Bytes int64
}

func localMidnight(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
}

// MailDaysOf sums the hourly "messages" rollup (Dim: the direction) into
// the local days of loc: received is mail delivered into local mailboxes
// (inbound and internal), sent is mail that left for outside (outbound and
// relayed).
func MailDaysOf(loc *time.Location, messages []Bucket) []MailDay {
	byDay := map[time.Time]*MailDay{}
	for _, r := range messages {
		d := localMidnight(r.Start, loc)
		m := byDay[d]
		if m == nil {
			m = &MailDay{Day: d}
			byDay[d] = m
		}
		switch r.Dim {
		case "inbound", "internal":
			m.ReceivedCount += r.Count
			m.ReceivedBytes += r.Bytes
		case "outbound", "relayed":
			m.SentCount += r.Count
			m.SentBytes += r.Bytes
		}
	}
	out := make([]MailDay, 0, len(byDay))
	for _, m := range byDay {
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b MailDay) int { return a.Day.Compare(b.Day) })
	return out
}

// scanVerdict maps a content filter's verdict as the collectors store it
// (amavis "Passed CLEAN", "Blocked SPAM", …; rspamd "rspamd reject", …) to
// the report's verdict and action.
func scanVerdict(v string) (verdict, action string) {
	if rest, ok := strings.CutPrefix(v, "rspamd "); ok {
		switch rest {
		case "no action":
			return VerdictClean, ActionDelivered
		case "reject":
			return VerdictSpam, ActionRejected
		case "soft reject":
			return VerdictSpam, ActionDeferred
		case "greylist":
			return VerdictGreylisted, ActionDeferred
		default: // add header, rewrite subject
			return VerdictSpam, ActionTagged
		}
	}
	act, cat, _ := strings.Cut(v, " ")
	switch cat {
	case "CLEAN":
		verdict = VerdictClean
	case "SPAM", "SPAMMY":
		verdict = VerdictSpam
	case "INFECTED":
		verdict = VerdictVirus
	case "BANNED":
		verdict = VerdictBanned
	default:
		verdict = strings.ToLower(strings.ReplaceAll(cat, "-", "_"))
		if verdict == "" {
			verdict = "other"
		}
	}
	switch {
	case act == "Blocked":
		action = ActionQuarantined
	case verdict == VerdictSpam:
		action = ActionTagged
	default:
		action = ActionDelivered
	}
	return verdict, action
}

// ScanDaysOf counts the hourly "verdicts" rollup (Dim: the content
// filter's verdict) and the greylisted rows of the hourly "greylist"
// rollup by local day of loc, verdict and action.
func ScanDaysOf(loc *time.Location, verdicts, greylist []Bucket) []ScanCount {
	type key struct {
		day             time.Time
		verdict, action string
	}
	acc := map[key]int64{}
	for _, r := range verdicts {
		v, a := scanVerdict(r.Dim)
		acc[key{localMidnight(r.Start, loc), v, a}] += r.Count
	}
	for _, r := range greylist {
		if r.Dim == "greylisted" {
			acc[key{localMidnight(r.Start, loc), VerdictGreylisted, ActionDeferred}] += r.Count
		}
	}
	out := make([]ScanCount, 0, len(acc))
	for k, n := range acc {
		out = append(out, ScanCount{Day: k.day, Verdict: k.verdict, Action: k.action, Count: n})
	}
	slices.SortFunc(out, func(a, b ScanCount) int {
		return cmp.Or(a.Day.Compare(b.Day), cmp.Compare(a.Verdict, b.Verdict), cmp.Compare(a.Action, b.Action))
	})
	return out
}

// loginProtocol maps a login service of the collectors to the report's
// protocol: SMTP AUTH is logged as smtp or submission.
func loginProtocol(service string) string {
	switch service {
	case "imap":
		return ProtocolIMAP
	case "pop3", "pop":
		return ProtocolPOP
	case "webmail":
		return ProtocolWebmail
	case "smtp", "submission":
		return ProtocolSMTPAuth
	}
	return service
}

// UniqueUsersSpan is the span of the daily "unique_users" rollup that
// LoginDaysOf needs for the local days of [from, to): a UTC day counts for
// the local day of its middle.
func UniqueUsersSpan(from, to time.Time) (time.Time, time.Time) {
	return from.Add(-12 * time.Hour), to.Add(-12 * time.Hour)
}

// LoginDaysOf counts the hourly "logins" rollup (Dim: "service|result") by
// local day of loc and protocol; the daily "unique_users" rollup (UTC
// days, read over UniqueUsersSpan) gives the distinct users per day as
// rows with AllProtocols.
func LoginDaysOf(loc *time.Location, logins, uniqueUsers []Bucket) []LoginDay {
	type key struct {
		day   time.Time
		proto string
	}
	acc := map[key]*LoginDay{}
	get := func(k key) *LoginDay {
		if acc[k] == nil {
			acc[k] = &LoginDay{Day: k.day, Protocol: k.proto}
		}
		return acc[k]
	}
	for _, r := range logins {
		svc, result, _ := strings.Cut(r.Dim, "|")
		d := get(key{localMidnight(r.Start, loc), loginProtocol(svc)})
		if result == "ok" {
			d.OK += r.Count
		} else {
			d.Failed += r.Count
		}
	}
	for _, r := range uniqueUsers {
		// A UTC day is attributed to the local day of its middle.
		get(key{localMidnight(r.Start.Add(12*time.Hour), loc), AllProtocols}).Users += r.Count
	}
	out := make([]LoginDay, 0, len(acc))
	for _, d := range acc {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b LoginDay) int {
		return cmp.Or(a.Day.Compare(b.Day), cmp.Compare(a.Protocol, b.Protocol))
	})
	return out
}

// TrafficHoursOf turns the hourly "messages" rollup into bytes per hour:
// in is what arrived from outside (inbound, relayed), out what left
// (outbound, relayed).
func TrafficHoursOf(messages []Bucket) []TrafficHour {
	byHour := map[time.Time]*TrafficHour{}
	for _, r := range messages {
		h := byHour[r.Start]
		if h == nil {
			h = &TrafficHour{Hour: r.Start}
			byHour[r.Start] = h
		}
		switch r.Dim {
		case "inbound":
			h.InBytes += r.Bytes
		case "outbound":
			h.OutBytes += r.Bytes
		case "relayed":
			h.InBytes += r.Bytes
			h.OutBytes += r.Bytes
		}
	}
	out := make([]TrafficHour, 0, len(byHour))
	for _, h := range byHour {
		out = append(out, *h)
	}
	slices.SortFunc(out, func(a, b TrafficHour) int { return a.Hour.Compare(b.Hour) })
	return out
}

// LoginLogCovers reports whether a login log whose first line is at first
// (has false: the log is empty) reaches back to from, so that the distinct
// users of a period starting at from can be counted from it; the first
// line may come up to a day after from.
func LoginLogCovers(first time.Time, has bool, from time.Time) bool {
	return has && !first.After(from.Add(24*time.Hour))
}
