// Package monthlog writes a month of Postfix, amavis, postgrey and Dovecot
// log lines, in the shapes those programs log (the real corpus in
// collectors/corpus/postfix and /work/shared/samples/real-logs), with the
// ground truth of what it wrote: every message, refusal, login and read is
// decided here and counted as it is written, so that a test can import the
// lines through the real import path, build the monthly report and compare
// each figure with the truth, never with postvakt's own output.
//
// Two hosts log: mx1 (Postfix with amavisd-new on 10024/10025, postgrey,
// submission with SASL) and imap (Dovecot IMAP, POP3 and LMTP). Lines are
// RFC 3339 with microseconds and an explicit offset, between 06:00 and
// 20:00 UTC, so that a message's day is the same calendar day in UTC and
// in Europe/Oslo.
package monthlog

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Options shape the month.
type Options struct {
	// Start is the first day of the period (its midnight in the report's
	// time zone) and Days its length.
	Start time.Time
	Days  int
	// LogDays are the days (0-based) with logs; nil means every day.
	LogDays []int
	// Volume scales a day's traffic; nil: 1 on weekdays, 0.4 at weekends.
	Volume func(day time.Time) float64
	// PerDay is the base number of messages from outside on a day of
	// volume 1 (default 40); mail from local users is about a third.
	PerDay int
	Seed   uint64
}

// Sides and outcomes, as the report names them (reports.FlowOutcomes).
const (
	Outside = "outside"
	Local   = "local"
)

// Truth is what the generator wrote, in the report's definitions
// (docs/reports.md, "Definitions").
type Truth struct {
	Days         int
	DaysWithLogs []time.Time // the days with logs (UTC midnights of their dates)
	// Messages accepted from clients: received from outside and sent by
	// local users, with their sizes as Postfix logs them (size=).
	Received, Sent           int64
	ReceivedBytes, SentBytes int64
	// TrafficOut is the bytes of accepted messages that went outside
	// (sent out, or forwarded from outside), once per message.
	TrafficOut int64
	// ReceivedPerDay and SentPerDay are by date ("2026-11-03").
	ReceivedPerDay, SentPerDay map[string]int64
	// Flow is messages by side and outcome.
	Flow map[string]map[string]int64
	// Refusals: SMTP rejects, permanent and temporary, and header checks.
	RefusedPermanent, RefusedTemporary, RefusedChecks int64
	Greylisted                                        int64
	// Content filter verdicts.
	Scanned, Spam, Virus, Banned int64
	// Logins by protocol (imap, pop3, smtp_auth): successes and failures.
	LoginsOK, LoginsFailed map[string]int64
	// Reads by protocol (imap: bodies fetched, pop3: RETR).
	Reads map[string]int64
	// Users are the accounts with a successful login, by protocol.
	Users map[string]map[string]bool
	// SenderDomains are accepted messages by the sender's domain;
	// RecipientDomains final deliveries (notifications included) by the
	// recipient's domain: count and bytes.
	SenderDomains, RecipientDomains map[string][2]int64
	// Reasons are the grouped reply texts by status (rejected, deferred,
	// bounced) with their counts.
	Reasons map[string]map[string]int64
}

// AllUsers counts the accounts with a successful login over any protocol.
func (t Truth) AllUsers() int {
	all := map[string]bool{}
	for _, us := range t.Users {
		for u := range us {
			all[u] = true
		}
	}
	return len(all)
}

// Accepted is every message accepted from a client.
func (t Truth) Accepted() int64 { return t.Received + t.Sent }

type line struct {
	at   time.Time
	seq  int
	text string
}

type gen struct {
	o     Options
	rng   *rand.Rand
	lines []line
	qid   int
	pid   int
	sess  int
	t     Truth
}

var users = []string{"anna.berg", "bjorn.dahl", "carla.ruiz", "dag.lie", "eva.holm", "finn.aas", "gro.moe", "hans.vik", "ida.strand",
	"jon.bakke", "kari.nord", "lars.sand", "mona.foss", "nils.ek", "ola.hagen", "per.lund", "rita.haug", "siri.dal", "tor.ness", "una.krog"}

var partners = []struct{ host, ip, domain string }{
	{"mail.partner-univ.example", "198.51.100.10", "partner-univ.example"},
	{"smtp.publisher.example", "198.51.100.20", "publisher.example"},
	{"mx.funding.example", "198.51.100.30", "funding.example"},
	{"out.bigmail.example", "203.0.113.40", "bigmail.example"},
}

