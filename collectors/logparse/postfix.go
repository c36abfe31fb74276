package logparse

import (
	"strings"
)

// SplitPostfixTag splits a Postfix program tag into its service and daemon:
// "postfix/smtpd" → ("smtpd", "smtpd"), "postfix/submission/smtpd" →
// ("submission", "smtpd"). The daemon is the last path element, the service
// is the master.cf service name set through syslog_name, or the daemon.
func SplitPostfixTag(program string) (service, daemon string) {
	i := strings.IndexByte(program, '/')
	if i < 0 {
		return program, program
	}
	rest := program[i+1:]
	j := strings.LastIndexByte(rest, '/')
	if j < 0 {
		return rest, rest
	}
	return rest[:j], rest[j+1:]
}

// ParsePostfix parses a line whose program tag is a Postfix daemon. It
// dispatches on the daemon first, so a shape is only recognised from the
// daemon that writes it: a delivery status is only read from delivery
// agents, a reject only from smtpd, postscreen, cleanup or a milter line.
func ParsePostfix(f Frame) Event { return parsePostfix(nil, f) }

func parsePostfix(a *Arena, f Frame) Event {
	_, daemon := SplitPostfixTag(f.Program)
	m := f.Message
	if ev := postfixSeverity(a, f, daemon, m); ev != nil {
		return ev
	}
	switch daemon {
	case "smtpd":
		return parseSmtpd(a, f, m)
	case "cleanup":
		return parseCleanup(a, f, m)
	case "qmgr", "nqmgr":
		return parseQmgr(a, f, m)
	case "smtp", "lmtp", "local", "virtual", "pipe", "error", "retry", "discard", "relay":
		return parseAgent(a, f, daemon, m)
	case "bounce", "defer", "trace":
		return parseBounce(a, f, m)
	case "pickup":
		return parsePickup(a, f, m)
	case "postscreen":
		return parsePostscreen(a, f, m)
	case "postsuper":
		if qid, rest, ok := cutQueueID(m); ok {
			if rest == "removed" {
				return a.removed(QmgrRemoved{Frame: f, QueueID: qid})
			}
			return notice(a, f, qid, rest)
		}
		return notice(a, f, "", m)
	case "master", "postfix-script", "postlogd", "anvil", "scache", "tlsmgr",
		"dnsblog", "tlsproxy", "verify", "trivial-rewrite", "proxymap", "postqueue",
		"sendmail", "postdrop", "flush", "showq", "postmulti", "postlog":
		return notice(a, f, "", m)
	}
	return a.unknown(Unknown{Frame: f})
}

// postfixSeverity handles "warning: …", "error: …", "fatal: …" and
// "panic: …" lines (msg(3) severities), which every daemon can write.
func postfixSeverity(a *Arena, f Frame, daemon, m string) Event {
	var sev string
	switch {
	case strings.HasPrefix(m, "warning: "):
		sev, m = "warning", m[len("warning: "):]
	case strings.HasPrefix(m, "error: "):
		sev, m = "error", m[len("error: "):]
	case strings.HasPrefix(m, "fatal: "):
		sev, m = "fatal", m[len("fatal: "):]
	case strings.HasPrefix(m, "panic: "):
		sev, m = "panic", m[len("panic: "):]
	default:
		return nil
	}
	qid, rest, hasQID := cutQueueID(m)
	if hasQID && rest == "queue file size limit exceeded" {
		return &SizeLimitExceeded{Frame: f, QueueID: qid}
	}
	if sev == "warning" && daemon == "smtpd" {
		// "name[ip]: SASL LOGIN authentication failed: reason, sasl_username=u"
		if name, ip, _, r, ok := hostIP(m); ok && strings.HasPrefix(r, ": SASL ") {
			r = r[len(": SASL "):]
			if sp := strings.IndexByte(r, ' '); sp > 0 && strings.HasPrefix(r[sp:], " authentication failed") {
				ev := &SASLFailure{Frame: f, ClientName: name, ClientIP: ip, Method: r[:sp]}
				r = strings.TrimPrefix(r[sp+len(" authentication failed"):], ": ")
				// smtpd_sasl_glue.c: "…: %s, sasl_username=%s" with the reply
				// of the SASL server first and the name the client gave
				// last, "(unavailable)" when it gave none: the first
				// ", sasl_username=" is Postfix's own
				if i := strings.Index(r, ", sasl_username="); i >= 0 {
					ev.Username = AccountName(r[i+len(", sasl_username="):])
					r = r[:i]
				}
				ev.Reason = r
				return ev
			}
		}
	}
	if sev == "warning" && daemon == "smtpd" && !hasQID {
		if ev := parseRateLimit(f, m); ev != nil {
			return ev
		}
	}
	if !hasQID {
		qid, rest = "", m
	}
	return &PostfixWarning{Frame: f, Severity: sev, QueueID: qid, Text: rest}
}

