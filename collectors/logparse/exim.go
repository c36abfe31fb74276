package logparse

import (
	"strings"
)

// ParseExim parses a line of Exim's main log (Exim specification, chapter
// "Log files": "Format of log lines", "Reading log files"), as written to
// its own mainlog ("2026-12-07 05:35:16 1xaRNc-0006QU-2P <= …", framed by
// Framer) or through syslog (program "exim" or "exim4"). The events are
// the ones the collectors already know:
//
//	ID <= sender H=… P=… A=auth:user S=size id=msgid T="subject" for rcpt…   → *EximArrival
//	ID => addr [<orig>] R=router T=transport [H=host [ip]] [C="reply"]       → *Delivery (sent)
//	ID -> addr …   (another address of the same delivery)                    → *Delivery (sent)
//	ID == addr … defer (-44) …: error                                        → *Delivery (deferred)
//	ID ** addr …: error                                                      → *Delivery (bounced)
//	ID Completed                                                             → *QmgrRemoved
//	H=… [F=<s>] [temporarily ]rejected RCPT <r>: reason  (and MAIL, connect, after DATA, HELO) → *Reject
//	NAME authenticator failed for … [ip]:port: 535 … (set_id=user)           → *SASLFailure
//
// A delivery's Agent is "smtp" when it went to a remote host (H=) and
// "local" otherwise; Relay is the host as "name[ip]:port" or the
// transport's name. Exim logs no reply code for its rejects: a
// "temporarily rejected" one is 451, "message too big" 552, the others 550
// (what an ACL's deny answers). The subject (T="…") and the remote reply
// (C="…") are read as quoted strings, so what a sender writes in them can
// not become a field. Other lines (queue runs, connections) are Notices.
func ParseExim(f Frame) Event { return parseExim(nil, f) }

func parseExim(a *Arena, f Frame) Event {
	m := f.Message
	if id, rest, ok := cutEximID(m); ok {
		switch {
		case strings.HasPrefix(rest, "<= "):
			return parseEximArrival(a, f, id, rest[3:])
		case strings.HasPrefix(rest, "=> "), strings.HasPrefix(rest, "-> "):
			return parseEximDelivery(a, f, id, StatusSent, rest[3:])
		case strings.HasPrefix(rest, "== "):
			return parseEximDelivery(a, f, id, StatusDeferred, rest[3:])
		case strings.HasPrefix(rest, "** "):
			return parseEximDelivery(a, f, id, StatusBounced, rest[3:])
		case rest == "Completed" || strings.HasPrefix(rest, "Completed "):
			return a.removed(QmgrRemoved{Frame: f, QueueID: id})
		case strings.HasPrefix(rest, "H="):
			if ev := parseEximReject(a, f, rest); ev != nil {
				return ev
			}
		}
		return notice(a, f, id, rest)
	}
	if strings.HasPrefix(m, "H=") || strings.HasPrefix(m, "rejected ") {
		if ev := parseEximReject(a, f, m); ev != nil {
			return ev
		}
		return notice(a, f, "", m)
	}
	if i := strings.Index(m, " authenticator failed for "); i > 0 && strings.IndexByte(m[:i], ' ') < 0 {
		return parseEximAuthFailed(f, m[:i], m[i+len(" authenticator failed for "):])
	}
	return notice(a, f, "", m)
}

