package content_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/uni-mail/postvakt/engine/clamd"
	"github.com/uni-mail/postvakt/engine/clamd/clamdtest"
	"github.com/uni-mail/postvakt/engine/content"
	"github.com/uni-mail/postvakt/engine/quarantine"
	"github.com/uni-mail/postvakt/engine/smtpserver"
)

// memQuarantine is an in-memory quarantine.Store (the database one is
// tested in internal/store/enginestore).
type memQuarantine struct {
	mu    sync.Mutex
	items []quarantine.Item
}

func (m *memQuarantine) QuarantineAdd(_ context.Context, it *quarantine.Item) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	it.ID = int64(len(m.items) + 1)
	m.items = append(m.items, *it)
	return it.ID, nil
}
func (m *memQuarantine) QuarantineList(context.Context, quarantine.Filter) ([]quarantine.Item, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]quarantine.Item(nil), m.items...), nil
}
func (m *memQuarantine) QuarantineGet(context.Context, int64) (quarantine.Item, error) {
	return quarantine.Item{}, quarantine.ErrNotFound
}
func (m *memQuarantine) QuarantineDelete(context.Context, int64) error { return nil }
func (m *memQuarantine) QuarantineRelease(context.Context, quarantine.Item, time.Time, quarantine.Delivery) (int, error) {
	return 0, nil
}
func (m *memQuarantine) QuarantineExpire(context.Context, time.Time) (int, error) { return 0, nil }

var now = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

type fixture struct {
	s   *content.Scanner
	q   *memQuarantine
	reg *prometheus.Registry
}

func newScanner(t *testing.T, edit func(*content.Config, *content.Options)) fixture {
	t.Helper()
	cfg := content.Default()
	cfg.Enabled = true
	q := &memQuarantine{}
	reg := prometheus.NewRegistry()
	o := content.Options{Config: cfg, Quarantine: &quarantine.Service{Store: q, Clock: func() time.Time { return now }},
		Registerer: reg, Clock: func() time.Time { return now }}
	if edit != nil {
		edit(&o.Config, &o)
	}
	s, err := content.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{s: s, q: q, reg: reg}
}

var mxEnv = smtpserver.Envelope{Listener: "mx", ClientIP: netip.MustParseAddr("192.0.2.10"), HELO: "mail.ext.example",
	MailFrom: "sender@ext.example", Rcpts: []string{"user@uni.example"}}

const gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

var eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$` + `EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

func plain(body string) []byte {
	return []byte("From: Sender <sender@ext.example>\r\nTo: user@uni.example\r\nSubject: Hello\r\nDate: Mon, 23 Nov 2026 09:00:00 +0100\r\n" +
		"Message-ID: <abc.123@ext.example>\r\n\r\n" + body + "\r\n")
}