// parseRateLimit reads "LIMIT limit exceeded: N from name[ip] for service
// S" (smtpd.c, after "warning: ").
func parseRateLimit(f Frame, m string) *RateLimit {
	i := strings.Index(m, " limit exceeded: ")
	if i <= 0 {
		return nil
	}
	n, r, ok := leadingInt(m[i+len(" limit exceeded: "):])
	if !ok {
		return nil
	}
	r, ok = strings.CutPrefix(r, " from ")
	if !ok {
		return nil
	}
	name, ip, _, r, ok := hostIP(r)
	if !ok {
		return nil
	}
	svc, _ := strings.CutPrefix(r, " for service ")
	return &RateLimit{Frame: f, Limit: m[:i], Count: n, ClientName: name, ClientIP: ip, Service: svc}
}

func parseSmtpd(a *Arena, f Frame, m string) Event {
	if rest, ok := strings.CutPrefix(m, "connect from "); ok {
		if name, ip, _, _, ok := hostIP(rest); ok {
			return a.connect(SmtpdConnect{Frame: f, ClientName: name, ClientIP: ip})
		}
		return a.unknown(Unknown{Frame: f})
	}
	if rest, ok := strings.CutPrefix(m, "disconnect from "); ok {
		return parseDisconnect(a, f, rest)
	}
	if rest, ok := strings.CutPrefix(m, "NOQUEUE: "); ok {
		return parseRejectLine(a, f, "", rest)
	}
	if qid, rest, ok := cutQueueID(m); ok {
		if c, ok := strings.CutPrefix(rest, "client="); ok {
			return parseClient(a, f, qid, c)
		}
		if ev := parseRejectLine(a, f, qid, rest); ev.Kind() == KindReject {
			return ev
		}
		return a.unknown(Unknown{Frame: f})
	}
	for _, what := range [...]string{"lost connection", "timeout", "too many errors", "improper command pipelining"} {
		if rest, ok := strings.CutPrefix(m, what+" after "); ok {
			sp := strings.Index(rest, " from ")
			if sp <= 0 {
				break
			}
			ev := &SessionError{Frame: f, What: what, Stage: rest[:sp]}
			if i := strings.IndexByte(ev.Stage, ' '); i > 0 { // "DATA (1234 bytes)"
				ev.Detail = ev.Stage[i+1:]
				ev.Stage = ev.Stage[:i]
			}
			name, ip, _, r, ok := hostIP(rest[sp+len(" from "):])
			if !ok {
				break
			}
			ev.ClientName, ev.ClientIP = name, ip
			if d, ok := strings.CutPrefix(r, ": "); ok {
				ev.Detail = d
			}
			return ev
		}
	}
	if rest, ok := strings.CutPrefix(m, "SSL_accept error from "); ok {
		if name, ip, _, r, ok := hostIP(rest); ok {
			return &SessionError{Frame: f, What: "SSL_accept error", ClientName: name, ClientIP: ip, Detail: strings.TrimPrefix(r, ": ")}
		}
	}
	if ev := parseTLS(a, f, m); ev != nil {
		return ev
	}
	return a.unknown(Unknown{Frame: f})
}

// parseTLS reads "Anonymous TLS connection established from name[ip]:
// TLSv1.3 with cipher NAME (256/256 bits) …" and the "to" form of smtp(8).
func parseTLS(a *Arena, f Frame, m string) Event {
	sp := strings.IndexByte(m, ' ')
	if sp <= 0 {
		return nil
	}
	rest, ok := strings.CutPrefix(m[sp:], " TLS connection established ")
	if !ok {
		return nil
	}
	ev := a.tls(TLSConnection{Frame: f, Trust: m[:sp]})
	switch {
	case strings.HasPrefix(rest, "from "):
		ev.Inbound, rest = true, rest[len("from "):]
	case strings.HasPrefix(rest, "to "):
		rest = rest[len("to "):]
	default:
		return nil
	}
	name, ip, _, r, ok := hostIP(rest)
	if !ok {
		return nil
	}
	ev.PeerName, ev.PeerIP = name, ip
	r = strings.TrimPrefix(r, ": ")
	if i := strings.Index(r, " with cipher "); i > 0 {
		ev.Protocol = r[:i]
		c := r[i+len(" with cipher "):]
		if j := strings.IndexByte(c, ' '); j > 0 {
			c = c[:j]
		}
		ev.Cipher = c
	}
	return ev
}

