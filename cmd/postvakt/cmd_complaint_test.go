package main

import (
	"context"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/engine/complaint"
	"github.com/uni-mail/postvakt/internal/store/complaintstore"
)

func TestSpamComplaintCLI(t *testing.T) {
	t.Parallel()
	cfg := dataConfig(t, "data_dir: DATADIR\ntimezone: Europe/Oslo\n")
	svc := complaint.New(complaint.Options{Config: complaint.DefaultConfig(), Store: complaintstore.New(openTestDB(t, cfg))})
	raw := "From: kari@uni.example\r\nSubject: Fwd: spam\r\nContent-Type: message/rfc822\r\n\r\nFrom: sales@pharma.example\r\nSubject: Cheap pills for everyone\r\n\r\nhttps://shop.pharma.example/\r\n"
	c, err := svc.Intake(context.Background(), strings.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "spam-complaint", "list", "--config", cfg)
	if code != exitOK || !strings.Contains(out, "kari@uni.example") || !strings.Contains(out, "CET") {
		t.Fatalf("list: %d %s %s", code, out, errOut)
	}
	code, out, _ = runCLI(t, "spam-complaint", "show", "--config", cfg, "1")
	if code != exitOK || !strings.Contains(out, "sales@pharma.example") || !strings.Contains(out, "proposed") || !strings.Contains(out, "#1") {
		t.Fatalf("show: %d %s", code, out)
	}
	code, out, _ = runCLI(t, "spam-complaint", "accept", "--config", cfg, "1")
	if code != exitOK || !strings.Contains(out, "rule(s) now active") {
		t.Fatalf("accept: %d %s", code, out)
	}
	if code, _, errOut = runCLI(t, "spam-complaint", "accept", "--config", cfg, "1"); code == exitOK || !strings.Contains(errOut, "not allowed") {
		t.Fatalf("accept twice: %d %s", code, errOut)
	}
	code, out, _ = runCLI(t, "spam-complaint", "rules", "--config", cfg, "--state", "active")
	if code != exitOK || strings.Count(out, "active") != len(c.Rules) {
		t.Fatalf("rules: %d %s", code, out)
	}
	if code, _, _ = runCLI(t, "spam-complaint", "rules", "--config", cfg, "--state", "bogus"); code != exitUsage {
		t.Fatalf("bad state: %d", code)
	}
}