var remotes = []struct{ mx, ip, domain string }{
	{"mx.partner-univ.example", "198.51.100.11", "partner-univ.example"},
	{"mx.bigmail.example", "203.0.113.41", "bigmail.example"},
	{"mx.research.example", "203.0.113.60", "research.example"},
}

const (
	mx1      = "mx1"
	imapHost = "imap"
	imapIP   = "192.0.2.12"
	domain   = "uni.example"
	departed = "departed.user@uni.example"
	fwdUser  = "alumni.fwd@uni.example"
	fwdTo    = "old.friend@research.example"
)

// Generate writes the month's log and its truth.
func Generate(o Options) ([]byte, Truth) {
	if o.PerDay == 0 {
		o.PerDay = 40
	}
	if o.Volume == nil {
		o.Volume = func(d time.Time) float64 {
			if d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
				return 0.4
			}
			return 1
		}
	}
	g := &gen{o: o, rng: rand.New(rand.NewPCG(o.Seed, 0x6d6f6e7468)), qid: 0x3A00000000, pid: 4000, sess: 1}
	g.t = Truth{Days: o.Days, ReceivedPerDay: map[string]int64{}, SentPerDay: map[string]int64{},
		Flow: map[string]map[string]int64{Outside: {}, Local: {}}, LoginsOK: map[string]int64{}, LoginsFailed: map[string]int64{},
		Reads: map[string]int64{}, Users: map[string]map[string]bool{"imap": {}, "pop3": {}, "smtp_auth": {}},
		SenderDomains: map[string][2]int64{}, RecipientDomains: map[string][2]int64{},
		Reasons: map[string]map[string]int64{"rejected": {}, "deferred": {}, "bounced": {}}}
	days := o.LogDays
	if days == nil {
		for i := range o.Days {
			days = append(days, i)
		}
	}
	for n, i := range days {
		d := o.Start.AddDate(0, 0, i)
		date := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC)
		g.t.DaysWithLogs = append(g.t.DaysWithLogs, date)
		g.day(date, o.Volume(d), n == len(days)-1)
	}
	slices.SortStableFunc(g.lines, func(a, b line) int { return cmp.Or(a.at.Compare(b.at), cmp.Compare(a.seq, b.seq)) })
	var b strings.Builder
	for _, l := range g.lines {
		b.WriteString(l.text)
		b.WriteByte('\n')
	}
	return []byte(b.String()), g.t
}

func (g *gen) emit(at time.Time, host, prog string, pid int, msg string) {
	g.lines = append(g.lines, line{at: at, seq: len(g.lines),
		text: fmt.Sprintf("%s %s %s[%d]: %s", at.UTC().Format("2006-01-02T15:04:05.000000-07:00"), host, prog, pid, msg)})
}

// dovecot lines carry no PID in the program tag.
func (g *gen) dovecot(at time.Time, msg string) {
	g.lines = append(g.lines, line{at: at, seq: len(g.lines),
		text: fmt.Sprintf("%s %s dovecot: %s", at.UTC().Format("2006-01-02T15:04:05.000000-07:00"), imapHost, msg)})
}

func (g *gen) newQID() string { g.qid += 1 + g.rng.IntN(7); return fmt.Sprintf("%X", g.qid) }
func (g *gen) newPID() int    { g.pid += 1 + g.rng.IntN(3); return g.pid }
func (g *gen) newSession() string {
	g.sess++
	return fmt.Sprintf("S%07dxQ/AAIT", g.sess)
}

func domainOf(addr string) string { return addr[strings.LastIndexByte(addr, '@')+1:] }

func (g *gen) countRecipientDomain(rcpt string, size int64) {
	d := strings.ToLower(domainOf(rcpt))
	v := g.t.RecipientDomains[d]
	g.t.RecipientDomains[d] = [2]int64{v[0] + 1, v[1] + size}
}

func (g *gen) reason(status, text string) { g.t.Reasons[status][text]++ }

