package app

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/dashboards"
	"github.com/uni-mail/postvakt/internal/storage/pgtest"
	"github.com/uni-mail/postvakt/internal/telemetry"
)

// TestMetricsTwoReplicas (docs/metrics.md, Several replicas): a real
// Prometheus scrapes two replicas sharing one PostgreSQL database. The
// gauges read from that database are exported by one replica only, so every
// shipped dashboard query and alert rule over them gives the value of a
// single replica, and the figure is the test's own count of what it opened.
// Each replica's /metrics passes `promtool check metrics`, no series carries
// job or instance of its own, and gzip and OpenMetrics are served when asked.
func TestMetricsTwoReplicas(t *testing.T) {
	const promBin = "/usr/bin/prometheus"
	requireTool(t, promBin, "prometheus")
	requireTool(t, "/usr/bin/promtool", "prometheus")
	pg := pgtest.NewCluster(t)
	slackAPI, sink := newFakeSlack(t), newSMTPSink(t)
	var apps []*running
	for range 2 {
		cfg := oncallConfig(t, slackAPI.srv.URL, sink.addr, time.Hour, 2*time.Hour)
		cfg.Database.URL = pg.URL()
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		apps = append(apps, startApp(t, cfg, time.Now))
	}

	// Ground truth: the test opens this many incidents (one alert group
	// each) through the first replica.
	const opened = 3
	for i := range opened {
		payload := map[string]any{
			"version": "4", "groupKey": fmt.Sprintf(`{}:{alertname="ReplicaTest%d"}`, i), "status": "firing", "receiver": "postvakt",
			"groupLabels":  map[string]string{"alertname": fmt.Sprintf("ReplicaTest%d", i)},
			"commonLabels": map[string]string{"alertname": fmt.Sprintf("ReplicaTest%d", i), "severity": "critical"},
			"alerts": []map[string]any{{"status": "firing", "fingerprint": fmt.Sprintf("f%d", i),
				"labels":      map[string]string{"alertname": fmt.Sprintf("ReplicaTest%d", i), "severity": "critical"},
				"annotations": map[string]string{"summary": "replica test"}, "startsAt": time.Now().Add(-time.Minute).Format(time.RFC3339)}},
		}
		if code := call(t, "POST", apps[0].base+"/api/v1/alertmanager", testAMToken, payload, nil); code >= 300 {
			t.Fatalf("alert %d: %d", i, code)
		}
	}

	var targets []string
	for _, a := range apps {
		targets = append(targets, strings.TrimPrefix(a.base, "http://"))
		checkExposition(t, a.base+"/metrics")
	}
	dir := t.TempDir()
	promPort := freePort(t)
	promCfg := fmt.Sprintf(`global:
  scrape_interval: 1s
scrape_configs:
  - job_name: postvakt
    static_configs: [{targets: [%q, %q]}]
`, targets[0], targets[1])
	if err := os.WriteFile(filepath.Join(dir, "prom.yml"), []byte(promCfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	cmd := exec.Command(promBin, "--config.file="+filepath.Join(dir, "prom.yml"), "--storage.tsdb.path="+filepath.Join(dir, "prom"),
		"--web.listen-address=127.0.0.1:"+promPort)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", log.String())
		}
	})
	promURL := "http://127.0.0.1:" + promPort
	type sample struct {
		Metric map[string]string `json:"metric"`
		Value  [2]any            `json:"value"`
	}
	query := func(q string) ([]sample, error) {
		var res struct {
			Status string `json:"status"`
			Error  string `json:"error"`
			Data   struct {
				Result []sample `json:"result"`
			} `json:"data"`
		}
		if err := promInstant(promURL, q, &res); err != nil {
			return nil, err
		}
		if res.Status != "success" {
			return nil, fmt.Errorf("%s: %s", q, res.Error)
		}
		return res.Data.Result, nil
	}
	value := func(q string) string {
		r, err := query(q)
		if err != nil || len(r) != 1 {
			return fmt.Sprintf("%d results, %v", len(r), err)
		}
		return fmt.Sprint(r[0].Value[1])
	}
	eventually(t, 60*time.Second, "prometheus scrapes both replicas and sees the opened incidents", func() bool {
		return value(`count(up{job="postvakt"} == 1)`) == "2" &&
			value(`sum(postvakt_oncall_open_incidents{job="postvakt",status="triggered"})`) == fmt.Sprint(opened)
	})
	// Exactly one replica exports the cluster-wide gauges.
	if v := value(`sum(postvakt_metrics_cluster_leader{job="postvakt"})`); v != "1" {
		t.Fatalf("leaders: %s, want 1", v)
	}
	lead, err := query(`postvakt_metrics_cluster_leader{job="postvakt"} == 1`)
	if err != nil || len(lead) != 1 {
		t.Fatalf("leader: %v %v", lead, err)
	}
	leader := lead[0].Metric["instance"]
	for _, name := range telemetry.ClusterWide {
		if v := value(fmt.Sprintf(`count(count by (instance) (%s{job="postvakt"}))`, name)); v != "1" && !strings.HasPrefix(v, "0 results") {
			t.Errorf("%s exported by %s replicas, want 1", name, v)
		}
	}
	// A scraped `job` label would become exported_job.
	if r, _ := query(`{__name__=~"postvakt_.+", exported_job!=""} or {__name__=~"postvakt_.+", exported_instance!=""}`); len(r) > 0 {
		t.Errorf("series with exported_job/exported_instance: %v", r[0].Metric)
	}

	// Every shipped dashboard query and rule over the cluster-wide gauges,
	// as generated for job="postvakt", gives what the same query gives over
	// the leader alone — the single-replica value.
	clusterRe := regexp.MustCompile(`\b(` + strings.Join(telemetry.ClusterWide, "|") + `)\b`)
	n := 0
	for _, e := range dashboards.Exprs() {
		if !clusterRe.MatchString(e) {
			continue
		}
		n++
		e = strings.NewReplacer(`$instance`, `.*`, `$__rate_interval`, `1m`).Replace(e)
		both, err1 := query(dashboards.WithJob(e, `job="postvakt"`))
		one, err2 := query(dashboards.WithJob(e, `job="postvakt",instance="`+leader+`"`))
		if err1 != nil || err2 != nil {
			t.Errorf("%s: %v %v", e, err1, err2)
			continue
		}
		if a, b := render(both, func(s sample) (map[string]string, any) { return s.Metric, s.Value[1] }), render(one, func(s sample) (map[string]string, any) { return s.Metric, s.Value[1] }); a != b {
			t.Errorf("%s\n two replicas: %s\n one replica:  %s", e, a, b)
		}
	}
	if n < 5 {
		t.Fatalf("only %d shipped expressions over cluster-wide gauges", n)
	}
	// The incidents panel shows the test's own count.
	if v := value(dashboards.WithJob(`max by (status) (postvakt_oncall_open_incidents{status="triggered"})`, `job="postvakt"`)); v != fmt.Sprint(opened) {
		t.Errorf("open incidents panel: %s, want %d", v, opened)
	}
}