// parseDisconnect reads "name[ip] ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4".
func parseDisconnect(a *Arena, f Frame, s string) Event {
	name, ip, _, rest, ok := hostIP(s)
	if !ok {
		return a.unknown(Unknown{Frame: f})
	}
	ev := a.disconnect(SmtpdDisconnect{Frame: f, ClientName: name, ClientIP: ip})
	n := strings.Count(rest, "=")
	if n > 1 {
		ev.Commands = a.commandCounts(n - 1)
	}
	for rest != "" {
		rest = strings.TrimLeft(rest, " ")
		// the token up to the next space, its first '=' and the first '/'
		// after that, in one pass (tokens are short: "rcpt=2/3")
		end, eq, sl := len(rest), -1, -1
		for i := 0; i < len(rest); i++ {
			if c := rest[i]; c == ' ' {
				end = i
				break
			} else if c == '=' && eq < 0 {
				eq = i
			} else if c == '/' && eq >= 0 && sl < 0 {
				sl = i - eq - 1 // in the value
			}
		}
		tok := rest[:end]
		if end < len(rest) {
			rest = rest[end+1:]
		} else {
			rest = ""
		}
		if tok == "" {
			continue
		}
		if eq <= 0 {
			return a.unknown(Unknown{Frame: f})
		}
		c := CommandCount{Name: tok[:eq]}
		v := tok[eq+1:]
		if sl >= 0 {
			x, ok1 := atoiDigits(v[:sl])
			y, ok2 := atoiDigits(v[sl+1:])
			if !ok1 || !ok2 {
				return a.unknown(Unknown{Frame: f})
			}
			c.OK, c.Total = x, y
		} else {
			x, ok := atoiDigits(v)
			if !ok {
				return a.unknown(Unknown{Frame: f})
			}
			c.OK, c.Total = x, x
		}
		if c.Name == "commands" {
			ev.CommandsOK, ev.CommandsTotal = c.OK, c.Total
			continue
		}
		ev.Commands = append(ev.Commands, c)
	}
	return ev
}

// parseClient reads "name[ip][:port][, sasl_method=M, sasl_username=U, …]".
func parseClient(a *Arena, f Frame, qid, s string) Event {
	name, ip, port, rest, ok := hostIP(s)
	if !ok {
		return a.unknown(Unknown{Frame: f})
	}
	ev := a.client(SmtpdClient{Frame: f, QueueID: qid, ClientName: name, ClientIP: ip, ClientPort: port})
	for rest != "" {
		r, ok := strings.CutPrefix(rest, ", ")
		if !ok {
			return a.unknown(Unknown{Frame: f})
		}
		val := r
		if i := strings.Index(r, ", "); i >= 0 {
			val, rest = r[:i], r[i:]
		} else {
			rest = ""
		}
		eq := strings.IndexByte(val, '=')
		if eq <= 0 {
			return a.unknown(Unknown{Frame: f})
		}
		k, v := val[:eq], val[eq+1:]
		switch k {
		case "sasl_method":
			ev.SASLMethod = v
		case "sasl_username":
			ev.SASLUsername = v
		case "sasl_sender":
			ev.SASLSender = v
		case "orig_queue_id":
			ev.OrigQueueID = v
		case "orig_client":
			ev.OrigClient = v
		}
	}
	return ev
}

// rejectActions are the access(5) and milter actions smtpd and cleanup log
// in the "ACTION: STAGE from client: …" form.
var rejectActions = [...]string{"reject", "milter-reject", "discard", "hold", "warn", "reject_warning", "filter", "redirect", "defer", "defer_if_permit", "defer_if_reject"}

// parseRejectLine reads "reject: RCPT from name[ip]: 450 4.2.0 <r>: text;
// from=<s> to=<r> proto=ESMTP helo=<h>" (after "NOQUEUE: " or "QID: ").
// It returns *Unknown when s is not such a line.
func parseRejectLine(a *Arena, f Frame, qid, s string) Event {
	colon := strings.Index(s, ": ")
	if colon <= 0 {
		return a.unknown(Unknown{Frame: f})
	}
	action := s[:colon]
	known := false
	for _, act := range rejectActions {
		if action == act {
			known = true
			break
		}
	}
	if !known {
		return a.unknown(Unknown{Frame: f})
	}
	s = s[colon+2:]
	sp := strings.Index(s, " from ")
	if sp <= 0 || strings.IndexByte(s[:sp], ' ') >= 0 {
		return a.unknown(Unknown{Frame: f})
	}
	ev := a.reject(Reject{Frame: f, QueueID: qid, Action: action, Stage: s[:sp]})
	name, ip, _, rest, ok := hostIP(s[sp+len(" from "):])
	if !ok {
		return a.unknown(Unknown{Frame: f})
	}
	ev.ClientName, ev.ClientIP = name, ip
	rest, ok = strings.CutPrefix(rest, ": ")
	if !ok {
		return a.unknown(Unknown{Frame: f})
	}
	if code, r, ok := leadingInt(rest); ok && len(rest)-len(r) == 3 && strings.HasPrefix(r, " ") {
		ev.Code = code
		rest = r[1:]
	}
	if len(rest) > 5 && (rest[0] == '2' || rest[0] == '4' || rest[0] == '5') && rest[1] == '.' {
		if sp := strings.IndexByte(rest, ' '); sp > 0 && isEnhanced(rest[:sp]) {
			ev.Enhanced, rest = rest[:sp], rest[sp+1:]
		}
	}
	if at, fl, ok := findRejectFields(rest, false); ok {
		ev.Reason = rest[:at]
		fl.apply(ev)
	} else {
		ev.Reason = rest
	}
	return ev
}