// isEximID reports whether s is an Exim message ID: "1xaRNc-0006QU-2P"
// (6-6-2 base-62 characters, before 4.97) or the longer 6-11-4 form of
// Exim 4.97 and later.
func isEximID(s string) bool {
	p := strings.Split(s, "-")
	if len(p) != 3 {
		return false
	}
	if !(len(p[0]) == 6 && (len(p[1]) == 6 && len(p[2]) == 2 || len(p[1]) == 11 && len(p[2]) == 4)) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func cutEximID(s string) (id, rest string, ok bool) {
	sp := strings.IndexByte(s, ' ')
	if sp < 16 || !isEximID(s[:sp]) {
		return "", s, false
	}
	return s[:sp], s[sp+1:], true
}

// eximHost reads a host specification at the start of s (after "H="):
// "name (helo) [ip]:port", "(helo) [ip]:port", "[ip]:port" or "name [ip]".
// Exim refuses a HELO name that is not a host name or an address literal
// (unless helo_accept_junk_hosts), so the parts hold no spaces. rest
// starts after the host.
func eximHost(s string) (name, helo, ip string, port int, rest string, ok bool) {
	rest = s
	if rest != "" && rest[0] != '(' && rest[0] != '[' {
		sp := strings.IndexByte(rest, ' ')
		if sp < 0 {
			return rest, "", "", 0, "", true
		}
		name, rest = rest[:sp], rest[sp+1:]
	}
	if strings.HasPrefix(rest, "(") {
		rp := strings.Index(rest, ") ")
		if rp < 0 {
			return "", "", "", 0, s, false
		}
		helo, rest = rest[1:rp], rest[rp+2:]
	}
	if !strings.HasPrefix(rest, "[") {
		if name != "" && helo == "" {
			// "H=name" alone, and the next field follows
			return name, "", "", 0, " " + rest, true
		}
		return "", "", "", 0, s, false
	}
	rb := strings.IndexByte(rest, ']')
	if rb < 0 {
		return "", "", "", 0, s, false
	}
	ip, rest = rest[1:rb], rest[rb+1:]
	if len(rest) > 1 && rest[0] == ':' && isDigit(rest[1]) {
		j := 1
		for j < len(rest) && isDigit(rest[j]) {
			j++
		}
		port, _ = atoiDigits(rest[1:j])
		rest = rest[j:]
	}
	return name, helo, ip, port, rest, true
}

// eximQuoted reads a string quoted by Exim ("…", with backslash escapes) at
// the start of s; without the closing quote, the rest of s.
func eximQuoted(s string) (val, rest string) {
	if s == "" || s[0] != '"' {
		return "", s
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == '"':
			return b.String(), s[i+1:]
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), ""
}

// eximField is one "KEY=value" of an Exim line.
type eximField struct {
	key, val string
	// host parts of an H= field
	name, helo, ip string
	port           int
}

// nextEximField reads the field at the start of s (after any spaces).
// done is set when s is empty or at "for " (the recipient list) or at a
// token that is not a field.
func nextEximField(s string) (f eximField, rest string, ok bool) {
	s = strings.TrimLeft(s, " ")
	if s == "" {
		return f, "", false
	}
	eq := strings.IndexByte(s, '=')
	sp := strings.IndexByte(s, ' ')
	if eq <= 0 || (sp >= 0 && sp < eq) {
		return f, s, false
	}
	f.key = s[:eq]
	for i := 0; i < len(f.key); i++ {
		if c := f.key[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c) || c == '_') {
			return eximField{}, s, false
		}
	}
	v := s[eq+1:]
	switch {
	case f.key == "H" || f.key == "I":
		name, helo, ip, port, r, ok := eximHost(v)
		if !ok {
			return eximField{}, s, false
		}
		f.name, f.helo, f.ip, f.port = name, helo, ip, port
		f.val = v[:len(v)-len(r)]
		return f, r, true
	case strings.HasPrefix(v, "\""):
		f.val, rest = eximQuoted(v)
		return f, rest, true
	}
	if sp2 := strings.IndexByte(v, ' '); sp2 >= 0 {
		f.val, rest = v[:sp2], v[sp2:]
	} else {
		f.val, rest = v, ""
	}
	return f, rest, true
}

