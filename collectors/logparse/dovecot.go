package logparse

import (
	"strings"
)

// ParseDovecot parses a line with program tag "dovecot" (log_path = syslog;
// Dovecot 2.3 puts the process name in the message: "imap-login: …",
// "auth: …", "lmtp(user)<pid><session>: …").
func ParseDovecot(f Frame) Event { return parseDovecot(nil, f) }

func parseDovecot(a *Arena, f Frame) Event {
	m := f.Message
	colon := strings.Index(m, ": ")
	if colon <= 0 {
		return a.unknown(Unknown{Frame: f})
	}
	proc, rest := m[:colon], m[colon+2:]
	switch {
	case strings.HasSuffix(proc, "-login"):
		return parseDovecotLogin(a, f, proc[:len(proc)-len("-login")], rest)
	case proc == "auth" || strings.HasPrefix(proc, "auth-worker("):
		return parseDovecotAuth(a, f, rest)
	case proc == "master" || proc == "config" || proc == "log" || proc == "anvil" ||
		proc == "stats" || proc == "indexer" || strings.HasPrefix(proc, "indexer-worker") ||
		proc == "doveadm" || proc == "ssl-params" || proc == "dict":
		return notice(a, f, "", m)
	}
	// "service(user)<pid><session>" or "service(pid)"
	lp := strings.IndexByte(proc, '(')
	if lp <= 0 || !strings.Contains(proc[lp:], ")") {
		return a.unknown(Unknown{Frame: f})
	}
	service := proc[:lp]
	rp := strings.LastIndexByte(proc, ')')
	who := proc[lp+1 : rp]
	tail := proc[rp+1:] // "<pid><session>" or ""
	var pid int
	var session string
	if len(tail) > 2 && tail[0] == '<' {
		if i := strings.IndexByte(tail, '>'); i > 0 {
			pid, _ = atoiDigits(tail[1:i])
			if r := tail[i+1:]; len(r) > 2 && r[0] == '<' && r[len(r)-1] == '>' {
				session = r[1 : len(r)-1]
			}
		}
	}
	if tail == "" {
		// "lmtp(28035): Connect from local", "imap(pid): …" process-level
		if _, ok := atoiDigits(who); ok {
			return notice(a, f, "", m)
		}
	}
	if service == "lmtp" {
		return parseDovecotLMTP(a, f, who, session, rest)
	}
	if r, ok := strings.CutPrefix(rest, "Disconnected: "); ok || strings.HasPrefix(rest, "Disconnected ") || strings.HasPrefix(rest, "Connection closed") || strings.HasPrefix(rest, "Logged out") {
		if !ok {
			r = strings.TrimPrefix(rest, "Disconnected")
			r = strings.TrimLeft(r, " :")
		}
		ev := a.logout(DovecotLogout{Frame: f, Service: service, User: who, PID: pid, Session: session, Reason: r})
		// the reason ends where the counters start: "Logged out in=32 out=806 …"
		if i := strings.LastIndex(r, ") "); i >= 0 && strings.IndexByte(r[i+2:], '=') > 0 {
			ev.Reason, ev.Stats = r[:i+1], r[i+2:]
		} else if i := firstCounter(r); i > 0 {
			ev.Reason, ev.Stats = r[:i-1], r[i:]
		}
		ev.Reads, ev.ReadBytes, ev.HasReads = dovecotReads(service, ev.Stats)
		return ev
	}
	// other per-user lines (mail_log plugin, errors): known process, no event
	return notice(a, f, "", m)
}

// dovecotReads reads the messages a session read from its logout counters:
// IMAP "body_count=N body_bytes=B", POP3 "retr=N/B" (Dovecot's default
// imap_logout_format and pop3_logout_format). A counter that is not a
// plain number is not read.
func dovecotReads(service, stats string) (n, bytes int64, ok bool) {
	switch service {
	case "imap":
		c, okc := counterValue(stats, "body_count=")
		if !okc {
			return 0, 0, false
		}
		b, _ := counterValue(stats, "body_bytes=")
		return c, b, true
	case "pop3":
		v := counterText(stats, "retr=")
		cs, bs, _ := strings.Cut(v, "/")
		c, okc := atoi64(cs)
		if !okc {
			return 0, 0, false
		}
		b, _ := atoi64(bs)
		return c, b, true
	}
	return 0, 0, false
}

// counterText returns the value of the counter key ("name=") in stats, up
// to the next space or comma; "" when stats has none. The key must start
// stats or follow a space.
func counterText(stats, key string) string {
	for i := 0; ; {
		j := strings.Index(stats[i:], key)
		if j < 0 {
			return ""
		}
		j += i
		if j == 0 || stats[j-1] == ' ' {
			v := stats[j+len(key):]
			if k := strings.IndexAny(v, " ,"); k >= 0 {
				v = v[:k]
			}
			return v
		}
		i = j + len(key)
	}
}

