package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestUnitCLI(t *testing.T) {
	cfg := dataConfig(t, "data_dir: DATADIR\ntimezone: Europe/Oslo\nhttp:\n  base_url: https://postvakt.uni.test\n")
	code, out, errOut := runCLI(t, "unit", "create", "--config", cfg, "--name", "Department of Chemistry",
		"--domains", "chem.uni.test", "--admin", "Kari Nett <kari@chem.uni.test>")
	if code != exitOK || !strings.Contains(out, "unit 1 Department of Chemistry recorded") {
		t.Fatalf("create: %d %s %s", code, out, errOut)
	}
	code, out, _ = runCLI(t, "unit", "link", "--config", cfg, "1")
	if code != exitOK || !strings.Contains(out, "https://postvakt.uni.test/survey?t=") || !strings.Contains(out, "CET") {
		t.Fatalf("link: %d %s", code, out)
	}
	// Next year's 4 February, 10:00 in Oslo: the TTL reminder two days
	// before at 09:00.
	year := time.Now().Year() + 1
	mig := time.Date(year, 2, 4, 10, 0, 0, 0, time.UTC)
	code, out, errOut = runCLI(t, "unit", "plan", "--config", cfg, "--at", mig.Format("2006-01-02 15:04"), "--assignee", "eva@uni.test", "1")
	if code != exitOK || !strings.Contains(out, fmt.Sprintf("%d-02-02 09:00 CET", year)) || !strings.Contains(out, "remind the administrator to lower the MX TTL") {
		t.Fatalf("plan: %d %s %s", code, out, errOut)
	}
	code, out, _ = runCLI(t, "unit", "show", "--config", cfg, "1")
	if code != exitOK || !strings.Contains(out, "planned") || !strings.Contains(out, "migration planned for") {
		t.Fatalf("show: %d %s", code, out)
	}
	code, out, _ = runCLI(t, "unit", "documents", "--config", cfg, "1")
	if code != exitOK || !strings.Contains(out, "DNS change guide for Department of Chemistry") || !strings.Contains(out, "not configured in postvakt yet") || !strings.Contains(out, mig.Format("Monday 2 January 2006")) {
		t.Fatalf("documents: %d %s", code, out)
	}
	code, out, _ = runCLI(t, "unit", "work-order", "--config", cfg, "--note", "test accounts", "1")
	if code != exitOK || !strings.Contains(out, "work order 1 opened, not mailed") {
		t.Fatalf("work order: %d %s", code, out)
	}
	code, out, _ = runCLI(t, "unit", "work-order-result", "--config", cfg, "--result", "done", "1")
	if code != exitOK || !strings.Contains(out, "work order 1 done") {
		t.Fatalf("work order result: %d %s", code, out)
	}
	if code, _, errOut = runCLI(t, "unit", "list", "--config", cfg, "--status", "bogus"); code != exitUsage || !strings.Contains(errOut, "new, surveyed") {
		t.Fatalf("bad status: %d %s", code, errOut)
	}
}

func TestUnitRequirementCLI(t *testing.T) {
	cfg := dataConfig(t, "data_dir: DATADIR\ntimezone: Europe/Oslo\n")
	if code, out, errOut := runCLI(t, "unit", "create", "--config", cfg, "--name", "Physics", "--domains", "phys.uni.test"); code != exitOK {
		t.Fatalf("create: %d %s %s", code, out, errOut)
	}
	code, out, errOut := runCLI(t, "unit", "requirement", "add", "--config", cfg, "--title", "Shared calendar", "1")
	if code != exitOK || !strings.Contains(out, "requirement 1 recorded for unit 1 (new)") {
		t.Fatalf("add: %d %s %s", code, out, errOut)
	}
	if code, _, errOut = runCLI(t, "unit", "requirement", "state", "--config", cfg, "--state", "accepted", "1"); code == exitOK || !strings.Contains(errOut, "needs the answer") {
		t.Fatalf("no answer: %d %s", code, errOut)
	}
	code, out, _ = runCLI(t, "unit", "requirement", "state", "--config", cfg, "--state", "accepted", "--answer", "From March", "1")
	if code != exitOK || !strings.Contains(out, "requirement 1 accepted") {
		t.Fatalf("state: %d %s", code, out)
	}
	code, out, _ = runCLI(t, "unit", "requirement", "list", "--config", cfg, "1")
	if code != exitOK || !strings.Contains(out, "Shared calendar") || !strings.Contains(out, "From March") || !strings.Contains(out, "CET") {
		t.Fatalf("list: %d %s", code, out)
	}
}
