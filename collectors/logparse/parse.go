package logparse

import (
	"strings"
)

// Family names the parser a program tag is dispatched to.
type Family uint8

// The parser families. A family is a constant here and one line in
// families below; its parser lives in a file of its own
// (docs/development.md, "Add a log family").
const (
	FamilyNone Family = iota
	FamilyPostfix
	FamilyDovecot
	FamilyAmavis
	FamilyPostgrey
	FamilyClamd
	FamilyRspamd
	FamilyRoundcube
	FamilyExim
	numFamilies
)

// family is what the package knows of one parser family.
type family struct {
	// name is the family's name: the program label of its unknown lines
	// (postvakt_collector_lines_unknown_total) and the source of the
	// logins it gives.
	name string
	// tags are the program tags dispatched to it (Postfix's are matched
	// by their shape instead, see FamilyOf).
	tags []string
	// parse parses one framed line of the family's programs.
	parse func(*Arena, Frame) Event
}

// families is every parser family, one line each; FamilyNone's lines are
// "other".
var families = [numFamilies]family{
	FamilyNone:      {name: "other"},
	FamilyPostfix:   {name: "postfix", parse: parsePostfix},
	FamilyDovecot:   {name: "dovecot", tags: []string{"dovecot"}, parse: parseDovecot},
	FamilyAmavis:    {name: "amavis", tags: []string{"amavis", "amavisd", "amavisd-new"}, parse: parseAmavis},
	FamilyPostgrey:  {name: "postgrey", tags: []string{"postgrey"}, parse: parsePostgrey},
	FamilyClamd:     {name: "clamd", tags: []string{"clamd"}, parse: parseClamd},
	FamilyRspamd:    {name: "rspamd", tags: []string{"rspamd"}, parse: parseRspamd},
	FamilyRoundcube: {name: "roundcube", tags: []string{"roundcube"}, parse: parseRoundcube},
	FamilyExim:      {name: "exim", tags: []string{"exim", "exim4"}, parse: parseExim},
}

// String returns the family's name ("other" for FamilyNone), a closed set
// suitable as a metric label.
func (f Family) String() string {
	if f < numFamilies {
		return families[f].name
	}
	return "invalid"
}

// Families returns every family with a parser, in order.
func Families() []Family {
	out := make([]Family, 0, numFamilies-1)
	for f := FamilyNone + 1; f < numFamilies; f++ {
		out = append(out, f)
	}
	return out
}

// FamilyOf returns the parser family for a program tag. Postfix tags are
// "postfix/<daemon>" or, with a per-service syslog_name (master.cf
// "-o syslog_name=postfix/submission"), "postfix/<service>/<daemon>";
// multi-instance setups use names like "postfix-out/smtp". The other
// families are matched by their tags.
func FamilyOf(program string) Family {
	if strings.HasPrefix(program, "postfix") && strings.IndexByte(program, '/') > 0 {
		return FamilyPostfix
	}
	for f := FamilyPostfix + 1; f < numFamilies; f++ {
		for _, t := range families[f].tags {
			if program == t {
				return f
			}
		}
	}
	return FamilyNone
}

// Parse dispatches a framed line to the parser for its program and returns
// the event. It never returns nil: unrecognised lines, and lines of
// programs no parser covers, give *Unknown.
func Parse(f Frame) Event { return (*Arena)(nil).Parse(f) }

// Parse is the package's Parse, taking the event from a's blocks.
func (a *Arena) Parse(f Frame) Event {
	if fam := FamilyOf(f.Program); fam != FamilyNone {
		return families[fam].parse(a, f)
	}
	return a.unknown(Unknown{Frame: f})
}

// ParseLine frames a line with fr and parses it.
func ParseLine(fr *Framer, line string) (Event, error) {
	f, err := fr.Frame(line)
	if err != nil {
		return nil, err
	}
	return Parse(f), nil
}

// --- small scanners shared by the parsers ---

// cutField returns the value of "key" at the start of s (s must start with
// key) up to the separator sep, and the rest after sep. ok is false if s
// does not start with key.
func cutField(s, key, sep string) (val, rest string, ok bool) {
	if !strings.HasPrefix(s, key) {
		return "", s, false
	}
	s = s[len(key):]
	i := strings.Index(s, sep)
	if i < 0 {
		return s, "", true
	}
	return s[:i], s[i+len(sep):], true
}

// angle reads "<value>" at the start of s, as Postfix and amavis write an
// address: the address as given, its local part quoted when it holds
// specials (RFC 5321 §4.1.2 Quoted-string: "x>, status=sent"@example.org).
// A '>' inside a quoted part never closes the address; outside, the
// closing bracket is the first '>' followed by the end of s, a space, a
// comma or a colon. Without balanced quotes (an older internal form that
// was logged unquoted) the quotes are not special. rest starts after the
// '>'.
func angle(s string) (val, rest string, ok bool) {
	if s == "" || s[0] != '<' {
		return "", s, false
	}
	if end := angleEnd(s, true); end > 0 {
		return s[1:end], s[end+1:], true
	}
	if end := angleEnd(s, false); end > 0 {
		return s[1:end], s[end+1:], true
	}
	return "", s, false
}

// angleEnd returns the index of the '>' that closes the "<…>" at the start
// of s, or -1; with quotes set, '>' inside a quoted string (with '\'
// escapes) is skipped, and an unterminated quote gives -1.
func angleEnd(s string, quotes bool) int {
	// the first '>' that would close, found a '>' at a time: with no quote
	// before it, no byte before it counts
	for i := 1; i < len(s); i++ {
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			return -1 // (quotes only ever hide a '>')
		}
		if i += j; i+1 == len(s) || s[i+1] == ' ' || s[i+1] == ',' || s[i+1] == ':' {
			if !quotes {
				return i
			}
			q := strings.IndexByte(s[1:i], '"')
			if q < 0 {
				return i
			}
			return angleEndQuoted(s, 1+q)
		}
	}
	return -1
}

