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
				if i := strings.LastIndex(r, ", sasl_username="); i >= 0 {
					ev.Username = r[i+len(", sasl_username="):]
					r = r[:i]
				}
				ev.Reason = r
				return ev
			}
		}
	}
	if !hasQID {
		qid, rest = "", m
	}
	return &PostfixWarning{Frame: f, Severity: sev, QueueID: qid, Text: rest}
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
		tok := rest
		if i := strings.IndexByte(rest, ' '); i >= 0 {
			tok, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if tok == "" {
			continue
		}
		eq := strings.IndexByte(tok, '=')
		if eq <= 0 {
			return a.unknown(Unknown{Frame: f})
		}
		c := CommandCount{Name: tok[:eq]}
		v := tok[eq+1:]
		if sl := strings.IndexByte(v, '/'); sl >= 0 {
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
	reason, fields := splitRejectFields(rest)
	ev.Reason = reason
	parseRejectFields(ev, fields)
	return ev
}

// splitRejectFields cuts the reason text from the trailing "; from=<…> to=<…>
// proto=… helo=<…>" fields that smtpd appends (smtpd_check.c).
func splitRejectFields(s string) (reason, fields string) {
	best := -1
	for _, k := range [...]string{"; from=<", "; to=<", "; proto="} {
		if i := strings.Index(s, k); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	if best < 0 {
		return s, ""
	}
	return s[:best], s[best+2:]
}

func parseRejectFields(ev *Reject, s string) {
	for s != "" {
		s = strings.TrimLeft(s, " ,")
		var key string
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return
		}
		key, s = s[:eq], s[eq+1:]
		var val string
		if s != "" && s[0] == '<' {
			v, rest, ok := angle(s)
			if !ok {
				return
			}
			val, s = v, rest
		} else {
			end := strings.IndexAny(s, " ,")
			if end < 0 {
				end = len(s)
			}
			val, s = s[:end], s[end:]
		}
		switch key {
		case "from":
			ev.From = val
		case "to":
			ev.To = val
		case "proto":
			ev.Proto = val
		case "helo":
			ev.Helo = val
			// cleanup appends ": 5.7.1 reason" after helo=<…>
			if r, ok := strings.CutPrefix(s, ": "); ok {
				if sp := strings.IndexByte(r, ' '); sp > 0 && isEnhanced(r[:sp]) {
					ev.Enhanced, r = r[:sp], r[sp+1:]
				} else if isEnhanced(r) {
					ev.Enhanced, r = r, ""
				}
				ev.Reason = r
				return
			}
		}
	}
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
	if strings.HasPrefix(rest, "resent-message-id=") {
		return notice(a, f, qid, rest)
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

func parseCleanupAction(a *Arena, f Frame, qid, action, s string) Event {
	sp := strings.IndexByte(s, ' ')
	if sp <= 0 {
		return a.unknown(Unknown{Frame: f})
	}
	ev := a.reject(Reject{Frame: f, QueueID: qid, Action: action, Stage: s[:sp]})
	s = s[sp+1:]
	semi := strings.Index(s, "; from=<")
	if semi < 0 {
		return a.unknown(Unknown{Frame: f})
	}
	head := s[:semi]
	if i := strings.LastIndex(head, " from "); i >= 0 {
		if name, ip, _, r, ok := hostIP(head[i+len(" from "):]); ok && r == "" {
			ev.ClientName, ev.ClientIP = name, ip
			head = head[:i]
		}
	}
	ev.Detail = head
	parseRejectFields(ev, s[semi+2:])
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

// parseDelivery reads "to=<r>, orig_to=<o>, relay=…, conn_use=N, delay=…,
// delays=a/b/c/d, dsn=X.Y.Z, status=WORD (reply)".
func parseDelivery(a *Arena, f Frame, daemon, qid, s string) Event {
	ev := a.delivery(Delivery{Frame: f, QueueID: qid, Agent: daemon})
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return a.unknown(Unknown{Frame: f})
		}
		key := s[:eq]
		s = s[eq+1:]
		if key == "status" {
			word := s
			if sp := strings.IndexByte(s, ' '); sp >= 0 {
				word, s = s[:sp], s[sp+1:]
			} else {
				s = ""
			}
			ev.Status = word
			if len(s) >= 2 && s[0] == '(' && s[len(s)-1] == ')' {
				ev.Reply = s[1 : len(s)-1]
			} else {
				ev.Reply = s
			}
			break
		}
		var val string
		if key == "to" || key == "orig_to" {
			v, rest, ok := angle(s)
			if !ok {
				return a.unknown(Unknown{Frame: f})
			}
			val, s = v, rest
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				return a.unknown(Unknown{Frame: f})
			}
			val, s = s[:end], s[end:]
		}
		s, _ = strings.CutPrefix(s, ", ")
		switch key {
		case "to":
			ev.To = val
		case "orig_to":
			ev.OrigTo = val
		case "relay":
			ev.Relay = val
		case "conn_use":
			ev.ConnUse, _ = atoiDigits(val)
		case "delay":
			ev.Delay, _ = parseFloat(val)
		case "delays":
			for i := 0; i < 4; i++ {
				part := val
				if sl := strings.IndexByte(val, '/'); sl >= 0 {
					part, val = val[:sl], val[sl+1:]
				} else {
					val = ""
				}
				ev.Delays[i], _ = parseFloat(part)
			}
		case "dsn":
			ev.DSN = val
		}
	}
	if ev.Status == "" || ev.To == "" && ev.Relay == "" {
		return a.unknown(Unknown{Frame: f})
	}
	r := ev.Reply
	if i := strings.Index(r, " from MTA("); i >= 0 && i < 16 {
		ev.FilterMTA = true
	}
	if i := strings.Index(r, " Ok, discarded, id="); i >= 0 && i < 16 {
		ev.FilterDiscarded = true
	}
	if i := lastQueuedAs(r); i >= 0 {
		q := r[i+len("queued as "):]
		if j := strings.IndexAny(q, " )"); j >= 0 {
			q = q[:j]
		}
		if isQueueID(q) {
			ev.QueuedAs = q
		}
	}
	return ev
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
