package reportstest

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/uni-mail/postvakt/reports"
)

// SeedOptions size the seeded data.
type SeedOptions struct {
	Loc *time.Location
	// From and To bound the data: [From, To), whole days.
	From, To time.Time
	// MessagesPerDay is the mean number of messages received on a weekday;
	// sent mail is about a third of it.
	MessagesPerDay int
	// Users is the number of mailboxes that log in.
	Users int
	// Seed makes the data reproducible.
	Seed uint64
}

// hourShape is the share of a day's mail in each local hour.
var hourShape = [24]float64{1, 0.7, 0.5, 0.5, 0.6, 1, 2, 4, 7, 8.5, 8.5, 8, 7, 7.5, 8, 7.5, 6.5, 5, 4, 3.5, 3, 2.5, 2, 1.5}

// Known events of the seeded data, for tests that look for them.
var (
	// SpikeDay has about 2.4 times the usual received mail.
	SpikeDay = time.Date(2026, 10, 14, 0, 0, 0, 0, oslo())
	// BruteForceDay has ten times the usual failed IMAP logins.
	BruteForceDay = time.Date(2026, 10, 20, 0, 0, 0, 0, oslo())
	// BreachedTickets missed their response target in October 2026.
	BreachedTickets = []string{"T-1042", "T-1057"}
	// OpenTickets are still open at the end of October 2026.
	OpenTickets = []string{"T-1061", "T-1063"}
)

func oslo() *time.Location {
	loc, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		panic(err)
	}
	return loc
}

// Oslo is Europe/Oslo, the seeded data's time zone.
func Oslo() *time.Location { return oslo() }

// SeptOct returns the options of the standard test data set: September
// and October 2026 in Europe/Oslo, a small university.
func SeptOct() SeedOptions {
	loc := oslo()
	return SeedOptions{
		Loc: loc, From: time.Date(2026, 9, 1, 0, 0, 0, 0, loc), To: time.Date(2026, 11, 1, 0, 0, 0, 0, loc),
		MessagesPerDay: 40000, Users: 400, Seed: 8,
	}
}