// rejectFields are the envelope fields smtpd, postscreen and cleanup append
// to a reject (smtpd_check.c log_whatsup, cleanup_message.c cleanup_act_log):
//
//	…; from=<S> to=<R> proto=P helo=<H>[: optional text]
//
// postscreen separates them with ", ". Each is left out when unknown.
type rejectFields struct {
	from, to, proto, helo string
	hasFrom, hasTo        bool
	text                  string // cleanup's optional text after the fields
	hasText               bool
	withText              bool // cleanup: text may follow; smtpd: the line ends with the fields
	// spans of the from and to values in the scanned string, for the
	// containment rule of findRejectFields
	fromAt, fromEnd, toAt, toEnd int
}

func (fl *rejectFields) apply(ev *Reject) {
	ev.From, ev.To, ev.Proto, ev.Helo = fl.from, fl.to, fl.proto, fl.helo
	if !fl.hasText {
		return
	}
	r := fl.text
	if sp := strings.IndexByte(r, ' '); sp > 0 && isEnhanced(r[:sp]) {
		ev.Enhanced, r = r[:sp], r[sp+1:]
	} else if isEnhanced(r) {
		ev.Enhanced, r = r, ""
	}
	ev.Reason = r
}

// findRejectFields finds where the envelope fields start in s: the index of
// the "; " before them. The text before them (the reply, which echoes an
// address or a HELO name, or a header_checks match, which is the message's
// own text) can hold anything, "; from=<…> to=<…>" included, and so can
// the addresses and the HELO name. A candidate is a "; " followed by a
// field name whose rest of the line parses as the fields (addresses
// quote-aware, proto a word, helo=<…> up to a '>' at the end or before
// ": "); the fields are the last candidate that does not lie inside the
// from or to address of an earlier one. A forgery in the reply or the
// header comes before the real fields and is passed over; one inside an
// address lies within that address. Only the HELO name, the last field,
// can hold a block that wins, and whoever chose the HELO name also chose
// the envelope of that session.
func findRejectFields(s string, withText bool) (at int, fl rejectFields, ok bool) {
	type cand struct {
		at int
		fl rejectFields
	}
	var found [4]cand
	n := 0
	var all []cand
	for i := 0; ; {
		j := strings.Index(s[i:], "; ")
		if j < 0 {
			break
		}
		p := i + j
		i = p + 2
		r := s[p+2:]
		if !(strings.HasPrefix(r, "from=<") || strings.HasPrefix(r, "to=<") || strings.HasPrefix(r, "proto=") || strings.HasPrefix(r, "helo=<")) {
			continue
		}
		f := rejectFields{withText: withText}
		if !parseRejectTail(&f, s, p+2) {
			continue
		}
		c := cand{p, f}
		if n < len(found) {
			found[n] = c
			n++
		} else {
			all = append(all, c)
		}
	}
	cands := append(found[:n:n], all...)
	best := -1
	for k, c := range cands {
		inside := false
		for _, e := range cands[:k] {
			if (e.fl.hasFrom && c.at >= e.fl.fromAt && c.at < e.fl.fromEnd) || (e.fl.hasTo && c.at >= e.fl.toAt && c.at < e.fl.toEnd) {
				inside = true
				break
			}
		}
		if !inside {
			best = k
		}
	}
	if best < 0 {
		return 0, rejectFields{}, false
	}
	return cands[best].at, cands[best].fl, true
}

// externalAddress reports whether v can be an address as Postfix logs it
// (the external form, info_log_address_format = external; RFC 5321
// §4.1.2): a local part that is one quoted string (quote_822_local quotes
// the whole of it, escaping '"' and '\\') or has none of the specials,
// then "@domain" without them. A candidate whose address swallows "…>
// from …; from=<" is none.
func externalAddress(v string) bool {
	local, domain := v, ""
	if strings.HasPrefix(v, `"`) {
		end := -1
		for i := 1; i < len(v); i++ {
			if v[i] == '\\' {
				i++
				continue
			}
			if v[i] == '"' {
				end = i
				break
			}
		}
		if end < 0 {
			return false
		}
		rest := v[end+1:]
		if rest != "" && rest[0] != '@' {
			return false
		}
		local, domain = "", strings.TrimPrefix(rest, "@")
	} else if at := strings.LastIndexByte(v, '@'); at >= 0 {
		local, domain = v[:at], v[at+1:]
	}
	return !hasSpecial(local) && !hasSpecial(domain)
}

// addressSpecials marks the bytes that end an address in externalAddress:
// ` <>;,()"\@`.
var addressSpecials = func() (t [256]bool) {
	for _, c := range []byte(" <>;,()\"\\@") {
		t[c] = true
	}
	return t
}()