// angleEndQuoted is angleEnd with quotes from s[from], outside a quoted
// string (the first quote).
func angleEndQuoted(s string, from int) int {
	in := false
	for i := from; i < len(s); i++ {
		c := s[i]
		switch {
		case in && c == '\\':
			i++
		case c == '"':
			in = !in
		case !in && c == '>':
			if i+1 == len(s) || s[i+1] == ' ' || s[i+1] == ',' || s[i+1] == ':' {
				return i
			}
		}
	}
	return -1
}

// angleEnds returns the candidate closing brackets of the "<…>" at the
// start of s in order: the quote-aware one first, then every other '>'
// followed by ", " (an address logged in an unquoted form may itself hold
// "> , "). Callers take the first candidate after which the rest of the
// line parses.
func angleEnds(s string, buf []int) []int {
	out := buf[:0]
	if s == "" || s[0] != '<' {
		return out
	}
	q := angleEnd(s, true)
	if q > 0 {
		out = append(out, q)
	}
	for i := 1; i < len(s); i++ {
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			break
		}
		if i += j; i != q && (i+1 == len(s) || s[i+1] == ',' || s[i+1] == ' ') {
			out = append(out, i)
		}
	}
	return out
}

// hostIP splits "name[ip]" (optionally followed by ":port") at the start of
// s. rest starts after the ']' (and the port, when present).
func hostIP(s string) (name, ip string, port int, rest string, ok bool) {
	lb := strings.IndexByte(s, '[')
	if lb < 0 {
		return "", "", 0, s, false
	}
	if strings.IndexByte(s[:lb], ' ') >= 0 {
		return "", "", 0, s, false
	}
	rb := strings.IndexByte(s[lb:], ']')
	if rb < 0 {
		return "", "", 0, s, false
	}
	rb += lb
	name, ip, rest = s[:lb], s[lb+1:rb], s[rb+1:]
	if len(rest) > 1 && rest[0] == ':' && isDigit(rest[1]) {
		j := 1
		for j < len(rest) && isDigit(rest[j]) {
			j++
		}
		port, _ = atoiDigits(rest[1:j])
		rest = rest[j:]
	}
	return name, ip, port, rest, true
}

// isQueueID reports whether s looks like a Postfix queue ID: a short ID
// (upper-case hex, postconf(5) "enable_long_queue_ids = no") or a long one
// (alphanumeric, containing the 'z' separator).
func isQueueID(s string) bool {
	if len(s) < 5 || len(s) > 24 {
		return false
	}
	hex := true
	hasZ := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case isDigit(c) || ('A' <= c && c <= 'F'):
		case ('G' <= c && c <= 'Z') || ('a' <= c && c <= 'z'):
			hex = false
			if c == 'z' {
				hasZ = true
			}
		default:
			return false
		}
	}
	return hex || (hasZ && len(s) >= 10)
}

// cutQueueID splits "QID: rest". ok is false if s does not start with a
// queue ID followed by ": ".
func cutQueueID(s string) (qid, rest string, ok bool) {
	// a queue ID is at most 24 characters (isQueueID): the colon is
	// looked for that far only, not along a line without one
	i := strings.IndexByte(s[:min(len(s), 25)], ':')
	if i < 5 || i+1 >= len(s) || s[i+1] != ' ' || !isQueueID(s[:i]) {
		return "", s, false
	}
	return s[:i], s[i+2:], true
}

// parseFloat parses a small non-negative decimal like "0.34" or "12" or
// "1e-3" is not supported; it returns ok=false on anything else.
func parseFloat(s string) (float64, bool) {
	if s == "" {
		return 0, false
	}
	var ip, fp, scale float64 = 0, 0, 1
	i := 0
	neg := false
	if s[0] == '-' {
		neg = true
		i++
	}
	digits := 0
	for ; i < len(s) && isDigit(s[i]); i++ {
		ip = ip*10 + float64(s[i]-'0')
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for ; i < len(s) && isDigit(s[i]); i++ {
			fp = fp*10 + float64(s[i]-'0')
			scale *= 10
			digits++
		}
	}
	if i != len(s) || digits == 0 {
		return 0, false
	}
	v := ip + fp/scale
	if neg {
		v = -v
	}
	return v, true
}

// leadingInt parses the digits at the start of s.
func leadingInt(s string) (n int, rest string, ok bool) {
	i := 0
	for i < len(s) && i < 18 && isDigit(s[i]) {
		n = n*10 + int(s[i]-'0')
		i++
	}
	return n, s[i:], i > 0
}

// AccountName returns the account name a log line names, or "" when the
// line holds a placeholder for a name that is not known: Postfix's
// "(unavailable)" (smtpd_sasl_glue.c, when the client gave no user name
// before the failure), Dovecot's "?" and empty "user=<>", and the like
// ("unknown", "-", "<>", "(null)", any "(…)"). A placeholder is never an
// account: counting failures "for (unavailable)" would lump every
// anonymous failure on one made-up user.
func AccountName(s string) string {
	switch strings.ToLower(s) {
	case "", "?", "-", "<>", "unknown", "null", "none":
		return ""
	}
	if len(s) >= 2 && s[0] == '(' && s[len(s)-1] == ')' {
		return ""
	}
	return s
}

func notice(a *Arena, f Frame, qid, text string) Event {
	return a.notice(Notice{Frame: f, QueueID: qid, Text: text})
}