// Seed returns a Memory filled with deterministic data for opts.
func Seed(opts SeedOptions) *Memory {
	loc := opts.Loc
	rng := rand.New(rand.NewPCG(opts.Seed, 0x5eed))
	noise := func(spread float64) float64 { return 1 + (rng.Float64()*2-1)*spread }
	m := &Memory{}
	var shapeSum float64
	for _, s := range hourShape {
		shapeSum += s
	}
	protos := []struct {
		name string
		base float64
		fail float64
	}{
		{reports.ProtocolWebmail, 0.06, 0.03},
		{reports.ProtocolIMAP, 0.22, 0.02},
		{reports.ProtocolPOP, 0.01, 0.05},
		{reports.ProtocolSMTPAuth, 0.12, 0.015},
	}
	mailboxes := int64(opts.Users * 50)
	domains := int64(42)
	// The directory's names: the first snapshot's, then four mailboxes
	// added and one removed a day.
	firstSnap := opts.From.Add(2 * time.Hour)
	nextBox := 0
	addBox := func(at time.Time) {
		m.Members = append(m.Members, Member{Kind: "mailbox", Name: fmt.Sprintf("mbx%05d@uni.example", nextBox), Since: at})
		nextBox++
	}
	for range mailboxes - 3 {
		addBox(firstSnap)
	}
	for i := range domains {
		m.Members = append(m.Members, Member{Kind: "domain", Name: fmt.Sprintf("dept%02d.uni.example", i), Since: firstSnap})
	}
	oldest := 0
	mailboxes -= 3
	for d := opts.From; d.Before(opts.To); d = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc) {
		for _, src := range []struct{ source, host string }{{"postfix", "mx1"}, {"amavis", "mx1"}, {"postgrey", "mx1"}, {"dovecot", "imap"}} {
			m.Covers = append(m.Covers, reports.CoverageDay{Day: d, Source: src.source, Host: src.host, Records: 1000})
		}
		weekend := d.Weekday() == time.Saturday || d.Weekday() == time.Sunday
		level := float64(opts.MessagesPerDay)
		if d.Month() == time.October {
			level *= 1.05 // growth against September
		}
		if weekend {
			level *= 0.42
		}
		received := level * noise(0.06)
		if d.Equal(SpikeDay) {
			received *= 2.4
		}
		sent := level / 3 * noise(0.06)
		var recvDay int64
		for h := range 24 {
			at := time.Date(d.Year(), d.Month(), d.Day(), h, 0, 0, 0, loc)
			if at.Hour() != h { // DST gap
				continue
			}
			rc := int64(received * hourShape[h] / shapeSum * noise(0.05))
			sc := int64(sent * hourShape[h] / shapeSum * noise(0.05))
			hr := Hour{Hour: at, ReceivedCount: rc, ReceivedBytes: rc * int64(55000+rng.IntN(10000)),
				SentCount: sc, SentBytes: sc * int64(40000+rng.IntN(10000))}
			if h == 3 {
				hr.UnknownCount, hr.UnknownBytes = 1, 20000 // a message whose log start was cut
			}
			m.Hours = append(m.Hours, hr)
			recvDay += rc
			// The flow: every accepted message in one outcome.
			flow := func(side, outcome string, n int64) {
				if n > 0 {
					m.Flows = append(m.Flows, Flow{At: at, FlowCount: reports.FlowCount{Side: side, Outcome: outcome, Count: n}})
				}
			}
			blocked, bounced := rc/25, rc/200
			flow(reports.SideOutside, "blocked", blocked)
			flow(reports.SideOutside, "bounced", bounced)
			flow(reports.SideOutside, "delivered_remote", rc/50)
			flow(reports.SideOutside, "delivered_local", rc-blocked-bounced-rc/50)
			flow(reports.SideLocal, "delivered_local", sc/5)
			flow(reports.SideLocal, "partly_bounced", sc/100)
			flow(reports.SideLocal, "delivered_remote", sc-sc/5-sc/100)
			flow(reports.SideUnknown, "no_outcome", hr.UnknownCount)
			m.RejectList = append(m.RejectList,
				Reject{At: at, RejectCount: reports.RejectCount{Stage: "RCPT", Code: 550, Count: rc / 10}},
				Reject{At: at, RejectCount: reports.RejectCount{Stage: "RCPT", Code: 450, Count: rc / 20}},
				Reject{At: at, RejectCount: reports.RejectCount{Stage: "header", Code: 550, Count: rc / 1000}})
		}
		r := float64(recvDay)
		for _, s := range []struct {
			verdict, action string
			share           float64
		}{
			{reports.VerdictClean, reports.ActionDelivered, 0.79},
			{reports.VerdictSpam, reports.ActionTagged, 0.12},
			{reports.VerdictSpam, reports.ActionQuarantined, 0.05},
			{reports.VerdictSpam, reports.ActionRejected, 0.01},
			{reports.VerdictVirus, reports.ActionQuarantined, 0.0003},
			{reports.VerdictBanned, reports.ActionRejected, 0.0002},
			{reports.VerdictGreylisted, reports.ActionDeferred, 0.03},
		} {
			m.Scans = append(m.Scans, reports.ScanCount{Day: d, Verdict: s.verdict, Action: s.action, Count: int64(r * s.share * noise(0.1))})
		}
		for _, p := range protos {
			ok := float64(opts.Users) * 40 * p.base * noise(0.08)
			if weekend {
				ok *= 0.5
			}
			failed := ok * p.fail * noise(0.2)
			if p.name == reports.ProtocolIMAP && d.Equal(BruteForceDay) {
				failed *= 10
			}
			m.Logins = append(m.Logins, reports.LoginDay{Day: d, Protocol: p.name, OK: int64(ok), Failed: int64(failed),
				Users: int64(float64(opts.Users) * p.base * 2 * noise(0.05))})
			if p.name != reports.ProtocolSMTPAuth {
				m.Reads = append(m.Reads, reports.ReadDay{Day: d, Protocol: p.name, Reads: int64(ok * 3), Bytes: int64(ok * 3 * 48000)})
			}
		}
		before := len(m.UserLogins)
		for u := range opts.Users {
			// Most users log in on most weekdays; a tail of 10 % only in October.
			if u >= opts.Users*9/10 && d.Month() != time.October {
				continue
			}
			p := 0.7
			if weekend {
				p = 0.25
			}
			if rng.Float64() < p {
				proto := protos[u%len(protos)].name
				m.UserLogins = append(m.UserLogins, UserLogin{User: fmt.Sprintf("u%05d", u), Protocol: proto, Day: d})
			}
		}
		m.Logins = append(m.Logins, reports.LoginDay{Day: d, Protocol: reports.AllProtocols, Users: int64(len(m.UserLogins) - before)})
		snap := d.Add(2 * time.Hour)
		if d.Equal(time.Date(2026, 10, 10, 0, 0, 0, 0, loc)) {
			m.Members = append(m.Members, Member{Kind: "domain", Name: "newfaculty.uni.example", Since: snap})
			domains++
		}
		if !d.Equal(opts.From) {
			for range 4 {
				addBox(snap)
			}
			m.Members[oldest].Until = snap
			oldest++
		} else {
			for range 3 {
				addBox(snap)
			}
		}
		mailboxes += 3
		m.Snapshots = append(m.Snapshots, reports.Registrations{
			At: snap, Domains: domains, Mailboxes: mailboxes,
			AllottedBytes: mailboxes*2e9 + mailboxes/20*3e9, UsedBytes: mailboxes * 7e8, ExtraBytes: mailboxes / 20 * 3e9,
		})
	}
	at := func(mo time.Month, d, h, mi int) time.Time { return time.Date(2026, mo, d, h, mi, 0, 0, loc) }
	m.OutageList = []reports.Outage{
		{Service: "smtp", Ref: "INC-290", Title: "MX queue stalled after certificate renewal", Start: at(9, 17, 10, 5), End: at(9, 17, 10, 25)},
		{Service: "imap", Ref: "INC-311", Title: "IMAP proxy in Tromsø unreachable", Start: at(10, 8, 13, 2), End: at(10, 8, 13, 49)},
		{Service: "webmail", Ref: "INC-315", Title: "Webmail login loop", Start: at(10, 22, 9, 40), End: at(10, 22, 9, 52)},
		{Service: "imap", Ref: "INC-316", Title: "IMAP backend failover", Start: at(10, 8, 13, 30), End: at(10, 8, 14, 0)},
		{Service: "smtp", Ref: "NOTICE-77", Title: "Planned maintenance of the MX cluster", Start: at(10, 27, 6, 0), End: at(10, 27, 7, 30), Planned: true},
	}
	tk := func(id, svc, sev, title string, opened time.Time, inHours bool, respond, resolve time.Duration, breached bool) reports.Ticket {
		t := reports.Ticket{ID: id, Service: svc, Severity: sev, Title: title, OpenedAt: opened, InHours: inHours, ResponseBreached: breached}
		if inHours {
			t.ResponseTarget = time.Hour
		}
		if respond > 0 {
			t.RespondedAt = opened.Add(respond)
		}
		if resolve > 0 {
			t.ResolvedAt = opened.Add(resolve)
		}
		return t
	}
	m.TicketList = []reports.Ticket{
		tk("T-1020", "smtp", "major", "MX queue stalled", at(9, 17, 10, 7), true, 12*time.Minute, 40*time.Minute, false),
		tk("T-1021", "imap", "minor", "Slow folder listing", at(9, 18, 14, 0), true, 25*time.Minute, 26*time.Hour, false),
		tk("T-1025", "webmail", "minor", "Attachment preview broken", at(9, 23, 11, 0), true, 35*time.Minute, 3*24*time.Hour, false),
		tk("T-1030", "lists", "minor", "Moderation queue e-mails late", at(9, 29, 22, 0), false, 9*time.Hour, 30*time.Hour, false),
		tk("T-1033", "smtp", "minor", "SPF failure for faculty domain", at(9, 30, 10, 0), true, 70*time.Minute, 5*time.Hour, true),
		tk("T-1040", "imap", "critical", "IMAP proxy in Tromsø unreachable", at(10, 8, 13, 5), true, 6*time.Minute, 50*time.Minute, false),
		tk("T-1042", "submission", "major", "Submission rejects valid logins", at(10, 12, 9, 15), true, 95*time.Minute, 4*time.Hour, true),
		tk("T-1045", "webmail", "minor", "Calendar invitations not shown", at(10, 13, 15, 30), true, 20*time.Minute, 2*24*time.Hour, false),
		tk("T-1048", "smtp", "minor", "Greylisting delays a partner's mail", at(10, 15, 10, 0), true, 30*time.Minute, 6*time.Hour, false),
		tk("T-1050", "imap", "minor", "Shared folder permissions", at(10, 16, 19, 0), false, 14*time.Hour, 3*24*time.Hour, false),
		tk("T-1052", "lists", "minor", "List archive search empty", at(10, 19, 11, 0), true, 40*time.Minute, 8*time.Hour, false),
		tk("T-1055", "imap", "major", "Failed IMAP logins from one network", at(10, 20, 8, 50), false, 25*time.Minute, 3*time.Hour, false),
		tk("T-1057", "webmail", "major", "Webmail login loop", at(10, 22, 9, 41), true, 80*time.Minute, 2*time.Hour, true),
		tk("T-1058", "smtp", "minor", "Bounce messages in Czech garbled (Říjen)", at(10, 26, 13, 0), true, 15*time.Minute, 26*time.Hour, false),
		tk("T-1061", "pop3", "minor", "POP client timeouts in Tromsø", at(10, 29, 10, 30), true, 45*time.Minute, 0, false),
		tk("T-1063", "smtp", "minor", "Quota warnings sent twice", at(10, 30, 16, 10), true, 10*time.Minute, 0, false),
	}
	members := []string{"Kari Nordmann", "Jiří Dvořák", "Per Østby", "Liu Yang"}
	// Weekly shifts handed over on Mondays at 09:00.
	first := time.Date(2026, 8, 31, 9, 0, 0, 0, loc)
	for i, s := 0, first; s.Before(opts.To); i, s = i+1, s.AddDate(0, 0, 7) {
		m.Shifts = append(m.Shifts, reports.Shift{Member: members[i%len(members)], Start: s, End: s.AddDate(0, 0, 7)})
	}
	for _, sh := range m.Shifts {
		n := 2 + rng.IntN(6)
		for range n {
			pat := sh.Start.Add(time.Duration(rng.Int64N(int64(7 * 24 * time.Hour))))
			pat = pat.Truncate(time.Minute)
			if !in(pat, opts.From, opts.To) {
				continue
			}
			p := reports.Page{At: pat, Member: sh.Member, Ref: fmt.Sprintf("INC-%d", 200+len(m.Pages))}
			if rng.IntN(10) > 0 {
				p.AckedAt = pat.Add(time.Duration(60+rng.IntN(900)) * time.Second)
			}
			m.Pages = append(m.Pages, p)
		}
	}
	m.Probed = []string{"smtp", "submission", "imap", "pop3", "webmail"}
	m.ProbesFrom = opts.From
	m.ProbeDown = []reports.Outage{
		{Service: "imap", Ref: "probe", Title: "Probes failed: imap", Start: at(10, 8, 13, 3), End: at(10, 8, 13, 58)},
	}
	m.Tables = reports.MailTables{
		SenderDomains: reports.NameTable{Top: []reports.NameCount{{Name: "uio.no", Count: 41000, Bytes: 2.1e9}, {Name: "ntnu.no", Count: 30500, Bytes: 1.6e9},
			{Name: "github.com", Count: 22000, Bytes: 4e8}, {Name: "muni.cz", Count: 9100, Bytes: 3e8}, {Name: "uit.no", Count: 8800, Bytes: 2.9e8}},
			Names: 812, TotalCount: 140000, TotalBytes: 7.1e9},
		RecipientDomains: reports.NameTable{Top: []reports.NameCount{{Name: "gmail.com", Count: 52000, Bytes: 1.9e9}, {Name: "uio.no", Count: 18000, Bytes: 8e8},
			{Name: "outlook.com", Count: 12500, Bytes: 5e8}, {Name: "cuni.cz", Count: 4000, Bytes: 1e8}},
			Names: 4, TotalCount: 86500, TotalBytes: 3.3e9},
		Senders: reports.NameTable{Top: []reports.NameCount{{Name: "noreply@github.com", Count: 9000, Bytes: 1e8}}, Names: 30000, TotalCount: 140000, TotalBytes: 7.1e9},
		Replies: []reports.ReplyCount{
			{Status: "rejected", Stage: "RCPT", Code: 550, DSN: "5.1.1", Reply: "<nobody@uni.example>: Recipient address rejected: User unknown in virtual mailbox table", Count: 4100},
			{Status: "rejected", Stage: "RCPT", Code: 550, DSN: "5.1.1", Reply: "<ghost@uni.example>: Recipient address rejected: User unknown in virtual mailbox table", Count: 900},
			{Status: "rejected", Stage: "RCPT", Code: 450, DSN: "4.2.0", Reply: "<a@uni.example>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/uni.example.html", Count: 2400},
			{Status: "deferred", Code: 0, DSN: "4.4.1", Reply: "connect to mx.slow.example[192.0.2.7]:25: Connection timed out", Count: 310},
			{Status: "bounced", Code: 0, DSN: "5.1.1", Reply: "host mx.closed.example[198.51.100.3] said: 550 5.1.1 <x@closed.example>: user unknown (in reply to RCPT TO command)", Count: 77},
			{Status: "expired", Code: 0, DSN: "4.4.1", Reply: "maximal_queue_lifetime reached, returned to sender", Count: 3},
		},
	}
	return m
}
