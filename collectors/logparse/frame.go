package logparse

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// ErrMalformed is wrapped by every framing error, so callers can count bad
// lines with errors.Is without looking at the reason.
var ErrMalformed = errors.New("malformed log line")

// FrameError says why a line could not be framed.
type FrameError struct {
	Reason string // short, fixed text, e.g. "bad timestamp"
	Line   string // the line, cut to 120 bytes
}

func (e *FrameError) Error() string {
	return "logparse: " + e.Reason + ": " + strconv.Quote(e.Line)
}

// Unwrap returns ErrMalformed.
func (e *FrameError) Unwrap() error { return ErrMalformed }

func frameErr(reason, line string) error {
	if len(line) > 120 {
		line = line[:120]
	}
	return &FrameError{Reason: reason, Line: line}
}

// Frame is one syslog line split into its parts. Message is a substring of
// the input line.
type Frame struct {
	Time     time.Time
	Host     string
	Program  string // the tag without the pid, e.g. "postfix/submission/smtpd", "dovecot"
	PID      int    // 0 when the tag carries no [pid]
	Priority int    // the <PRI> value (RFC 3164 §4.1.1), or -1 when absent
	Message  string // the text after "tag: "
}

// Header returns the frame itself; every event embeds a Frame, so every
// event has it.
func (f Frame) Header() Frame { return f }

func (Frame) sealed() {}

// MaxFuture is how far past the reference time a year-less timestamp may lie
// before the YearGuesser assigns it to the previous year. Log lines cannot
// be written after the file was last modified, but clocks and mtimes drift,
// so a month of slack is allowed.
const MaxFuture = 31 * 24 * time.Hour

// YearGuesser supplies the year that traditional syslog timestamps
// (RFC 3164 §4.1.2: "Mmm dd hh:mm:ss") leave out.
//
// The first line gets the reference time's year, or the year before when
// that would put the line more than MaxFuture after the reference (a
// December line read in January). After that the guesser keeps state while
// a file is read in order: when the month jumps backwards by six months or
// more (December → January) the year is incremented. A line that would
// still land more than MaxFuture in the future is put a year earlier.
//
// The reference should be the file's modification time when reading a file,
// or the current time when receiving live syslog. A YearGuesser is not safe
// for concurrent use; use one per file or stream.
type YearGuesser struct {
	ref     time.Time
	loc     *time.Location
	year    int
	last    time.Month
	started bool
}

// NewYearGuesser returns a guesser for timestamps in loc (nil means UTC)
// relative to ref.
func NewYearGuesser(ref time.Time, loc *time.Location) *YearGuesser {
	if loc == nil {
		loc = time.UTC
	}
	return &YearGuesser{ref: ref, loc: loc}
}

// Time returns the full time for a year-less timestamp.
func (g *YearGuesser) Time(month time.Month, day, hour, min, sec, nsec int) time.Time {
	limit := g.ref.Add(MaxFuture)
	if !g.started {
		g.started = true
		g.year = g.ref.In(g.loc).Year()
		g.last = month
		t := time.Date(g.year, month, day, hour, min, sec, nsec, g.loc)
		if t.After(limit) {
			g.year--
			t = time.Date(g.year, month, day, hour, min, sec, nsec, g.loc)
		}
		return t
	}
	year := g.year
	switch {
	case month < g.last && g.last-month >= 6: // Dec → Jan: a new year began
		year++
		t := time.Date(year, month, day, hour, min, sec, nsec, g.loc)
		if t.After(limit) { // the wrap cannot be right; stay in this year
			return time.Date(g.year, month, day, hour, min, sec, nsec, g.loc)
		}
		g.year, g.last = year, month
		return t
	case month > g.last && month-g.last >= 6: // a straggler from last December
		return time.Date(year-1, month, day, hour, min, sec, nsec, g.loc)
	}
	g.last = month
	t := time.Date(year, month, day, hour, min, sec, nsec, g.loc)
	if t.After(limit) {
		t = time.Date(year-1, month, day, hour, min, sec, nsec, g.loc)
	}
	return t
}

// Framer splits lines into Frames. It holds a YearGuesser, so it is not safe
// for concurrent use: use one Framer per file or stream, fed in order.
type Framer struct {
	years *YearGuesser
	loc   *time.Location
	// The last traditional timestamp ("Nov 22 10:53:10 ", with its
	// fraction if any) and the time it gave: lines of the same second
	// repeat it, and YearGuesser.Time with the same arguments right after
	// itself returns the same time without changing its state.
	lastTS   string
	lastTime time.Time
	// Host names and program tags are few: each is kept once, so a
	// frame's Host and Program never share memory with the line (which a
	// reader may hand out as a view of a larger buffer) and are not
	// copied per line by those who keep them.
	lastHost string
	names    Interner
	programs [32]string // recent kept program tags, by progSlot
}

// progSlot picks a program tag's place in Framer.programs.
func progSlot(s string) int {
	return (len(s) ^ int(s[len(s)-1])<<1 ^ int(s[len(s)/2])<<3) & 31
}

