package backend_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/uni-mail/postvakt/engine/backend"
	"github.com/uni-mail/postvakt/internal/dovecottest"
)

// BenchmarkVerifyDovecot measures one RCPT-time question to a real
// Dovecot: over LMTP's unix socket (uncached: the cache is off), from the
// cache, and to quota-status over TCP.
func BenchmarkVerifyDovecot(b *testing.B) {
	dv := dovecottest.Start(b, dovecottest.User{Name: "alice@ug.example", Password: "pw", Quota: "10M"})
	ctx := context.Background()
	lmtp := map[string]backend.Server{"ug.example": {Network: "unix", Addr: dv.LMTPSocket}}
	for _, bc := range []struct {
		name   string
		mutate func(*backend.Config)
	}{
		{"lmtp_uncached", func(c *backend.Config) { c.CacheTTL = 0 }},
		{"lmtp_cached", nil},
		{"lmtp_uncached_and_quota_status", func(c *backend.Config) { c.CacheTTL, c.QuotaStatus = 0, dv.QuotaStatus }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := backend.DefaultConfig()
			if bc.mutate != nil {
				bc.mutate(&cfg)
			}
			c := backend.New(backend.Options{Config: cfg, Servers: lmtp})
			for b.Loop() {
				if st, err := c.Check(ctx, "alice@ug.example", 1000); st != backend.StatusExists || err != nil {
					b.Fatal(fmt.Sprint(st, err, dv.Log()))
				}
			}
		})
	}
}
