// Package webauth owns who is signed in to the web interface: local users
// with argon2id password hashes (RFC 9106), server-side sessions whose
// cookie holds only a random secret, the synchronizer CSRF token bound to
// each session, login throttling per address and lockout per user after
// repeated bad passwords, and single sign-on from a trusted reverse proxy's
// header. Storage is the Store interface, implemented by internal/store/accessstore.
package webauth

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/config/validate"
)

// Config is the web: section of the configuration.
type Config struct {
	// SessionLifetime is the longest a session lives after sign-in.
	SessionLifetime time.Duration `yaml:"session_lifetime"`
	// IdleTimeout ends a session that has not been used for this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// CookieSecure is auto (Secure when served over TLS or when a trusted
	// proxy says X-Forwarded-Proto: https), always or never.
	CookieSecure string `yaml:"cookie_secure"`
	// TrustedProxies are the CIDRs whose X-Forwarded-Proto and
	// X-Forwarded-For headers are believed.
	TrustedProxies []string    `yaml:"trusted_proxies"`
	Login          LoginConfig `yaml:"login"`
	SSO            SSOConfig   `yaml:"sso"`
}

// LoginConfig throttles password sign-in.
type LoginConfig struct {
	// MaxFailures bad passwords for one user within Window lock that user
	// out for Lockout.
	MaxFailures int           `yaml:"max_failures"`
	Window      time.Duration `yaml:"window"`
	Lockout     time.Duration `yaml:"lockout"`
	// MaxPerAddress failed sign-ins from one client address within Window
	// throttle that address (any user name) until the window passes.
	MaxPerAddress int `yaml:"max_per_address"`
}

// SSOConfig is trusted-header single sign-on: a reverse proxy that has
// authenticated the user names them in Header. Only requests from Proxies
// are believed; the name must be a local, enabled user, whose role applies.
type SSOConfig struct {
	Header  string   `yaml:"header"` // e.g. X-Remote-User; empty: off
	Proxies []string `yaml:"proxies"`
}

// Default returns the defaults of the web: section.
func Default() Config {
	return Config{
		SessionLifetime: 12 * time.Hour,
		IdleTimeout:     2 * time.Hour,
		CookieSecure:    "auto",
		Login:           LoginConfig{MaxFailures: 5, Window: 15 * time.Minute, Lockout: 15 * time.Minute, MaxPerAddress: 20},
	}
}

// Validate checks the section; errors are *validate.Error keyed relative to
// the web section.
func (c Config) Validate() error {
	var errs []error
	bad := func(key string, v any, msg string) {
		errs = append(errs, validate.Field(key, v, msg))
	}
	if c.SessionLifetime < time.Minute {
		bad("session_lifetime", c.SessionLifetime, "must be at least 1m")
	}
	if c.IdleTimeout < time.Minute || c.IdleTimeout > c.SessionLifetime {
		bad("idle_timeout", c.IdleTimeout, "must be at least 1m and at most session_lifetime")
	}
	switch c.CookieSecure {
	case "auto", "always", "never":
	default:
		bad("cookie_secure", c.CookieSecure, "must be auto, always or never")
	}
	if c.Login.MaxFailures < 1 {
		bad("login.max_failures", c.Login.MaxFailures, "must be at least 1")
	}
	if c.Login.MaxPerAddress < 1 {
		bad("login.max_per_address", c.Login.MaxPerAddress, "must be at least 1")
	}
	if c.Login.Window < time.Second {
		bad("login.window", c.Login.Window, "must be at least 1s")
	}
	if c.Login.Lockout < time.Second {
		bad("login.lockout", c.Login.Lockout, "must be at least 1s")
	}
	for _, p := range c.TrustedProxies {
		if _, err := ParsePrefix(p); err != nil {
			bad("trusted_proxies", p, err.Error())
		}
	}
	if c.SSO.Header != "" && len(c.SSO.Proxies) == 0 {
		bad("sso.proxies", "", "sso.header needs the proxies it is accepted from")
	}
	for _, p := range c.SSO.Proxies {
		if _, err := ParsePrefix(p); err != nil {
			bad("sso.proxies", p, err.Error())
		}
	}
	return errors.Join(errs...)
}

// ParsePrefix parses a CIDR or a single address.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("not a CIDR")
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("not an address or CIDR")
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Prefixes parses a validated list of CIDRs.
func Prefixes(list []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := ParsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// Contains reports whether the host part of remote (host:port or host)
// lies in one of prefixes.
func Contains(prefixes []netip.Prefix, remote string) bool {
	host := remote
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		host = ap.Addr().String()
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
