package main

import (
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/collectors/probe"
)

// TestProbeCLI: `probe run` prints each step and exits 1 when the probe
// fails; --record stores the run, and `probe status` and `probe
// availability` show it.
func TestProbeCLI(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	cfg := dataConfig(t, `data_dir: DATADIR
database:
  migrate_on_start: true
probes:
  retries: 1
  retry_interval: 10ms
  targets:
    - {name: imap-tcp, service: imap, kind: tcp, address: "`+l.Addr().String()+`"}
    - {name: pop-tcp, service: pop3, node: pop1, kind: tcp, address: "`+closedAddr+`"}
`)
	code, out, errOut := runCLI(t, "probe", "run", "--config", cfg, "--record", "imap-tcp")
	if code != exitOK || !strings.Contains(out, "connect") || !strings.Contains(out, "result: ok") {
		t.Fatalf("probe run imap-tcp: %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "probe", "run", "--config", cfg, "--record", "pop-tcp")
	if code != exitError || !strings.Contains(out, "FAIL") || !strings.Contains(out, "2 attempt") || !strings.Contains(errOut, "connection refused") {
		t.Fatalf("probe run pop-tcp: %d\n%s\n%s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "probe", "run", "--config", cfg, "nope"); code == exitOK || !strings.Contains(errOut, "no such probe") {
		t.Fatalf("unknown probe: %d %s", code, errOut)
	}
	code, out, _ = runCLI(t, "probe", "status", "--config", cfg, "--json")
	var states []probe.State
	if err := json.Unmarshal([]byte(out), &states); code != exitOK || err != nil || len(states) != 2 {
		t.Fatalf("probe status: %d %v %s", code, err, out)
	}
	for _, s := range states {
		if want := map[string]probe.Status{"imap-tcp": probe.StatusUp, "pop-tcp": probe.StatusDown}[s.Probe]; s.Status != want {
			t.Errorf("%s is %s, want %s", s.Probe, s.Status, want)
		}
	}
	code, out, _ = runCLI(t, "probe", "availability", "--config", cfg, "--since", "1h")
	if code != exitOK || !strings.Contains(out, "imap") || !strings.Contains(out, "100.000 %") || !strings.Contains(out, "0.000 %") {
		t.Fatalf("probe availability: %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "probe", "availability", "--config", cfg, "--since", "48h", "--daily")
	if code != exitOK || strings.Count(out, "imap ") < 2 || strings.Count(out, "pop3 ") < 2 {
		t.Fatalf("probe availability --daily (two or three days per service): %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, "probe", "list", "--config", cfg)
	if code != exitOK || !strings.Contains(out, "pop1") {
		t.Fatalf("probe list: %d\n%s", code, out)
	}
}
