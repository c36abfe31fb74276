package app

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors"
	"github.com/uni-mail/postvakt/dashboards"
	"github.com/uni-mail/postvakt/engine/loadgen"
)

// TestDashboardMetricsAreExported runs postvakt with every capability on,
// sends it mail and feeds it real log lines, and checks that every metric a
// shipped dashboard or alert rule uses is in its /metrics exposition.
// Renaming or removing such a metric fails this test (operational
// artefacts are code: every metric a dashboard or alert rule uses is
// exported, docs/development.md).
func TestDashboardMetricsAreExported(t *testing.T) {
	slackAPI, sink := newFakeSlack(t), newSMTPSink(t)
	cfg := oncallConfig(t, slackAPI.srv.URL, sink.addr, time.Hour, 2*time.Hour)
	// The engine with a probe mailbox; the probes loop mail through it.
	sc, sub, mx := probeEngine(t, "probe-secret")
	cfg.SMTP = sc
	t.Setenv("POSTVAKT_TEST_PROBE_PASSWORD", "probe-secret")
	cfg.Probes.Enabled = true
	cfg.Probes.Interval, cfg.Probes.Jitter, cfg.Probes.Loop.Poll = 2*time.Second, 0, 100*time.Millisecond
	cfg.Probes.Targets = probeTargets(sub, mx, "127.0.0.1:"+freePort(t), "POSTVAKT_TEST_PROBE_PASSWORD")
	cfg.Content.Enabled = true
	// A clamd that does not answer: its metrics are exported, mail passes.
	cfg.Content.Antivirus.Clamd = "tcp:127.0.0.1:" + freePort(t)
	cfg.Content.Antivirus.OnFailure = "pass"
	cfg.Content.Antivirus.Timeout = time.Second
	cfg.Relay.Enabled = true
	// A log file of the real sample for the collectors to tail.
	sample := filepath.Join("..", "..", "..", "shared", "samples", "real-logs", "postfix.log")
	data, err := os.ReadFile(sample)
	if err != nil {
		t.Skipf("sample logs not found (%v)", err)
	}
	logFile := filepath.Join(t.TempDir(), "mail.log")
	lines := strings.SplitAfter(string(data), "\n")
	if err := os.WriteFile(logFile, []byte(strings.Join(lines[:3000], "")), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Collectors.Files = []collectors.FileConfig{{Path: logFile, Host: "mx"}}
	cfg.Scheduler.Enabled = true
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	app := startApp(t, cfg, time.Now)
	res, err := loadgen.Run(context.Background(), loadgen.Options{Addr: sc.MX.Listen, Concurrency: 2, Count: 20, To: []string{"ola@uni.example"}}, io.Discard)
	if err != nil || res.Accepted == 0 {
		t.Fatalf("traffic: %+v %v", res, err)
	}
	// A ticket, acknowledged: open-ticket and SLA metrics exist.
	token := apiToken(t, cfg, "oncall")
	var opened struct {
		ID int64 `json:"id"`
	}
	// Notified inside business hours (12:00 UTC on a recent Tuesday to
	// Thursday), so its response clock counts for SLA compliance.
	notified := time.Now().UTC().Truncate(24 * time.Hour).Add(12 * time.Hour)
	for notified.After(time.Now()) || notified.Weekday() < time.Tuesday || notified.Weekday() > time.Thursday {
		notified = notified.AddDate(0, 0, -1)
	}
	if code := call(t, "POST", app.base+"/api/v1/tickets", token, map[string]any{"title": "IMAP slow", "service": "imap", "source": "helpdesk",
		"symptoms": "timeouts", "notified_at": notified.Format(time.RFC3339)}, &opened); code != 201 {
		t.Fatalf("open ticket: %d", code)
	}
	if code := call(t, "POST", fmt.Sprintf("%s/api/v1/tickets/%d/ack", app.base, opened.ID), token, map[string]any{}, nil); code != 200 {
		t.Fatalf("ack ticket: %d", code)
	}
	want := dashboards.MetricNames(dashboards.Exprs()...)
	var missing []string
	deadline := time.Now().Add(90 * time.Second)
	for {
		have := exposedNames(t, app.base+"/metrics")
		missing = missing[:0]
		for _, n := range want {
			if !have[n] {
				missing = append(missing, n)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(missing) > 0 {
		t.Fatalf("%d metrics used by dashboards or alert rules are not exported:\n  %s", len(missing), strings.Join(missing, "\n  "))
	}

	// Every alert's runbook_url opens the rendered runbook (no sign-in).
	for _, g := range dashboards.RuleGroups() {
		for _, r := range g.Rules {
			resp, err := http.Get(app.base + "/runbooks/" + r.Runbook)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), "text/html") ||
				!strings.Contains(string(body), "<h1") || !strings.Contains(string(body), r.Alert) {
				t.Errorf("alert %s: /runbooks/%s answered %d, %s", r.Alert, r.Runbook, resp.StatusCode, resp.Header.Get("Content-Type"))
			}
		}
	}
}

// exposedNames lists the sample names (histogram _bucket/_sum/_count
// included) in an exposition.
func exposedNames(t *testing.T, url string) map[string]bool {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name := line
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name = line[:i]
		}
		out[name] = true
	}
	return out
}
