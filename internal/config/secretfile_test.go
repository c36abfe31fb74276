package config

import (
	"errors"
	"github.com/uni-mail/postvakt/oncall"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func writeSecret(t *testing.T, dir, name, body string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSecretFiles: every secret key can be read from a file, absolute or a
// systemd credential, with its trailing newline dropped, and line numbers
// of later errors stay right.
func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	creds := t.TempDir()
	tok := writeSecret(t, dir, "slack", "xoxb-from-file\n", 0o600)
	writeSecret(t, creds, "db-url", "postgres://pv:s3cret@db.example:5432/postvakt\n", 0o600)
	cfgPath := writeSecret(t, dir, "postvakt.yaml", `database:
  url_file: db-url
oncall:
  slack:
    bot_token_file: `+tok+`
    channel: C123
`, 0o600)
	cfg, err := Load(cfgPath, []string{"CREDENTIALS_DIRECTORY=" + creds})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Database.URL != "postgres://pv:s3cret@db.example:5432/postvakt" {
		t.Errorf("database.url = %q", cfg.Database.URL)
	}
	if cfg.Oncall.Slack.BotToken != "xoxb-from-file" {
		t.Errorf("oncall.slack.bot_token = %q", cfg.Oncall.Slack.BotToken)
	}
	// Every secret key resolves to a settable text field.
	for _, k := range SecretKeys {
		c := Default()
		c.Oncall.Channels = make([]oncall.ChannelConfig, 1)
		k = strings.ReplaceAll(k, "[]", "[0]")
		if err := setKey(reflectValue(c), strings.Split(k, "."), "x"); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	// A later error keeps its line.
	bad := writeSecret(t, dir, "bad.yaml", "oncall:\n  slack:\n    bot_token_file: "+tok+"\n    no_such_key: 1\n", 0o600)
	if _, err := Load(bad, []string{}); err == nil || !strings.Contains(err.Error(), "bad.yaml:4") {
		t.Errorf("unknown key after a _file key: %v", err)
	}
}

// TestSecretFilesInLists: a secret of a list item (oncall.channels[].url,
// .auth_header) may be a file too, each item its own; a key of a list item
// that is not a secret is still unknown.
func TestSecretFilesInLists(t *testing.T) {
	dir := t.TempDir()
	hook := writeSecret(t, dir, "mm", "https://mm.example.edu/hooks/k3y\n", 0o600)
	auth := writeSecret(t, dir, "gw", "Bearer gw-s3cret\n", 0o600)
	cfgPath := writeSecret(t, dir, "postvakt.yaml", `oncall:
  channels:
    - name: mm
      type: mattermost
      url_file: `+hook+`
    - name: sms
      type: sms
      url: https://gw.example.edu/send
      body: '{"to":{{json .Phone}},"text":{{json .Text}}}'
      auth_header_file: `+auth+`
`, 0o600)
	cfg, err := Load(cfgPath, []string{})
	if err != nil {
		t.Fatal(err)
	}
	ch := cfg.Oncall.Channels
	if len(ch) != 2 || ch[0].URL != "https://mm.example.edu/hooks/k3y" || ch[1].AuthHeader != "Bearer gw-s3cret" || ch[1].URL != "https://gw.example.edu/send" {
		t.Fatalf("channels %+v", ch)
	}
	bad := writeSecret(t, dir, "bad.yaml", "oncall:\n  channels:\n    - name: x\n      type_file: "+hook+"\n", 0o600)
	if _, err := Load(bad, []string{}); err == nil || !strings.Contains(err.Error(), "type_file") {
		t.Errorf("type_file: %v", err)
	}
}

func TestSecretFileErrors(t *testing.T) {
	dir := t.TempDir()
	tok := writeSecret(t, dir, "tok", "abc\n", 0o600)
	empty := writeSecret(t, dir, "empty", "\n", 0o600)
	for name, c := range map[string]struct{ yaml, want string }{
		"both set":          {"oncall:\n  alertmanager:\n    token: abc\n    token_file: " + tok + "\n", "oncall.alertmanager.token and oncall.alertmanager.token_file are both set"},
		"missing file":      {"oncall:\n  alertmanager:\n    token_file: " + filepath.Join(dir, "nope") + "\n", "no such file"},
		"empty file":        {"oncall:\n  alertmanager:\n    token_file: " + empty + "\n", "is empty"},
		"a directory":       {"oncall:\n  alertmanager:\n    token_file: " + dir + "\n", "not a regular file"},
		"credential no dir": {"database:\n  url_file: db-url\n", "$CREDENTIALS_DIRECTORY is not set"},
		"not a secret key":  {"http:\n  listen_file: " + tok + "\n", `unknown key "listen_file"`},
	} {
		p := writeSecret(t, dir, "c.yaml", c.yaml, 0o600)
		_, err := Load(p, []string{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "abc") {
			t.Errorf("%s: the error shows the secret: %v", name, err)
		}
		if err != nil && !errors.Is(err, ErrDecode) && !errors.Is(err, ErrRead) {
			t.Errorf("%s: %v is neither ErrDecode nor ErrRead", name, err)
		}
	}
	if os.Geteuid() != 0 {
		unreadable := writeSecret(t, dir, "unreadable", "abc\n", 0o000)
		p := writeSecret(t, dir, "c.yaml", "oncall:\n  alertmanager:\n    token_file: "+unreadable+"\n", 0o600)
		if _, err := Load(p, []string{}); err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("unreadable: %v", err)
		}
	}
}

// TestEverySecretHasAFileVariant: a key whose environment override names a
// secret (password, token, secret, key, a URL with credentials) is in
// SecretKeys, so a new secret key cannot be added without its _file.
func TestEverySecretHasAFileVariant(t *testing.T) {
	n := 0
	for env, key := range EnvVars() {
		if !regexp.MustCompile(`PASSWORD|TOKEN|SECRET|_KEY$|DATABASE_URL|PUSH_URL`).MatchString(env) {
			continue
		}
		n++
		if !slices.Contains(SecretKeys, key) {
			t.Errorf("%s (%s) holds a secret but has no %s_file", key, env, key)
		}
	}
	if n < 8 {
		t.Fatalf("only %d secret keys found", n)
	}
}
