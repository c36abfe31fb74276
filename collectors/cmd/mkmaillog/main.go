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
//	go run ./collectors/cmd/mkmaillog -lines 1000000 -o /tmp/mail-1m.log
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
)

func main() {
	dir := flag.String("sample", "../shared/samples/real-logs", "directory with postfix.log and syslog-mail.log")
	n := flag.Int("lines", 1000000, "lines to write")
	out := flag.String("o", "mail-1m.log", "output file")
	flag.Parse()
	if err := run(*dir, *n, *out); err != nil {
		fmt.Fprintln(os.Stderr, "mkmaillog:", err)
		os.Exit(1)
	}
}

func run(dir string, n int, out string) error {
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
	fh, err := os.Create(out)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(fh, 1<<20)
	written := 0
	for rep := 0; written < n; rep++ {
		shift := time.Duration(rep) * span
		prefix := fmt.Sprintf("%02X", rep%256)
		for _, l := range lines {
			if written == n {
				break
			}
			rest := l.rest
			if rep > 0 {
				rest = queueID.ReplaceAllStringFunc(rest, func(q string) string { return q[:8] + prefix })
				rest = session.ReplaceAllStringFunc(rest, func(s string) string { return s[:15] + prefix + ">" })
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
	fmt.Printf("wrote %d lines to %s (sample of %d lines repeated every %s)\n", written, out, len(lines), span)
	return nil
}