// day writes one day: mail from outside, from local users, refusals, and
// Dovecot sessions. last marks the last day with logs: a message to a
// slow host is left in the queue at its end.
func (g *gen) day(d time.Time, vol float64, last bool) {
	clock := func() time.Time {
		return d.Add(6*time.Hour + time.Duration(g.rng.Int64N(int64(13*time.Hour))))
	}
	date := d.Format(time.DateOnly)
	nIn := int(float64(g.o.PerDay)*vol*(0.85+0.3*g.rng.Float64()) + 0.5)
	nOut := int(float64(g.o.PerDay)/3*vol*(0.85+0.3*g.rng.Float64()) + 0.5)
	for range nIn {
		g.inbound(clock(), date)
	}
	for range nOut {
		g.outbound(clock(), date)
	}
	if last {
		g.stuck(d.Add(19*time.Hour+50*time.Minute), date)
	}
	for range max(1, int(6*vol)) {
		g.refusals(clock())
	}
	for _, u := range users {
		if g.rng.Float64() < 0.45*vol+0.1 {
			g.imapSession(clock(), u+"@"+domain)
		}
	}
	for _, u := range users[:6] {
		if g.rng.Float64() < 0.5*vol {
			g.pop3Session(clock(), u+"@"+domain)
		}
	}
	if g.rng.Float64() < 0.7 {
		g.failedLogin(clock(), "imap", users[g.rng.IntN(len(users))]+"@"+domain)
	}
	if g.rng.Float64() < 0.3 {
		g.failedLogin(clock(), "pop3", users[g.rng.IntN(6)]+"@"+domain)
	}
}

// session writes an SMTP session's connect line and returns the pid.
func (g *gen) connect(at time.Time, prog, host, ip string) int {
	pid := g.newPID()
	g.emit(at, mx1, prog, pid, fmt.Sprintf("connect from %s[%s]", host, ip))
	return pid
}

func (g *gen) disconnect(at time.Time, prog string, pid int, host, ip, cmds string) {
	g.emit(at, mx1, prog, pid, fmt.Sprintf("disconnect from %s[%s] %s", host, ip, cmds))
}

// accept writes a message's acceptance on mx1: client, cleanup, qmgr.
func (g *gen) accept(at time.Time, prog string, pid int, qid, host, ip, sasl, from, mid string, size int64, nrcpt int) {
	client := fmt.Sprintf("%s: client=%s[%s]", qid, host, ip)
	if sasl != "" {
		client += ", sasl_method=PLAIN, sasl_username=" + sasl
	}
	g.emit(at, mx1, prog, pid, client)
	g.emit(at.Add(2*time.Millisecond), mx1, "postfix/cleanup", g.newPID(), fmt.Sprintf("%s: message-id=<%s>", qid, mid))
	g.emit(at.Add(5*time.Millisecond), mx1, "postfix/qmgr", 1200, fmt.Sprintf("%s: from=<%s>, size=%d, nrcpt=%d (queue active)", qid, from, size, nrcpt))
}

