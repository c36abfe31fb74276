package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/engine/mailauth"
)

// TestDKIMRotateCLI: `postvakt dkim rotate` writes a new key file (0600,
// never over an existing one), prints the TXT record of that key and not
// the key, and check-config accepts the file in smtp.dkim.keys and names
// the key of a bad one.
func TestDKIMRotateCLI(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := writeConfig(t, "data_dir: DATADIR\n")
	for _, alg := range []string{"rsa", "ed25519"} {
		code, out, errOut := runCLI(t, "dkim", "rotate", "--config", cfg, "--domain", "Uni.Example", "--selector", "k-"+alg, "--algorithm", alg, "--dir", dir)
		if code != exitOK {
			t.Fatalf("%s: %d %s", alg, code, errOut)
		}
		file := filepath.Join(dir, "uni.example.k-"+alg+".pem")
		st, err := os.Stat(file)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: key file %v %v", alg, st, err)
		}
		key, err := mailauth.LoadKey(file)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := mailauth.ZoneLine("uni.example", "k-"+alg, key)
		if strings.TrimSpace(out) != want || !strings.HasPrefix(out, "k-"+alg+"._domainkey.uni.example. IN TXT") {
			t.Fatalf("%s: printed %q, want %q", alg, out, want)
		}
		pemBytes, _ := os.ReadFile(file)
		body := strings.Split(string(pemBytes), "\n")[1]
		if strings.Contains(out+errOut, body) {
			t.Fatalf("%s: the private key was printed", alg)
		}
		if code, _, errOut := runCLI(t, "dkim", "rotate", "--config", cfg, "--domain", "uni.example", "--selector", "k-"+alg, "--algorithm", alg, "--dir", dir); code == exitOK || !strings.Contains(errOut, "exists already") {
			t.Fatalf("%s: overwrote an existing key: %d %s", alg, code, errOut)
		}
	}
	if code, _, errOut := runCLI(t, "dkim", "rotate", "--config", cfg, "--domain", "uni.example", "--algorithm", "dsa"); code != exitUsage {
		t.Fatalf("bad algorithm: %d %s", code, errOut)
	}

	good := writeConfig(t, "data_dir: DATADIR\nsmtp:\n  dkim:\n    keys:\n      - {domain: uni.example, selector: k-rsa, private_key_file: "+filepath.Join(dir, "uni.example.k-rsa.pem")+"}\n")
	if code, out, errOut := runCLI(t, "check-config", "--config", good); code != exitOK {
		t.Fatalf("check-config: %d %s %s", code, out, errOut)
	}
	junk := filepath.Join(dir, "junk.pem")
	if err := os.WriteFile(junk, []byte("-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := writeConfig(t, "data_dir: DATADIR\nsmtp:\n  dkim:\n    keys:\n      - {domain: uni.example, selector: 'bad sel', private_key_file: "+junk+"}\n")
	code, out, errOut := runCLI(t, "check-config", "--config", bad)
	if code == exitOK || !strings.Contains(out+errOut, "smtp.dkim.keys[0].private_key_file") || !strings.Contains(out+errOut, "smtp.dkim.keys[0].selector") ||
		strings.Contains(out+errOut, "c2VjcmV0") {
		t.Fatalf("check-config of a bad key: %d %s %s", code, out, errOut)
	}
}
