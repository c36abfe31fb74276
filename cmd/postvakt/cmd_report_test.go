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
