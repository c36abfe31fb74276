package reportstore_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-message"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/uni-mail/postvakt/internal/app"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/scheduler"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/reportstore"
	"github.com/uni-mail/postvakt/reports"
	"github.com/uni-mail/postvakt/reports/reportstest"
)

// TestReportJobSendsOncePerPeriod: two replicas — two
// schedulers on two connection pools to one database — run the monthly
// report job every second; a real SMTP server on loopback receives exactly
// one e-mail for the period, with the PDF attached, and the archive holds
// one report marked sent.
func TestReportJobSendsOncePerPeriod(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects() {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			loc, _ := time.LoadLocation("Europe/Oslo")
			u := storagetest.URL(t, d)
			smtpSrv := reportstest.StartSMTP(t)
			cfg := config.Default()
			cfg.Reports.PDFEngine = reports.PDFBuiltin
			cfg.Reports.Mail.From = "postvakt@mail.example.edu"
			cfg.Reports.Mail.To = "styringsgruppe@example.edu"
			cfg.Reports.Mail.SMTP = smtpSrv.Addr
			cfg.Reports.Mail.RetryDelay = 10 * time.Millisecond
			first := storagetest.OpenURL(t, u)
			seedReportTables(t, first, loc)

			// The schedulers tick every second in real time; each tick is
			// mapped to an instant after the end of October 2026 so the
			// job reports on the seeded month however late the test runs.
			start := time.Now()
			nov1 := time.Date(2026, 11, 1, 7, 0, 0, 0, loc)
			var (
				mu   sync.Mutex
				runs = map[string]int{}
			)
			var scheds []*scheduler.Scheduler
			for i, node := range []string{"replica-a", "replica-b"} {
				db := first
				if i > 0 {
					db = storagetest.OpenURL(t, u)
				}
				svc, err := app.NewReportService(cfg, db, slog.New(slog.DiscardHandler), node, time.Now)
				if err != nil {
					t.Fatal(err)
				}
				s := scheduler.New(scheduler.Options{Store: db, LockKey: storage.LockKey, Node: node, Registerer: prometheus.NewRegistry()})
				if err := s.Register(scheduler.Job{Name: app.ReportJob, Schedule: "@every 1s", Timeout: time.Minute,
					Run: func(ctx context.Context, tick time.Time) error {
						mu.Lock()
						runs[node]++
						mu.Unlock()
						return svc.RunJob(ctx, nov1.Add(tick.Sub(start)))
					}}); err != nil {
					t.Fatal(err)
				}
				scheds = append(scheds, s)
			}
			// Run until the report went out (generation takes seconds on a
			// loaded machine), then 3.5 s more: every later tick on either
			// replica must find the period sent.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var wg sync.WaitGroup
			for _, s := range scheds {
				wg.Add(1)
				go func() { defer wg.Done(); _ = s.Run(ctx) }()
			}
			deadline := time.Now().Add(90 * time.Second)
			for len(smtpSrv.Messages()) == 0 && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond)
			}
			time.Sleep(3500 * time.Millisecond)
			cancel()
			wg.Wait()

			mu.Lock()
			total := runs["replica-a"] + runs["replica-b"]
			mu.Unlock()
			if total < 3 {
				t.Fatalf("the job ran only %d times (%v)", total, runs)
			}
			msgs := smtpSrv.Messages()
			if len(msgs) != 1 {
				t.Fatalf("%d e-mails for one period after %d job runs (%v), want exactly 1", len(msgs), total, runs)
			}
			if strings.Join(msgs[0].To, ",") != "styringsgruppe@example.edu" {
				t.Errorf("sent to %v", msgs[0].To)
			}
			pdf := attachment(t, msgs[0].Data, "application/pdf")
			if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
				t.Fatal("no PDF attached")
			}
			a, err := reportstore.New(first).GetReport(context.Background(), "2026-10", true)
			if err != nil {
				t.Fatal(err)
			}
			if a.SentAt.IsZero() || a.SentTo != "styringsgruppe@example.edu" || !bytes.Equal(a.PDF, pdf) {
				t.Errorf("archive: sent %v to %q, same PDF %v", a.SentAt, a.SentTo, bytes.Equal(a.PDF, pdf))
			}
			list, _ := reportstore.New(first).ListReports(context.Background(), 10)
			if len(list) != 1 {
				t.Errorf("%d archived reports, want 1", len(list))
			}
		})
	}
}

// attachment returns the body of the first part of media type mt.
func attachment(t *testing.T, data []byte, mt string) []byte {
	t.Helper()
	e, err := message.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	_ = e.Walk(func(_ []int, p *message.Entity, err error) error {
		if err != nil {
			return err
		}
		if got, _, _ := p.Header.ContentType(); got == mt && out == nil {
			out, err = io.ReadAll(p.Body)
		}
		return err
	})
	return out
}
