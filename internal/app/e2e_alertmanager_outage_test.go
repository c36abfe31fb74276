//go:build e2e

package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/storage/pgtest"
)

// TestE2EAlertmanagerDatabaseDown (`make e2e`, docs/oncall.md
// "Alertmanager"): a real Alertmanager posts an alert to postvakt while
// postvakt's PostgreSQL is stopped. postvakt cannot store the group and
// answers 503, so Alertmanager keeps sending it; once the database is back
// the group is stored, the incident opens and the on-call person is paged
// on the (local, fake) Slack — the page is not lost to the outage.
func TestE2EAlertmanagerDatabaseDown(t *testing.T) {
	const amBin = "/usr/bin/prometheus-alertmanager"
	requireTool(t, amBin, "prometheus-alertmanager")
	pg := pgtest.NewCluster(t)
	slackAPI, sink := newFakeSlack(t), newSMTPSink(t)
	cfg := oncallConfig(t, slackAPI.srv.URL, sink.addr, time.Hour, 2*time.Hour)
	cfg.Database.URL = pg.URL()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	app := startApp(t, cfg, time.Now)
	token := apiToken(t, cfg, "viewer")

	dir := t.TempDir()
	amPort := freePort(t)
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
	if err := os.WriteFile(filepath.Join(dir, "am.yml"), []byte(amCfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var amLog bytes.Buffer
	cmd := exec.Command(amBin, "--config.file="+filepath.Join(dir, "am.yml"), "--storage.path="+filepath.Join(dir, "am"),
		"--web.listen-address=127.0.0.1:"+amPort, "--cluster.listen-address=")
	cmd.Stdout, cmd.Stderr = &amLog, &amLog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("alertmanager log:\n%s", amLog.String())
		}
	})
	amURL := "http://127.0.0.1:" + amPort
	eventually(t, 30*time.Second, "alertmanager ready", func() bool {
		resp, err := http.Get(amURL + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})

	// The database goes down; then the alert fires.
	pg.Stop()
	alert, _ := json.Marshal([]map[string]any{{
		"labels":      map[string]string{"alertname": "PostvaktOutageProbe", "severity": "critical", "instance": "mx1"},
		"annotations": map[string]string{"summary": "Mail queue above 5000 on mx1"},
		"startsAt":    time.Now().Add(-time.Minute).Format(time.RFC3339),
	}})
	resp, err := http.Post(amURL+"/api/v2/alerts", "application/json", bytes.NewReader(alert))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("post alert to alertmanager: %s", resp.Status)
	}
	// Alertmanager's webhooks are refused with 503 while the database is
	// down, and it keeps sending.
	eventually(t, 60*time.Second, "two webhooks refused with 503 while the database is down", func() bool {
		return metricValue(t, app.base, `postvakt_oncall_alertmanager_webhooks_total{result="unavailable"}`) >= 2
	})
	time.Sleep(3 * time.Second) // the outage goes on a little
	if pages := slackAPI.posts("D" + memberByID(onCallAt(t, time.Now())).SlackID); len(pages) != 0 {
		t.Fatalf("paged while nothing could be stored: %v", pages)
	}
	if n := metricValue(t, app.base, `postvakt_oncall_alertmanager_webhooks_total{result="accepted"}`); n != 0 {
		t.Fatalf("%v groups accepted while the database was down", n)
	}

	// The database comes back: the next webhook is stored and paged.
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	oncall := memberByID(onCallAt(t, time.Now()))
	eventually(t, 90*time.Second, "the page on the fake Slack once the database is back", func() bool {
		for _, f := range slackAPI.posts("D" + oncall.SlackID) {
			if strings.Contains(f.Get("text")+f.Get("blocks"), "PostvaktOutageProbe") {
				return true
			}
		}
		return false
	})
	var list struct {
		Incidents []struct {
			Title  string `json:"title"`
			Source string `json:"source"`
		} `json:"incidents"`
	}
	call(t, "GET", app.base+"/api/v1/incidents", token, nil, &list)
	n := 0
	for _, inc := range list.Incidents {
		if inc.Source == "alertmanager" && strings.Contains(inc.Title, "PostvaktOutageProbe") {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d incidents for the alert, want 1: %+v", n, list.Incidents)
	}
	t.Logf("refused while down: %v; stored: %v",
		metricValue(t, app.base, `postvakt_oncall_alertmanager_webhooks_total{result="unavailable"}`),
		metricValue(t, app.base, `postvakt_oncall_alertmanager_webhooks_total{result="accepted"}`))
}
