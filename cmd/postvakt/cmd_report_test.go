package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportCLI generates reports from an empty database in every format:
// the sections without data say so, the files are complete, and no
// progress bar is drawn when standard output is not a terminal.
func TestReportCLI(t *testing.T) {
	t.Parallel()
	cfg := dataConfig(t, "data_dir: DATADIR\nreports:\n  pdf_engine: builtin\n  language: nb\n")
	dir := t.TempDir()
	for _, c := range []struct {
		args   []string
		file   string
		prefix string
	}{
		{[]string{"--format", "csv"}, "r.out", "section,metric"},
		{nil, "oktober.pdf", "%PDF-"},
		{[]string{"--comment", "Říjen – Tromsø"}, "oktober.html", "<!DOCTYPE html>"},
	} {
		out := filepath.Join(dir, c.file)
		args := append([]string{"report", "--config", cfg, "--period", "2026-10", "-o", out}, c.args...)
		code, stdout, stderr := runCLI(t, args...)
		if code != exitOK {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		if stdout != "" {
			t.Errorf("%v: wrote to stdout: %q", args, stdout)
		}
		b, err := os.ReadFile(out)
		if err != nil || !bytes.HasPrefix(b, []byte(c.prefix)) {
			t.Fatalf("%v: %v %.30q", args, err, b)
		}
		if !strings.Contains(stderr, "wrote "+out) {
			t.Errorf("%v: stderr %q", args, stderr)
		}
		if c.file == "oktober.html" && (!strings.Contains(string(b), "Říjen – Tromsø") || !strings.Contains(string(b), "Data som mangler")) {
			t.Error("HTML lacks the comment or the note on missing data")
		}
	}
	code, stdout, _ := runCLI(t, "report", "--config", cfg, "--period", "2026-10", "--format", "csv")
	if code != exitOK || !strings.HasPrefix(stdout, "section,metric") {
		t.Fatalf("csv to stdout: %d %.40q", code, stdout)
	}
	for _, bad := range [][]string{{"--period", "2026-13"}, {"--format", "docx"}, {"--lang", "de"}, {"extra"}} {
		if code, _, _ := runCLI(t, append([]string{"report", "--config", cfg}, bad...)...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", bad, code, exitUsage)
		}
	}
}

// TestReportTipsCLI sets, shows and clears a period's questions and tips,
// and refuses a file that is not entries.
func TestReportTipsCLI(t *testing.T) {
	t.Parallel()
	cfg := writeConfig(t, "data_dir: DATADIR\nreports:\n  pdf_engine: builtin\n")
	if code, _, errOut := runCLI(t, "migrate", "up", "--config", cfg); code != exitOK {
		t.Fatalf("migrate up: %d %s", code, errOut)
	}
	file := filepath.Join(t.TempDir(), "tips.txt")
	text := "Q: Why is mail from Canvas marked as spam?\nA: Its sender lacks DKIM;\nwe have told them.\n\nQ: Kan jeg få mer enn 2 GB?\nA: Ja, opptil 5 GB via brukerstøtte.\n"
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, "report-tips", "--config", cfg, "--period", "2026-10", "--file", file); code != exitOK ||
		!strings.Contains(stderr, "2 questions and tips stored for 2026-10") {
		t.Fatalf("set: %d %s", code, stderr)
	}
	code, stdout, _ := runCLI(t, "report-tips", "--config", cfg, "--period", "2026-10")
	if code != exitOK || stdout != "Q: Why is mail from Canvas marked as spam?\nA: Its sender lacks DKIM;\nwe have told them.\n\nQ: Kan jeg få mer enn 2 GB?\nA: Ja, opptil 5 GB via brukerstøtte.\n" {
		t.Fatalf("show: %d %q", code, stdout)
	}
	out := filepath.Join(t.TempDir(), "r.html")
	if code, _, stderr := runCLI(t, "report", "--config", cfg, "--period", "2026-10", "-o", out); code != exitOK {
		t.Fatal(stderr)
	}
	if b, _ := os.ReadFile(out); !strings.Contains(string(b), "Kan jeg få mer enn 2 GB?") {
		t.Error("the report does not show the tips")
	}
	for _, bad := range []string{"A: an answer first\n", "Q: no answer\n", "just text\n"} {
		if err := os.WriteFile(file, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if code, _, _ := runCLI(t, "report-tips", "--config", cfg, "--period", "2026-10", "--file", file); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", bad, code, exitUsage)
		}
	}
	if code, _, _ := runCLI(t, "report-tips", "--config", cfg, "--period", "2026-10", "--clear"); code != exitOK {
		t.Fatal("clear failed")
	}
	if code, stdout, _ := runCLI(t, "report-tips", "--config", cfg, "--period", "2026-10", "--json"); code != exitOK || strings.TrimSpace(stdout) != "[]" {
		t.Fatalf("after clear: %d %q", code, stdout)
	}
}
