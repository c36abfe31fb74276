package logattr_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/logattr"
)

// TestSecondsJSON: through the JSON handler a duration is a float number
// of seconds under "<key>_seconds", not integer nanoseconds.
func TestSecondsJSON(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&b, &slog.HandlerOptions{ReplaceAttr: logattr.Seconds}))
	log.Info("done", "took", 1500*time.Millisecond, "retry_in_seconds", 2*time.Minute, "n", 3,
		slog.Group("g", "wait", 250*time.Microsecond), logattr.Duration("lag", time.Second))
	var rec map[string]any
	if err := json.Unmarshal(b.Bytes(), &rec); err != nil {
		t.Fatalf("%v: %s", err, b.String())
	}
	for k, want := range map[string]float64{"took_seconds": 1.5, "retry_in_seconds": 120, "n": 3, "lag_seconds": 1} {
		if got, ok := rec[k].(float64); !ok || got != want {
			t.Errorf("%s = %v, want %v (record %s)", k, rec[k], want, b.String())
		}
	}
	if g, _ := rec["g"].(map[string]any); g["wait_seconds"] != 0.00025 {
		t.Errorf("group g = %v", rec["g"])
	}
	if _, ok := rec["took"]; ok {
		t.Errorf("raw took still written: %s", b.String())
	}
}

// TestSecondsText: the text handler writes the same key and number.
func TestSecondsText(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	log := slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{ReplaceAttr: logattr.Seconds}))
	log.Info("done", "took", 90*time.Second)
	if !strings.Contains(b.String(), " took_seconds=90") || strings.Contains(b.String(), "1m30s") {
		t.Errorf("text record %q", b.String())
	}
}
