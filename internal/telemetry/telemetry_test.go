package telemetry

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func newTel(t *testing.T) *Telemetry {
	t.Helper()
	tel := New("test")
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "postvakt_test_registry_total", Help: "A registry counter."}, []string{"result"})
	c.WithLabelValues("ok").Add(3)
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "postvakt_queue_messages", Help: "Shared queue."}, []string{"state"})
	g.WithLabelValues("queued").Set(7)
	tel.Registry.MustRegister(c, g)
	tel.Hot.NewCounter(`postvakt_test_hot_total{listener="mx"}`).Add(5)
	tel.Hot.NewPrometheusHistogram(`postvakt_test_hot_seconds`).Update(0.2)
	tel.Hot.NewGauge(`postvakt_smtp_store_messages`, func() float64 { return 11 })
	tel.Describe("postvakt_test_hot_total", "A hot counter.")
	tel.Describe("postvakt_test_hot_seconds", "A hot histogram.")
	tel.Describe("postvakt_smtp_store_messages", "Shared store.")
	return tel
}

func get(t *testing.T, h http.Handler, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	tr := &http.Transport{DisableCompression: true}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// TestHandlerNegotiates: one exposition over both libraries, gzip when
// asked, OpenMetrics when asked (with its # EOF), plain text otherwise.
func TestHandlerNegotiates(t *testing.T) {
	tel := newTel(t)
	resp, body := get(t, tel.Handler(), nil)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("plain Content-Type %q", ct)
	}
	for _, want := range []string{`postvakt_test_registry_total{result="ok"} 3`, `postvakt_test_hot_total{listener="mx"} 5`,
		"# HELP postvakt_test_hot_total A hot counter.", `postvakt_test_hot_seconds_bucket{le="+Inf"} 1`, "postvakt_smtp_store_messages 11",
		`postvakt_queue_messages{state="queued"} 7`, "postvakt_metrics_cluster_leader 1", "go_goroutines"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("plain exposition lacks %q", want)
		}
	}
	if d := Duplicates(body); len(d) > 0 {
		t.Errorf("families declared twice: %v", d)
	}

	resp, zbody := get(t, tel.Handler(), map[string]string{"Accept-Encoding": "gzip"})
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q, want gzip", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(zbody))
	if err != nil {
		t.Fatal(err)
	}
	unz, err := io.ReadAll(zr)
	if err != nil || !bytes.Contains(unz, []byte(`postvakt_test_hot_total{listener="mx"} 5`)) {
		t.Errorf("gzip body: %v\n%.300s", err, unz)
	}

	// What Prometheus 2.x/3.x sends when it prefers OpenMetrics.
	resp, om := get(t, tel.Handler(), map[string]string{"Accept": "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"})
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Errorf("OpenMetrics Content-Type %q", ct)
	}
	if !bytes.HasSuffix(om, []byte("# EOF\n")) || !bytes.Contains(om, []byte(`postvakt_test_hot_total{listener="mx"} 5`)) {
		t.Errorf("OpenMetrics body:\n%.500s", om)
	}
}

// TestFollowerLeavesOutClusterWide: a replica that does not hold the
// cluster-metrics lock exports neither the registry's nor the hot set's
// cluster-wide families, and says it is not the leader.
func TestFollowerLeavesOutClusterWide(t *testing.T) {
	tel := newTel(t)
	tel.SetLeader(func() bool { return false })
	_, body := get(t, tel.Handler(), nil)
	for _, gone := range []string{"postvakt_queue_messages", "postvakt_smtp_store_messages"} {
		if bytes.Contains(body, []byte(gone)) {
			t.Errorf("follower exports %s", gone)
		}
	}
	for _, want := range []string{"postvakt_metrics_cluster_leader 0", `postvakt_test_hot_total{listener="mx"} 5`, "postvakt_test_registry_total"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("follower lacks %q", want)
		}
	}
}

// TestNoReservedLabels: nothing registered in a fresh Telemetry carries
// job or instance.
func TestNoReservedLabels(t *testing.T) {
	tel := newTel(t)
	mfs, err := tel.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				for _, r := range ReservedLabels {
					if l.GetName() == r {
						t.Errorf("%s carries label %s", mf.GetName(), r)
					}
				}
			}
		}
	}
}

// TestPromtoolCheckMetrics runs `promtool check metrics` on the exposition.
func TestPromtoolCheckMetrics(t *testing.T) {
	p, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("POSTVAKT_REQUIRE_TOOLS") == "1" {
			t.Fatal("promtool required (POSTVAKT_REQUIRE_TOOLS=1) but not installed (Debian package prometheus)")
		}
		t.Skip("promtool not installed (Debian package prometheus)")
	}
	var buf bytes.Buffer
	if err := newTel(t).WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(p, "check", "metrics")
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestPushSendsBothSets: the push carries the registry's families as well
// as the hot set's.
func TestPushSendsBothSets(t *testing.T) {
	var mu sync.Mutex
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var rd io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			rd = zr
		}
		b, _ := io.ReadAll(rd)
		mu.Lock()
		got = b
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	tel := newTel(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := tel.StartPush(ctx, srv.URL+"/api/v1/import/prometheus", 100*time.Millisecond, `site="uni"`); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		b := got
		mu.Unlock()
		if bytes.Contains(b, []byte("postvakt_test_registry_total")) && bytes.Contains(b, []byte("postvakt_test_hot_total")) {
			if !bytes.Contains(b, []byte(`site="uni"`)) {
				t.Errorf("push lacks the extra labels:\n%.300s", b)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("push did not carry both sets:\n%.1000s", got)
}