func parseEximArrival(a *Arena, f Frame, id, s string) Event {
	ev := &EximArrival{Frame: f, ID: id}
	// the sender: "<>" for a bounce, else the address as Exim logs it
	switch {
	case strings.HasPrefix(s, "<>"):
		s = s[2:]
		ev.Bounce = true
	default:
		sp := strings.IndexByte(s, ' ')
		if sp < 0 {
			ev.From, s = s, ""
		} else {
			ev.From, s = s[:sp], s[sp:]
		}
	}
	for {
		fl, rest, ok := nextEximField(s)
		if !ok {
			s = strings.TrimLeft(rest, " ")
			break
		}
		s = rest
		switch fl.key {
		case "H":
			ev.ClientName, ev.Helo, ev.ClientIP, ev.ClientPort = fl.name, fl.helo, fl.ip, fl.port
		case "I":
			ev.LocalIP, ev.LocalPort = fl.ip, fl.port
		case "P":
			ev.Protocol = fl.val
		case "A":
			// "A=authenticator:set_id" (log_selector +smtp_auth)
			if auth, user, ok := strings.Cut(fl.val, ":"); ok {
				ev.AuthMethod, ev.AuthUser = auth, user
			} else {
				ev.AuthMethod = fl.val
			}
		case "S":
			n, _, _ := leadingInt(fl.val)
			ev.Size = int64(n)
		case "id":
			ev.MessageID = fl.val
		case "T":
			ev.Subject = fl.val
		case "U":
			ev.LocalUser = fl.val
		case "R":
			ev.BounceOf = fl.val
		}
	}
	if r, ok := strings.CutPrefix(s, "for "); ok {
		ev.Recipients = eximAddressList(r)
	}
	return ev
}

// eximAddressList splits "a@x b@y" (the recipients of +received_recipients),
// keeping a quoted local part with spaces whole.
func eximAddressList(s string) []string {
	var out []string
	for s != "" {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			break
		}
		end := len(s)
		in := false
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c == '\\' && in {
				i++
				continue
			}
			if c == '"' {
				in = !in
			}
			if c == ' ' && !in {
				end = i
				break
			}
		}
		out = append(out, s[:end])
		s = s[end:]
	}
	return out
}

// parseEximDelivery reads what follows "=> ", "-> ", "== " or "** ":
//
//	addr [<orig>] R=router T=transport [S=n] [H=host [ip]] [X=…] [C="reply"] [QT=…] [DT=…]
//	addr [<orig>] R=router T=transport defer (-44) [H=host [ip]] DT=0s: error
//	addr R=router T=transport H=host [ip]: error DT=0s
//
// A local delivery names the local part delivered to, then the address as
// addressed ("it.admin <postmaster@uni.example>"): To is then the local part
// at the original's domain, OrigTo the original. "routing defer … retry
// time not reached" is no attempt and gives a Notice.
func parseEximDelivery(a *Arena, f Frame, id, status, s string) Event {
	d := Delivery{Frame: f, QueueID: id, Status: status}
	sp := strings.IndexByte(s, ' ')
	if sp < 0 {
		d.To, s = s, ""
	} else {
		d.To, s = s[:sp], s[sp+1:]
	}
	if strings.HasPrefix(s, "<") {
		if orig, rest, ok := angle(s); ok {
			d.OrigTo, s = orig, strings.TrimLeft(rest, " ")
		}
	}
	if d.OrigTo != "" && strings.IndexByte(d.To, '@') < 0 {
		if at := strings.LastIndexByte(d.OrigTo, '@'); at >= 0 {
			d.To = d.To + d.OrigTo[at:]
		}
		if d.To == d.OrigTo {
			d.OrigTo = ""
		}
	}
	transport := ""
	remote := false
	var errText string
loop:
	for {
		fl, rest, ok := nextEximField(s)
		if !ok {
			r := strings.TrimLeft(rest, " ")
			switch {
			case strings.HasPrefix(r, "routing defer"), strings.HasPrefix(r, "defer ("):
				// "defer (-44)" between the fields, then more fields
				if rp := strings.IndexByte(r, ')'); rp > 0 {
					s = r[rp+1:]
					continue
				}
				errText = r
			case strings.HasPrefix(r, ": "):
				errText = r[2:]
			case strings.HasPrefix(r, ":"):
				errText = strings.TrimLeft(r[1:], " ")
			default:
				errText = r
			}
			break loop
		}
		s = rest
		switch fl.key {
		case "T":
			transport = fl.val
		case "H":
			remote = true
			d.Relay = fl.name + "[" + fl.ip + "]"
			if fl.port > 0 {
				d.Relay += ":" + itoa(fl.port)
			}
			if strings.HasPrefix(s, ": ") {
				// a failure: "H=host [ip]: error DT=0s"
				errText = s[2:]
				break loop
			}
		case "C":
			d.Reply = fl.val
		case "DT":
			d.Delay = eximDuration(strings.TrimSuffix(fl.val, ":"))
			if strings.HasSuffix(fl.val, ":") {
				// a deferral: "DT=0s: error"
				errText = strings.TrimLeft(s, " ")
				break loop
			}
		default:
			if strings.HasSuffix(fl.val, ":") {
				errText = strings.TrimLeft(s, " ")
				break loop
			}
		}
	}
	if status == StatusDeferred && strings.Contains(errText, "retry time not reached") {
		// no delivery was attempted (Exim spec, "Retry configuration")
		return notice(a, f, id, f.Message[len(id)+1:])
	}
	if errText != "" {
		// a failure's text may end in the DT= of its delivery
		if i := strings.LastIndex(errText, " DT="); i >= 0 && strings.IndexByte(errText[i+1:], ' ') < 0 {
			d.Delay = eximDuration(errText[i+4:])
			errText = errText[:i]
		}
		if d.Reply == "" {
			d.Reply = errText
		}
	}
	if remote {
		d.Agent = "smtp"
	} else {
		d.Agent = "local"
		d.Relay = transport
	}
	d.DSN = replyDSN(d.Reply)
	if d.DSN == "" {
		switch status {
		case StatusSent:
			d.DSN = "2.0.0"
		case StatusDeferred:
			d.DSN = "4.0.0"
		case StatusBounced:
			d.DSN = "5.0.0"
		}
	}
	if d.To == "" {
		return a.unknown(Unknown{Frame: f})
	}
	return a.delivery(d)
}

