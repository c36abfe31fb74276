package abusedetect

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/collectors/logparse"
)

// observeState is what Observe keeps across lines: which account an smtpd
// session or a client address authenticated as (to name the account of a
// rate-limit warning), the submitted messages waiting for their recipient
// count, and the Dovecot login sessions' failures. Everything is dropped a
// window after it was last needed. What it keeps from a line is copied,
// except a Frame's Host and Program: those are the Framer's own copies,
// never views of the line (logparse.Framer.Frame), and the correlator keeps
// them as they are too.
type observeState struct {
	sessions map[sessionKey]*sessionInfo
	byIP     map[[2]string]*ipInfo // host, client address → account
	queued   map[[2]string]*queuedInfo
	dovecot  map[[2]string]*dovecotInfo
	// the last second stamped for evidence (the lines of a second are
	// stamped alike)
	stampSec int64
	stampLoc *time.Location
	stampStr string
}

type sessionKey struct {
	host, program string
	pid           int
}

type sessionInfo struct {
	user    string
	at      time.Time
	counted bool // the session's login was counted
}

type ipInfo struct {
	user string
	at   time.Time
}

type queuedInfo struct {
	user, ip string
	at       time.Time
	held     bool
}

type dovecotInfo struct {
	failures int
	at       time.Time
}

func (o *observeState) init() {
	o.sessions = map[sessionKey]*sessionInfo{}
	o.byIP = map[[2]string]*ipInfo{}
	o.queued = map[[2]string]*queuedInfo{}
	o.dovecot = map[[2]string]*dovecotInfo{}
}

// sweep forgets what was last needed more than a window before t.
func (o *observeState) sweep(t time.Time, win time.Duration) {
	for k, s := range o.sessions {
		if t.Sub(s.at) > win {
			delete(o.sessions, k)
		}
	}
	for k, s := range o.byIP {
		if t.Sub(s.at) > win {
			delete(o.byIP, k)
		}
	}
	for k, s := range o.queued {
		if t.Sub(s.at) > win {
			delete(o.queued, k)
		}
	}
	for k, s := range o.dovecot {
		if t.Sub(s.at) > win {
			delete(o.dovecot, k)
		}
	}
}

// evidence is a log line as it was logged, with its time in its zone.
func (o *observeState) evidence(f logparse.Frame) string {
	if sec, loc := f.Time.Unix(), f.Time.Location(); o.stampStr == "" || sec != o.stampSec || loc != o.stampLoc {
		o.stampSec, o.stampLoc, o.stampStr = sec, loc, stamp(f.Time)
	}
	var b strings.Builder
	b.Grow(len(f.Message) + len(f.Program) + len(f.Host) + 40)
	b.WriteString(o.stampStr)
	b.WriteByte(' ')
	if f.Host != "" {
		b.WriteString(f.Host)
		b.WriteByte(' ')
	}
	b.WriteString(f.Program)
	if f.PID > 0 {
		b.WriteByte('[')
		b.WriteString(strconv.Itoa(f.PID))
		b.WriteByte(']')
	}
	b.WriteString(": ")
	b.WriteString(f.Message)
	return b.String()
}

// Observe feeds one parsed log event. The pipeline calls it for every
// event, in the order of the merged input, for an import and for the
// live tail alike; events that say nothing about logins or submissions
// return at once. What it reads:
//
//   - logins: Dovecot's "Login:" lines and its passdb failures of a login
//     session (auth_verbose; without them, the "auth failed, N attempts"
//     of the session's end), Postfix's "SASL … authentication failed",
//     the first "client=…, sasl_username=" of an smtpd session, webmail
//     sign-ins. Dovecot's passdb failures without a session are Postfix's
//     SMTP AUTH (counted from Postfix's own line) or LMTP's user lookups,
//     and are not logins.
//   - submissions: every "client=…, sasl_username=" line (one message),
//     its recipient count from the queue manager's "nrcpt=", a hold by
//     header_checks (a mass mailing that waits for review); Exim's "<="
//     arrivals with A=.
//   - policy: smtpd's anvil warnings ("Message delivery request rate
//     limit exceeded", whose client got "450 4.7.1 Error: too much mail")
//     and rejects whose reason is a rate limit or a policy (a policy
//     service's "Rate limit exceeded", "Sender address rejected: not
//     owned by user"); each is named with the account the client
//     address last authenticated as, when it did within the window.
func (d *Detector) Observe(ctx context.Context, ev logparse.Event) {
	switch ev.Kind() {
	case logparse.KindDovecotAuthFailure, logparse.KindDovecotLogin, logparse.KindDovecotLoginEnd,
		logparse.KindSASLFailure, logparse.KindSmtpdClient, logparse.KindSmtpdConnect, logparse.KindSmtpdDisconnect,
		logparse.KindQmgrQueued, logparse.KindReject, logparse.KindRateLimit, logparse.KindRoundcubeLogin,
		logparse.KindEximArrival:
	default:
		return
	}
	d.mu.Lock()
	if d.o.Config.Enabled {
		d.observe(ctx, ev)
	}
	dirty := len(d.known.dirty)
	d.mu.Unlock()
	d.syncIfFull(ctx, dirty)
}