// filter writes the hand-off to amavis and its verdict; for a clean or
// spammy message it returns the re-injected queue ID.
func (g *gen) filter(at time.Time, qid, from, rcpt, mid, clientIP string, size int64, verdict string, originating bool) string {
	g.t.Scanned++
	apid := 3000 + g.rng.IntN(900)
	logID := fmt.Sprintf("(%05d-%02d)", apid, 1+g.rng.IntN(20))
	flags := "{RelayedInbound}"
	orig := ""
	if originating {
		flags, orig = "{RelayedOutbound}", " ORIGINATING LOCAL"
	}
	mailID := fmt.Sprintf("m%011d", g.qid%100000000000)
	switch verdict {
	case "CLEAN", "SPAMMY":
		if verdict == "SPAMMY" {
			g.t.Spam++
		}
		q2 := g.newQID()
		hits := "1.2"
		if verdict == "SPAMMY" {
			hits = "6.4"
		}
		g.emit(at.Add(400*time.Millisecond), mx1, "amavis", apid, fmt.Sprintf("%s Passed %s %s,%s [%s]:%d <%s> -> <%s>, Queue-ID: %s, Message-ID: <%s>, mail_id: %s, Hits: %s, size: %d, queued_as: %s, 402 ms",
			logID, verdict, flags, orig, clientIP, 40000+g.rng.IntN(20000), from, rcpt, qid, mid, mailID, hits, size, q2))
		g.emit(at.Add(410*time.Millisecond), mx1, "postfix/smtp", g.newPID(), fmt.Sprintf("%s: to=<%s>, relay=127.0.0.1[127.0.0.1]:10024, delay=0.41, delays=0.01/0/0/0.4, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as %s)",
			qid, rcpt, q2))
		g.emit(at.Add(411*time.Millisecond), mx1, "postfix/qmgr", 1200, qid+": removed")
		rpid := g.newPID()
		g.emit(at.Add(405*time.Millisecond), mx1, "postfix/smtpd", rpid, fmt.Sprintf("%s: client=localhost[127.0.0.1]", q2))
		g.emit(at.Add(406*time.Millisecond), mx1, "postfix/cleanup", g.newPID(), fmt.Sprintf("%s: message-id=<%s>", q2, mid))
		g.emit(at.Add(407*time.Millisecond), mx1, "postfix/qmgr", 1200, fmt.Sprintf("%s: from=<%s>, size=%d, nrcpt=1 (queue active)", q2, from, size+430))
		return q2
	default: // Blocked: SPAM, INFECTED, BANNED
		detail := ""
		quarantine := "spam-" + mailID + ".gz"
		switch verdict {
		case "SPAM":
			g.t.Spam++
		case "INFECTED":
			g.t.Virus++
			detail, quarantine = " (Eicar-Test-Signature)", "virus-"+mailID
		case "BANNED":
			g.t.Banned++
			detail, quarantine = " (.exe,prize.exe)", "banned-"+mailID
		}
		g.emit(at.Add(400*time.Millisecond), mx1, "amavis", apid, fmt.Sprintf("%s Blocked %s%s {DiscardedInbound,Quarantined}, [%s]:%d <%s> -> <%s>, quarantine: %s, Queue-ID: %s, Message-ID: <%s>, mail_id: %s, Hits: 999, size: %d, 388 ms",
			logID, verdict, detail, clientIP, 40000+g.rng.IntN(20000), from, rcpt, quarantine, qid, mid, mailID, size))
		g.emit(at.Add(410*time.Millisecond), mx1, "postfix/smtp", g.newPID(), fmt.Sprintf("%s: to=<%s>, relay=127.0.0.1[127.0.0.1]:10024, delay=0.4, delays=0.01/0/0/0.39, dsn=2.7.0, status=sent (250 2.7.0 Ok, discarded, id=%s - %s)",
			qid, rcpt, strings.Trim(logID, "()"), verdict))
		g.emit(at.Add(411*time.Millisecond), mx1, "postfix/qmgr", 1200, qid+": removed")
		return ""
	}
}

func (g *gen) lmtpSent(at time.Time, qid, rcpt string, size int64) {
	g.emit(at, mx1, "postfix/lmtp", g.newPID(), fmt.Sprintf("%s: to=<%s>, relay=%s.%s[%s]:24, delay=0.07, delays=0.01/0.01/0.04/0.01, dsn=2.0.0, status=sent (250 2.0.0 <%s> Xq8%06d Saved)",
		qid, rcpt, imapHost, domain, imapIP, rcpt, g.rng.IntN(1000000)))
	g.emit(at.Add(time.Millisecond), mx1, "postfix/qmgr", 1200, qid+": removed")
	g.countRecipientDomain(rcpt, size)
}

func (g *gen) smtpSent(at time.Time, qid, rcpt, orig string, size int64) {
	r := remotes[0]
	for _, x := range remotes {
		if x.domain == domainOf(rcpt) {
			r = x
		}
	}
	o := ""
	if orig != "" {
		o = ", orig_to=<" + orig + ">"
	}
	g.emit(at, mx1, "postfix/smtp", g.newPID(), fmt.Sprintf("%s: to=<%s>%s, relay=%s[%s]:25, delay=0.3, delays=0.01/0.01/0.1/0.18, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as R%07d)",
		qid, rcpt, o, r.mx, r.ip, g.rng.IntN(10000000)))
	g.emit(at.Add(time.Millisecond), mx1, "postfix/qmgr", 1200, qid+": removed")
	g.countRecipientDomain(rcpt, size)
}

// notify writes Postfix's non-delivery notification of qid to sender: a
// message Postfix made, not one a client handed over.
func (g *gen) notify(at time.Time, qid, sender string) {
	nq := g.newQID()
	g.emit(at, mx1, "postfix/bounce", g.newPID(), fmt.Sprintf("%s: sender non-delivery notification: %s", qid, nq))
	g.emit(at.Add(time.Millisecond), mx1, "postfix/cleanup", g.newPID(), fmt.Sprintf("%s: message-id=<%s.%s@mx1.%s>", nq, at.Format("20060102150405"), nq, domain))
	g.emit(at.Add(2*time.Millisecond), mx1, "postfix/qmgr", 1200, fmt.Sprintf("%s: from=<>, size=3100, nrcpt=1 (queue active)", nq))
	if domainOf(sender) == domain {
		g.lmtpSent(at.Add(50*time.Millisecond), nq, sender, 3100)
	} else {
		g.smtpSent(at.Add(50*time.Millisecond), nq, sender, "", 3100)
	}
}

