package engine_test

import (
	"bytes"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/enginemetrics"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
)

// The exposition holds the engine metrics, passes `promtool check metrics`,
// and labels come only from closed sets (docs/development.md, "Metrics";
// Prometheus's naming and label guidelines).
func TestEngineMetricsExposition(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t, storage.SQLite)
	h := startEngine(t, db, func(c *engine.Config) { c.Whitelist.Clients = []string{"127.0.0.1"} }, nil)
	h.mailbox("anna@uni.example", nil)
	if err := send(h.dial(h.mx), "s@else.example", []string{"anna@uni.example"}, msg("m")); err != nil {
		t.Fatal(err)
	}
	_ = send(h.dial(h.mx), "s@else.example", []string{"nobody@uni.example"}, msg("n"))

	metrics.ExposeMetadata(true) // HELP/TYPE lines, as /metrics serves them
	var b bytes.Buffer
	if err := enginemetrics.WritePrometheus(&b, h.set); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, name := range []string{
		"postvakt_smtp_connections_total", "postvakt_smtp_connections_active", "postvakt_smtp_commands_total",
		"postvakt_smtp_replies_total", "postvakt_smtp_rejects_total", "postvakt_smtp_messages_total",
		"postvakt_smtp_message_bytes_total", "postvakt_smtp_message_size_bytes_bucket", "postvakt_smtp_deliveries_total",
		"postvakt_smtp_greylist_decisions_total", "postvakt_smtp_auth_attempts_total", "postvakt_smtp_session_duration_seconds_bucket",
		"postvakt_smtp_data_duration_seconds_bucket", "postvakt_smtp_commit_duration_seconds_bucket", "postvakt_smtp_commit_batch_messages_bucket",
		"postvakt_smtp_store_bodies", "postvakt_smtp_events_dropped_total",
	} {
		if !strings.Contains(out, "\n"+name) {
			t.Errorf("exposition lacks %s", name)
		}
	}
	if !strings.Contains(out, `postvakt_smtp_messages_total{direction="inbound",result="accepted"} 1`) {
		t.Error("accepted message not counted")
	}
	// Label values: never an address or domain.
	if regexp.MustCompile(`="[^"]*[@.][^"]*"`).MatchString(strings.ReplaceAll(out, `le="`, `LE="`)) {
		for _, l := range strings.Split(out, "\n") {
			if strings.Contains(l, "@") || strings.Contains(l, "example") {
				t.Errorf("label looks like an address: %s", l)
			}
		}
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (Debian package prometheus)")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(out)
	if res, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, res)
	}
}
