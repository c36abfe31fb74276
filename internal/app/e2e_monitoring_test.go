//go:build e2e

package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/loadgen"
)

// TestE2EMonitoring is the monitoring loop end to end (`make e2e`): a real
// Prometheus scrapes a running postvakt under loadgen traffic and evaluates
// the shipped alert rules; password guessing against submission fires
// PostvaktAuthBruteForce; a real Alertmanager routes it to postvakt's
// webhook; postvakt opens an incident and pages the on-call person on the
// local fake Slack, with the alert's runbook.
func TestE2EMonitoring(t *testing.T) {
	const promBin, amBin = "/usr/bin/prometheus", "/usr/bin/prometheus-alertmanager"
	requireTool(t, promBin, "prometheus")
	requireTool(t, amBin, "prometheus-alertmanager")
	slackAPI, sink := newFakeSlack(t), newSMTPSink(t)
	cfg := oncallConfig(t, slackAPI.srv.URL, sink.addr, time.Hour, 2*time.Hour)

	// The engine on free loopback ports, AUTH allowed without TLS on
	// loopback, one domain and mailbox, the test client whitelisted past
	// greylisting so that its mail is accepted.
	hash, err := directory.HashPassword("correct horse", directory.HashParams{MemoryKiB: 8 * 1024, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	sc := engine.Default()
	sc.DMARC.Check = false // no DNS here: SPF, DKIM and DMARC have their own tests
	sc.Hostname = "mx.uni.example"
	sc.MX.Listen, sc.Submission.Listen = "127.0.0.1:"+freePort(t), "127.0.0.1:"+freePort(t)
	sc.InsecureAuthLoopback = true
	sc.Limits.AuthFailureDelay = 0
	sc.Whitelist.Clients = []string{"127.0.0.0/8"}
	sc.Directory.Domains = []string{"uni.example"}
	sc.Directory.Mailboxes = []engine.MailboxConfig{{Address: "ola@uni.example", PasswordHash: hash}}
	cfg.SMTP = sc
	cfg.Scheduler.Enabled = true
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	app := startApp(t, cfg, time.Now)
	appHost := strings.TrimPrefix(app.base, "http://")

	dir := t.TempDir()
	amPort, promPort := freePort(t), freePort(t)
	amCfg := fmt.Sprintf(`route:
  receiver: postvakt
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: postvakt
    webhook_configs:
      - url: %s/api/v1/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: %s
`, app.base, testAMToken)
	rules, err := filepath.Abs(filepath.Join("..", "..", "dashboards", "prometheus", "postvakt-alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	promCfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: [%q]
alerting:
  alertmanagers:
    - static_configs: [{targets: ["127.0.0.1:%s"]}]
scrape_configs:
  - job_name: postvakt
    static_configs: [{targets: [%q]}]
`, rules, amPort, appHost)
	for name, body := range map[string]string{"am.yml": amCfg, "prom.yml": promCfg} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	start := func(name string, args ...string) *bytes.Buffer {
		var log bytes.Buffer
		cmd := exec.Command(name, args...)
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			if t.Failed() {
				t.Logf("%s log:\n%s", filepath.Base(name), log.String())
			}
		})
		return &log
	}
	start(amBin, "--config.file="+filepath.Join(dir, "am.yml"), "--storage.path="+filepath.Join(dir, "am"),
		"--web.listen-address=127.0.0.1:"+amPort, "--cluster.listen-address=")
	start(promBin, "--config.file="+filepath.Join(dir, "prom.yml"), "--storage.tsdb.path="+filepath.Join(dir, "prom"),
		"--web.listen-address=127.0.0.1:"+promPort)
	promURL := "http://127.0.0.1:" + promPort
	eventually(t, 60*time.Second, "prometheus scrapes postvakt", func() bool {
		var res struct {
			Data struct {
				Result []json.RawMessage `json:"result"`
			} `json:"data"`
		}
		return promQuery(promURL, `up{job="postvakt"} == 1`, &res) == nil && len(res.Data.Result) == 1
	})

	// Normal traffic: mail to the mailbox through MX, and authenticated
	// submission.
	ctx := context.Background()
	res, err := loadgen.Run(ctx, loadgen.Options{Addr: sc.MX.Listen, Concurrency: 4, Count: 40, To: []string{"ola@uni.example"}}, io.Discard)
	if err != nil || res.Accepted != 40 {
		t.Fatalf("MX traffic: %+v %v", res, err)
	}
	res, err = loadgen.Run(ctx, loadgen.Options{Addr: sc.Submission.Listen, Concurrency: 2, Count: 10, From: "ola@uni.example",
		To: []string{"ola@uni.example"}, Username: "ola@uni.example", Password: "correct horse"}, io.Discard)
	if err != nil || res.Accepted != 10 {
		t.Fatalf("submission traffic: %+v %v", res, err)
	}
	// Password guessing: 150 wrong passwords.
	res, _ = loadgen.Run(ctx, loadgen.Options{Addr: sc.Submission.Listen, Concurrency: 10, Count: 150, From: "ola@uni.example",
		To: []string{"ola@uni.example"}, Username: "ola@uni.example", Password: "guess"}, io.Discard)
	if res.Accepted != 0 {
		t.Fatalf("wrong passwords were accepted: %+v", res)
	}

	// Prometheus fires the shipped rule, Alertmanager posts it to postvakt,
	// postvakt pages the on-call person in Slack.
	eventually(t, 90*time.Second, "PostvaktAuthBruteForce firing in Prometheus", func() bool {
		var r struct {
			Data struct {
				Alerts []struct {
					Labels map[string]string `json:"labels"`
					State  string            `json:"state"`
				} `json:"alerts"`
			} `json:"data"`
		}
		if err := promGet(promURL+"/api/v1/alerts", &r); err != nil {
			return false
		}
		for _, a := range r.Data.Alerts {
			if a.Labels["alertname"] == "PostvaktAuthBruteForce" && a.State == "firing" {
				return true
			}
		}
		return false
	})
	eventually(t, 60*time.Second, "the page on the fake Slack", func() bool {
		slackAPI.mu.Lock()
		defer slackAPI.mu.Unlock()
		for _, c := range slackAPI.calls {
			if c.Method != "chat.postMessage" {
				continue
			}
			body := c.Form.Get("text") + c.Form.Get("blocks") + c.Form.Get("attachments")
			if strings.Contains(body, "PostvaktAuthBruteForce") || strings.Contains(body, "Authentication brute force") {
				return true
			}
		}
		return false
	})
	oncall := memberByID(onCallAt(t, time.Now()))
	if !slackAPI.opened(oncall.SlackID) {
		t.Fatalf("no direct message opened to the on-call person %s", oncall.ID)
	}
	token := apiToken(t, cfg, "viewer")
	var list struct {
		Incidents []struct {
			Title  string            `json:"title"`
			Source string            `json:"source"`
			Labels map[string]string `json:"labels"`
		} `json:"incidents"`
	}
	call(t, "GET", app.base+"/api/v1/incidents", token, nil, &list)
	found := false
	for _, inc := range list.Incidents {
		found = found || (inc.Source == "alertmanager" && strings.Contains(inc.Title, "PostvaktAuthBruteForce"))
	}
	if !found {
		t.Fatalf("no Alertmanager incident for PostvaktAuthBruteForce: %+v", list.Incidents)
	}
}

func promQuery(base, q string, out any) error {
	return promGet(base+"/api/v1/query?query="+url.QueryEscape(q), out)
}

func promGet(u string, out any) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
