package logparse

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestHasSpecial: hasSpecial is strings.ContainsAny over the specials, for
// every byte alone and inside an address.
func TestHasSpecial(t *testing.T) {
	const specials = " <>;,()\"\\@"
	for c := 0; c < 256; c++ {
		for _, s := range []string{string([]byte{byte(c)}), "user" + string([]byte{byte(c)}) + "name", "uni.example" + string([]byte{byte(c)})} {
			if got, want := hasSpecial(s), strings.ContainsAny(s, specials); got != want {
				t.Errorf("hasSpecial(%q) = %v, want %v", s, got, want)
			}
		}
	}
	if hasSpecial("") {
		t.Error(`hasSpecial("") = true`)
	}
}

// TestAngleEnds: angleEnds gives the quote-aware end, then every other
// '>' followed by the end, ',' or ' ', in order (byte by byte, as
// written out here), over hand-picked and random addresses.
func TestAngleEnds(t *testing.T) {
	naive := func(s string) []int {
		var out []int
		if s == "" || s[0] != '<' {
			return out
		}
		q := angleEnd(s, true)
		if q > 0 {
			out = append(out, q)
		}
		for i := 1; i < len(s); i++ {
			if s[i] == '>' && i != q && (i+1 == len(s) || s[i+1] == ',' || s[i+1] == ' ') {
				out = append(out, i)
			}
		}
		return out
	}
	cases := []string{"", "<", "<>", "<a@b>", "<a@b>, orig_to=<c@d>", `<"x>, status=sent"@example.org>, relay=x`,
		"<a>b> , c>,>", "<a@b", ">", "<>>>", "<a> b>,c>"}
	cases = append(cases, randomInputs(rand.New(rand.NewPCG(1, 2)), 20000, "<", 24, `<>", \a@:`)...)
	for _, s := range cases {
		var buf [4]int
		if got, want := angleEnds(s, buf[:]), naive(s); !slices.Equal(got, want) {
			t.Fatalf("angleEnds(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestAngleEnd: angleEnd is the byte-by-byte scan written out here, with
// and without quotes, over hand-picked and random addresses.
func TestAngleEnd(t *testing.T) {
	naive := func(s string, quotes bool) int {
		in := false
		for i := 1; i < len(s); i++ {
			c := s[i]
			switch {
			case in && c == '\\':
				i++
			case quotes && c == '"':
				in = !in
			case !in && c == '>':
				if i+1 == len(s) || s[i+1] == ' ' || s[i+1] == ',' || s[i+1] == ':' {
					return i
				}
			}
		}
		return -1
	}
	cases := []string{"", "<", "<>", "<a@b>", "<a@b>, orig_to=<c@d>", `<"x>, status=sent"@example.org>, relay=x`,
		`<"a\"b>"@c>`, `<"unterminated>`, `"<a>`, `<a>b> , c>,>`, `<a\>b>`, `<">"`}
	cases = append(cases, randomInputs(rand.New(rand.NewPCG(3, 4)), 50000, "", 24, `<>", \a@:`)...)
	for _, s := range cases {
		for _, quotes := range []bool{true, false} {
			if got, want := angleEnd(s, quotes), naive(s, quotes); got != want {
				t.Fatalf("angleEnd(%q, %v) = %d, want %d", s, quotes, got, want)
			}
		}
	}
}

// disconnectTokens is parseDisconnect's reading of the command counts,
// written out with the strings functions: the reference the one-pass scan
// is held to.
func disconnectTokens(rest string) (cmds []CommandCount, ok, total int, bad bool) {
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
			return nil, 0, 0, true
		}
		c := CommandCount{Name: tok[:eq]}
		v := tok[eq+1:]
		if sl := strings.IndexByte(v, '/'); sl >= 0 {
			x, ok1 := atoiDigits(v[:sl])
			y, ok2 := atoiDigits(v[sl+1:])
			if !ok1 || !ok2 {
				return nil, 0, 0, true
			}
			c.OK, c.Total = x, y
		} else {
			x, ok := atoiDigits(v)
			if !ok {
				return nil, 0, 0, true
			}
			c.OK, c.Total = x, x
		}
		if c.Name == "commands" {
			ok, total = c.OK, c.Total
			continue
		}
		cmds = append(cmds, c)
	}
	return cmds, ok, total, false
}

// TestDisconnectCounts: parseDisconnect reads the command counts as the
// reference does, over real and random tails.
func TestDisconnectCounts(t *testing.T) {
	tails := []string{"", " ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5", " ehlo=1 auth=0/1 commands=1/2", " ehlo=1  quit=1",
		" unknown=0/1 commands=0/1", " =1", " a==1", " a=1/2/3", " a=/1", " a=1/", " rcpt=2/3 ", "  ", " a=1 b"}
	tails = append(tails, randomInputs(rand.New(rand.NewPCG(7, 8)), 50000, " ", 20, "ab =/0129 ")...)
	fr := Frame{Host: "mx", Program: "postfix/smtpd", PID: 1}
	for _, tail := range tails {
		line := "disconnect from unknown[192.0.2.1]" + tail
		ev := parseDisconnect(nil, fr, strings.TrimPrefix(line, "disconnect from "))
		cmds, ok, total, bad := disconnectTokens(tail)
		d, isDisc := ev.(*SmtpdDisconnect)
		if bad {
			if isDisc {
				t.Fatalf("%q: a disconnect %+v, want unknown", line, d)
			}
			continue
		}
		if !isDisc {
			t.Fatalf("%q: %T, want a disconnect", line, ev)
		}
		if !slices.Equal(d.Commands, cmds) || d.CommandsOK != ok || d.CommandsTotal != total {
			t.Fatalf("%q: %+v %d/%d, want %+v %d/%d", line, d.Commands, d.CommandsOK, d.CommandsTotal, cmds, ok, total)
		}
	}
}

// postgreyFields is parsePostgrey's reading of the fields before sender=,
// written out with the strings functions: the reference the one-pass scan
// is held to (nil, false: not a postgrey decision).
func postgreyFields(m string) ([][2]string, bool) {
	var out [][2]string
	for m != "" {
		field := m
		if i := strings.Index(m, ", "); i >= 0 {
			field, m = m[:i], m[i+2:]
		} else {
			m = ""
		}
		k, v, ok := strings.Cut(field, "=")
		if !ok {
			return nil, false
		}
		out = append(out, [2]string{k, v})
	}
	return out, true
}

// TestPostgreyFields: parsePostgrey reads the fields as the reference
// does, over real and random decisions.
func TestPostgreyFields(t *testing.T) {
	ms := []string{"action=greylist, reason=new, client_name=unknown, client_address=127.0.4.64",
		"action=pass, reason=triplet found, delay=42, client_name=mx.example, client_address=192.0.2.1",
		"action=greylist, reason=early-retry (5s missing), client_name=a, client_address=b",
		"action=pass, reason", "action=pass,, reason=x", "action=pass, , reason=x", "action=pass,", "action=pass, ",
		"action==x, reason=a=b", "action=pass,reason=x, delay=7"}
	ms = append(ms, randomInputs(rand.New(rand.NewPCG(9, 10)), 50000, "action=", 24, "a=, n1")...)
	fr := Frame{Host: "mx", Program: "postgrey", PID: 1}
	for _, m := range ms {
		fr.Message = m
		ev := parsePostgrey(nil, fr)
		fields, ok := postgreyFields(m)
		want := PostgreyResult{Frame: fr, Delay: -1}
		for _, kv := range fields {
			want.setField(kv[0], kv[1])
		}
		p, isPG := ev.(*PostgreyResult)
		if !ok || want.Action == "" {
			if isPG {
				t.Fatalf("%q: %+v, want unknown", m, p)
			}
			continue
		}
		if !isPG || *p != want {
			t.Fatalf("%q: %#v, want %+v", m, ev, want)
		}
	}
}

// TestCutQueueID: cutQueueID, which looks for the colon in the first 25
// bytes only, cuts as a search along the whole line does.
func TestCutQueueID(t *testing.T) {
	whole := func(s string) (string, string, bool) {
		i := strings.IndexByte(s, ':')
		if i < 5 || i+1 >= len(s) || s[i+1] != ' ' || !isQueueID(s[:i]) {
			return "", s, false
		}
		return s[:i], s[i+2:], true
	}
	cases := []string{"4ABC123DEF: removed", "action=greylist, reason=new", "3bZx1y2z3w4v5u6t7s8r9q0p: x", "3bZx1y2z3w4v5u6t7s8r9q0pA: x",
		"ABCDE:", "ABCDE: ", "ABCD: x", ""}
	cases = append(cases, randomInputs(rand.New(rand.NewPCG(11, 12)), 50000, "", 40, "AF09z: g")...)
	for _, s := range cases {
		q, r, ok := cutQueueID(s)
		wq, wr, wok := whole(s)
		if q != wq || r != wr || ok != wok {
			t.Fatalf("cutQueueID(%q) = %q, %q, %v, want %q, %q, %v", s, q, r, ok, wq, wr, wok)
		}
	}
}
