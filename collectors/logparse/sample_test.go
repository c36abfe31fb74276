package logparse

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"
)

// sampleDir is the real-log sample shared by the team (see its README.md).
const sampleDir = "../../../shared/samples/real-logs"

// sampleLines returns the lines of one sample file, or skips the test.
func sampleLines(tb testing.TB, name string) []string {
	tb.Helper()
	path := filepath.Join(sampleDir, name)
	fh, err := os.Open(path)
	if os.IsNotExist(err) {
		tb.Skipf("sample logs not present at %s; skipping", path)
	}
	if err != nil {
		tb.Fatal(err)
	}
	defer fh.Close()
	var lines []string
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return lines
}

// sampleRef is a reference time for the sample: the README says the files
// were cut at 2026-11-22 11:00:30.348 UTC.
var sampleRef = time.Date(2026, 11, 22, 11, 0, 31, 0, time.UTC)

func TestSampleLinesParse(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"postfix.log", "syslog-mail.log"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			lines := sampleLines(t, name)
			fr := NewFramer(sampleRef, time.UTC)
			kinds := map[Kind]int{}
			unknown := map[string]int{}
			for i, line := range lines {
				ev, err := ParseLine(fr, line)
				if err != nil {
					t.Fatalf("line %d: %v", i+1, err)
				}
				h := ev.Header()
				if h.Time.Year() != 2026 || h.Time.Month() != time.November || h.Time.Day() != 22 {
					t.Fatalf("line %d: time %v", i+1, h.Time)
				}
				kinds[ev.Kind()]++
				if ev.Kind() == KindUnknown {
					unknown[h.Program]++
					if unknown[h.Program] <= 3 {
						t.Logf("unknown: %s", line)
					}
				}
			}
			var ks []string
			for k, n := range kinds {
				ks = append(ks, k.String()+"="+strconv.Itoa(n))
			}
			sort.Strings(ks)
			t.Logf("%s: %d lines; kinds %v; unknown per program %v", name, len(lines), ks, unknown)
			for prog, n := range unknown {
				switch FamilyOf(prog) {
				case FamilyPostfix, FamilyDovecot, FamilyAmavis, FamilyPostgrey:
					t.Errorf("%d unknown %s lines", n, prog)
				}
			}
		})
	}
}