func withAttachment(name string, data []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(data)
	return []byte("From: Sender <sender@ext.example>\r\nTo: user@uni.example\r\nSubject: File\r\nDate: Mon, 23 Nov 2026 09:00:00 +0100\r\n" +
		"Message-ID: <abc.124@ext.example>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=BB\r\n\r\n" +
		"--BB\r\nContent-Type: text/plain\r\n\r\nsee attachment\r\n--BB\r\nContent-Type: application/octet-stream\r\n" +
		"Content-Disposition: attachment; filename=\"" + name + "\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + enc + "\r\n--BB--\r\n")
}

func zipOf(t testing.TB, files map[string][]byte, encrypted bool) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for name, data := range files {
		h := &zip.FileHeader{Name: name, Method: zip.Deflate}
		if encrypted {
			h.Flags |= 0x1
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// envFor is env with the header size of msg, as the engine gives it.
func envFor(env smtpserver.Envelope, msg []byte) smtpserver.Envelope {
	if i := bytes.Index(msg, []byte("\r\n\r\n")); i >= 0 {
		env.HeaderSize = int64(i + 4)
	}
	return env
}

// filter runs the ContentFilter hook on msg as the engine does.
func filter(f fixture, env smtpserver.Envelope, msg []byte) (smtpserver.Verdict, error) {
	return f.s.Filter(context.Background(), envFor(env, msg), bytes.NewReader(msg))
}

func scan(t *testing.T, f fixture, env smtpserver.Envelope, msg []byte) content.Outcome {
	t.Helper()
	out, err := f.s.Scan(context.Background(), envFor(env, msg), bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func verdicts(t *testing.T, f fixture, v content.Verdict) float64 {
	t.Helper()
	return testutil.ToFloat64(metricVec(t, f.reg, "postvakt_content_verdicts_total", "verdict", string(v)))
}

// TestGTUBE checks content.spam (docs/configuration.md): GTUBE is tagged
// and quarantined; a domain configured for subject tagging gets it tagged;
// a whitelisted recipient gets it untouched.
func TestGTUBE(t *testing.T) {
	t.Parallel()
	f := newScanner(t, func(c *content.Config, _ *content.Options) {
		c.Spam.DomainActions = map[string]string{"subject.example": "subject"}
	})
	out := scan(t, f, mxEnv, plain("Buy now "+gtube))
	if out.Verdict != content.VerdictSpam || out.Action != smtpserver.Discard || out.QuarantineID == 0 {
		t.Fatalf("GTUBE: %+v", out)
	}
	items := f.q.items
	if len(items) != 1 || items[0].Reason != quarantine.ReasonSpam || !bytes.HasPrefix(items[0].Body, []byte("X-Spam-Flag: YES\r\n")) ||
		!bytes.Contains(items[0].Body, []byte("X-Spam-Status: Yes, score=1000.0 required=5.0 tests=GTUBE")) {
		t.Fatalf("quarantined: %+v\n%s", items, items[0].Body)
	}
	// The Filter hook: Discard means 250 and nothing delivered.
	v, err := filter(f, mxEnv, plain(gtube))
	if err != nil || v.Action != smtpserver.Discard {
		t.Fatalf("Filter = %+v, %v", v, err)
	}

	env := mxEnv
	env.Rcpts = []string{"user@subject.example"}
	out = scan(t, f, env, plain(gtube))
	if out.Action != smtpserver.Accept || out.Verdict != content.VerdictSpam || !strings.Contains(strings.Join(out.Headers, "\n"), "X-Spam-Flag: YES") ||
		!bytes.Contains(out.Header, []byte("\r\nSubject: (SPAM) Hello\r\n")) || !bytes.HasSuffix(out.Header, []byte("\r\n\r\n")) {
		t.Fatalf("subject domain: %+v\n%s", out, out.Header)
	}

	env = mxEnv
	env.WantsAll = true
	out = scan(t, f, env, plain(gtube))
	if out.Action != smtpserver.Accept || len(out.Headers) != 0 || out.Header != nil {
		t.Fatalf("whitelisted recipient: %+v", out)
	}
	if n := len(f.q.items); n != 2 {
		t.Fatalf("%d quarantined", n)
	}
	if v := verdicts(t, f, content.VerdictSpam); v != 4 {
		t.Fatalf("spam verdicts = %v", v)
	}

	// Clean mail is tagged NO with its score.
	out = scan(t, f, mxEnv, plain("hello"))
	if out.Verdict != content.VerdictClean || out.Action != smtpserver.Accept || out.Headers[0] != "X-Spam-Flag: NO" {
		t.Fatalf("clean: %+v", out)
	}
}

// TestAttachments checks content.attachments (docs/configuration.md):
// EICAR in an attachment is quarantined; a .exe, and a .exe inside a zip,
// are rejected with 554 5.7.1 (or discarded when so configured); encrypted
// and corrupt archives are quarantined as suspect.
func TestAttachments(t *testing.T) {
	t.Parallel()
	f := newScanner(t, nil)
	out := scan(t, f, mxEnv, withAttachment("eicar.com.txt", []byte(eicar)))
	if out.Verdict != content.VerdictVirus || out.Action != smtpserver.Discard || f.q.items[0].Reason != quarantine.ReasonVirus ||
		!strings.Contains(f.q.items[0].Detail, content.EICARSignature) {
		t.Fatalf("EICAR: %+v", out)
	}
	out = scan(t, f, mxEnv, withAttachment("invoice.zip", zipOf(t, map[string][]byte{"doc/eicar.txt": []byte(eicar)}, false)))
	if out.Verdict != content.VerdictVirus {
		t.Fatalf("EICAR in zip: %+v", out)
	}
	for name, att := range map[string][]byte{
		"setup.exe":         []byte("MZ"),
		"Invoice.PDF.EXE. ": []byte("MZ"),
		"invoice.zip":       zipOf(t, map[string][]byte{"readme.txt": []byte("x"), "invoice.pdf.exe": []byte("MZ")}, false),
		"nested.zip":        zipOf(t, map[string][]byte{"inner.zip": zipOf(t, map[string][]byte{"run.bat": []byte("@echo")}, false)}, false),
	} {
		out := scan(t, f, mxEnv, withAttachment(name, att))
		if out.Verdict != content.VerdictBanned || out.Action != smtpserver.Reject {
			t.Errorf("%s: %+v", name, out)
		}
		v, _ := filter(f, mxEnv, withAttachment(name, att))
		if v.Action != smtpserver.Reject {
			t.Errorf("%s: Filter = %+v", name, v)
		}
	}
	// 554 5.7.1 is the engine's reply for Reject.
	if r := smtpserver.Reply(smtpserver.ReasonContent); r.Code != 554 || r.EnhancedCode != [3]int{5, 7, 1} {
		t.Fatalf("reject reply = %+v", r)
	}
	for name, att := range map[string][]byte{
		"secret.zip":  zipOf(t, map[string][]byte{"a.txt": []byte("x")}, true),
		"corrupt.zip": []byte("PK\x03\x04 this is not really a zip archive"),
	} {
		out := scan(t, f, mxEnv, withAttachment(name, att))
		if out.Verdict != content.VerdictSuspect || out.Action != smtpserver.Discard {
			t.Errorf("%s: %+v", name, out)
		}
	}
	if n := len(f.q.items); n != 4 {
		t.Fatalf("%d quarantined", n)
	}

	d := newScanner(t, func(c *content.Config, _ *content.Options) { c.Attachments.Action = "discard" })
	if out := scan(t, d, mxEnv, withAttachment("setup.exe", []byte("MZ"))); out.Action != smtpserver.Discard || out.Verdict != content.VerdictBanned {
		t.Fatalf("discard: %+v", out)
	}
}

// TestScannerDown checks content.antivirus.on_failure (docs/configuration.md;
// runbook av-scanner-down): with clamd stopped, the configured failure mode
// applies and postvakt_content_scan_errors_total and
// postvakt_content_scanner_up say so.
func TestScannerDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // a clamd that is not running
	for _, mode := range []string{"tempfail", "pass"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			f := newScanner(t, func(c *content.Config, _ *content.Options) {
				c.Antivirus.Clamd, c.Antivirus.OnFailure, c.Antivirus.Timeout = "tcp:"+addr, mode, 2*time.Second
			})
			up := metricVec(t, f.reg, "postvakt_content_scanner_up", "scanner", "clamd")
			if testutil.ToFloat64(up) != 1 {
				t.Fatal("scanner not up initially")
			}
			out := scan(t, f, mxEnv, plain("hello"))
			v, _ := filter(f, mxEnv, plain("hello"))
			switch mode {
			case "tempfail":
				if out.Action != smtpserver.Tempfail || v.Action != smtpserver.Tempfail {
					t.Fatalf("tempfail: %+v", out)
				}
				if r := smtpserver.Reply(smtpserver.ReasonContentTemp); r.Code != 451 || r.EnhancedCode != [3]int{4, 7, 0} {
					t.Fatalf("tempfail reply = %+v", r)
				}
			case "pass":
				if out.Action != smtpserver.Accept || out.Headers[0] != "X-Virus-Scan: unavailable" {
					t.Fatalf("pass: %+v", out)
				}
			}
			if n := testutil.ToFloat64(metricVec(t, f.reg, "postvakt_content_scan_errors_total", "scanner", "clamd")); n != 2 {
				t.Fatalf("scan errors = %v", n)
			}
			if testutil.ToFloat64(metricVec(t, f.reg, "postvakt_content_scanner_up", "scanner", "clamd")) != 0 {
				t.Fatal("scanner_up still 1")
			}
			f.s.Probe(context.Background())
			if testutil.ToFloat64(metricVec(t, f.reg, "postvakt_content_scanner_up", "scanner", "clamd")) != 0 {
				t.Fatal("probe says up")
			}
		})
	}
	// The clamd client is injectable (a real clamd is exercised in
	// engine/clamd).
	_ = clamd.Client{}
}

// metricVec finds one series of reg by name and label and returns it as a
// collector for testutil.ToFloat64.
func metricVec(t *testing.T, reg *prometheus.Registry, name, label, value string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "v"})
					g.Set(m.GetCounter().GetValue() + m.GetGauge().GetValue())
					return g
				}
			}
		}
	}
	t.Fatalf("no %s{%s=%q}", name, label, value)
	return nil
}