// maxNames bounds the host names and program tags a Framer keeps.
const maxNames = 512

// intern returns the kept copy of s.
func (f *Framer) intern(s string) string { return f.names.Intern(s, maxNames) }

// Interner keeps one copy of each string it is given, up to a bound, so
// that what is kept for long (map keys, host names) shares no memory with
// the line, or read buffer, it came from, and equal strings are copied
// once. The zero Interner is ready to use.
type Interner struct{ m map[string]string }

// Intern returns the kept copy of s, keeping it if fewer than max strings
// are kept; past the bound it returns a fresh copy.
func (in *Interner) Intern(s string, max int) string {
	if v, ok := in.m[s]; ok {
		return v
	}
	v := strings.Clone(s)
	if len(in.m) < max {
		if in.m == nil {
			in.m = make(map[string]string)
		}
		in.m[v] = v
	}
	return v
}

// NewFramer returns a Framer whose year-less timestamps are in loc (nil
// means UTC) and are resolved relative to ref (the file's mtime, or now).
func NewFramer(ref time.Time, loc *time.Location) *Framer {
	if loc == nil {
		loc = time.UTC
	}
	return &Framer{years: NewYearGuesser(ref, loc), loc: loc}
}

// Frame splits one line (without its trailing newline; a trailing "\n" or
// "\r\n" is tolerated) into a Frame. Accepted forms:
//
//	Nov 22 10:53:10 mx postfix/smtpd[123]: text              (RFC 3164, no year)
//	2026-11-22T10:53:18.486012+00:00 mx dovecot: text        (RFC 3339, rsyslog)
//	<22>Nov 22 10:53:10 mx postfix/smtpd[123]: text           (with <PRI>)
func (f *Framer) Frame(line string) (Frame, error) {
	var fr Frame
	err := f.FrameTo(&fr, line)
	return fr, err
}

// FrameTo is Frame into *fr, which it sets whole (on an error, to what
// Frame returns with it): an importer frames its lines into its chunks,
// not into a Frame copied there twice more.
func (f *Framer) FrameTo(fr *Frame, line string) error {
	for n := len(line); n > 0 && (line[n-1] == '\n' || line[n-1] == '\r'); n-- {
		line = line[:n-1]
	}
	*fr = Frame{Priority: -1}
	s := line
	if s == "" {
		return frameErr("empty line", line)
	}
	if s[0] == '<' {
		end := strings.IndexByte(s, '>')
		if end < 2 || end > 4 {
			return frameErr("bad <PRI>", line)
		}
		pri, ok := atoiDigits(s[1:end])
		if !ok || pri > 191 {
			return frameErr("bad <PRI>", line)
		}
		fr.Priority = pri
		s = s[end+1:]
	}
	var err error
	switch {
	case isEximStamp(s):
		x, err := f.exim(*fr, s, line)
		*fr = x
		return err
	case len(s) >= 4 && isDigit(s[0]) && isDigit(s[1]) && isDigit(s[2]) && isDigit(s[3]):
		sp := strings.IndexByte(s, ' ')
		if sp < 0 {
			return frameErr("no host after timestamp", line)
		}
		fr.Time, err = time.Parse(time.RFC3339Nano, s[:sp])
		if err != nil {
			return frameErr("bad RFC 3339 timestamp", line)
		}
		s = s[sp+1:]
	default:
		var n int
		fr.Time, n, err = f.traditional(s)
		if err != nil {
			return frameErr(err.Error(), line)
		}
		s = s[n:]
	}
	// host
	sp := strings.IndexByte(s, ' ')
	if sp <= 0 {
		return frameErr("no program tag", line)
	}
	if host := s[:sp]; host == f.lastHost {
		fr.Host = f.lastHost
	} else {
		fr.Host = f.intern(host)
		f.lastHost = fr.Host
	}
	s = s[sp+1:]
	// tag: program[pid]: message
	end := -1 // strings.IndexAny(s, "[: ") without building the set per line
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '[' || c == ':' || c == ' ' {
			end = i
			break
		}
	}
	if end <= 0 || s[end] == ' ' {
		return frameErr("no program tag", line)
	}
	if prog, i := s[:end], progSlot(s[:end]); f.programs[i] == prog {
		fr.Program = f.programs[i]
	} else {
		fr.Program = f.intern(prog)
		f.programs[i] = fr.Program
	}
	s = s[end:]
	if s[0] == '[' {
		rb := strings.IndexByte(s, ']')
		if rb < 2 {
			return frameErr("bad [pid]", line)
		}
		pid, ok := atoiDigits(s[1:rb])
		if !ok {
			return frameErr("bad [pid]", line)
		}
		fr.PID = pid
		s = s[rb+1:]
	}
	if s == "" || s[0] != ':' {
		return frameErr("no colon after program tag", line)
	}
	s = s[1:]
	if s != "" && s[0] == ' ' {
		s = s[1:]
	}
	fr.Message = s
	return nil
}

