package main

import (
	"strings"
	"testing"
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
	code, out, errOut = runCLI(t, "unit", "plan", "--config", cfg, "--at", "2099-02-04 10:00", "--assignee", "eva@uni.test", "1")
	if code != exitOK || !strings.Contains(out, "2099-02-02 09:00 CET") || !strings.Contains(out, "remind the administrator to lower the MX TTL") {
		t.Fatalf("plan: %d %s %s", code, out, errOut)
	}
	code, out, _ = runCLI(t, "unit", "show", "--config", cfg, "1")
	if code != exitOK || !strings.Contains(out, "planned") || !strings.Contains(out, "migration planned for") {
		t.Fatalf("show: %d %s", code, out)
	}
	code, out, _ = runCLI(t, "unit", "documents", "--config", cfg, "1")
	if code != exitOK || !strings.Contains(out, "DNS change guide for Department of Chemistry") || !strings.Contains(out, "not configured in postvakt yet") || !strings.Contains(out, "Wednesday 4 February 2099") {
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
