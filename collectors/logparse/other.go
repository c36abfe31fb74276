package logparse

import (
	"strings"
)

// ParsePostgrey parses postgrey's policy decisions, with or without the
// leading "QID: " postgrey adds once the SMTP transaction has a queue ID:
//
//	action=greylist, reason=new, client_name=…, client_address=…, sender=…, recipient=…
//	action=greylist, reason=early-retry (5s missing), …
//	action=pass, reason=triplet found, delay=42, client_name=…
func ParsePostgrey(f Frame) Event { return parsePostgrey(nil, f) }

func parsePostgrey(a *Arena, f Frame) Event {
	m := f.Message
	qid := ""
	if q, rest, ok := cutQueueID(m); ok {
		qid, m = q, rest
	}
	if !strings.HasPrefix(m, "action=") {
		if qid != "" {
			return a.unknown(Unknown{Frame: f})
		}
		return notice(a, f, "", m)
	}
	ev := a.postgrey(PostgreyResult{Frame: f, QueueID: qid, Delay: -1})
	// sender and recipient are chosen by the client; they come last, and are
	// cut from the right so a comma in them cannot create fields.
	if i := lastIndex(m, ", recipient="); i >= 0 {
		ev.Recipient, m = m[i+len(", recipient="):], m[:i]
	}
	if i := lastIndex(m, ", sender="); i >= 0 {
		ev.Sender, m = m[i+len(", sender="):], m[:i]
	}
	for m != "" {
		// the field up to the first ", " and its first '=', in one pass
		end, eq := len(m), -1
		for i := 0; i < len(m); i++ {
			if c := m[i]; c == '=' && eq < 0 {
				eq = i
			} else if c == ',' && i+1 < len(m) && m[i+1] == ' ' {
				end = i
				break
			}
		}
		field := m[:end]
		if end < len(m) {
			m = m[end+2:]
		} else {
			m = ""
		}
		if eq < 0 {
			return a.unknown(Unknown{Frame: f})
		}
		ev.setField(field[:eq], field[eq+1:])
	}
	if ev.Action == "" {
		return a.unknown(Unknown{Frame: f})
	}
	return ev
}

// setField stores one "key=value" field of a postgrey decision; keys it
// does not know are ignored.
func (ev *PostgreyResult) setField(k, v string) {
	switch k {
	case "action":
		ev.Action = v
	case "reason":
		ev.Reason = v
		if r, ok := strings.CutPrefix(v, "early-retry ("); ok {
			ev.Reason = "early-retry"
			ev.RetryMissing, _, _ = leadingInt(r)
		}
	case "delay":
		ev.Delay, _ = atoiDigits(v)
	case "client_name":
		ev.ClientName = v
	case "client_address":
		ev.ClientAddress = v
	}
}

// ParseClamd parses clamd's syslog lines: "path: Signature FOUND" becomes a
// ClamdFound; daemon and self-check lines are Notices.
func ParseClamd(f Frame) Event { return parseClamd(nil, f) }

func parseClamd(a *Arena, f Frame) Event {
	m := f.Message
	if s, ok := strings.CutSuffix(m, " FOUND"); ok {
		if i := strings.LastIndex(s, ": "); i > 0 {
			return &ClamdFound{Frame: f, Path: s[:i], Signature: s[i+2:]}
		}
	}
	return notice(a, f, "", m)
}

// ParseRspamd parses rspamd's per-task log line (rspamd_task_write_log with
// the default log_format), for example
//
//	<a1b2c3>; task; rspamd_task_write_log: id: <mid@x>, qid: <4AB12>, ip: 1.2.3.4,
//	  from: <a@x>, (default: F (no action): [1.50/15.00] [SYM_A(1.00){},SYM_B(0.50){x;}]), len: 1234, …
func ParseRspamd(f Frame) Event { return parseRspamd(nil, f) }

