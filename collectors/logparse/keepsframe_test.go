package logparse

import (
	"bufio"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestEventKeepsItsFrame: the event of a framed line carries that frame
// unchanged, parsed on its own or from an Arena, over the corpora and
// the samples: an importer hands the correlator the frame it holds with
// the event (correlate.Correlator.AddFramed), not read from the event.
func TestEventKeepsItsFrame(t *testing.T) {
	t.Parallel()
	var files []string
	for _, f := range []string{"postfix/smtp/mail.log", "postfix/imap/mail.log", "postfix/mx1/mail.log", "postfix/mx1/postfix.log", "exim/mainlog"} {
		files = append(files, filepath.Join("../corpus", f))
	}
	for _, f := range []string{"postfix.log", "syslog-mail.log", "clamav.log"} {
		files = append(files, filepath.Join(sampleDir, f))
	}
	arena := new(Arena)
	n := 0
	for _, name := range files {
		fh, err := os.Open(name)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		fr := NewFramer(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC), time.UTC)
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			f, err := fr.Frame(sc.Text())
			if err != nil {
				continue
			}
			n++
			for _, ev := range []Event{Parse(f), arena.Parse(f)} {
				if h := ev.Header(); h != f || !h.Time.Equal(f.Time) {
					t.Fatalf("%s: %q: %s event's frame %+v, want %+v", name, sc.Text(), ev.Kind(), h, f)
				}
			}
		}
		fh.Close()
	}
	if n < 10000 {
		t.Fatalf("%d lines: the corpora are missing", n)
	}
}