// inbound is a message from a partner to a local user: most are clean and
// delivered, some forwarded, spam, viruses, banned attachments, one for a
// departed user that bounces.
func (g *gen) inbound(at time.Time, date string) {
	p := partners[g.rng.IntN(len(partners))]
	from := fmt.Sprintf("%s%d@%s", []string{"info", "news", "prof", "office"}[g.rng.IntN(4)], g.rng.IntN(9), p.domain)
	rcpt := users[g.rng.IntN(len(users))] + "@" + domain
	size := int64(2000 + g.rng.IntN(60000))
	mid := fmt.Sprintf("%d.%d@%s", at.UnixMicro(), g.qid, p.domain)
	roll := g.rng.Float64()
	verdict, outcome := "CLEAN", "delivered_local"
	switch {
	case roll < 0.05:
		verdict, outcome = "SPAM", "blocked"
	case roll < 0.07:
		verdict, outcome = "INFECTED", "blocked"
	case roll < 0.08:
		verdict, outcome = "BANNED", "blocked"
	case roll < 0.14:
		verdict = "SPAMMY"
	case roll < 0.20:
		rcpt, outcome = fwdUser, "delivered_remote"
	case roll < 0.22:
		rcpt, outcome = departed, "bounced"
	}
	pid := g.connect(at.Add(-50*time.Millisecond), "postfix/smtpd", p.host, p.ip)
	// postgrey is asked at RCPT: a known partner passes.
	g.emit(at.Add(-20*time.Millisecond), mx1, "postgrey", 900, fmt.Sprintf("action=pass, reason=triplet found, client_name=%s, client_address=%s, sender=%s, recipient=%s",
		p.host, p.ip, from, rcpt))
	qid := g.newQID()
	g.accept(at, "postfix/smtpd", pid, qid, p.host, p.ip, "", from, mid, size, 1)
	g.disconnect(at.Add(20*time.Millisecond), "postfix/smtpd", pid, p.host, p.ip, "ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5")
	g.t.Received++
	g.t.ReceivedBytes += size
	g.t.ReceivedPerDay[date]++
	g.t.Flow[Outside][outcome]++
	sd := g.t.SenderDomains[p.domain]
	g.t.SenderDomains[p.domain] = [2]int64{sd[0] + 1, sd[1] + size}
	q2 := g.filter(at, qid, from, rcpt, mid, p.ip, size, verdict, false)
	if q2 == "" {
		return
	}
	done := at.Add(500 * time.Millisecond)
	switch outcome {
	case "delivered_local":
		g.lmtpSent(done, q2, rcpt, size)
	case "delivered_remote":
		g.t.TrafficOut += size
		g.smtpSent(done, q2, fwdTo, fwdUser, size)
	case "bounced":
		g.emit(done, mx1, "postfix/lmtp", g.newPID(), fmt.Sprintf("%s: to=<%s>, relay=%s.%s[%s]:24, delay=0.09, delays=0.02/0.01/0/0.06, dsn=5.1.1, status=bounced (host %s.%s[%s] said: 550 5.1.1 <%s> User doesn't exist: %s (in reply to RCPT TO command))",
			q2, departed, imapHost, domain, imapIP, imapHost, domain, imapIP, departed, departed))
		g.reason("bounced", fmt.Sprintf("host %s.%s[IP] said: 550 5.1.1 <address> User doesn't exist: %s (in reply to RCPT TO command)", imapHost, domain, departed))
		g.notify(done.Add(10*time.Millisecond), q2, from)
		g.emit(done.Add(20*time.Millisecond), mx1, "postfix/qmgr", 1200, q2+": removed")
	}
}