// hasSpecial is strings.ContainsAny(s, ` <>;,()"\@`) without building the
// set on every call (it runs on every reject line's candidates).
func hasSpecial(s string) bool {
	for i := 0; i < len(s); i++ {
		if addressSpecials[s[i]] {
			return true
		}
	}
	return false
}

// parseRejectTail parses the fields starting at s[i:] to the end of s.
func parseRejectTail(fl *rejectFields, s string, i int) bool {
	return rejectTail(fl, s, i, 0)
}

// rejectTail parses fields at s[i:], which come in the order from, to,
// proto, helo: stage says how many kinds are behind (0 at the start).
func rejectTail(fl *rejectFields, s string, i, stage int) bool {
	if stage > 0 {
		switch {
		case i == len(s):
			return true
		case fl.withText && strings.HasPrefix(s[i:], ": "):
			fl.text, fl.hasText = s[i+2:], true
			return true
		case strings.HasPrefix(s[i:], ", "):
			i += 2
		case i < len(s) && s[i] == ' ':
			i++
		default:
			return false
		}
	}
	r := s[i:]
	var buf [4]int
	switch {
	case stage < 1 && strings.HasPrefix(r, "from=<"), stage < 2 && strings.HasPrefix(r, "to=<"):
		isFrom := strings.HasPrefix(r, "from=<")
		key := len("to=")
		if isFrom {
			key = len("from=")
		}
		// quote-aware only: trying other '>'s would let an address swallow
		// the text up to a later "> " (a Subject's forged fields)
		ends := buf[:0]
		if v, rest, ok := angle(r[key:]); ok && externalAddress(v) {
			ends = append(ends, len(r[key:])-len(rest)-1)
		}
		for _, end := range ends {
			saved := *fl
			v, at, to := r[key+1:key+end], i+key+1, i+key+end
			next := 2
			if isFrom {
				fl.from, fl.hasFrom, fl.fromAt, fl.fromEnd = v, true, at, to
				next = 1
			} else {
				fl.to, fl.hasTo, fl.toAt, fl.toEnd = v, true, at, to
			}
			if rejectTail(fl, s, i+key+end+1, next) {
				return true
			}
			*fl = saved
		}
		return false
	case stage < 3 && strings.HasPrefix(r, "proto="):
		v := r[len("proto="):]
		end := strings.IndexAny(v, " ,:")
		if end < 0 {
			end = len(v)
		}
		if end == 0 {
			return false
		}
		for k := 0; k < end; k++ {
			if c := v[k]; !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || isDigit(c)) {
				return false
			}
		}
		fl.proto = v[:end]
		return rejectTail(fl, s, i+len("proto=")+end, 3)
	case stage < 4 && strings.HasPrefix(r, "helo=<"):
		// the HELO name is anything the client sent. smtpd ends the line
		// with it; cleanup may add ": text", so there it ends at the first
		// '>' that ends the line or precedes ": "
		v := r[len("helo=<"):]
		if !fl.withText {
			if !strings.HasSuffix(v, ">") {
				return false
			}
			fl.helo = v[:len(v)-1]
			return true
		}
		for k := 0; k < len(v); k++ {
			if v[k] != '>' {
				continue
			}
			if k+1 == len(v) {
				fl.helo = v[:k]
				return true
			}
			if strings.HasPrefix(v[k+1:], ": ") {
				fl.helo = v[:k]
				fl.text, fl.hasText = v[k+3:], true
				return true
			}
		}
		return false
	}
	return false
}

// isEnhanced reports whether s is an RFC 3463 status code like "4.2.0".
func isEnhanced(s string) bool {
	if len(s) < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.' {
		return false
	}
	dots := 0
	for i := 2; i < len(s); i++ {
		switch {
		case s[i] == '.':
			dots++
		case !isDigit(s[i]):
			return false
		}
	}
	return dots == 1
}

func parseCleanup(a *Arena, f Frame, m string) Event {
	qid, rest, ok := cutQueueID(m)
	if !ok {
		return a.unknown(Unknown{Frame: f})
	}
	if v, ok := strings.CutPrefix(rest, "message-id="); ok {
		if len(v) >= 2 && v[0] == '<' && v[len(v)-1] == '>' {
			v = v[1 : len(v)-1]
		}
		return a.messageID(CleanupMessageID{Frame: f, QueueID: qid, MessageID: v})
	}
	if v, ok := strings.CutPrefix(rest, "resent-message-id="); ok {
		if len(v) >= 2 && v[0] == '<' && v[len(v)-1] == '>' {
			v = v[1 : len(v)-1]
		}
		return a.messageID(CleanupMessageID{Frame: f, QueueID: qid, MessageID: v, Resent: true})
	}
	// header_checks/body_checks: "reject: header Subject: … from name[ip];
	// from=<s> to=<r> proto=ESMTP helo=<h>: 5.7.1 text"
	colon := strings.Index(rest, ": ")
	if colon > 0 {
		action := rest[:colon]
		for _, act := range rejectActions {
			if action != act && action != "replace" && action != "prepend" {
				continue
			}
			if action == "milter-reject" {
				return parseRejectLine(a, f, qid, rest)
			}
			return parseCleanupAction(a, f, qid, action, rest[colon+2:])
		}
	}
	return a.unknown(Unknown{Frame: f})
}

