package abusedetect

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/uni-mail/postvakt/config/validate"
)

type collected struct{ alerts []Alert }

func (c *collected) Alert(_ context.Context, a Alert) error {
	c.alerts = append(c.alerts, a)
	return nil
}

func newDetector(t *testing.T, cfg Config) (*Detector, *collected, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	c := &collected{}
	d, err := New(Options{Config: cfg, Sink: c, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	return d, c, reg
}

var t0 = time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC)

func TestAuthFailuresPerIPOncePerWindow(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	d, c, _ := newDetector(t, cfg)
	ctx := context.Background()
	for i := range cfg.AuthFailuresPerIP {
		d.Login(ctx, Login{At: t0.Add(time.Duration(i) * time.Second), Node: "mx", User: fmt.Sprintf("user%d", i), IP: "192.0.2.66", OK: false})
	}
	if len(c.alerts) != 0 {
		t.Fatalf("alert at the threshold: %+v", c.alerts)
	}
	for i := range 10 { // crossing it, then more within the window: one alert
		d.Login(ctx, Login{At: t0.Add(time.Minute + time.Duration(i)*time.Second), Node: "mx", User: "x", IP: "192.0.2.66", OK: false})
	}
	if len(c.alerts) != 1 || c.alerts[0].Kind != KindAuthFailuresIP || c.alerts[0].Runbook != RunbookBruteForce ||
		c.alerts[0].Subject != "192.0.2.66" || c.alerts[0].Count != cfg.AuthFailuresPerIP+1 {
		t.Fatalf("alerts %+v", c.alerts)
	}
	// a window later the guessing goes on: a second alert
	for i := range cfg.AuthFailuresPerIP + 1 {
		d.Login(ctx, Login{At: t0.Add(30*time.Minute + time.Duration(i)*time.Second), Node: "mx", User: "y", IP: "192.0.2.66", OK: false})
	}
	n := 0
	for _, a := range c.alerts {
		if a.Kind == KindAuthFailuresIP {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d per-IP alerts, want 2", n)
	}
}

func TestSendingBurstAndManyRecipients(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	d, c, reg := newDetector(t, cfg)
	ctx := context.Background()
	for i := range cfg.MessagesPerAccount + 1 {
		d.Message(ctx, Message{At: t0.Add(time.Duration(i) * time.Second), Node: "mx", User: "phished@uni.example", MessageID: fmt.Sprintf("m%d", i), Recipients: 1})
	}
	d.Message(ctx, Message{At: t0, Node: "mx", User: "", MessageID: "newsletter", Recipients: cfg.RecipientsPerMessage + 5})
	d.Message(ctx, Message{At: t0, Node: "mx", User: "teacher@uni.example", MessageID: "course", Recipients: cfg.RecipientsPerMessage}) // at the limit: fine
	kinds := map[Kind]int{}
	for _, a := range c.alerts {
		kinds[a.Kind]++
		if a.Runbook != RunbookSpamBurst {
			t.Errorf("%s: runbook %s", a.Kind, a.Runbook)
		}
	}
	if kinds[KindSendMessages] != 1 || kinds[KindManyRecipients] != 1 || len(c.alerts) != 2 {
		t.Errorf("alerts %+v", c.alerts)
	}
	if n := testutil.ToFloat64(d.alerts.WithLabelValues(string(KindSendMessages))); n != 1 {
		t.Errorf("metric %v", n)
	}
	if n, err := testutil.GatherAndCount(reg, "postvakt_collector_abuse_alerts_total"); err != nil || n != len(Kinds()) {
		t.Errorf("series %d %v", n, err)
	}
}

func TestRecipientsPerAccountAndManyAddresses(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	d, c, _ := newDetector(t, cfg)
	ctx := context.Background()
	for i := range 16 { // 16 × 19 = 304 recipients > 300
		d.Message(ctx, Message{At: t0.Add(time.Duration(i) * time.Second), Node: "mx", User: "u@uni.example", MessageID: "m", Recipients: 19})
	}
	for i := range cfg.AddressesPerUser + 1 {
		d.Login(ctx, Login{At: t0.Add(time.Duration(i) * time.Second), Node: "mx", User: "v@uni.example", IP: fmt.Sprintf("198.51.100.%d", i), OK: true})
	}
	kinds := map[Kind]int{}
	for _, a := range c.alerts {
		kinds[a.Kind]++
	}
	if kinds[KindSendRecipients] != 1 || kinds[KindLoginManyAddresses] != 1 || kinds[KindSendMessages] != 0 {
		t.Errorf("alerts %+v", c.alerts)
	}
	cfg.Window = 0
	if errs := cfg.Validate(); len(validate.Errors(errs)) != 1 {
		t.Errorf("validate: %v", errs)
	}
}

// TestSetConfig: thresholds changed by a reload apply to the next events.
func TestSetConfig(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	d, c, _ := newDetector(t, cfg)
	ctx := context.Background()
	lower := cfg
	lower.AuthFailuresPerIP = 3
	d.SetConfig(lower)
	for i := range 4 {
		d.Login(ctx, Login{At: t0.Add(time.Duration(i) * time.Second), Node: "mx", User: "u", IP: "192.0.2.9", OK: false})
	}
	if len(c.alerts) != 1 || c.alerts[0].Threshold != 3 {
		t.Fatalf("after lowering the threshold to 3, 4 failures: %+v", c.alerts)
	}
	off := cfg
	off.Enabled = false
	d.SetConfig(off)
	for i := range 100 {
		d.Login(ctx, Login{At: t0.Add(time.Hour + time.Duration(i)*time.Second), Node: "mx", User: "u", IP: "192.0.2.10", OK: false})
	}
	if len(c.alerts) != 1 {
		t.Fatalf("alerts after detection was turned off: %+v", c.alerts)
	}
}
