// Command mkmaillog builds a large mail log for benchmarks by repeating a
// sample (../shared/samples/real-logs by default) shifted in time.
//
// The sample's files are merged by time into one traditional syslog file
// ("Nov 22 10:53:10 mx postfix/smtpd[123]: …", as rsyslog writes mail.log
// with its traditional template), so every tool reads the same lines:
// postvakt, pflogsumm, prometheus-postfix-exporter and mtail. Each
// repetition is shifted by the sample's duration and gets its own Postfix
// queue IDs and Dovecot session IDs, so messages of different repetitions
// never join.
//
// With -distinct each repetition also gets its own addresses and
// Message-IDs (the local part of every <local@domain> in a line gains
// ".r" and the repetition's number), so that a trace by sender, recipient
// or Message-ID finds one repetition's messages, not every repetition's:
// a log that repeats the same keys cannot measure trace. With -days the
// repetitions are spread evenly over that many days from -start instead
// of following each other. -first-rep numbers the repetitions from N, so
// that a second log, of the days before or after the first, has its own
// addresses and Message-IDs too (queue and session IDs repeat after 4096
// repetitions, as Postfix's do in time).
//
//	go run ./collectors/cmd/mkmaillog -lines 1000000 -o /tmp/mail-1m.log
//	go run ./collectors/cmd/mkmaillog -lines 30000000 -distinct -days 30 -start 2026-11-01 -o /tmp/mail-30d.log
//	go run ./collectors/cmd/mkmaillog -lines 60000000 -distinct -days 60 -start 2026-09-02 -first-rep 1700 -o /tmp/mail-60d.log
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/collectors/logparse"
)

type line struct {
	t    time.Time
	host string
	rest string // "program[pid]: message"
}

var (
	queueID = regexp.MustCompile(`\b[0-9A-F]{10}\b`)
	session = regexp.MustCompile(`<[A-Za-z0-9+/]{16}>`)
	address = regexp.MustCompile(`<([^<>@\s]+)@`)
)

type options struct {
	distinct bool
	days     int
	start    time.Time // zero: the sample's own start
	firstRep int       // the first repetition's number
}

func main() {
	dir := flag.String("sample", "../shared/samples/real-logs", "directory with postfix.log and syslog-mail.log")
	n := flag.Int("lines", 1000000, "lines to write")
	out := flag.String("o", "mail-1m.log", "output file")
	var o options
	flag.BoolVar(&o.distinct, "distinct", false, "give each repetition its own addresses and Message-IDs")
	flag.IntVar(&o.days, "days", 0, "spread the repetitions evenly over this many days (0: one after the other)")
	flag.IntVar(&o.firstRep, "first-rep", 0, "number the repetitions from this one (their addresses and Message-IDs)")
	start := flag.String("start", "", "`date` (YYYY-MM-DD, UTC) of the first line (default: the sample's)")
	flag.Parse()
	if *start != "" {
		t, err := time.Parse("2006-01-02", *start)
		if err != nil {
			fmt.Fprintln(os.Stderr, "mkmaillog: -start:", err)
			os.Exit(2)
		}
		o.start = t
	}
	if err := run(*dir, *n, *out, o); err != nil {
		fmt.Fprintln(os.Stderr, "mkmaillog:", err)
		os.Exit(1)
	}
}

func run(dir string, n int, out string, o options) error {
	var lines []line
	ref := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	for _, name := range []string{"postfix.log", "syslog-mail.log"} {
		fh, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		fr := logparse.NewFramer(ref, time.UTC)
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			text := sc.Text()
			f, err := fr.Frame(text)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			i := strings.Index(text, " "+f.Host+" ")
			lines = append(lines, line{t: f.Time, host: f.Host, rest: text[i+len(f.Host)+2:]})
		}
		fh.Close()
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].t.Before(lines[j].t) })
	span := lines[len(lines)-1].t.Sub(lines[0].t).Truncate(time.Second) + time.Second
	step := span
	reps := (n + len(lines) - 1) / len(lines)
	if o.days > 0 {
		step = (time.Duration(o.days) * 24 * time.Hour / time.Duration(reps)).Truncate(time.Second)
		if step < span {
			return fmt.Errorf("%d repetitions of a %s sample do not fit in %d days; use fewer lines or more days", reps, span, o.days)
		}
	}
	var origin time.Duration
	if !o.start.IsZero() {
		origin = o.start.Sub(lines[0].t)
	}
	if o.distinct && reps > 4096 {
		return fmt.Errorf("-distinct gives at most 4096 repetitions their own queue IDs; %d asked", reps)
	}
	fh, err := os.Create(out)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(fh, 1<<20)
	written := 0
	for i := 0; written < n; i++ {
		shift := origin + time.Duration(i)*step
		rep := o.firstRep + i
		prefix := fmt.Sprintf("%02X", rep%256)
		keep := 8
		if o.distinct {
			prefix, keep = fmt.Sprintf("%03X", rep%4096), 7
		}
		tag := fmt.Sprintf(".r%d@", rep)
		for _, l := range lines {
			if written == n {
				break
			}
			rest := l.rest
			if rep > 0 {
				rest = queueID.ReplaceAllStringFunc(rest, func(q string) string { return q[:keep] + prefix })
				rest = session.ReplaceAllStringFunc(rest, func(s string) string { return s[:17-len(prefix)] + prefix + ">" })
			}
			if o.distinct && rep > 0 {
				rest = address.ReplaceAllStringFunc(rest, func(a string) string { return a[:len(a)-1] + tag })
			}
			t := l.t.Add(shift)
			fmt.Fprintf(w, "%s %s %s\n", t.Format(time.Stamp), l.host, rest)
			written++
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := fh.Close(); err != nil {
		return err
	}
	fmt.Printf("wrote %d lines to %s (sample of %d lines repeated every %s)\n", written, out, len(lines), step)
	return nil
}
