package mime_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/engine/mime"
)

func walk(t *testing.T, msg string, lim mime.Limits) ([]*mime.Part, mime.Summary, error) {
	t.Helper()
	var parts []*mime.Part
	sum, err := mime.Walk([]byte(msg), lim, func(p *mime.Part) error { parts = append(parts, p); return nil })
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
		if p.ContentType != w.ct || p.Filename != w.name || p.Depth != w.depth || strings.TrimRight(string(p.Body), "\r\n") != w.body {
			t.Errorf("part %d = %+v (body %q), want %+v", i, p, p.Body, w)
		}
		if (w.name != "") != p.Attachment {
			t.Errorf("part %d attachment = %v", i, p.Attachment)
		}
	}
}

func TestWalkBroken(t *testing.T) {
	t.Parallel()
	for name, msg := range map[string]string{
		"no header end":         "Subject: x",
		"bad content type":      "Content-Type: ;;;\r\n\r\nbody",
		"missing boundary":      "Content-Type: multipart/mixed; boundary=ZZ\r\n\r\n--QQ\r\n\r\nx\r\n",
		"bad base64":            "Content-Transfer-Encoding: base64\r\n\r\n!!!notbase64***\r\n",
		"unknown encoding":      "Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644\r\n",
		"unknown charset":       "Content-Type: text/plain; charset=x-klingon\r\n\r\nqapla\r\n",
		"binary header garbage": "\x00\x01\x02: \xff\r\n\r\n",
		"empty":                 "",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, _, err := walk(t, msg, mime.Limits{})
			if err != nil {
				t.Fatalf("broken mail must be walked, not refused: %v", err)
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
	big := "Subject: x\r\n\r\n" + strings.Repeat("a", 1000)
	parts, _, _ = walk(t, big, mime.Limits{MaxPartBytes: 100})
	if len(parts) != 1 || len(parts[0].Body) != 100 || !parts[0].Truncated {
		t.Fatalf("big part: %d bytes", len(parts[0].Body))
	}
}

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
		lim := mime.Limits{MaxDepth: 8, MaxParts: 64, MaxPartBytes: 1 << 16}
		n := 0
		_, _ = mime.Walk(b, lim, func(p *mime.Part) error {
			n++
			if p.Depth > lim.MaxDepth || int64(len(p.Body)) > lim.MaxPartBytes {
				t.Fatalf("limits exceeded: depth %d, %d bytes", p.Depth, len(p.Body))
			}
			return nil
		})
		if n > lim.MaxParts {
			t.Fatalf("%d parts", n)
		}
	})
}
