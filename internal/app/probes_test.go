package app

import (
	"fmt"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/oncall/incident"
)

// probeEngine configures the engine with a probe mailbox that may submit
// (AUTH after STARTTLS, on the generated development certificate) and
// returns the submission and MX addresses.
func probeEngine(t *testing.T, password string) (engine.Config, string, string) {
	t.Helper()
	hash, err := directory.HashPassword(password, directory.HashParams{MemoryKiB: 8 * 1024, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	sc := engine.Default()
	sc.DMARC.Check = false // no DNS here: SPF, DKIM and DMARC have their own tests
	sc.Hostname = "mx.uni.example"
	sc.MX.Listen, sc.Submission.Listen = "127.0.0.1:"+freePort(t), "127.0.0.1:"+freePort(t)
	sc.Limits.AuthFailureDelay = 0
	sc.Whitelist.Clients = []string{"127.0.0.0/8"}
	sc.Directory.Domains = []string{"uni.example"}
	sc.Directory.Mailboxes = []engine.MailboxConfig{{Address: "probe@uni.example", PasswordHash: hash}, {Address: "ola@uni.example"}}
	return sc, sc.Submission.Listen, sc.MX.Listen
}

// probeTargets are a mail loop through the engine's own submission
// listener into its own store, an SMTP probe of the MX, and a TCP probe of
// addr (a "pop3" service the test stops and starts).
func probeTargets(sub, mx, tcpAddr, passwordEnv string) []probe.Target {
	return []probe.Target{
		{Name: "mail-loop", Service: "submission", Kind: probe.KindLoop, Address: sub, TLS: probe.TLSStartTLS, TLSInsecureSkipVerify: true,
			User: "probe@uni.example", PasswordEnv: passwordEnv, Recipient: "probe@uni.example", Fetch: probe.Fetch{Kind: probe.FetchStore}},
		{Name: "mx-smtp", Service: "smtp", Kind: probe.KindSMTP, Address: mx, TLS: probe.TLSStartTLS, TLSInsecureSkipVerify: true},
		{Name: "pop-tcp", Service: "pop3", Node: "pop1", Kind: probe.KindTCP, Address: tcpAddr},
	}
}

// TestProbesThroughTheApp: postvakt serve probes its own engine (a mail
// loop through submission with AUTH after STARTTLS into its own store,
// and the MX) and a TCP service; stopping the TCP service raises an
// on-call incident after the retries, starting it again resolves it, and
// the API shows states, results and availability.
func TestProbesThroughTheApp(t *testing.T) {
	slackAPI, sink := newFakeSlack(t), newSMTPSink(t)
	cfg := oncallConfig(t, slackAPI.srv.URL, sink.addr, time.Hour, 2*time.Hour)
	sc, sub, mx := probeEngine(t, "probe-secret")
	cfg.SMTP = sc
	t.Setenv("POSTVAKT_TEST_PROBE_PASSWORD", "probe-secret")

	pop, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	popAddr := pop.Addr().String()
	go acceptAndClose(pop)

	cfg.Probes.Enabled = true
	cfg.Probes.Interval, cfg.Probes.Timeout = time.Second, 5*time.Second
	cfg.Probes.Retries, cfg.Probes.RetryInterval, cfg.Probes.Jitter = 1, 100*time.Millisecond, 0
	cfg.Probes.Loop.Poll = 100 * time.Millisecond
	cfg.Probes.Targets = probeTargets(sub, mx, popAddr, "POSTVAKT_TEST_PROBE_PASSWORD")
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	app := startApp(t, cfg, time.Now)
	token := apiToken(t, cfg, "oncall")

	states := func() map[string]probe.State {
		var out struct {
			Probes []probe.State `json:"probes"`
		}
		if code := call(t, "GET", app.base+"/api/v1/probes", token, nil, &out); code != 200 {
			t.Fatalf("GET /api/v1/probes: %d", code)
		}
		m := map[string]probe.State{}
		for _, s := range out.Probes {
			m[s.Probe] = s
		}
		return m
	}
	eventually(t, 30*time.Second, "every probe up", func() bool {
		s := states()
		return len(s) == 3 && s["mail-loop"].Status == probe.StatusUp && s["mx-smtp"].Status == probe.StatusUp && s["pop-tcp"].Status == probe.StatusUp
	})
	var results struct {
		Results []probe.Result `json:"results"`
	}
	if code := call(t, "GET", app.base+"/api/v1/probes/mail-loop/results?limit=1", token, nil, &results); code != 200 || len(results.Results) != 1 {
		t.Fatalf("loop results: %d %+v", code, results)
	}
	loop := results.Results[0]
	if !loop.OK || loop.LoopDelivery <= 0 || loop.LoopDelivery > 30*time.Second {
		t.Fatalf("mail loop: %+v", loop)
	}
	t.Logf("mail loop through the engine: delivered in %s", loop.LoopDelivery)
	if strings.Contains(fmt.Sprint(loop), "probe-secret") {
		t.Fatal("the probe password appears in a result")
	}

	// Stop the service: down after the retries, an incident opens.
	pop.Close()
	var inc incident.Incident
	eventually(t, 20*time.Second, "pop-tcp down with an incident", func() bool {
		if states()["pop-tcp"].Status != probe.StatusDown {
			return false
		}
		var out struct {
			Incidents []incident.Incident `json:"incidents"`
		}
		call(t, "GET", app.base+"/api/v1/incidents", token, nil, &out)
		for _, i := range out.Incidents {
			if i.Key == "probe/pop-tcp" {
				inc = i
				return true
			}
		}
		return false
	})
	if inc.Source != "probe" || inc.Severity != incident.SeverityCritical || inc.Status != incident.StatusTriggered ||
		inc.Labels["service"] != "pop3" || inc.Labels["node"] != "pop1" || inc.Labels["runbook"] != "probe-failed" {
		t.Fatalf("incident = %+v", inc)
	}
	// The Now page shows the failing probe to a viewer.
	webUser(t, cfg, "vera", "viewer")
	c, _ := signedIn(t, app.base, "vera")
	if _, page := c.do("GET", "/", nil, nil); !strings.Contains(page, `id="probes"`) || !regexp.MustCompile(`pop-tcp</strong> <span class="badge">down`).MatchString(page) {
		t.Fatalf("the Now page does not show pop-tcp down:\n%s", page)
	}
	var rs struct {
		Results []probe.Result `json:"results"`
	}
	call(t, "GET", app.base+"/api/v1/probes/pop-tcp/results?limit=1", token, nil, &rs)
	if len(rs.Results) != 1 || rs.Results[0].OK || rs.Results[0].Attempts != 2 {
		t.Fatalf("failed run should have taken 1+retries attempts: %+v", rs.Results)
	}
	// Without a limit: every run of the period (it was up before it went
	// down), newest first; a bad limit is refused.
	var all struct {
		Results []probe.Result `json:"results"`
	}
	call(t, "GET", app.base+"/api/v1/probes/pop-tcp/results", token, nil, &all)
	// (a run may have finished between the two requests)
	newestFirst := slices.IsSortedFunc(all.Results, func(a, b probe.Result) int { return b.At.Compare(a.At) })
	hasLast := slices.ContainsFunc(all.Results, func(r probe.Result) bool { return r.At.Equal(rs.Results[0].At) })
	if len(all.Results) < 2 || !newestFirst || !hasLast || !slices.ContainsFunc(all.Results, func(r probe.Result) bool { return r.OK }) {
		t.Fatalf("results without a limit: %+v", all.Results)
	}
	if code := call(t, "GET", app.base+"/api/v1/probes/pop-tcp/results?limit=0", token, nil, nil); code != http.StatusBadRequest {
		t.Fatalf("limit=0: %d, want 400", code)
	}

	// Start it again on the same address: the probe recovers and the
	// incident resolves.
	pop2, err := net.Listen("tcp", popAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer pop2.Close()
	go acceptAndClose(pop2)
	eventually(t, 20*time.Second, "pop-tcp up and its incident resolved", func() bool {
		var got struct {
			Incident incident.Incident `json:"incident"`
		}
		call(t, "GET", fmt.Sprintf("%s/api/v1/incidents/%d", app.base, inc.ID), token, nil, &got)
		return states()["pop-tcp"].Status == probe.StatusUp && got.Incident.Status == incident.StatusResolved
	})

	var av struct {
		Services []probe.Figures `json:"services"`
	}
	if code := call(t, "GET", app.base+"/api/v1/availability?from="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), token, nil, &av); code != 200 {
		t.Fatalf("availability: %d", code)
	}
	got := map[string]probe.Figures{}
	for _, f := range av.Services {
		got[f.Service] = f
	}
	if p := got["pop3"]; !p.Known || p.Down <= 0 || len(p.Outages) != 1 || p.Availability >= 100 {
		t.Fatalf("pop3 availability = %+v", p)
	}
	if s := got["submission"]; !s.Known || s.Down != 0 || s.Availability != 100 {
		t.Fatalf("submission availability = %+v", s)
	}
	var daily struct {
		Services []probe.Figures `json:"services"`
	}
	if code := call(t, "GET", app.base+"/api/v1/availability?by=day&from="+time.Now().Add(-50*time.Hour).UTC().Format(time.RFC3339), token, nil, &daily); code != 200 || len(daily.Services) < 2*len(got) {
		t.Fatalf("availability by day: %d, %d rows for %d services", code, len(daily.Services), len(got))
	}
	if code := call(t, "GET", app.base+"/api/v1/availability?by=week", token, nil, nil); code != 400 {
		t.Fatalf("by=week: %d", code)
	}
	names := exposedNames(t, app.base+"/metrics")
	for _, m := range []string{"postvakt_probe_success", "postvakt_probe_duration_seconds", "postvakt_probe_mail_loop_delivery_seconds",
		"postvakt_probe_tls_certificate_expiry_timestamp_seconds", "postvakt_probe_runs_total"} {
		if !names[m] {
			t.Errorf("metric %s not exported", m)
		}
	}
	// A viewer may read but not run probes.
	viewer := apiToken(t, cfg, "viewer")
	if code := call(t, "POST", app.base+"/api/v1/probes/pop-tcp/run", viewer, map[string]any{}, nil); code != 403 {
		t.Fatalf("viewer ran a probe: %d", code)
	}
	if code := call(t, "POST", app.base+"/api/v1/probes/nope/run", token, map[string]any{}, nil); code != 404 {
		t.Fatalf("unknown probe: %d", code)
	}
}

func acceptAndClose(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}
