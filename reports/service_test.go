package reports_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-smtp"

	"github.com/uni-mail/postvakt/reports"
	"github.com/uni-mail/postvakt/reports/reportstest"
)

// archivedOctober is October's report generated once and shared by the
// tests that are about sending, not generating.
var archivedOctober = sync.OnceValues(func() (reports.Archived, error) {
	svc, arch := newServiceConfig("127.0.0.1:1")
	p, _ := svc.Period("2026-10")
	g, err := svc.Generate(context.Background(), p, reports.GenerateOptions{})
	if err != nil {
		return reports.Archived{}, err
	}
	if _, err := svc.Store(context.Background(), g, "test", false); err != nil {
		return reports.Archived{}, err
	}
	return arch.GetReport(context.Background(), "2026-10", true)
})

// prefill puts the shared October report in arch.
func prefill(t *testing.T, arch *reportstest.MemArchive) {
	t.Helper()
	a, err := archivedOctober()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := arch.PutReport(context.Background(), a, false); err != nil {
		t.Fatal(err)
	}
}

func newService(t *testing.T, smtpAddr string) (*reports.Service, *reportstest.MemArchive) {
	t.Helper()
	return newServiceConfig(smtpAddr)
}

func newServiceConfig(smtpAddr string) (*reports.Service, *reportstest.MemArchive) {
	cfg := testConfig("en")
	cfg.PDFEngine = reports.PDFBuiltin
	cfg.Mail.From = "Postvakt <postvakt@mail.example.edu>"
	cfg.Mail.To = "Styringsgruppen <styring@example.edu>"
	cfg.Mail.Cc = "lead@example.edu"
	cfg.Mail.SMTP = smtpAddr
	cfg.Mail.Attempts = 3
	cfg.Mail.RetryDelay = 10 * time.Millisecond
	arch := reportstest.NewMemArchive()
	return &reports.Service{
		Config: cfg, Source: reportstest.Seed(reportstest.SeptOct()), Archive: arch,
		Sender: &reports.SMTPSender{Config: cfg.Mail}, Now: generatedAt, Node: "test",
	}, arch
}