// replyDSN finds the enhanced status code of an SMTP reply in text
// ("…: 451 4.7.1 Service …" gives "4.7.1").
func replyDSN(s string) string {
	for i := 0; i+9 <= len(s); i++ {
		if !(s[i] == '2' || s[i] == '4' || s[i] == '5') || !isDigit(s[i+1]) || !isDigit(s[i+2]) || s[i+3] != ' ' || (i > 0 && s[i-1] != ' ') {
			continue
		}
		r := s[i+4:]
		sp := strings.IndexByte(r, ' ')
		if sp < 0 {
			sp = len(r)
		}
		if isDSN(r[:sp]) && r[0] == s[i] {
			return r[:sp]
		}
	}
	return ""
}

// eximDuration reads "1m2s", "0s", "3.2s" (QT=, DT=) as seconds.
func eximDuration(s string) float64 {
	var total, n float64
	frac, scale := false, 1.0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isDigit(c):
			if frac {
				scale /= 10
				n += float64(c-'0') * scale
			} else {
				n = n*10 + float64(c-'0')
			}
		case c == '.':
			frac = true
		default:
			mult := map[byte]float64{'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 7 * 86400, 'y': 365 * 86400}[c]
			total += n * mult
			n, frac, scale = 0, false, 1
		}
	}
	return total
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// parseEximReject reads Exim's reject lines (the ACLs' "deny" and
// "defer", and its own limits):
//
//	H=(helo) [ip]:port [F=<sender>] rejected RCPT <rcpt>: reason
//	H=(helo) [ip]:port F=<sender> temporarily rejected RCPT <rcpt>: reason
//	H=(helo) [ip]:port rejected MAIL <sender>: reason
//	rejected MAIL FROM:<sender> H=(helo) [ip]:port: message too big: size=… max=…
//	H=[ip]:port rejected connection in "connect" ACL: reason
//	H=(helo) [ip]:port F=<sender> rejected after DATA: reason
//	H=(helo) [ip]:port rejected EHLO or HELO name: reason
func parseEximReject(a *Arena, f Frame, s string) Event {
	ev := Reject{Frame: f, Action: "reject", Code: 550}
	head := s
	if r, ok := strings.CutPrefix(s, "rejected MAIL FROM:"); ok {
		// "rejected MAIL FROM:<s> H=…: message too big"
		ev.Stage = "MAIL"
		from, rest, ok := angle(r)
		if !ok {
			return nil
		}
		ev.From = from
		rest = strings.TrimLeft(rest, " ")
		h, ok := strings.CutPrefix(rest, "H=")
		if !ok {
			return nil
		}
		name, helo, ip, _, r2, ok := eximHost(h)
		if !ok {
			return nil
		}
		ev.ClientName, ev.Helo, ev.ClientIP = name, helo, ip
		ev.Reason = strings.TrimLeft(strings.TrimPrefix(r2, ":"), " ")
		if strings.Contains(ev.Reason, "message too big") {
			ev.Code, ev.Enhanced = 552, "5.3.4"
		}
		return a.reject(ev)
	}
	// the fields before "rejected"
	for {
		fl, rest, ok := nextEximField(head)
		if !ok {
			head = strings.TrimLeft(rest, " ")
			break
		}
		head = rest
		switch fl.key {
		case "H":
			ev.ClientName, ev.Helo, ev.ClientIP = fl.name, fl.helo, fl.ip
		case "F":
			if v, _, ok := angle(fl.val); ok {
				ev.From = v
			} else {
				ev.From = strings.Trim(fl.val, "<>")
			}
		}
	}
	if ev.ClientIP == "" {
		return nil
	}
	if r, ok := strings.CutPrefix(head, "temporarily "); ok {
		head = r
		ev.Code = 451
	}
	r, ok := strings.CutPrefix(head, "rejected ")
	if !ok {
		return nil
	}
	switch {
	case strings.HasPrefix(r, "RCPT "):
		ev.Stage = "RCPT"
		to, rest, ok := angle(r[len("RCPT "):])
		if !ok {
			return nil
		}
		ev.To, r = to, rest
	case strings.HasPrefix(r, "MAIL "):
		ev.Stage = "MAIL"
		from, rest, ok := angle(r[len("MAIL "):])
		if !ok {
			return nil
		}
		ev.From, r = from, rest
	case strings.HasPrefix(r, "connection"):
		ev.Stage = "CONNECT"
		if i := strings.Index(r, ": "); i >= 0 {
			r = r[i:]
		}
	case strings.HasPrefix(r, "after DATA"):
		ev.Stage = "DATA"
		r = r[len("after DATA"):]
	case strings.HasPrefix(r, "EHLO or HELO "), strings.HasPrefix(r, "HELO "), strings.HasPrefix(r, "EHLO "):
		ev.Stage = "HELO"
		if i := strings.Index(r, ": "); i >= 0 {
			r = r[i:]
		}
	case strings.HasPrefix(r, "AUTH"):
		ev.Stage = "AUTH"
		if i := strings.Index(r, ": "); i >= 0 {
			r = r[i:]
		}
	case strings.HasPrefix(r, "VRFY"), strings.HasPrefix(r, "EXPN"), strings.HasPrefix(r, "ETRN"), strings.HasPrefix(r, "STARTTLS"):
		sp := strings.IndexAny(r, " :")
		if sp < 0 {
			sp = len(r)
		}
		ev.Stage = r[:sp]
		if i := strings.Index(r, ": "); i >= 0 {
			r = r[i:]
		}
	default:
		return nil
	}
	ev.Reason = strings.TrimPrefix(strings.TrimLeft(r, " "), ": ")
	if strings.Contains(ev.Reason, "message too big") {
		ev.Code, ev.Enhanced = 552, "5.3.4"
	}
	return a.reject(ev)
}

// parseEximAuthFailed reads "NAME authenticator failed for HOST: 535
// Incorrect authentication data (set_id=user)"; HOST is "(helo) [ip]:port"
// or "name (helo) [ip]:port", maybe with " I=[ip]:port". set_id is the
// name the client gave, last on the line.
func parseEximAuthFailed(f Frame, method, s string) Event {
	name, helo, ip, _, rest, ok := eximHost(s)
	if !ok || ip == "" {
		return &Unknown{Frame: f}
	}
	_ = helo
	rest = strings.TrimLeft(rest, " ")
	if strings.HasPrefix(rest, "I=") {
		if sp := strings.Index(rest, ": "); sp >= 0 {
			rest = rest[sp:]
		}
	}
	rest = strings.TrimPrefix(rest, ": ")
	ev := &SASLFailure{Frame: f, ClientName: name, ClientIP: ip, Method: method, Reason: rest}
	if i := strings.Index(rest, " (set_id="); i >= 0 && strings.HasSuffix(rest, ")") {
		ev.Username = AccountName(rest[i+len(" (set_id=") : len(rest)-1])
		ev.Reason = rest[:i]
	}
	return ev
}