// parseCleanupAction reads what follows "ACTION: " of a header_checks or
// body_checks line (cleanup_message.c cleanup_act_log):
//
//	header NAME: VALUE from CLIENT; from=<S> to=<R> proto=P helo=<H>[: text]
//
// VALUE is the message's own text (cut to 200 bytes by cleanup) and may
// hold "; from=<…>"; the envelope fields are found by findRejectFields,
// and the client is the " from CLIENT" just before them.
func parseCleanupAction(a *Arena, f Frame, qid, action, s string) Event {
	sp := strings.IndexByte(s, ' ')
	if sp <= 0 {
		return a.unknown(Unknown{Frame: f})
	}
	ev := a.reject(Reject{Frame: f, QueueID: qid, Action: action, Stage: s[:sp]})
	s = s[sp+1:]
	at, fl, ok := findRejectFields(s, true)
	if !ok {
		return a.unknown(Unknown{Frame: f})
	}
	head := s[:at]
	if i := strings.LastIndex(head, " from "); i >= 0 {
		client := head[i+len(" from "):]
		if name, ip, _, r, ok := hostIP(client); ok && r == "" {
			ev.ClientName, ev.ClientIP = name, ip
			head = head[:i]
		} else if client == "local" {
			ev.ClientName = client
			head = head[:i]
		}
	}
	ev.Detail = head
	fl.apply(ev)
	return ev
}

func parseQmgr(a *Arena, f Frame, m string) Event {
	qid, rest, ok := cutQueueID(m)
	if !ok {
		return notice(a, f, "", m)
	}
	if rest == "removed" {
		return a.removed(QmgrRemoved{Frame: f, QueueID: qid})
	}
	if strings.HasPrefix(rest, "to=<") {
		return parseDelivery(a, f, "qmgr", qid, rest)
	}
	if strings.HasPrefix(rest, "from=<") {
		from, r, ok := angle(rest[len("from="):])
		if !ok {
			return a.unknown(Unknown{Frame: f})
		}
		if r == ", status=expired, returned to sender" {
			return &QmgrExpired{Frame: f, QueueID: qid, From: from}
		}
		ev := a.queued(QmgrQueued{Frame: f, QueueID: qid, From: from})
		size, r, ok := cutField(r, ", size=", ",")
		if !ok {
			return a.unknown(Unknown{Frame: f})
		}
		n, ok := atoiDigits(size)
		if !ok && len(size) > 9 {
			var v int64
			for i := 0; i < len(size) && isDigit(size[i]); i++ {
				v = v*10 + int64(size[i]-'0')
			}
			ev.Size, ok = v, true
		} else {
			ev.Size = int64(n)
		}
		if !ok {
			return a.unknown(Unknown{Frame: f})
		}
		nr, _, ok := cutField(r, " nrcpt=", " ")
		if !ok {
			return a.unknown(Unknown{Frame: f})
		}
		if ev.NRcpt, ok = atoiDigits(nr); !ok {
			return a.unknown(Unknown{Frame: f})
		}
		return ev
	}
	return notice(a, f, qid, rest)
}

func parseAgent(a *Arena, f Frame, daemon, m string) Event {
	qid, rest, ok := cutQueueID(m)
	if !ok {
		if ev := parseTLS(a, f, m); ev != nil {
			return ev
		}
		// "connect to host[ip]:25: Connection refused" and similar
		return notice(a, f, "", m)
	}
	if strings.HasPrefix(rest, "to=<") {
		return parseDelivery(a, f, daemon, qid, rest)
	}
	// "breaking line > 998 bytes …", "host x said: …", "lost connection with …",
	// "conversation with … timed out …", "enabling PIX workarounds …"
	return notice(a, f, qid, rest)
}

// parseDelivery reads a delivery status line (Postfix log_adhoc.c):
//
//	to=<r>[, orig_to=<o>], relay=R[, conn_use=N], delay=D, delays=a/b/c/d, dsn=X.Y.Z, status=WORD (reply)
//
// Two parts are text others chose: the addresses (the sender's, quoted
// when they hold specials) and the reply (the remote server's). The
// addresses are read quote-aware; every field after them has a fixed
// shape, and the status is the word after the "dsn=…, status=" that
// follows the recipient, never a "status=" inside an address or inside
// the reply. Where an address was logged unquoted, each '>' that may
// close it is tried in turn and the first after which the fixed fields
// parse is taken.
func parseDelivery(a *Arena, f Frame, daemon, qid, s string) Event {
	var buf [8]int
	to, ok := strings.CutPrefix(s, "to=")
	if !ok {
		return a.unknown(Unknown{Frame: f})
	}
	for _, end := range angleEnds(to, buf[:]) {
		var d Delivery
		if parseDeliveryTail(&d, to[end+1:]) {
			d.Frame, d.QueueID, d.Agent, d.To = f, qid, daemon, to[1:end]
			if d.Status == "" || d.To == "" && d.Relay == "" {
				break
			}
			deliveryReply(&d)
			return a.delivery(d)
		}
	}
	return a.unknown(Unknown{Frame: f})
}