// outbound is a message a local user submits: to a remote host, to a
// colleague, deferred twice before delivery, or bounced by the remote.
func (g *gen) outbound(at time.Time, date string) {
	u := users[g.rng.IntN(len(users))]
	from := u + "@" + domain
	ip := fmt.Sprintf("10.20.%d.%d", g.rng.IntN(4), 10+g.rng.IntN(200))
	host := "vpn-" + strings.ReplaceAll(ip, ".", "-") + ".vpn." + domain
	size := int64(1500 + g.rng.IntN(40000))
	mid := fmt.Sprintf("%d.%d@%s", at.UnixMicro(), g.qid, domain)
	roll := g.rng.Float64()
	r := remotes[g.rng.IntN(len(remotes))]
	rcpt := "contact" + fmt.Sprint(g.rng.IntN(5)) + "@" + r.domain
	outcome := "delivered_remote"
	switch {
	case roll < 0.25:
		rcpt, outcome = users[g.rng.IntN(len(users))]+"@"+domain, "delivered_local"
	case roll < 0.30:
		rcpt, outcome = "someone@slow.example", "delivered_remote_late"
	case roll < 0.33:
		rcpt, outcome = "nobody@closed.example", "bounced"
	}
	pid := g.connect(at.Add(-100*time.Millisecond), "postfix/submission/smtpd", host, ip)
	qid := g.newQID()
	g.accept(at, "postfix/submission/smtpd", pid, qid, host, ip, from, from, mid, size, 1)
	g.disconnect(at.Add(20*time.Millisecond), "postfix/submission/smtpd", pid, host, ip, "ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=8")
	g.t.Sent++
	g.t.SentBytes += size
	g.t.SentPerDay[date]++
	g.t.LoginsOK["smtp_auth"]++
	g.t.Users["smtp_auth"][from] = true
	sd := g.t.SenderDomains[domain]
	g.t.SenderDomains[domain] = [2]int64{sd[0] + 1, sd[1] + size}
	q2 := g.filter(at, qid, from, rcpt, mid, ip, size, "CLEAN", true)
	done := at.Add(500 * time.Millisecond)
	switch outcome {
	case "delivered_local":
		g.t.Flow[Local]["delivered_local"]++
		g.lmtpSent(done, q2, rcpt, size)
	case "delivered_remote":
		g.t.Flow[Local]["delivered_remote"]++
		g.t.TrafficOut += size
		g.smtpSent(done, q2, rcpt, "", size)
	case "delivered_remote_late":
		g.t.Flow[Local]["delivered_remote"]++
		g.t.TrafficOut += size
		for i := range 2 {
			g.emit(done.Add(time.Duration(i)*30*time.Second), mx1, "postfix/smtp", g.newPID(), fmt.Sprintf("%s: to=<%s>, relay=mx.slow.example[203.0.113.50]:25, delay=%d, delays=0.01/0/0.1/0.1, dsn=4.7.1, status=deferred (host mx.slow.example[203.0.113.50] said: 451 4.7.1 Try again later (in reply to RCPT TO command))",
				q2, rcpt, 1+i*30))
			g.reason("deferred", "host mx.slow.example[IP] said: 451 4.7.1 Try again later (in reply to RCPT TO command)")
		}
		g.emit(done.Add(70*time.Second), mx1, "postfix/smtp", g.newPID(), fmt.Sprintf("%s: to=<%s>, relay=mx.slow.example[203.0.113.50]:25, delay=70, delays=69/0/0.1/0.1, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as L%06d)",
			q2, rcpt, g.rng.IntN(1000000)))
		g.emit(done.Add(70*time.Second+time.Millisecond), mx1, "postfix/qmgr", 1200, q2+": removed")
		g.countRecipientDomain(rcpt, size)
	case "bounced":
		g.t.Flow[Local]["bounced"]++
		g.t.TrafficOut += size
		g.emit(done, mx1, "postfix/smtp", g.newPID(), fmt.Sprintf("%s: to=<%s>, relay=mx.closed.example[203.0.113.70]:25, delay=0.07, delays=0.01/0/0.04/0.02, dsn=5.1.1, status=bounced (host mx.closed.example[203.0.113.70] said: 550 5.1.1 Mailbox unavailable (in reply to RCPT TO command))",
			q2, rcpt))
		g.reason("bounced", "host mx.closed.example[IP] said: 550 5.1.1 Mailbox unavailable (in reply to RCPT TO command)")
		g.notify(done.Add(10*time.Millisecond), q2, from)
		g.emit(done.Add(20*time.Millisecond), mx1, "postfix/qmgr", 1200, q2+": removed")
	}
}