func render[S any](in []S, f func(S) (map[string]string, any)) string {
	var out []string
	for _, s := range in {
		m, v := f(s)
		var ls []string
		for k, lv := range m {
			if k != "instance" {
				ls = append(ls, k+"="+lv)
			}
		}
		sort.Strings(ls)
		out = append(out, strings.Join(ls, ",")+" "+fmt.Sprint(v))
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}

// checkExposition checks one replica's /metrics: promtool check metrics,
// gzip and OpenMetrics when asked, no job or instance label.
func checkExposition(t *testing.T, u string) {
	t.Helper()
	fetch := func(hdr map[string]string) (*http.Response, []byte) {
		req, _ := http.NewRequest("GET", u, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	_, plain := fetch(nil)
	cmd := exec.Command("/usr/bin/promtool", "check", "metrics")
	cmd.Stdin = bytes.NewReader(plain)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics %s: %v\n%s", u, err, out)
	}
	if m := regexp.MustCompile(`(?m)^postvakt_[a-z0-9_]+\{[^}]*\b(job|instance)="`).Find(plain); m != nil {
		t.Errorf("%s: series with a reserved label: %s", u, m)
	}
	resp, z := fetch(map[string]string{"Accept-Encoding": "gzip"})
	zr, err := gzip.NewReader(bytes.NewReader(z))
	if resp.Header.Get("Content-Encoding") != "gzip" || err != nil {
		t.Errorf("%s: no gzip (Content-Encoding %q, %v)", u, resp.Header.Get("Content-Encoding"), err)
	} else if b, _ := io.ReadAll(zr); !bytes.Contains(b, []byte("postvakt_build_info")) {
		t.Errorf("%s: gzip body lacks postvakt_build_info", u)
	}
	resp, om := fetch(map[string]string{"Accept": "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"})
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/openmetrics-text") || !bytes.HasSuffix(om, []byte("# EOF\n")) {
		t.Errorf("%s: no OpenMetrics (Content-Type %q)", u, resp.Header.Get("Content-Type"))
	}
}

// promInstant runs an instant query; an error answer is decoded too.
func promInstant(base, q string, out any) error {
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(out)
}
