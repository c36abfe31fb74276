package logparse

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestYearGuesser(t *testing.T) {
	t.Parallel()
	utc := time.UTC
	tests := []struct {
		name  string
		ref   time.Time
		lines []time.Month // day 1 of each, read in order
		want  []int        // years
	}{
		{"same year", time.Date(2026, 11, 22, 12, 0, 0, 0, utc), []time.Month{11, 11}, []int{2026, 2026}},
		{"December read in January", time.Date(2027, 1, 5, 0, 0, 0, 0, utc), []time.Month{12}, []int{2026}},
		{"file spans New Year", time.Date(2027, 1, 5, 0, 0, 0, 0, utc), []time.Month{12, 12, 1, 1}, []int{2026, 2026, 2027, 2027}},
		{"slightly in the future is fine", time.Date(2026, 11, 22, 0, 0, 0, 0, utc), []time.Month{12}, []int{2026}},
		{"straggler after the wrap", time.Date(2027, 1, 5, 0, 0, 0, 0, utc), []time.Month{12, 1, 12, 1}, []int{2026, 2027, 2026, 2027}},
		{"wrap into the far future is refused", time.Date(2026, 12, 31, 0, 0, 0, 0, utc), []time.Month{12, 6}, []int{2026, 2026}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := NewYearGuesser(tc.ref, utc)
			for i, m := range tc.lines {
				got := g.Time(m, 1, 0, 0, 0, 0)
				if got.Year() != tc.want[i] {
					t.Errorf("line %d (%v): year %d, want %d", i, m, got.Year(), tc.want[i])
				}
				if got.After(tc.ref.Add(MaxFuture)) {
					t.Errorf("line %d: %v more than MaxFuture after %v", i, got, tc.ref)
				}
			}
		})
	}
}

func TestFrame(t *testing.T) {
	t.Parallel()
	ref := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		line string
		want Frame
	}{
		{"Nov 22 10:53:10 mx postfix/smtpd[123]: connect from x[1.2.3.4]",
			Frame{Time: time.Date(2026, 11, 22, 10, 53, 10, 0, time.UTC), Host: "mx", Program: "postfix/smtpd", PID: 123, Priority: -1, Message: "connect from x[1.2.3.4]"}},
		{"Nov  2 01:02:03 mx postfix/submission/smtpd[9]: hi\n",
			Frame{Time: time.Date(2026, 11, 2, 1, 2, 3, 0, time.UTC), Host: "mx", Program: "postfix/submission/smtpd", PID: 9, Priority: -1, Message: "hi"}},
		{"2026-11-22T10:53:18.486012+00:00 mx dovecot: imap-login: Login: user=<a>",
			Frame{Time: time.Date(2026, 11, 22, 10, 53, 18, 486012000, time.UTC), Host: "mx", Program: "dovecot", Priority: -1, Message: "imap-login: Login: user=<a>"}},
		{"<22>Nov 22 10:53:10 mx postfix/qmgr[7]: ABCDE12345: removed",
			Frame{Time: time.Date(2026, 11, 22, 10, 53, 10, 0, time.UTC), Host: "mx", Program: "postfix/qmgr", PID: 7, Priority: 22, Message: "ABCDE12345: removed"}},
		{"<13>2026-11-22T10:53:18+01:00 mx amavis[1]: (1-01) x",
			Frame{Time: time.Date(2026, 11, 22, 9, 53, 18, 0, time.UTC), Host: "mx", Program: "amavis", PID: 1, Priority: 13, Message: "(1-01) x"}},
		{"Nov 22 10:53:10.250 mx clamd[3]:",
			Frame{Time: time.Date(2026, 11, 22, 10, 53, 10, 250000000, time.UTC), Host: "mx", Program: "clamd", PID: 3, Priority: -1, Message: ""}},
	}
	for _, tc := range tests {
		got, err := NewFramer(ref, time.UTC).Frame(tc.line)
		if err != nil {
			t.Errorf("%q: %v", tc.line, err)
			continue
		}
		if !got.Time.Equal(tc.want.Time) {
			t.Errorf("%q: time %v, want %v", tc.line, got.Time, tc.want.Time)
		}
		got.Time = tc.want.Time
		if got != tc.want {
			t.Errorf("%q:\n got %+v\nwant %+v", tc.line, got, tc.want)
		}
	}
}