// stuck is a message to a host that answers 451 until the log ends: it is
// still queued when the month's log ends.
func (g *gen) stuck(at time.Time, date string) {
	from := users[0] + "@" + domain
	size := int64(4321)
	ip := "10.20.0.99"
	host := "vpn-10-20-0-99.vpn." + domain
	mid := fmt.Sprintf("stuck.%d@%s", at.Unix(), domain)
	pid := g.connect(at.Add(-100*time.Millisecond), "postfix/submission/smtpd", host, ip)
	qid := g.newQID()
	g.accept(at, "postfix/submission/smtpd", pid, qid, host, ip, from, from, mid, size, 1)
	g.disconnect(at.Add(20*time.Millisecond), "postfix/submission/smtpd", pid, host, ip, "ehlo=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=6")
	g.t.Sent++
	g.t.SentBytes += size
	g.t.SentPerDay[date]++
	g.t.LoginsOK["smtp_auth"]++
	g.t.Users["smtp_auth"][from] = true
	g.t.TrafficOut += size
	sd := g.t.SenderDomains[domain]
	g.t.SenderDomains[domain] = [2]int64{sd[0] + 1, sd[1] + size}
	g.t.Flow[Local]["queued"]++
	q2 := g.filter(at, qid, from, "someone@slow.example", mid, ip, size, "CLEAN", true)
	g.emit(at.Add(time.Second), mx1, "postfix/smtp", g.newPID(), fmt.Sprintf("%s: to=<someone@slow.example>, relay=mx.slow.example[203.0.113.50]:25, delay=1, delays=0.01/0/0.1/0.1, dsn=4.7.1, status=deferred (host mx.slow.example[203.0.113.50] said: 451 4.7.1 Try again later (in reply to RCPT TO command))", q2))
	g.reason("deferred", "host mx.slow.example[IP] said: 451 4.7.1 Try again later (in reply to RCPT TO command)")
}

// refusals writes a session of refused recipients: an unknown user, a
// relay attempt, a greylisted triplet, and sometimes a header check.
func (g *gen) refusals(at time.Time) {
	host, ip := "unknown", fmt.Sprintf("203.0.113.%d", 100+g.rng.IntN(100))
	pid := g.connect(at, "postfix/smtpd", host, ip)
	from := fmt.Sprintf("winner%d@lottery.example", g.rng.IntN(50))
	switch g.rng.IntN(4) {
	case 3:
		// header_checks refuses the message after its data: it has a queue
		// ID but is not accepted.
		rcpt := users[g.rng.IntN(len(users))] + "@" + domain
		qid := g.newQID()
		g.emit(at.Add(10*time.Millisecond), mx1, "postfix/smtpd", pid, fmt.Sprintf("%s: client=%s[%s]", qid, host, ip))
		g.emit(at.Add(15*time.Millisecond), mx1, "postfix/cleanup", g.newPID(), fmt.Sprintf("%s: reject: header Subject: make money fast from %s[%s]; from=<%s> to=<%s> proto=ESMTP helo=<bot.example>: 5.7.1 Spam not accepted",
			qid, host, ip, from, rcpt))
		g.t.RefusedChecks++
		g.reason("rejected", "Subject: make money fast: Spam not accepted")
	case 0:
		rcpt := fmt.Sprintf("nosuch%d@%s", g.rng.IntN(100), domain)
		g.emit(at.Add(10*time.Millisecond), mx1, "postfix/smtpd", pid, fmt.Sprintf("NOQUEUE: reject: RCPT from %s[%s]: 550 5.1.1 <%s>: Recipient address rejected: User unknown in virtual mailbox table; from=<%s> to=<%s> proto=ESMTP helo=<bot.example>",
			host, ip, rcpt, from, rcpt))
		g.t.RefusedPermanent++
		g.reason("rejected", "Recipient address rejected: User unknown in virtual mailbox table")
	case 1:
		rcpt := fmt.Sprintf("target%d@elsewhere.example", g.rng.IntN(100))
		g.emit(at.Add(10*time.Millisecond), mx1, "postfix/smtpd", pid, fmt.Sprintf("NOQUEUE: reject: RCPT from %s[%s]: 554 5.7.1 <%s>: Relay access denied; from=<%s> to=<%s> proto=ESMTP helo=<bot.example>",
			host, ip, rcpt, from, rcpt))
		g.t.RefusedPermanent++
		g.reason("rejected", "Relay access denied")
	default:
		rcpt := users[g.rng.IntN(len(users))] + "@" + domain
		g.emit(at.Add(8*time.Millisecond), mx1, "postgrey", 900, fmt.Sprintf("action=greylist, reason=new, client_name=%s, client_address=%s, sender=%s, recipient=%s", host, ip, from, rcpt))
		g.emit(at.Add(10*time.Millisecond), mx1, "postfix/smtpd", pid, fmt.Sprintf("NOQUEUE: reject: RCPT from %s[%s]: 450 4.2.0 <%s>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/%s.html; from=<%s> to=<%s> proto=ESMTP helo=<bot.example>",
			host, ip, rcpt, domain, from, rcpt))
		g.t.RefusedTemporary++
		g.t.Greylisted++
		g.reason("rejected", "Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/…")
	}
	g.disconnect(at.Add(30*time.Millisecond), "postfix/smtpd", pid, host, ip, "ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4")
}

