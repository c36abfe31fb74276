package probe

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/uni-mail/postvakt/config/validate"
)

const exampleYAML = `
enabled: true
mode: every
interval: 30s
retries: 1
targets:
  - name: mx1-smtp
    service: smtp
    node: mx1
    kind: smtp
    address: mx1.example.edu:25
    tls: starttls
  - name: imap-lb
    service: imap
    kind: imap
    address: imap.example.edu:993
    tls: implicit
    user: probe@example.edu
    password_env: POSTVAKT_PROBE_PASSWORD
    retries: 0
  - name: webmail
    service: webmail
    kind: http
    address: https://webmail.example.edu/
    expect_body: Roundcube
  - name: cache
    service: dns
    kind: dns
    address: 10.0.0.53:53
    query: mail.example.edu
    max_latency: 200ms
  - name: loop
    service: submission
    kind: loop
    address: smtp.example.edu:587
    tls: starttls
    user: probe@example.edu
    password_env: POSTVAKT_PROBE_PASSWORD
    recipient: probe@example.edu
    fetch: {kind: imap, address: imap.example.edu:143}
    timeout: 20s
`

func TestConfigDecodeAndDefaults(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	cfg := DefaultConfig()
	dec := yaml.NewDecoder(strings.NewReader(exampleYAML))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("example: %v", err)
	}
	r := &Runner{Config: cfg}
	ts, err := r.Targets()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]Target{}
	for _, tg := range ts {
		byName[tg.Name] = tg
	}
	if tg := byName["mx1-smtp"]; tg.Interval != 30*time.Second || *tg.Retries != 1 || tg.Timeout != 10*time.Second {
		t.Errorf("mx1-smtp settings %v %v %v", tg.Interval, *tg.Retries, tg.Timeout)
	}
	if tg := byName["imap-lb"]; *tg.Retries != 0 {
		t.Errorf("imap-lb retries %d", *tg.Retries)
	}
	if tg := byName["webmail"]; tg.ExpectStatus != 200 {
		t.Errorf("webmail expect_status %d", tg.ExpectStatus)
	}
	if tg := byName["cache"]; tg.QueryType != "A" || tg.MaxLatency != 200*time.Millisecond {
		t.Errorf("cache %q %v", tg.QueryType, tg.MaxLatency)
	}
	lp := byName["loop"]
	if lp.Fetch.TLS != TLSStartTLS || lp.Fetch.User != "probe@example.edu" || lp.Fetch.PasswordEnv != "POSTVAKT_PROBE_PASSWORD" ||
		lp.From != "probe@example.edu" || lp.Timeout != 20*time.Second {
		t.Errorf("loop defaults %+v", lp)
	}
}

func TestConfigValidateNamesKeys(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Mode = "some"
	cfg.Jitter = 2
	cfg.Loop.Poll = 0
	cfg.Targets = []Target{
		{Name: "a", Service: "smtp", Kind: KindSMTP, Address: "mx1:25"},
		{Name: "a", Service: "smtp", Kind: "ftp", Address: "mx1"},
		{Name: "c", Service: "imap", Kind: KindIMAP, Address: "imap:143", TLS: "ssl", User: "probe", PasswordEnv: "hunter2"},
		{Name: "d", Service: "web", Kind: KindHTTP, Address: "webmail.example.edu"},
		{Name: "e", Service: "dns", Kind: KindDNS, Address: "10.0.0.53:53", QueryType: "SRV"},
		{Name: "f", Service: "sub", Kind: KindLoop, Address: "smtp:587", Recipient: "nobody", Fetch: Fetch{Kind: FetchPOP3}},
		{Name: "g", Service: "smtp", Kind: KindSMTP, Address: "mx1:25", User: "probe"},
		{Name: "h", Service: "smtp", Kind: KindSMTP, Address: "mx1:25", Node: "mx1"},
		{Name: "i", Service: "smtp", Kind: KindSMTP, Address: "mx1:25", Node: "mx1"},
	}
	err := cfg.Validate()
	var keys []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *validate.Error
		if !errors.As(e, &fe) {
			t.Fatalf("not a validate.Error: %v", e)
		}
		keys = append(keys, fe.Key)
	}
	for _, want := range []string{
		"mode", "jitter", "loop.poll",
		"targets[1].name", "targets[1].kind", "targets[1].address",
		"targets[2].tls", "targets[2].password_env",
		"targets[3].address",
		"targets[4].query", "targets[4].query_type",
		"targets[5].recipient", "targets[5].fetch.address", "targets[5].fetch.user",
		"targets[6].password_env",
		"targets[8].node",
	} {
		if !slices.Contains(keys, want) {
			t.Errorf("no error for %s (got %v)", want, keys)
		}
	}
	if strings.Contains(err.Error(), "targets[0]") || strings.Contains(err.Error(), "targets[7]") {
		t.Errorf("valid targets reported: %v", err)
	}
}
