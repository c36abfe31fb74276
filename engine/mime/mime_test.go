package mime_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/engine/mime"
)

// part is what the tests keep of a mime.Part: its fields and decoded body.
type part struct {
	mime.Part
	body []byte
}

func walk(t *testing.T, msg string, lim mime.Limits) ([]part, mime.Summary, error) {
	t.Helper()
	var parts []part
	sum, err := mime.Walk(strings.NewReader(msg), lim, func(p *mime.Part) error {
		b, _ := io.ReadAll(p.Body)
		parts = append(parts, part{Part: *p, body: b})
		return nil
	})
	return parts, sum, err
}

func TestWalk(t *testing.T) {
	t.Parallel()
	msg := "From: a@b.example\r\nSubject: hi\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n" +
		"--XX\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nhall=E5\r\n" +
		"--XX\r\nContent-Type: application/octet-stream; name=\"x.exe\"\r\nContent-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA\r\n" +
		"--XX\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: multipart/alternative; boundary=YY\r\n\r\n" +
		"--YY\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--YY\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename*=UTF-8''r%C3%A4kning.pdf\r\n\r\n%PDF\r\n--YY--\r\n" +
		"--XX\r\nContent-Type: application/zip\r\nContent-Disposition: attachment; filename=\"=?UTF-8?B?w6RwcGxlLnppcA==?=\"\r\n\r\nPK\r\n--XX--\r\n"
	parts, sum, err := walk(t, msg, mime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Header.Get("Subject") != "hi" || sum.Broken || sum.Parts != 5 {
		t.Fatalf("summary = %+v", sum)
	}
	want := []struct {
		ct, name string
		depth    int
		body     string
	}{
		{"text/plain", "", 1, "hallå"},
		{"application/octet-stream", "x.exe", 1, "MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00"},
		{"text/html", "", 3, "<p>x</p>"},
		{"application/pdf", "räkning.pdf", 3, "%PDF"},
		{"application/zip", "äpple.zip", 1, "PK"},
	}
	for i, w := range want {
		p := parts[i]
		if p.ContentType != w.ct || p.Filename != w.name || p.Depth != w.depth || strings.TrimRight(string(p.body), "\r\n") != w.body {
			t.Errorf("part %d = %+v (body %q), want %+v", i, p, p.body, w)
		}
		if (w.name != "") != p.Attachment {
			t.Errorf("part %d attachment = %v", i, p.Attachment)
		}
	}
}

func TestWalkBroken(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		msg    string
		broken bool
	}{
		"no header end":              {"Subject: x", false},
		"bad content type":           {"Content-Type: ;;;\r\n\r\nbody", true},
		"missing boundary":           {"Content-Type: multipart/mixed; boundary=ZZ\r\n\r\n--QQ\r\n\r\nx\r\n", true},
		"bad base64":                 {"Content-Transfer-Encoding: base64\r\n\r\n!!!notbase64***\r\n", true},
		"unknown encoding":           {"Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644\r\n", true},
		"unknown charset":            {"Content-Type: text/plain; charset=x-klingon\r\n\r\nqapla\r\n", false},
		"binary header garbage":      {"\x00\x01\x02: \xff\r\n\r\n", true},
		"broken part header":         {"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\nContent-Type text/plain\r\n\r\nx\r\n--B\r\nContent-Type: application/octet-stream; name=evil.exe\r\n\r\nMZ\r\n--B--\r\n", true},
		"multipart without boundary": {"Content-Type: multipart/mixed\r\n\r\n--B\r\n\r\nx\r\n", true},
		"huge part header":           {"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("y", 70)+"\r\n", 2000) + "\r\nx\r\n--B--\r\n", true},
		"empty":                      {"", false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, sum, err := walk(t, tc.msg, mime.Limits{MaxHeaderBytes: 64 << 10})
			if err != nil {
				t.Fatalf("broken mail must be walked, not refused: %v", err)
			}
			if sum.Broken != tc.broken || (sum.Broken && len(sum.Defects) == 0) {
				t.Fatalf("broken = %v (defects %q), want %v", sum.Broken, sum.Defects, tc.broken)
			}
		})
	}
}

func TestWalkLimits(t *testing.T) {
	t.Parallel()
	nested := "Content-Type: multipart/mixed; boundary=B0\r\n\r\n"
	for i := 1; i <= 30; i++ {
		nested += "--B" + string(rune('0'+i%10)) + "\r\nContent-Type: multipart/mixed; boundary=B" + string(rune('0'+(i+1)%10)) + "\r\n\r\n"
	}
	_, _, err := walk(t, nested, mime.Limits{MaxDepth: 5})
	if !errors.Is(err, mime.ErrTooDeep) {
		t.Fatalf("deep nesting: %v", err)
	}
	many := "Content-Type: multipart/mixed; boundary=M\r\n\r\n" + strings.Repeat("--M\r\n\r\nx\r\n", 50) + "--M--\r\n"
	parts, _, err := walk(t, many, mime.Limits{MaxParts: 10})
	if !errors.Is(err, mime.ErrTooManyParts) || len(parts) != 10 {
		t.Fatalf("many parts: %d, %v", len(parts), err)
	}
	// The walk streams: a part's content is read, not held.
	big := "Subject: x\r\n\r\n" + strings.Repeat("a", 1<<20)
	parts, _, _ = walk(t, big, mime.Limits{})
	if len(parts) != 1 || len(parts[0].body) != 1<<20 {
		t.Fatalf("big part: %d bytes", len(parts[0].body))
	}
	// A failing source (the scanner's deadline or budget) stops the walk
	// and is returned.
	boom := errors.New("budget")
	_, err = mime.Walk(io.MultiReader(strings.NewReader(many[:200]), errReader{boom}), mime.Limits{}, func(p *mime.Part) error {
		_, err := io.Copy(io.Discard, p.Body)
		return err
	})
	if !errors.Is(err, boom) {
		t.Fatalf("source error: %v", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// FuzzWalk checks that no input makes the walk panic or exceed its limits.
func FuzzWalk(f *testing.F) {
	for _, s := range []string{
		"Subject: x\r\n\r\nbody",
		"Content-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: multipart/mixed; boundary=Y\r\n\r\n--Y\r\n\r\nz\r\n--Y--\r\n--X--\r\n",
		"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=a.exe\r\n\r\nTVqQ\r\n",
		"Content-Type: text/plain; name==?utf-8?q?=E5?=\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		lim := mime.Limits{MaxDepth: 8, MaxParts: 64, MaxHeaderBytes: 1 << 12}
		n := 0
		_, _ = mime.Walk(bytes.NewReader(b), lim, func(p *mime.Part) error {
			n++
			if p.Depth > lim.MaxDepth {
				t.Fatalf("limits exceeded: depth %d", p.Depth)
			}
			_, _ = io.Copy(io.Discard, p.Body)
			return nil
		})
		if n > lim.MaxParts {
			t.Fatalf("%d parts", n)
		}
	})
}
