package reports

import (
	"cmp"
	"slices"
	"strconv"
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
// the local days of loc: received is mail accepted from outside (inbound
// and relayed), sent is mail accepted from local users (internal and
// outbound), and the rest is of unknown direction (docs/reports.md,
// "Definitions").
func MailDaysOf(loc *time.Location, messages []Bucket) []MailDay {
	byDay := map[time.Time]*MailDay{}
	for _, r := range messages {
		d := localMidnight(r.Start, loc)
		m := byDay[d]
		if m == nil {
			m = &MailDay{Day: d}
			byDay[d] = m
		}
		switch SideOf(r.Dim) {
		case SideOutside:
			m.ReceivedCount += r.Count
			m.ReceivedBytes += r.Bytes
		case SideLocal:
			m.SentCount += r.Count
			m.SentBytes += r.Bytes
		default:
			m.UnknownCount += r.Count
			m.UnknownBytes += r.Bytes
		}
	}
	out := make([]MailDay, 0, len(byDay))
	for _, m := range byDay {
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b MailDay) int { return a.Day.Compare(b.Day) })
	return out
}

// SideOf maps a direction of the collectors to the side of the mail flow
// that handed the message over.
func SideOf(direction string) string {
	switch direction {
	case "inbound", "relayed":
		return SideOutside
	case "internal", "outbound":
		return SideLocal
	}
	return SideUnknown
}

// FlowOf sums the hourly "flow" rollup (Dim: "side|outcome") over its
// hours.
func FlowOf(rows []Bucket) []FlowCount {
	acc := map[[2]string]*FlowCount{}
	for _, r := range rows {
		side, outcome, _ := strings.Cut(r.Dim, "|")
		k := [2]string{side, outcome}
		if acc[k] == nil {
			acc[k] = &FlowCount{Side: side, Outcome: outcome}
		}
		acc[k].Count += r.Count
		acc[k].Bytes += r.Bytes
	}
	out := make([]FlowCount, 0, len(acc))
	for _, f := range acc {
		out = append(out, *f)
	}
	slices.SortFunc(out, func(a, b FlowCount) int {
		return cmp.Or(cmp.Compare(a.Side, b.Side), cmp.Compare(a.Outcome, b.Outcome))
	})
	return out
}

// RejectsOf sums the hourly "rejects" rollup (Dim: "stage|code").
func RejectsOf(rows []Bucket) []RejectCount {
	acc := map[[2]string]int64{}
	for _, r := range rows {
		stage, code, _ := strings.Cut(r.Dim, "|")
		acc[[2]string{stage, code}] += r.Count
	}
	out := make([]RejectCount, 0, len(acc))
	for k, n := range acc {
		code, _ := strconv.Atoi(k[1])
		out = append(out, RejectCount{Stage: k[0], Code: code, Count: n})
	}
	slices.SortFunc(out, func(a, b RejectCount) int { return cmp.Or(cmp.Compare(a.Stage, b.Stage), cmp.Compare(a.Code, b.Code)) })
	return out
}

// ReadDaysOf sums the hourly "reads" rollup (Dim: the session's service)
// into the local days of loc by protocol.
func ReadDaysOf(loc *time.Location, rows []Bucket) []ReadDay {
	type key struct {
		day   time.Time
		proto string
	}
	acc := map[key]*ReadDay{}
	for _, r := range rows {
		k := key{localMidnight(r.Start, loc), LoginProtocol(r.Dim)}
		if acc[k] == nil {
			acc[k] = &ReadDay{Day: k.day, Protocol: k.proto}
		}
		acc[k].Reads += r.Count
		acc[k].Bytes += r.Bytes
	}
	out := make([]ReadDay, 0, len(acc))
	for _, d := range acc {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b ReadDay) int { return cmp.Or(a.Day.Compare(b.Day), cmp.Compare(a.Protocol, b.Protocol)) })
	return out
}

// CoverageOf sums the hourly "coverage" rollup (Dim: "source|host") into
// the local days of loc.
func CoverageOf(loc *time.Location, rows []Bucket) []CoverageDay {
	type key struct {
		day          time.Time
		source, host string
	}
	acc := map[key]int64{}
	for _, r := range rows {
		src, host, _ := strings.Cut(r.Dim, "|")
		acc[key{localMidnight(r.Start, loc), src, host}] += r.Count
	}
	out := make([]CoverageDay, 0, len(acc))
	for k, n := range acc {
		out = append(out, CoverageDay{Day: k.day, Source: k.source, Host: k.host, Records: n})
	}
	slices.SortFunc(out, func(a, b CoverageDay) int {
		return cmp.Or(a.Day.Compare(b.Day), cmp.Compare(a.Source, b.Source), cmp.Compare(a.Host, b.Host))
	})
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

// LoginProtocol maps a login service of the collectors to the report's
// protocol: SMTP AUTH is logged as smtp or submission.
func LoginProtocol(service string) string {
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
		d := get(key{localMidnight(r.Start, loc), LoginProtocol(svc)})
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