func counterValue(stats, key string) (int64, bool) { return atoi64(counterText(stats, key)) }

// atoi64 parses a non-negative decimal number of up to 18 digits.
func atoi64(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}

// firstCounter returns the index of the first " word=" token, or -1.
func firstCounter(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] != ' ' {
			continue
		}
		j := i + 1
		for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] == '_') {
			j++
		}
		if j > i+1 && j < len(s) && s[j] == '=' {
			return i + 1
		}
	}
	return -1
}

// dovecotFields holds the fields of a login-process line.
type dovecotFields struct {
	user, method, rip, lip, session string
	mpid                            int
	tls                             bool
}

// parseDovecotFields reads "user=<u>, method=PLAIN, rip=…, lip=…, mpid=…,
// TLS, session=<…>". It reads from the right, so that text inside the
// user name (which a client chooses) cannot overwrite the fields Dovecot
// writes after it: the first value seen from the right wins.
func parseDovecotFields(s string) dovecotFields {
	var d dovecotFields
	seen := uint8(0)
	const (
		sMethod = 1 << iota
		sRIP
		sLIP
		sSession
		sMPID
	)
	user := func(s string) {
		if u, ok := strings.CutPrefix(s, "user=<"); ok {
			if i := strings.LastIndexByte(u, '>'); i >= 0 {
				u = u[:i]
			}
			d.user = u
		}
	}
	for {
		i := strings.LastIndex(s, ", ")
		if i < 0 {
			if !strings.HasPrefix(s, "user=<") {
				i = -2 // a lone field, e.g. "rip=1.2.3.4"
			} else {
				user(s)
				break
			}
		}
		seg := s[i+2:]
		eq := strings.IndexByte(seg, '=')
		switch {
		case seg == "TLS" || seg == "secured" || strings.HasPrefix(seg, "TLS "):
			d.tls = true
		case eq < 0 || strings.HasPrefix(s, "user=<") && strings.IndexByte(seg, '>') >= 0 && !strings.HasPrefix(seg, "session="):
			// not a field Dovecot writes after user=<>: part of the user name
			user(s)
			return d
		default:
			k, v := seg[:eq], seg[eq+1:]
			switch {
			case k == "method":
				if seen&sMethod == 0 {
					d.method, seen = v, seen|sMethod
				}
			case k == "rip":
				if seen&sRIP == 0 {
					d.rip, seen = v, seen|sRIP
				}
			case k == "lip":
				if seen&sLIP == 0 {
					d.lip, seen = v, seen|sLIP
				}
			case k == "mpid":
				if seen&sMPID == 0 {
					d.mpid, _ = atoiDigits(v)
					seen |= sMPID
				}
			case k == "session":
				if seen&sSession == 0 {
					d.session = strings.TrimSuffix(strings.TrimPrefix(v, "<"), ">")
					seen |= sSession
				}
			case k == "user":
				user(seg) // the user field itself: everything left of it is not ours
				return d
			}
		}
		if i < 0 {
			break
		}
		s = s[:i]
	}
	return d
}

func parseDovecotLogin(a *Arena, f Frame, service, s string) Event {
	if r, ok := strings.CutPrefix(s, "Login: "); ok {
		d := parseDovecotFields(r)
		return a.login(DovecotLogin{Frame: f, Service: service, User: d.user, Method: d.method,
			RemoteIP: d.rip, LocalIP: d.lip, MPID: d.mpid, TLS: d.tls, Session: d.session})
	}
	// "Disconnected: Aborted login by logging out (auth failed, 1 attempts in 2 secs): user=<…>, …"
	// "Disconnected (auth failed, 1 attempts in 2 secs): user=<…>, …"
	// "Aborted login (no auth attempts in 0 secs): user=<>, rip=…"
	i := strings.Index(s, "): ")
	fields := ""
	head := s
	if i >= 0 {
		head, fields = s[:i+1], s[i+3:]
	} else if j := strings.Index(s, ": user=<"); j >= 0 {
		head, fields = s[:j], s[j+2:]
	} else if j := strings.Index(s, ": rip="); j >= 0 {
		head, fields = s[:j], s[j+2:]
	} else {
		return notice(a, f, "", f.Message)
	}
	if !strings.HasPrefix(head, "Disconnected") && !strings.HasPrefix(head, "Aborted login") &&
		!strings.HasPrefix(head, "Login aborted") && !strings.HasPrefix(head, "Maximum number") {
		return a.unknown(Unknown{Frame: f})
	}
	d := parseDovecotFields(fields)
	ev := &DovecotLoginEnd{Frame: f, Service: service, Reason: head, User: d.user, Method: d.method,
		RemoteIP: d.rip, LocalIP: d.lip, TLS: d.tls, Session: d.session}
	if k := strings.Index(head, "(auth failed, "); k >= 0 {
		ev.AuthFailed = true
		ev.Attempts, _, _ = leadingInt(head[k+len("(auth failed, "):])
	}
	return ev
}

