package engine_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/uni-mail/postvakt/config/validate"
	"github.com/uni-mail/postvakt/engine"
)

func TestDefaultValidates(t *testing.T) {
	t.Parallel()
	if err := engine.Default().Validate(); err != nil {
		t.Fatal(err)
	}
	c := engine.Default()
	if c.MX.Listen != "127.0.0.1:2525" || c.Submission.Listen != "127.0.0.1:2587" || !c.Submission.Auth || c.MX.Auth {
		t.Fatalf("listeners: %+v %+v", c.MX, c.Submission)
	}
	if c.Greylist.Delay != 60*time.Second || c.Greylist.ListedDelay != 1000*time.Second || c.Directory.DefaultQuotaBytes != 2<<30 {
		t.Fatalf("domain defaults: %+v", c.Greylist)
	}
}

// Each bad value is reported with its dotted key under smtp. and the value.
func TestValidateNamesKey(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		mutate func(*engine.Config)
		want   string
	}{
		{func(c *engine.Config) { c.MX.Listen = "nonsense" }, `smtp.mx.listen: "nonsense"`},
		{func(c *engine.Config) { c.Limits.MaxLineLength = 80 }, `smtp.limits.max_line_length: "80"`},
		{func(c *engine.Config) { c.Limits.DataTimeout = 0 }, `smtp.limits.data_timeout: "0s"`},
		{func(c *engine.Config) { c.Whitelist.Clients = []string{"10.0.0.0/33"} }, `smtp.whitelist.clients[0]: "10.0.0.0/33"`},
		{func(c *engine.Config) { c.LocalNetworksExcept = []string{"guest"} }, `smtp.local_networks_except[0]: "guest"`},
		{func(c *engine.Config) { c.Trusted.Senders = []string{"a@@b"} }, `smtp.trusted.senders[0]: "a@@b"`},
		{func(c *engine.Config) { c.DNSBL.Zones = []string{"bad zone"} }, `smtp.dnsbl.zones[0]: "bad zone"`},
		{func(c *engine.Config) { c.Greylist.IPv6Prefix = 200 }, `smtp.greylist.ipv6_prefix: "200"`},
		{func(c *engine.Config) { c.AddressRules.Personal = "[" }, `smtp.address_rules.personal: "["`},
		{func(c *engine.Config) { c.TLS = engine.TLSConfig{CertFile: "x.pem"} }, `smtp.tls.cert_file: "x.pem"`},
		{func(c *engine.Config) { c.TLS = engine.TLSConfig{} }, `smtp.tls.cert_file: ""`},
		{func(c *engine.Config) { c.Postmaster = "nobody" }, `smtp.postmaster: "nobody"`},
		{func(c *engine.Config) { c.Directory.Delivery = map[string]string{"ug.example": "mx"} }, `smtp.directory.delivery.ug.example: "mx"`},
		{func(c *engine.Config) { c.Directory.Delivery = map[string]string{"ug.example": "lmtp:unix:relative"} }, `smtp.directory.delivery.ug.example: "lmtp:unix:relative"`},
		{func(c *engine.Config) { c.Directory.Delivery = map[string]string{"ug.example": "lmtp:dovecot"} }, `smtp.directory.delivery.ug.example: "lmtp:dovecot"`},
		{func(c *engine.Config) { c.Directory.Delivery = map[string]string{"not a domain": "store"} }, `smtp.directory.delivery.not a domain: "store"`},
		{func(c *engine.Config) { c.Auth.Backend = "ldap" }, `smtp.auth.backend: "ldap"`},
		{func(c *engine.Config) { c.Auth.Backend = engine.AuthDovecot }, `smtp.auth.dovecot_socket: ""`},
		{func(c *engine.Config) { c.Auth.Backend, c.Auth.DovecotSocket = engine.AuthDovecot, "unix:auth" }, `smtp.auth.dovecot_socket: "unix:auth"`},
		{func(c *engine.Config) { c.Auth.MaxConcurrent = 0 }, `smtp.auth.max_concurrent: "0"`},
		{func(c *engine.Config) { c.Backend.QuotaStatus = "quota" }, `smtp.backend.quota_status: "quota"`},
		{func(c *engine.Config) { c.Backend.Timeout = 0 }, `smtp.backend.timeout: "0s"`},
		{func(c *engine.Config) { c.Backend.CacheSize = 0 }, `smtp.backend.cache_size: "0"`},
	} {
		c := engine.Default()
		tc.mutate(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, engine.ErrInvalid) {
			t.Errorf("err = %v, want it to name %s", err, tc.want)
			continue
		}
		// Every error is keyed, so internal/config can give file and line.
		for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
			var fe *validate.Error
			if !errors.As(e, &fe) || fe.Key == "" {
				t.Errorf("unkeyed error %v", e)
			}
		}
	}
}

// The YAML form decodes strictly, with durations as strings.
func TestConfigYAML(t *testing.T) {
	t.Parallel()
	src := `
hostname: mx.uni.example
mx: {listen: "0.0.0.0:25"}
submission: {listen: "0.0.0.0:587", auth: true}
submissions: {listen: "0.0.0.0:465", implicit_tls: true, auth: true}
tls: {cert_file: /etc/ssl/mx.pem, key_file: /etc/ssl/mx.key}
limits: {max_message_bytes: 10240, command_timeout: 2m}
greylist: {enabled: true, delay: 60s, listed_delay: 1000s, retry_window: 48h, expiry: 840h, auto_whitelist_after: 5, ipv4_prefix: 24, ipv6_prefix: 64}
whitelist: {clients: [192.0.2.0/24], recipients: [abuse@uni.example]}
local_networks: [10.0.0.0/8]
local_networks_except: [10.99.0.0/16]
trusted: {senders: ["@studentsystem.uni.example"]}
address_rules: {allowed: "^[a-z0-9._-]+$", min_length: 2, personal: "^[a-z0-9]{2,8}$", personal_deny: "^u[0-9]"}
directory:
  delivery: {uni.example: store, ug.example: "lmtp:unix:/run/dovecot/lmtp", hr.example: "smtp:10.0.0.5:25", lab.example: "lmtp:10.0.0.6:24"}
`
	c := engine.Default()
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Limits.CommandTimeout != 2*time.Minute || c.Greylist.Expiry != 840*time.Hour || c.Limits.MaxMessageBytes != 10240 {
		t.Fatalf("decoded %+v", c.Limits)
	}
	b := c.Directory.Backends()
	if len(b) != 3 || !b["ug.example"].Unix || b["ug.example"].Network() != "unix" || b["ug.example"].Addr != "/run/dovecot/lmtp" ||
		b["hr.example"].Proto != "smtp" || b["lab.example"].String() != "lmtp:10.0.0.6:24" {
		t.Fatalf("back ends %+v", b)
	}
}