// imapSession is a user's IMAP session that reads some messages.
func (g *gen) imapSession(at time.Time, user string) {
	s := g.newSession()
	mpid := g.newPID()
	rip := fmt.Sprintf("10.30.%d.%d", g.rng.IntN(4), 10+g.rng.IntN(200))
	g.dovecot(at, fmt.Sprintf("imap-login: Login: user=<%s>, method=PLAIN, rip=%s, lip=%s, mpid=%d, TLS, session=<%s>", user, rip, imapIP, mpid, s))
	reads := int64(g.rng.IntN(6))
	bytes := reads * int64(3000+g.rng.IntN(20000))
	end := at.Add(time.Duration(5+g.rng.IntN(600)) * time.Second)
	if g.rng.IntN(5) == 0 {
		g.dovecot(end, fmt.Sprintf("imap(%s)<%d><%s>: Disconnected: Connection closed (FETCH finished 0.004 secs ago) in=141 out=%d deleted=0 expunged=0 trashed=0 hdr_count=%d hdr_bytes=%d body_count=%d body_bytes=%d",
			user, mpid, s, bytes+800, reads+1, 100*(reads+1), reads, bytes))
	} else {
		g.dovecot(end, fmt.Sprintf("imap(%s)<%d><%s>: Disconnected: Logged out in=126 out=%d deleted=0 expunged=0 trashed=0 hdr_count=%d hdr_bytes=%d body_count=%d body_bytes=%d",
			user, mpid, s, bytes+800, reads+1, 100*(reads+1), reads, bytes))
	}
	g.t.LoginsOK["imap"]++
	g.t.Users["imap"][user] = true
	g.t.Reads["imap"] += reads
}

// pop3Session is a user's POP3 session that retrieves some messages.
func (g *gen) pop3Session(at time.Time, user string) {
	s := g.newSession()
	mpid := g.newPID()
	rip := fmt.Sprintf("10.40.%d.%d", g.rng.IntN(4), 10+g.rng.IntN(200))
	g.dovecot(at, fmt.Sprintf("pop3-login: Login: user=<%s>, method=PLAIN, rip=%s, lip=%s, mpid=%d, TLS, session=<%s>", user, rip, imapIP, mpid, s))
	retr := int64(g.rng.IntN(8))
	size := retr * int64(2000+g.rng.IntN(9000))
	g.dovecot(at.Add(time.Duration(2+g.rng.IntN(60))*time.Second), fmt.Sprintf("pop3(%s)<%d><%s>: Disconnected: Logged out top=0/0, retr=%d/%d, del=%d/%d, size=%d",
		user, mpid, s, retr, size+17*retr, retr, retr+3, size))
	g.t.LoginsOK["pop3"]++
	g.t.Users["pop3"][user] = true
	g.t.Reads["pop3"] += retr
}

// failedLogin is one mistyped password: Dovecot's passdb line with the
// session, and the login process giving up.
func (g *gen) failedLogin(at time.Time, service, user string) {
	s := g.newSession()
	rip := fmt.Sprintf("10.50.%d.%d", g.rng.IntN(4), 10+g.rng.IntN(200))
	g.dovecot(at, fmt.Sprintf("auth: passwd-file(%s,%s,<%s>): Password mismatch", user, rip, s))
	g.dovecot(at.Add(2*time.Second), fmt.Sprintf("%s-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<%s>, method=PLAIN, rip=%s, lip=%s, TLS, session=<%s>",
		service, user, rip, imapIP, s))
	g.t.LoginsFailed[service]++
}