func (d *Detector) observe(ctx context.Context, ev logparse.Event) {
	o := &d.obs
	win := d.o.Config.Window
	switch e := ev.(type) {
	case *logparse.DovecotAuthFailure:
		if e.Session == "" {
			return
		}
		k := [2]string{e.Host, e.Session}
		if di := o.dovecot[k]; di != nil {
			di.failures++
			di.at = e.Time
		} else if len(o.dovecot) < maxKeys {
			o.dovecot[[2]string{e.Host, strings.Clone(e.Session)}] = &dovecotInfo{failures: 1, at: e.Time}
		}
		d.auth(ctx, Login{At: e.Time, Node: e.Host, Service: "dovecot", User: e.User, IP: e.RemoteIP, Evidence: o.evidence(e.Frame)})
	case *logparse.DovecotLoginEnd:
		k := [2]string{e.Host, e.Session}
		seen := 0
		if di := o.dovecot[k]; di != nil {
			seen = di.failures
			delete(o.dovecot, k)
		}
		// without auth_verbose the session's end is the only word of its
		// failed attempts
		if e.AuthFailed && e.Attempts > seen {
			ev := o.evidence(e.Frame)
			for range e.Attempts - seen {
				d.auth(ctx, Login{At: e.Time, Node: e.Host, Service: e.Service, User: e.User, IP: e.RemoteIP, Evidence: ev})
			}
		}
	case *logparse.DovecotLogin:
		delete(o.dovecot, [2]string{e.Host, e.Session})
		d.auth(ctx, Login{At: e.Time, Node: e.Host, Service: e.Service, User: e.User, IP: e.RemoteIP, OK: true, Evidence: o.evidence(e.Frame)})
	case *logparse.RoundcubeLogin:
		d.auth(ctx, Login{At: e.Time, Node: e.Host, Service: "webmail", User: e.User, IP: e.RemoteIP, OK: e.OK, Evidence: o.evidence(e.Frame)})
	case *logparse.SASLFailure:
		svc, _ := logparse.SplitPostfixTag(e.Program)
		d.auth(ctx, Login{At: e.Time, Node: e.Host, Service: svc, User: e.Username, IP: e.ClientIP, Evidence: o.evidence(e.Frame)})
	case *logparse.SmtpdConnect:
		delete(o.sessions, sessionKey{e.Host, e.Program, e.PID})
	case *logparse.SmtpdDisconnect:
		delete(o.sessions, sessionKey{e.Host, e.Program, e.PID})
	case *logparse.SmtpdClient:
		user := logparse.AccountName(e.SASLUsername)
		qk := [2]string{e.Host, e.QueueID}
		if user == "" {
			return
		}
		if len(o.queued) < maxKeys {
			o.queued[[2]string{qk[0], strings.Clone(qk[1])}] = &queuedInfo{user: strings.Clone(user), ip: strings.Clone(e.ClientIP), at: e.Time}
		}
		ev := o.evidence(e.Frame)
		sk := sessionKey{e.Host, e.Program, e.PID}
		s := o.sessions[sk]
		if s == nil && len(o.sessions) < maxKeys {
			s = &sessionInfo{user: strings.Clone(user)}
			o.sessions[sessionKey{e.Host, e.Program, e.PID}] = s
		}
		if s != nil {
			s.at = e.Time
		}
		o.rememberIP(e.Host, e.ClientIP, user, e.Time)
		if s != nil && !s.counted {
			// the session's AUTH: a login from this address
			s.counted = true
			svc, _ := logparse.SplitPostfixTag(e.Program)
			d.auth(ctx, Login{At: e.Time, Node: e.Host, Service: svc, User: user, IP: e.ClientIP, OK: true, Evidence: ev})
		}
		d.submission(ctx, submission{at: e.Time, node: e.Host, user: user, ip: e.ClientIP, evidence: ev})
	case *logparse.QmgrQueued:
		qk := [2]string{e.Host, e.QueueID}
		q := o.queued[qk]
		if q == nil {
			return
		}
		delete(o.queued, qk)
		d.recipients(ctx, recipients{at: e.Time, node: e.Host, user: q.user, ip: q.ip, n: e.NRcpt, held: q.held,
			what: e.QueueID, evidence: o.evidence(e.Frame)})
	case *logparse.Reject:
		if e.QueueID != "" && e.Action == "hold" {
			if q := o.queued[[2]string{e.Host, e.QueueID}]; q != nil {
				q.held = true
			}
			return
		}
		if !policyReason(e.Reason) {
			return
		}
		switch e.Action {
		case "reject", "defer", "defer_if_permit", "milter-reject":
		default:
			return
		}
		user := o.accountOf(e.Host, e.Program, e.PID, e.ClientIP, e.Time, win)
		if user == "" {
			if svc, _ := logparse.SplitPostfixTag(e.Program); svc != "smtpd" && svc != "postscreen" && svc != "" {
				user = logparse.AccountName(e.From) // a submission service: the sender is the account's address
			}
		}
		d.policyReject(ctx, policyReject{at: e.Time, node: e.Host, user: user, ip: e.ClientIP, what: e.Reason, evidence: o.evidence(e.Frame)})
	case *logparse.RateLimit:
		user := o.accountOf(e.Host, e.Program, e.PID, e.ClientIP, e.Time, win)
		ev := o.evidence(e.Frame)
		d.policyReject(ctx, policyReject{at: e.Time, node: e.Host, user: user, ip: e.ClientIP, what: e.Limit + " limit", evidence: ev})
		if user != "" && (strings.HasPrefix(e.Limit, "Message delivery") || strings.HasPrefix(e.Limit, "Recipient address")) {
			// a message the account tried to send and the limit refused
			d.submission(ctx, submission{at: e.Time, node: e.Host, user: user, ip: e.ClientIP, evidence: ev, attempted: true})
		}
	case *logparse.EximArrival:
		user := logparse.AccountName(e.AuthUser)
		if user == "" {
			return
		}
		ev := o.evidence(e.Frame)
		o.rememberIP(e.Host, e.ClientIP, user, e.Time)
		sk := sessionKey{e.Host, "exim " + e.ClientIP + ":" + strconv.Itoa(e.ClientPort), 0}
		s := o.sessions[sk]
		if s == nil && len(o.sessions) < maxKeys {
			s = &sessionInfo{user: strings.Clone(user)}
			o.sessions[sessionKey{sk.host, sk.program, 0}] = s
		}
		if s != nil {
			s.at = e.Time
			if !s.counted {
				s.counted = true
				d.auth(ctx, Login{At: e.Time, Node: e.Host, Service: "smtp", User: user, IP: e.ClientIP, OK: true, Evidence: ev})
			}
		}
		d.submission(ctx, submission{at: e.Time, node: e.Host, user: user, ip: e.ClientIP, evidence: ev})
		d.recipients(ctx, recipients{at: e.Time, node: e.Host, user: user, ip: e.ClientIP, n: len(e.Recipients),
			what: e.ID, evidence: ev})
	}
}