func TestFrameMalformed(t *testing.T) {
	t.Parallel()
	for _, line := range []string{
		"", "\n", "Nov", "Foo 22 10:53:10 mx postfix/smtpd[1]: x", "Nov 32 10:53:10 mx p: x",
		"Nov 22 25:53:10 mx p: x", "Nov 22 10:53:10 mx", "Nov 22 10:53:10 mx tag-without-colon",
		"Nov 22 10:53:10 mx postfix/smtpd[abc]: x", "Nov 22 10:53:10 mx postfix/smtpd[1] x",
		"2026-13-22T10:53:18Z mx p: x", "2026-11-22T10:53:18Z", "<999>Nov 22 10:53:10 mx p: x",
		"<>Nov 22 10:53:10 mx p: x", "<1", "Nov 22 10:53:10. mx p: x",
	} {
		_, err := NewFramer(time.Now(), nil).Frame(line)
		var fe *FrameError
		if !errors.Is(err, ErrMalformed) || !errors.As(err, &fe) || fe.Reason == "" {
			t.Errorf("%q: err %v, want a *FrameError wrapping ErrMalformed", line, err)
		}
	}
}

// TestFramerTimestampCache: reusing the last traditional timestamp gives
// the times parsing every line afresh gives, across a year change, a
// straggler from December, fractions and the real sample.
func TestFramerTimestampCache(t *testing.T) {
	t.Parallel()
	lines := []string{
		"Dec 31 23:59:59 mx postfix/qmgr[1]: a",
		"Dec 31 23:59:59 mx postfix/qmgr[1]: b",
		"Jan  1 00:00:00 mx postfix/qmgr[1]: c",
		"Dec 31 23:59:59 mx postfix/qmgr[1]: straggler",
		"Jan  1 00:00:00 mx postfix/qmgr[1]: d",
		"Jan  1 00:00:00.25 mx postfix/qmgr[1]: e",
		"Jan  1 00:00:00.25 mx postfix/qmgr[1]: f",
		"Jan  1 00:00:00.5 mx postfix/qmgr[1]: g",
		"Jan  1 00:00:00 mx postfix/qmgr[1]: h",
		"Jan 1 00:00:01 mx postfix/qmgr[1]: i",
		"Jan  1 00:00:01 mx postfix/qmgr[1]: j",
	}
	for _, name := range []string{"postfix.log", "syslog-mail.log"} {
		if _, err := os.Stat(filepath.Join(sampleDir, name)); err == nil {
			lines = append(lines, sampleLines(t, name)...)
		}
	}
	ref := time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC)
	cached, fresh := NewFramer(ref, time.UTC), NewFramer(ref, time.UTC)
	for _, l := range lines {
		a, errA := cached.Frame(l)
		fresh.lastTS = ""
		b, errB := fresh.Frame(l)
		if (errA == nil) != (errB == nil) || !a.Time.Equal(b.Time) || a != b {
			t.Fatalf("%q: cached %v %v, fresh %v %v", l, a.Time, errA, b.Time, errB)
		}
	}
}

// TestFrameToSetsWhole: FrameTo into a Frame that holds another line's
// gives what Frame gives (also the errors), for well-formed and malformed
// lines and the samples: an importer frames into chunks used again.
func TestFrameToSetsWhole(t *testing.T) {
	t.Parallel()
	lines := []string{
		"Nov 22 10:53:10 mx postfix/smtpd[123]: connect from x[1.2.3.4]",
		"<22>Nov 22 10:53:10 mx2 postfix/qmgr[7]: ABCDE12345: removed",
		"2026-11-22T10:53:18.486012+00:00 mx dovecot: imap-login: Login: user=<a>",
		"2026-12-07 05:35:16 1uNwXy-000123-AB <= a@b.example H=x [1.2.3.4] P=esmtp S=1",
		"Nov 22 10:53:10 mx clamd: no pid",
		"", "Nov", "<999>Nov 22 10:53:10 mx p: x", "Nov 22 10:53:10 mx postfix/smtpd[abc]: x",
		"Nov 22 10:53:10 mx tag-without-colon", "2026-13-22T10:53:18Z mx p: x",
	}
	for _, name := range []string{"postfix.log", "syslog-mail.log"} {
		if _, err := os.Stat(filepath.Join(sampleDir, name)); err == nil {
			lines = append(lines, sampleLines(t, name)...)
		}
	}
	if len(lines) < 100 {
		t.Fatalf("%d lines: the samples are missing", len(lines))
	}
	ref := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	a, b := NewFramer(ref, time.UTC), NewFramer(ref, time.UTC)
	dirty := Frame{Time: ref, Host: "old", Program: "old/prog", PID: 99, Priority: 7, Message: "old message"}
	into := dirty
	for i := range 3 * len(lines) {
		l := lines[(i*7919)%len(lines)] // each after others
		want, wantErr := a.Frame(l)
		gotErr := b.FrameTo(&into, l)
		if (wantErr == nil) != (gotErr == nil) || (wantErr != nil && wantErr.Error() != gotErr.Error()) ||
			!into.Time.Equal(want.Time) || into != want {
			t.Fatalf("%q: FrameTo %+v %v, Frame %+v %v", l, into, gotErr, want, wantErr)
		}
		if i%5 == 0 {
			into = dirty
		}
	}
}
