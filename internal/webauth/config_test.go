package webauth

import (
	"errors"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/config/validate"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	if err := Default().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, tc := range []struct {
		key string
		mod func(c *Config)
	}{
		{"cookie_secure", func(c *Config) { c.CookieSecure = "sometimes" }},
		{"idle_timeout", func(c *Config) { c.IdleTimeout = 24 * time.Hour }},
		{"login.max_failures", func(c *Config) { c.Login.MaxFailures = 0 }},
		{"trusted_proxies", func(c *Config) { c.TrustedProxies = []string{"10.0.0.0/33"} }},
		{"sso.proxies", func(c *Config) { c.SSO.Header = "X-Remote-User" }},
	} {
		c := Default()
		tc.mod(&c)
		var fe *validate.Error
		if err := c.Validate(); !errors.As(err, &fe) || fe.Key != tc.key {
			t.Errorf("%s: %v", tc.key, err)
		}
	}
}

func TestContains(t *testing.T) {
	t.Parallel()
	p := Prefixes([]string{"10.1.0.0/16", "192.0.2.7", "2001:db8::/32"})
	for remote, want := range map[string]bool{
		"10.1.2.3:5555": true, "10.2.0.1:80": false, "192.0.2.7:1": true, "192.0.2.8:1": false,
		"[2001:db8::1]:443": true, "[::ffff:10.1.0.9]:80": true, "garbage": false,
	} {
		if got := Contains(p, remote); got != want {
			t.Errorf("Contains(%s) = %v", remote, got)
		}
	}
}