// parseDeliveryTail reads the fields after the recipient address, strictly:
// ", key=value" pairs whose values are addresses (orig_to), single words
// (relay, and keys a later Postfix may add), numbers (conn_use, delay),
// the delays quadruple and the DSN, then ", status=WORD" and the reply in
// parentheses to the end of the line.
func parseDeliveryTail(d *Delivery, s string) bool {
	var seen struct{ relay, delay, delays, dsn bool }
	for {
		r, ok := strings.CutPrefix(s, ", ")
		if !ok {
			return false
		}
		eq := strings.IndexByte(r, '=')
		if eq <= 0 || !isFieldName(r[:eq]) {
			return false
		}
		key, v := r[:eq], r[eq+1:]
		if key == "status" {
			// log_adhoc.c writes relay=, delay=, delays= and dsn= before
			// the status, always: a "status=" before them is in an address
			if !seen.relay || !seen.delay || !seen.delays || !seen.dsn {
				return false
			}
			word := v
			rest := ""
			if sp := strings.IndexByte(v, ' '); sp >= 0 {
				word, rest = v[:sp], v[sp+1:]
			}
			if !isFieldName(word) {
				return false
			}
			d.Status = word
			switch {
			case len(rest) >= 2 && rest[0] == '(' && rest[len(rest)-1] == ')':
				d.Reply = rest[1 : len(rest)-1]
			case rest == "":
			default:
				return false
			}
			return true
		}
		if key == "orig_to" {
			var buf [4]int
			ends := angleEnds(v, buf[:])
			if len(ends) == 0 {
				return false
			}
			// the original recipient is the sender's text too: take the
			// first end after which the rest parses
			for _, end := range ends {
				saved := *d
				if parseDeliveryTail(d, v[end+1:]) {
					d.OrigTo = v[1:end]
					return true
				}
				*d = saved
			}
			return false
		}
		end := strings.IndexByte(v, ',')
		if end < 0 {
			return false
		}
		val := v[:end]
		if strings.IndexByte(val, ' ') >= 0 {
			return false
		}
		s = v[end:]
		switch key {
		case "relay":
			d.Relay, seen.relay = val, true
		case "conn_use":
			n, ok := atoiDigits(val)
			if !ok {
				return false
			}
			d.ConnUse = n
		case "delay":
			x, ok := parseFloat(val)
			if !ok {
				return false
			}
			d.Delay, seen.delay = x, true
		case "delays":
			for i := 0; i < 4; i++ {
				part := val
				if sl := strings.IndexByte(val, '/'); sl >= 0 {
					part, val = val[:sl], val[sl+1:]
				} else {
					val = ""
				}
				x, ok := parseFloat(part)
				if !ok {
					return false
				}
				d.Delays[i] = x
			}
			seen.delays = true
		case "dsn":
			if !isDSN(val) {
				return false
			}
			d.DSN, seen.dsn = val, true
		}
	}
}

// isFieldName reports whether s is a lower-case word with underscores, as
// Postfix's field names and status words are.
func isFieldName(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || c == '_') {
			return false
		}
	}
	return true
}

// isDSN reports whether s is an RFC 3463 status code "class.subject.detail".
func isDSN(s string) bool {
	if !isEnhanced(s) {
		// isEnhanced accepts "X.Y" without a detail; a DSN has three parts
		return false
	}
	return strings.Count(s, ".") == 2
}

// deliveryReply sets what the reply says about a hand-off to a content
// filter. amavisd-new answers the Postfix smtp client with one of
// (amavisd-new README.postfix, "$final_*_destiny"):
//
//	250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as QID2   passed, re-injected
//	250 2.7.0 Ok, discarded, id=28324-02 - spam                                   D_DISCARD
//	250 2.5.0 Ok, id=18153-19, BOUNCE                                             D_BOUNCE (amavis sends the DSN)
//
// so every "250 … Ok, … id=…" reply is a hand-off, not a delivery, whatever
// the relay is called.
func deliveryReply(d *Delivery) {
	r := d.Reply
	if i := strings.Index(r, " from MTA("); i >= 0 && i < 16 {
		d.FilterMTA = true
	}
	if strings.HasPrefix(r, "250 ") {
		head := r
		if len(head) > 40 {
			head = head[:40]
		}
		if i := strings.Index(head, " Ok, discarded, id="); i >= 0 && i < 16 {
			d.FilterDiscarded = true
		} else if i := strings.Index(head, " Ok, id="); i >= 0 && i < 16 {
			switch {
			case strings.HasSuffix(r, ", BOUNCE"):
				d.FilterBounced = true
			case strings.HasSuffix(r, ", DISCARD"), strings.Contains(r, ", discarded"):
				d.FilterDiscarded = true
			default:
				d.FilterAccepted = true
			}
		}
	}
	if i := lastQueuedAs(r); i >= 0 {
		q := r[i+len("queued as "):]
		if j := strings.IndexAny(q, " )"); j >= 0 {
			q = q[:j]
		}
		if isQueueID(q) {
			d.QueuedAs = q
		}
	}
}