func (o *observeState) rememberIP(host, ip, user string, t time.Time) {
	if ip == "" {
		return
	}
	k := [2]string{host, ip}
	if x := o.byIP[k]; x != nil {
		if x.user != user {
			x.user = strings.Clone(user)
		}
		x.at = t
		return
	}
	if len(o.byIP) < maxKeys {
		o.byIP[[2]string{host, strings.Clone(ip)}] = &ipInfo{user: strings.Clone(user), at: t}
	}
}

// accountOf names the account an smtpd process's session, or else its
// client address, authenticated as within the window.
func (o *observeState) accountOf(host, program string, pid int, ip string, t time.Time, win time.Duration) string {
	if s := o.sessions[sessionKey{host, program, pid}]; s != nil && t.Sub(s.at) <= win {
		return s.user
	}
	if x := o.byIP[[2]string{host, ip}]; x != nil && t.Sub(x.at) <= win && !t.Before(x.at.Add(-time.Minute)) {
		return x.user
	}
	return ""
}

// lowerASCII maps A–Z to a–z and every other byte to itself.
var lowerASCII = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if 'A' <= i && i <= 'Z' {
			t[i] += 'a' - 'A'
		}
	}
	return t
}()

// policyReason reports whether a reject's text is a rate limit or a
// sending policy (greylisting is neither: it asks every new sender to
// retry).
func policyReason(reason string) bool {
	// greylisting is most rejects, logged "Greylisted": found as it is, by
	// its rarer 'y' (the same answer as below, without lower-casing the
	// line)
	for r := reason; ; {
		i := strings.IndexByte(r, 'y')
		if i < 0 {
			break
		}
		if i >= 3 && (r[i-3] == 'g' || r[i-3] == 'G') && r[i-2:i] == "re" && strings.HasPrefix(r[i+1:], "list") {
			return false
		}
		r = r[i+1:]
	}
	// lower-cased into a buffer on the stack, not a copy on the heap: this
	// runs on every reject line
	var buf [512]byte
	r := buf[:0]
	if len(reason) > len(buf) {
		r = make([]byte, 0, len(reason))
	}
	r = append(r, reason...)
	for i, c := range r {
		r[i] = lowerASCII[c] // a table, not a branch on every byte
	}
	if bytes.Contains(r, []byte("greylist")) {
		return false
	}
	for _, w := range [...]string{"rate limit", "ratelimit", "too much mail", "too many", "limit exceeded", "quota exceeded",
		"throttl", "not owned by user", "policy"} {
		if bytes.Contains(r, []byte(w)) {
			return true
		}
	}
	return false
}
