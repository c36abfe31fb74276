package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestUserCommand(t *testing.T) {
	t.Parallel()
	cfg := dataConfig(t, "data_dir: DATADIR\n")
	code, out, errOut := runCLI(t, "user", "add", "--config", cfg, "--role", "oncall", "--display-name", "Kari Nordmann", "kari")
	if code != exitOK || len(strings.TrimSpace(out)) < 16 || strings.Contains(errOut, strings.TrimSpace(out)) {
		t.Fatalf("add: %d %q %q", code, out, errOut)
	}
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("another long password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runCLI(t, "user", "passwd", "--config", cfg, "--password-file", pw, "kari"); code != exitOK || out != "" {
		t.Fatalf("passwd from file: %d %q (nothing to print)", code, out)
	}
	if code, _, errOut := runCLI(t, "user", "add", "--config", cfg, "--role", "root", "ola"); code == exitOK || !strings.Contains(errOut, "unknown role") {
		t.Fatalf("bad role: %d %q", code, errOut)
	}
	if code, _, _ := runCLI(t, "user", "role", "--config", cfg, "--role", "postmaster", "kari"); code != exitOK {
		t.Fatalf("role: %d", code)
	}
	if code, out, _ := runCLI(t, "user", "unlock", "--config", cfg, "kari"); code != exitOK || !strings.Contains(out, "kari may sign in again") {
		t.Fatalf("unlock: %d %q", code, out)
	}
	if code, _, _ := runCLI(t, "user", "unlock", "--config", cfg, "nobody"); code == exitOK {
		t.Fatal("unlock of an unknown user succeeded")
	}
	if code, _, _ := runCLI(t, "user", "disable", "--config", cfg, "kari"); code != exitOK {
		t.Fatalf("disable: %d", code)
	}
	code, out, _ = runCLI(t, "user", "list", "--config", cfg)
	if code != exitOK || !strings.Contains(out, "kari") || !strings.Contains(out, "postmaster") || !strings.Contains(out, "disabled") ||
		strings.Contains(out, "argon2") {
		t.Fatalf("list: %d\n%s", code, out)
	}
}