// lastIndex is strings.LastIndex(s, sub) for a sub that is near the end
// of s (postgrey's sender and recipient): it looks only at the places of
// sub's first byte, from the right, where strings.LastIndex hashes every
// byte it passes.
func lastIndex(s, sub string) int {
	if sub == "" {
		return len(s)
	}
	for i := len(s) - len(sub) + 1; i > 0; {
		j := strings.LastIndexByte(s[:i], sub[0])
		if j < 0 {
			return -1
		}
		if s[j:j+len(sub)] == sub {
			return j
		}
		i = j
	}
	return -1
}

// lastQueuedAs is strings.LastIndex(r, "queued as "), with Index (which is
// much faster) and no search backwards: the text cannot overlap itself.
func lastQueuedAs(r string) int {
	const q = "queued as "
	i := strings.Index(r, q)
	if i < 0 {
		return -1
	}
	for {
		j := strings.Index(r[i+len(q):], q)
		if j < 0 {
			return i
		}
		i += len(q) + j
	}
}

func parseBounce(a *Arena, f Frame, m string) Event {
	qid, rest, ok := cutQueueID(m)
	if !ok {
		return notice(a, f, "", m)
	}
	i := strings.Index(rest, " notification: ")
	if i > 0 {
		nq := rest[i+len(" notification: "):]
		if isQueueID(nq) {
			return &BounceNotice{Frame: f, QueueID: qid, Type: rest[:i], NotifyQueueID: nq}
		}
	}
	return a.unknown(Unknown{Frame: f})
}

func parsePickup(a *Arena, f Frame, m string) Event {
	qid, rest, ok := cutQueueID(m)
	if !ok {
		return notice(a, f, "", m)
	}
	uid, r, ok := cutField(rest, "uid=", " ")
	if !ok {
		return a.unknown(Unknown{Frame: f})
	}
	n, ok := atoiDigits(uid)
	if !ok {
		return a.unknown(Unknown{Frame: f})
	}
	from, _, ok := angle(strings.TrimPrefix(r, "from="))
	if !ok || !strings.HasPrefix(r, "from=") {
		return a.unknown(Unknown{Frame: f})
	}
	return &Pickup{Frame: f, QueueID: qid, UID: n, From: from}
}

// parsePostscreen reads postscreen(8) lines: "CONNECT from [ip]:port to
// [ip]:25", "PASS NEW [ip]:port", "DNSBL rank 3 for [ip]:port", "PREGREET 11
// after 0.1 from [ip]:port: EHLO x", "HANGUP after 1 from [ip]:port in
// tests after SMTP handshake", "DISCONNECT [ip]:port", "NOQUEUE: reject: …".
func parsePostscreen(a *Arena, f Frame, m string) Event {
	if rest, ok := strings.CutPrefix(m, "NOQUEUE: "); ok {
		return parseRejectLine(a, f, "", rest)
	}
	lb := strings.IndexByte(m, '[')
	if lb <= 0 {
		return notice(a, f, "", m)
	}
	// the action is the run of upper-case words before the first '[' or "from"/"for"/"after"
	head := m[:lb]
	action := head
	for _, sep := range [...]string{" from ", " for ", " after ", " rank "} {
		if i := strings.Index(action, sep); i >= 0 {
			action = action[:i]
		}
	}
	action = strings.TrimSpace(action)
	for i := 0; i < len(action); i++ {
		c := action[i]
		if !(c == ' ' || c == '-' || ('A' <= c && c <= 'Z')) {
			return a.unknown(Unknown{Frame: f})
		}
	}
	if action == "" {
		return a.unknown(Unknown{Frame: f})
	}
	_, ip, port, rest, ok := hostIP(m[lb:])
	if !ok {
		return a.unknown(Unknown{Frame: f})
	}
	detail := strings.TrimSpace(strings.TrimPrefix(head[len(action):], " "))
	if rest = strings.TrimPrefix(rest, ": "); rest != "" {
		if detail != "" {
			detail += " "
		}
		detail += strings.TrimSpace(rest)
	}
	return &Postscreen{Frame: f, Action: action, ClientIP: ip, ClientPort: port, Detail: detail}
}