// parts walks a MIME message and returns the parts by media type.
func parts(t *testing.T, data []byte) (map[string][][]byte, map[string]string, message.Header) {
	t.Helper()
	e, err := message.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][][]byte{}
	names := map[string]string{}
	err = e.Walk(func(_ []int, part *message.Entity, err error) error {
		if err != nil {
			return err
		}
		mt, _, _ := part.Header.ContentType()
		if strings.HasPrefix(mt, "multipart/") {
			out[mt] = append(out[mt], nil)
			return nil
		}
		b, err := io.ReadAll(part.Body)
		if err != nil {
			return err
		}
		out[mt] = append(out[mt], b)
		if _, p, err := part.Header.ContentDisposition(); err == nil && p["filename"] != "" {
			names[mt] = p["filename"]
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, names, e.Header
}

func TestDeliverSendsOnceWithPDF(t *testing.T) {
	t.Parallel()
	srv := reportstest.StartSMTP(t)
	svc, arch := newService(t, srv.Addr)
	ctx := context.Background()
	if err := arch.SetComment(ctx, "2026-10", comment, "lead", generatedAt()); err != nil {
		t.Fatal(err)
	}
	p, _ := svc.Period("")
	if p.Label != "2026-10" {
		t.Fatalf("last completed period at %s is %s", generatedAt(), p.Label)
	}
	sent, err := svc.Deliver(ctx, p, false)
	if err != nil || !sent {
		t.Fatalf("first delivery: sent %v, err %v", sent, err)
	}
	if sent, err := svc.Deliver(ctx, p, false); err != nil || sent {
		t.Fatalf("second delivery: sent %v, err %v", sent, err)
	}
	msgs := srv.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if m.From != "postvakt@mail.example.edu" || strings.Join(m.To, ",") != "styring@example.edu,lead@example.edu" {
		t.Errorf("envelope %s → %v", m.From, m.To)
	}
	ps, names, h := parts(t, m.Data)
	subj, _ := (&mime.WordDecoder{}).DecodeHeader(h.Get("Subject"))
	if subj != "Mail operations report – October 2026" {
		t.Errorf("subject %q", subj)
	}
	if len(ps["application/pdf"]) != 1 || !bytes.HasPrefix(ps["application/pdf"][0], []byte("%PDF-")) {
		t.Fatal("no PDF attached")
	}
	if names["application/pdf"] != "postvakt-report-2026-10.pdf" {
		t.Errorf("attachment name %q", names["application/pdf"])
	}
	html := string(ps["text/html"][0])
	if n := len(ps["image/png"]); n != 5 || strings.Count(html, `src="cid:chart-`) != 5 {
		t.Errorf("%d chart images, %d cid references", n, strings.Count(html, `src="cid:`))
	}
	if !strings.Contains(html, "Říjen") || !strings.Contains(string(ps["text/plain"][0]), "T-1042, T-1057") {
		t.Error("the comment or the analysis is missing from the mail")
	}
	a, err := arch.GetReport(ctx, "2026-10", true)
	if err != nil || a.SentAt.IsZero() || a.Comment != comment || !bytes.Equal(a.PDF, ps["application/pdf"][0]) {
		t.Errorf("archive: sent %v, comment %q, err %v", a.SentAt, a.Comment, err)
	}
}

func TestDeliverRetriesTemporaryFailures(t *testing.T) {
	t.Parallel()
	srv := reportstest.StartSMTP(t)
	srv.FailNext(&smtp.SMTPError{Code: 451, Message: "try later"}, &smtp.SMTPError{Code: 421, Message: "busy"})
	svc, arch := newService(t, srv.Addr)
	prefill(t, arch)
	p, _ := svc.Period("2026-10")
	if sent, err := svc.Deliver(context.Background(), p, false); err != nil || !sent {
		t.Fatalf("sent %v, err %v", sent, err)
	}
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("%d messages", n)
	}
}

func TestDeliverPermanentFailureCanBeRetried(t *testing.T) {
	t.Parallel()
	srv := reportstest.StartSMTP(t)
	srv.FailNext(&smtp.SMTPError{Code: 554, Message: "no"})
	svc, arch := newService(t, srv.Addr)
	prefill(t, arch)
	ctx := context.Background()
	p, _ := svc.Period("2026-10")
	if _, err := svc.Deliver(ctx, p, false); err == nil {
		t.Fatal("a 554 must fail the delivery")
	}
	if a, _ := arch.GetReport(ctx, "2026-10", false); !a.SentAt.IsZero() {
		t.Fatal("failed delivery marked as sent")
	}
	if sent, err := svc.Deliver(ctx, p, false); err != nil || !sent {
		t.Fatalf("retry: sent %v, err %v", sent, err)
	}
	if sent, err := svc.Deliver(ctx, p, true); err != nil || !sent {
		t.Fatalf("resend: sent %v, err %v", sent, err)
	}
	if n := len(srv.Messages()); n != 2 {
		t.Fatalf("%d messages, want 2 (one send and one deliberate resend)", n)
	}
}

func TestDeliverWithoutRecipientsArchivesOnly(t *testing.T) {
	t.Parallel()
	svc, arch := newService(t, "127.0.0.1:1")
	svc.Config.Mail.To, svc.Config.Mail.Cc = "", ""
	svc.Sender = reports.SenderFunc(func(context.Context, string, []string, []byte) error {
		return errors.New("must not send")
	})
	if err := svc.RunJob(context.Background(), generatedAt()); err != nil {
		t.Fatal(err)
	}
	a, err := arch.GetReport(context.Background(), "2026-10", true)
	if err != nil || len(a.HTML) == 0 || len(a.PDF) == 0 || len(a.CSV) == 0 || !a.SentAt.IsZero() {
		t.Fatalf("archive %+v, err %v", a.Period, err)
	}
}