func parseRspamd(a *Arena, f Frame) Event {
	m := f.Message
	i := strings.Index(m, "(default: ")
	if i < 0 {
		return notice(a, f, "", m)
	}
	ev := &RspamdResult{Frame: f}
	head, s := m[:i], m[i+len("(default: "):]
	for _, kv := range [...]struct {
		key string
		dst *string
	}{{"id: ", &ev.MessageID}, {"qid: ", &ev.QueueID}, {"ip: ", &ev.IP}, {"from: ", &ev.From}} {
		j := strings.Index(head, kv.key)
		if j < 0 || (j > 0 && head[j-1] != ' ') {
			continue
		}
		v := head[j+len(kv.key):]
		if k := strings.Index(v, ", "); k >= 0 {
			v = v[:k]
		}
		*kv.dst = strings.TrimSuffix(strings.TrimPrefix(v, "<"), ">")
	}
	if len(s) < 3 || (s[0] != 'T' && s[0] != 'F') || s[1] != ' ' || s[2] != '(' {
		return a.unknown(Unknown{Frame: f})
	}
	ev.IsSpam = s[0] == 'T'
	s = s[3:]
	j := strings.Index(s, "): [")
	if j < 0 {
		return a.unknown(Unknown{Frame: f})
	}
	ev.Action, s = s[:j], s[j+len("): ["):]
	k := strings.IndexByte(s, ']')
	if k < 0 {
		return a.unknown(Unknown{Frame: f})
	}
	sc, th, ok := strings.Cut(s[:k], "/")
	if !ok {
		return a.unknown(Unknown{Frame: f})
	}
	ev.Score, _ = parseFloat(sc)
	ev.Threshold, _ = parseFloat(th)
	s = s[k+1:]
	if r, ok := strings.CutPrefix(s, " ["); ok {
		// symbols: NAME(score){options;} separated by commas; options may hold commas
		depthB := 0
		start := 0
		for p := 0; p < len(r); p++ {
			switch r[p] {
			case '{':
				depthB++
			case '}':
				depthB--
			case ',', ']':
				if depthB > 0 {
					continue
				}
				sym := r[start:p]
				if q := strings.IndexByte(sym, '('); q > 0 {
					sym = sym[:q]
				}
				if sym != "" {
					ev.Symbols = append(ev.Symbols, sym)
				}
				start = p + 1
				if r[p] == ']' {
					p = len(r)
				}
			}
		}
	}
	return ev
}

// ParseRoundcube parses Roundcube's login log lines (log_logins = true),
// as written to syslog ("roundcube: <sess> Successful login for …").
func ParseRoundcube(f Frame) Event { return parseRoundcube(nil, f) }

func parseRoundcube(a *Arena, f Frame) Event {
	m := f.Message
	if m != "" && m[0] == '<' { // "<sessid> " prefix of newer versions
		if i := strings.Index(m, "> "); i > 0 {
			m = m[i+2:]
		}
	}
	ev := &RoundcubeLogin{Frame: f}
	var rest string
	if r, ok := strings.CutPrefix(m, "Successful login for "); ok {
		ev.OK, rest = true, r
	} else if r, ok := strings.CutPrefix(m, "Failed login for "); ok {
		rest = r
	} else {
		return notice(a, f, "", f.Message)
	}
	fi := strings.LastIndex(rest, " from ")
	if fi < 0 {
		return a.unknown(Unknown{Frame: f})
	}
	user, tail := rest[:fi], rest[fi+len(" from "):]
	if i := strings.LastIndex(user, " (ID: "); i >= 0 && strings.HasSuffix(user, ")") {
		ev.UserID, _ = atoiDigits(user[i+len(" (ID: ") : len(user)-1])
		user = user[:i]
	}
	ev.User = user
	ip := tail
	if i := strings.IndexByte(tail, ' '); i >= 0 {
		ip = tail[:i]
		if s, ok := strings.CutPrefix(tail[i:], " in session "); ok {
			if j := strings.IndexByte(s, ' '); j >= 0 {
				s = s[:j]
			}
			ev.Session = s
		}
	}
	ev.RemoteIP = strings.TrimSuffix(ip, ".")
	return ev
}
