package logparse

import (
	"strings"
)

// ParseAmavis parses an amavisd-new line. Per-message lines start with the
// log ID "(pid-seq)" (amavisd "$log_templ", log_level 0); lines without one
// are process-level (startup, decoders) and give a Notice.
func ParseAmavis(f Frame) Event { return parseAmavis(nil, f) }

func parseAmavis(a *Arena, f Frame) Event {
	m := f.Message
	if m == "" || m[0] != '(' {
		return notice(a, f, "", m)
	}
	rp := strings.IndexByte(m, ')')
	if rp < 2 || rp+1 >= len(m) || m[rp+1] != ' ' {
		return a.unknown(Unknown{Frame: f})
	}
	logID := m[1:rp]
	if strings.HasPrefix(logID, "rel-") {
		if ev := parseAmavisRelease(f, logID, m[rp+2:]); ev != nil {
			return ev
		}
		return notice(a, f, "", m)
	}
	for i := 0; i < len(logID); i++ {
		if !isDigit(logID[i]) && logID[i] != '-' {
			if logID[0] == '!' { // "(!)…": an amavis warning without a log ID
				return notice(a, f, "", m)
			}
			return a.unknown(Unknown{Frame: f})
		}
	}
	s := m[rp+2:]
	switch {
	case strings.HasPrefix(s, "..."):
		// the rest of a line amavis split because it was too long
		part := &AmavisPart{Frame: f, LogID: logID, Text: s[3:]}
		if t, ok := strings.CutSuffix(part.Text, "..."); ok {
			part.Text, part.More = t, true
		}
		return part
	case strings.HasPrefix(s, "(!"):
		return notice(a, f, "", m)
	case strings.HasPrefix(s, "Passed "), strings.HasPrefix(s, "Blocked "):
	default:
		return a.unknown(Unknown{Frame: f})
	}
	ev := a.amavis(AmavisResult{Frame: f, LogID: logID})
	sp := strings.IndexByte(s, ' ')
	ev.Action, s = s[:sp], s[sp+1:]
	end := strings.IndexAny(s, " ,")
	if end <= 0 {
		return a.unknown(Unknown{Frame: f})
	}
	ev.Category, s = s[:end], s[end:]
	if strings.HasSuffix(s, "...") {
		ev.Truncated = true
		s = s[:len(s)-3]
		if i := strings.LastIndex(s, ", "); i >= 0 {
			s = s[:i] // the last field may be cut short; drop it
		}
	}
	if strings.HasPrefix(s, " (") {
		depth, j := 0, 1
		for ; j < len(s); j++ {
			if s[j] == '(' {
				depth++
			} else if s[j] == ')' {
				depth--
				if depth == 0 {
					break
				}
			}
		}
		if j >= len(s) {
			return a.unknown(Unknown{Frame: f})
		}
		ev.Detail, s = s[2:j], s[j+1:]
	}
	if strings.HasPrefix(s, " {") {
		j := strings.IndexByte(s, '}')
		if j < 0 {
			return a.unknown(Unknown{Frame: f})
		}
		ev.Flags, s = s[2:j], s[j+1:]
	}
	s, ok := strings.CutPrefix(s, ", ")
	if !ok {
		return a.unknown(Unknown{Frame: f})
	}
	// client part: "[ORIGINATING] [LOCAL] [ip]:port [ip] " up to "<from>"
	lt := strings.Index(s, "<")
	if lt < 0 {
		return a.unknown(Unknown{Frame: f})
	}
	for tok := range strings.FieldsSeq(s[:lt]) {
		switch {
		case strings.HasPrefix(tok, "ORIGINATING"):
			ev.Originating = true
		case strings.HasPrefix(tok, "[") && ev.ClientIP == "":
			_, ip, port, _, ok := hostIP(tok)
			if ok {
				ev.ClientIP, ev.ClientPort = ip, port
			}
		}
	}
	s = s[lt:]
	from, r, ok := angle(s)
	if !ok {
		return a.unknown(Unknown{Frame: f})
	}
	ev.From = from
	r, ok = strings.CutPrefix(r, " -> ")
	if !ok {
		return a.unknown(Unknown{Frame: f})
	}
	for strings.HasPrefix(r, "<") {
		to, rest, ok := angle(r)
		if !ok {
			break
		}
		if ev.To == nil {
			// room for every recipient of the list at once (bounded: the
			// count is the line's word)
			ev.To = make([]string, 0, min(strings.Count(r, ",<")+1, 64))
		}
		ev.To = append(ev.To, to)
		r = rest
		if !strings.HasPrefix(r, ",<") {
			break
		}
		r = r[1:]
	}
	// ", Key: value" fields
	for r != "" {
		r, ok = strings.CutPrefix(r, ", ")
		if !ok {
			break
		}
		var field string
		if strings.HasPrefix(r, "Message-ID: <") {
			v, rest, ok := angle(r[len("Message-ID: "):])
			if !ok {
				break
			}
			ev.MessageID, r = v, rest
			continue
		}
		if i := strings.Index(r, ", "); i >= 0 {
			field, r = r[:i], r[i:]
		} else {
			field, r = r, ""
		}
		k, v, ok := strings.Cut(field, ": ")
		if !ok {
			if ms, ok := strings.CutSuffix(field, " ms"); ok {
				ev.ElapsedMS, _ = atoiDigits(ms)
			}
			continue
		}
		switch k {
		case "Queue-ID":
			ev.QueueID = v
		case "mail_id":
			ev.MailID = v
		case "Hits":
			ev.Hits = v
		case "size":
			n, _, _ := leadingInt(v)
			ev.Size = int64(n)
		case "quarantine":
			ev.Quarantine = v
		case "queued_as":
			for v != "" {
				q := v
				if i := strings.IndexByte(v, '/'); i >= 0 {
					q, v = v[:i], v[i+1:]
				} else {
					v = ""
				}
				if isQueueID(q) {
					if ev.QueuedAs == nil {
						ev.QueuedAs = make([]string, 0, min(strings.Count(v, "/")+1, 64))
					}
					ev.QueuedAs = append(ev.QueuedAs, q)
				}
			}
		}
	}
	return ev
}

// parseAmavisRelease reads "Quarantined message release (reason): MAILID
// <from> -> <to>,<to2>" after a "(rel-…)" log ID.
func parseAmavisRelease(f Frame, logID, s string) *AmavisRelease {
	r, ok := strings.CutPrefix(s, "Quarantined message release")
	if !ok {
		return nil
	}
	ev := &AmavisRelease{Frame: f, LogID: logID}
	if strings.HasPrefix(r, " (") {
		j := strings.Index(r, "): ")
		if j < 0 {
			return nil
		}
		ev.Reason, r = r[2:j], r[j+1:]
	}
	r, ok = strings.CutPrefix(r, ": ")
	if !ok {
		return nil
	}
	sp := strings.IndexByte(r, ' ')
	if sp <= 0 {
		return nil
	}
	ev.MailID, r = r[:sp], r[sp+1:]
	from, r, ok := angle(r)
	if !ok {
		return nil
	}
	ev.From = from
	r, ok = strings.CutPrefix(r, " -> ")
	if !ok {
		return nil
	}
	for strings.HasPrefix(r, "<") {
		to, rest, ok := angle(r)
		if !ok {
			break
		}
		ev.To = append(ev.To, to)
		r = strings.TrimPrefix(rest, ",")
	}
	return ev
}