// FuzzAttachmentWalker runs the MIME walk and the attachment policy,
// including the zip walker, over arbitrary input.
func FuzzAttachmentWalker(f *testing.F) {
	f.Add([]byte("PK\x03\x04"), "a.zip")
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, _ := zw.Create("x.exe")
	w.Write([]byte("MZ"))
	zw.Close()
	f.Add(b.Bytes(), "b.zip")
	f.Add([]byte(eicar), "c.txt")
	cfg := content.Default()
	p := content.NewAttachmentPolicy(cfg.Attachments)
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		msg := withAttachment(strings.NewReplacer("\"", "", "\r", "", "\n", "").Replace(name), data)
		q := &memQuarantine{}
		s, err := content.New(content.Options{Config: cfg, Quarantine: &quarantine.Service{Store: q}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Scan(context.Background(), mxEnv, bytes.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Scan(context.Background(), mxEnv, bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		_ = p.Forbidden(name)
		_ = fmt.Sprint()
	})
}

// TestExternalSpamScannerDown: a spamd or rspamd that does not answer is
// counted and skipped; the built-in score stands.
func TestExternalSpamScannerDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	f := newScanner(t, func(c *content.Config, _ *content.Options) {
		c.Spam.Spamd, c.Spam.Rspamd, c.Antivirus.Timeout = addr, "http://"+addr, 2*time.Second
	})
	out := scan(t, f, mxEnv, plain(gtube))
	if out.Verdict != content.VerdictSpam {
		t.Fatalf("%+v", out)
	}
	for _, s := range []string{"spamd", "rspamd"} {
		if n := testutil.ToFloat64(metricVec(t, f.reg, "postvakt_content_scan_errors_total", "scanner", s)); n != 1 {
			t.Errorf("%s errors = %v", s, n)
		}
	}
}

// TestScannerDownRealClamd runs the scanner against a real clamd, then
// stops clamd: the configured failure mode applies (tempfail) and the
// metrics say so (runbook av-scanner-down). Skipped without clamd unless
// POSTVAKT_REQUIRE_TOOLS=1.
func TestScannerDownRealClamd(t *testing.T) {
	t.Parallel()
	c, stop := clamdtest.Start(t)
	f := newScanner(t, func(cfg *content.Config, o *content.Options) {
		cfg.Antivirus.Clamd = "unix:" + c.Addr
		o.Clamd = c
	})
	if out := scan(t, f, mxEnv, withAttachment("report.pdf", []byte("%PDF-1.4 clean"))); out.Action != smtpserver.Accept || out.Verdict != content.VerdictClean {
		t.Fatalf("clean with clamd: %+v", out)
	}
	f.s.Probe(context.Background())
	if testutil.ToFloat64(metricVec(t, f.reg, "postvakt_content_scanner_up", "scanner", "clamd")) != 1 {
		t.Fatal("clamd not up")
	}
	stop()
	out := scan(t, f, mxEnv, withAttachment("report.pdf", []byte("%PDF-1.4 clean")))
	if out.Action != smtpserver.Tempfail {
		t.Fatalf("clamd stopped: %+v", out)
	}
	if testutil.ToFloat64(metricVec(t, f.reg, "postvakt_content_scanner_up", "scanner", "clamd")) != 0 ||
		testutil.ToFloat64(metricVec(t, f.reg, "postvakt_content_scan_errors_total", "scanner", "clamd")) != 1 {
		t.Fatal("metrics do not show clamd down")
	}
}

// BenchmarkScan is the cost of scanning one 4 KiB message with a 1 KiB
// zip attachment: MIME walk, attachment and zip rules, EICAR, spam score.
//
//	go test ./engine/content/ -run '^$' -bench Scan
func BenchmarkScan(b *testing.B) {
	q := &memQuarantine{}
	s, err := content.New(content.Options{Config: content.Default(), Quarantine: &quarantine.Service{Store: q}})
	if err != nil {
		b.Fatal(err)
	}
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	w, _ := zw.Create("report.txt")
	w.Write(bytes.Repeat([]byte("quarterly numbers "), 60))
	zw.Close()
	msg := withAttachment("report.zip", zb.Bytes())
	msg = append(msg[:len(msg):len(msg)], bytes.Repeat([]byte("x"), 4096-len(msg)%4096)...)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if out, err := s.Scan(context.Background(), mxEnv, bytes.NewReader(msg)); err != nil || out.Action != smtpserver.Accept {
			b.Fatalf("%+v %v", out, err)
		}
	}
}