// parseDovecotAuth reads auth_verbose passdb results:
// "passwd-file(user,ip,<session>): Password mismatch",
// "passwd-file(user,ip): unknown user", "pam(user,ip): pam_authenticate() failed: …".
// The user name is whatever the client sent, so the ip and session are cut
// from the right.
func parseDovecotAuth(a *Arena, f Frame, s string) Event {
	lp := strings.IndexByte(s, '(')
	if lp <= 0 || strings.IndexByte(s[:lp], ' ') >= 0 {
		return notice(a, f, "", f.Message) // "Error: …", "Warning: …", "Debug: …"
	}
	rp := strings.LastIndex(s, "): ")
	if rp < lp {
		return notice(a, f, "", f.Message)
	}
	ev := &DovecotAuthFailure{Frame: f, Driver: s[:lp], Reason: s[rp+3:]}
	inner := s[lp+1 : rp]
	if strings.HasSuffix(inner, ">") {
		if i := strings.LastIndex(inner, ",<"); i >= 0 {
			ev.Session = inner[i+2 : len(inner)-1]
			inner = inner[:i]
		}
	}
	if i := strings.LastIndexByte(inner, ','); i >= 0 && looksLikeIP(inner[i+1:]) {
		ev.RemoteIP = inner[i+1:]
		inner = inner[:i]
	}
	ev.User = inner
	switch {
	case strings.Contains(ev.Reason, "Password mismatch"), strings.Contains(ev.Reason, "unknown user"),
		strings.Contains(ev.Reason, "failed"), strings.Contains(ev.Reason, "Invalid"),
		strings.Contains(ev.Reason, "mismatch"), strings.Contains(ev.Reason, "expired"):
		return ev
	}
	return notice(a, f, "", f.Message)
}

func looksLikeIP(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isDigit(c) || c == '.' || c == ':' || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')) {
			return false
		}
	}
	return strings.ContainsAny(s, ".:")
}

// parseDovecotLMTP reads "msgid=<id>: saved mail to INBOX", "msgid=<id>:
// save failed to INBOX: Quota exceeded (mailbox for user is full)" and the
// Sieve forms "sieve: msgid=<id>: stored mail into mailbox 'INBOX'".
func parseDovecotLMTP(a *Arena, f Frame, user, session, s string) Event {
	s = strings.TrimPrefix(s, "sieve: ")
	if !strings.HasPrefix(s, "msgid=") {
		return notice(a, f, "", f.Message)
	}
	s = s[len("msgid="):]
	var mid string
	if v, r, ok := angle(s); ok {
		mid, s = v, r
	} else if i := strings.Index(s, ": "); i >= 0 {
		mid, s = s[:i], s[i:]
	}
	s, ok := strings.CutPrefix(s, ": ")
	if !ok {
		return a.unknown(Unknown{Frame: f})
	}
	ev := a.lmtp(DovecotLMTPDelivery{Frame: f, User: user, Session: session, MessageID: mid})
	switch {
	case strings.HasPrefix(s, "saved mail to "):
		ev.Saved, ev.Mailbox = true, s[len("saved mail to "):]
	case strings.HasPrefix(s, "stored mail into mailbox "):
		ev.Saved, ev.Mailbox = true, strings.Trim(s[len("stored mail into mailbox "):], "'")
	case strings.HasPrefix(s, "save failed to "):
		r := s[len("save failed to "):]
		if i := strings.Index(r, ": "); i >= 0 {
			ev.Mailbox, ev.Error = r[:i], r[i+2:]
		} else {
			ev.Mailbox = r
		}
	case strings.HasPrefix(s, "failed to store into mailbox "):
		r := s[len("failed to store into mailbox "):]
		if i := strings.Index(r, ": "); i >= 0 {
			ev.Mailbox, ev.Error = strings.Trim(r[:i], "'"), r[i+2:]
		} else {
			ev.Mailbox = strings.Trim(r, "'")
		}
	default:
		return a.unknown(Unknown{Frame: f})
	}
	return ev
}