// isEximStamp reports whether s starts with Exim's own log timestamp,
// "2026-12-07 05:35:16" (with a space, where RFC 3339 has a 'T').
func isEximStamp(s string) bool {
	return len(s) > 20 && s[4] == '-' && s[7] == '-' && s[10] == ' ' && s[13] == ':' && s[16] == ':' &&
		isDigit(s[0]) && isDigit(s[3]) && isDigit(s[11]) && isDigit(s[18])
}

// exim frames a line of Exim's own main log (log_file_path; Exim spec,
// "Log files"): "YYYY-MM-DD HH:MM:SS[.mmm] [+ZZZZ ][[pid] ]text". The
// time is in the framer's zone unless the line carries an offset
// (log_timezone); the line names no host and no program, so Program is
// "exim" and Host is empty (a stream's host name fills it in).
func (f *Framer) exim(fr Frame, s, line string) (Frame, error) {
	num := func(a, b int) (int, bool) { return atoiDigits(s[a:b]) }
	y, ok1 := num(0, 4)
	mo, ok2 := num(5, 7)
	d, ok3 := num(8, 10)
	hh, ok4 := num(11, 13)
	mm, ok5 := num(14, 16)
	ss, ok6 := num(17, 19)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || mo < 1 || mo > 12 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60 {
		return fr, frameErr("bad Exim timestamp", line)
	}
	i := 19
	nsec := 0
	if i < len(s) && s[i] == '.' {
		i++
		digits := 0
		for i < len(s) && isDigit(s[i]) {
			if digits < 9 {
				nsec = nsec*10 + int(s[i]-'0')
				digits++
			}
			i++
		}
		for ; digits < 9; digits++ {
			nsec *= 10
		}
	}
	if i >= len(s) || s[i] != ' ' {
		return fr, frameErr("bad Exim timestamp", line)
	}
	i++
	loc := f.loc
	if i+6 <= len(s) && (s[i] == '+' || s[i] == '-') && s[i+5] == ' ' {
		if oh, ok := atoiDigits(s[i+1 : i+3]); ok {
			if om, ok := atoiDigits(s[i+3 : i+5]); ok {
				off := oh*3600 + om*60
				if s[i] == '-' {
					off = -off
				}
				loc = time.FixedZone(s[i:i+5], off)
				i += 6
			}
		}
	}
	fr.Time = time.Date(y, time.Month(mo), d, hh, mm, ss, nsec, loc)
	r := s[i:]
	if strings.HasPrefix(r, "[") {
		if rb := strings.IndexByte(r, ']'); rb > 1 {
			if pid, ok := atoiDigits(r[1:rb]); ok {
				fr.PID = pid
				r = strings.TrimPrefix(r[rb+1:], " ")
			}
		}
	}
	fr.Program = "exim"
	fr.Message = r
	return fr, nil
}

var months = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// traditional parses "Mmm dd hh:mm:ss[.frac] " and returns the time and the
// number of bytes consumed, including the trailing space.
func (f *Framer) traditional(s string) (time.Time, int, error) {
	if len(s) < 16 {
		return time.Time{}, 0, errors.New("short line")
	}
	if n := len(f.lastTS); n > 0 && len(s) >= n && s[:n] == f.lastTS {
		return f.lastTime, n, nil
	}
	month := time.Month(0)
	for i, m := range months {
		if s[:3] == m {
			month = time.Month(i + 1)
			break
		}
	}
	if month == 0 || s[3] != ' ' {
		return time.Time{}, 0, errors.New("bad timestamp")
	}
	i := 4
	if s[i] == ' ' {
		i++
	}
	day := 0
	for j := 0; j < 2 && i < len(s) && isDigit(s[i]); j++ {
		day = day*10 + int(s[i]-'0')
		i++
	}
	if day < 1 || day > 31 || i+9 > len(s) || s[i] != ' ' {
		return time.Time{}, 0, errors.New("bad timestamp")
	}
	i++
	c := s[i : i+8]
	if c[2] != ':' || c[5] != ':' {
		return time.Time{}, 0, errors.New("bad timestamp")
	}
	hh, ok1 := atoiDigits(c[0:2])
	mm, ok2 := atoiDigits(c[3:5])
	ss, ok3 := atoiDigits(c[6:8])
	if !ok1 || !ok2 || !ok3 || hh > 23 || mm > 59 || ss > 60 {
		return time.Time{}, 0, errors.New("bad timestamp")
	}
	i += 8
	nsec := 0
	if i < len(s) && s[i] == '.' {
		i++
		digits := 0
		for i < len(s) && isDigit(s[i]) {
			if digits < 9 {
				nsec = nsec*10 + int(s[i]-'0')
				digits++
			}
			i++
		}
		if digits == 0 {
			return time.Time{}, 0, errors.New("bad timestamp")
		}
		for ; digits < 9; digits++ {
			nsec *= 10
		}
	}
	if i >= len(s) || s[i] != ' ' {
		return time.Time{}, 0, errors.New("bad timestamp")
	}
	t := f.years.Time(month, day, hh, mm, ss, nsec)
	f.lastTS, f.lastTime = s[:i+1], t
	return t, i + 1, nil
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// atoiDigits parses a non-empty run of at most 9 ASCII digits.
func atoiDigits(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}