// TestReload: spam settings changed by a reload apply to the next message
// (quarantine → subject tag, a new prefix, a raised threshold, a new
// forbidden extension), and a bad section changes nothing.
func TestReload(t *testing.T) {
	t.Parallel()
	f := newScanner(t, nil)
	if out := scan(t, f, mxEnv, plain("Buy now "+gtube)); out.Action != smtpserver.Discard {
		t.Fatalf("before: %+v", out)
	}
	cfg := content.Default()
	cfg.Enabled = true
	cfg.Spam.Action, cfg.Spam.SubjectPrefix = "subject", "[SPAM?]"
	cfg.Attachments.ForbiddenExtensions = append(cfg.Attachments.ForbiddenExtensions, ".iso")
	apply, err := f.s.Reload(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if out := scan(t, f, mxEnv, plain("Buy now "+gtube)); out.Action != smtpserver.Discard {
		t.Fatalf("Reload applied before apply: %+v", out)
	}
	apply()
	out := scan(t, f, mxEnv, plain("Buy now "+gtube))
	if out.Action != smtpserver.Accept || !strings.Contains(string(out.Header), "Subject: [SPAM?] Hello") {
		t.Fatalf("after: %v %.300s", out.Action, out.Header)
	}
	if out := scan(t, f, mxEnv, withAttachment("disk.iso", []byte("x"))); out.Verdict != content.VerdictBanned {
		t.Errorf("a newly forbidden extension: %v", out.Verdict)
	}
	cfg.Spam.Threshold = 10000
	apply, _ = f.s.Reload(cfg)
	apply()
	if out := scan(t, f, mxEnv, plain("Buy now "+gtube)); out.Verdict == content.VerdictSpam {
		t.Errorf("spam above a threshold of 10000: %+v", out.Spam)
	}
	bad := cfg
	bad.Spam.Action = "burn"
	if _, err := f.s.Reload(bad); err == nil {
		t.Error("a bad spam action was accepted")
	}
}
