package app

import (
	"bytes"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/api/reportapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/reports"
	"github.com/uni-mail/postvakt/reports/reportstest"
)

func download(t *testing.T, u, token string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// TestReportsThroughTheApp runs the reports capability in a whole
// in-process postvakt: the report API is wired to the report service, the
// archive and the SMTP sender, and the archive feeds the last-sent metric.
// The API's routes, roles and JSON are tested in internal/api/reportapi.
func TestReportsThroughTheApp(t *testing.T) {
	t.Parallel()
	smtpSrv := reportstest.StartSMTP(t)
	cfg := config.Default()
	cfg.SMTP.Enabled = false // tests of the engine start it on free ports
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Scheduler.Enabled = false
	cfg.Reports.PDFEngine = reports.PDFBuiltin
	cfg.Reports.Language = "nb"
	cfg.Reports.Mail.From = "postvakt@mail.example.edu"
	cfg.Reports.Mail.To = "styring@example.edu"
	cfg.Reports.Mail.SMTP = smtpSrv.Addr
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	oslo, _ := time.LoadLocation("Europe/Oslo")
	clock := &testClock{t: time.Date(2026, 11, 2, 10, 0, 0, 0, oslo)}
	app := startApp(t, cfg, clock.Now)
	viewer, postmaster := apiToken(t, cfg, auth.RoleViewer), apiToken(t, cfg, auth.RolePostmaster)
	base := app.base + "/api/v1/reports"

	if code := call(t, "GET", base, "", nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("anonymous list: %d", code)
	}
	if code := call(t, "PUT", base+"/2026-10/comment", postmaster, map[string]any{"comment": "Říjen: Tromsø-noden er byttet."}, nil); code != http.StatusOK {
		t.Fatalf("comment: %d", code)
	}
	var created reportapi.Generated
	if code := call(t, "POST", base, postmaster, map[string]any{"period": "2026-10", "send": true}, &created); code != http.StatusCreated {
		t.Fatalf("generate: %d", code)
	}
	if !created.Sent || created.Report.SentAt.IsZero() || created.Report.Comment != "Říjen: Tromsø-noden er byttet." {
		t.Fatalf("created %+v", created)
	}
	if n := len(smtpSrv.Messages()); n != 1 {
		t.Fatalf("%d e-mails, want 1", n)
	}
	code, h, body := download(t, base+"/2026-10.html", viewer)
	if code != http.StatusOK || h.Get("Content-Type") != "text/html; charset=utf-8" || !bytes.HasPrefix(body, []byte("<!DOCTYPE html>")) {
		t.Errorf("html: %d %s %.20q", code, h.Get("Content-Type"), body)
	}
	if !strings.Contains(string(body), "Tromsø-noden") || !strings.Contains(string(body), "Driftsrapport for e-post") {
		t.Error("archived HTML lacks the comment or the Norwegian title")
	}
	if _, _, body := download(t, app.base+"/metrics", ""); !bytes.Contains(body, []byte("postvakt_reports_last_sent_timestamp_seconds 1.7")) {
		t.Error("metrics lack the time of the last report sent")
	}
}

func TestReportScheduleDefault(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.SMTP.Enabled = false // tests of the engine start it on free ports
	cfg.Timezone = "Europe/Oslo"
	cfg.ApplyServiceZone() // the report's zone follows the service zone
	cfg.Reports.StartDay = 21
	if got := cfg.Reports.Schedule(); got != "CRON_TZ=Europe/Oslo 0 7 21 * *" {
		t.Fatalf("schedule %q", got)
	}
	cfg.Reports.StartDay = 1
	sched, err := config.ScheduleParser.Parse(cfg.Reports.Schedule())
	if err != nil {
		t.Fatal(err)
	}
	oslo, _ := time.LoadLocation("Europe/Oslo")
	next := sched.Next(time.Date(2026, 10, 31, 12, 0, 0, 0, oslo))
	if !next.Equal(time.Date(2026, 11, 1, 7, 0, 0, 0, oslo)) {
		t.Fatalf("next run %s, want 1 Nov 07:00 Oslo", next)
	}
}
