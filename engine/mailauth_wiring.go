package engine

import (
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/VictoriaMetrics/metrics"

	"github.com/uni-mail/postvakt/config/validate"
	"github.com/uni-mail/postvakt/engine/mailauth"
	"github.com/uni-mail/postvakt/engine/smtpserver"
)

// mailAuthOf builds the session's mail authenticity from cfg: the DKIM
// keys (read from their files), the MX checks through res, the domains whose nicknames are rewritten, and the metrics
// postvakt_smtp_mailauth_results_total{method,result},
// postvakt_smtp_dmarc_results_total{result},
// postvakt_smtp_dkim_sign_total{result} and
// postvakt_smtp_from_rewrites_total.
func mailAuthOf(cfg Config, set *metrics.Set, res mailauth.Resolver) (*smtpserver.MailAuth, error) {
	ma := &smtpserver.MailAuth{EnforceDMARC: cfg.DMARC.Enforce, CheckTimeout: cfg.DMARC.Timeout}
	if len(cfg.DKIM.Keys) > 0 {
		var keys []mailauth.Key
		for i, k := range cfg.DKIM.Keys {
			sg, err := mailauth.LoadKey(k.PrivateKeyFile)
			if err != nil {
				return nil, validate.Field(fmt.Sprintf("dkim.keys[%d].private_key_file", i), k.PrivateKeyFile, keyError(err)).In(section)
			}
			keys = append(keys, mailauth.Key{Domain: strings.ToLower(k.Domain), Selector: k.Selector, Signer: sg})
		}
		ma.Signer = mailauth.NewSigner(keys)
	}
	if cfg.DMARC.Check {
		ma.Checker = &mailauth.Checker{AuthServID: cfg.Hostname, Resolver: res}
	}
	if len(cfg.Directory.RewriteFrom) > 0 {
		rw := map[string]bool{}
		for _, d := range cfg.Directory.RewriteFrom {
			rw[strings.ToLower(strings.TrimSuffix(d, "."))] = true
		}
		ma.RewriteFrom = func(d string) bool { return rw[strings.ToLower(d)] }
	}
	counters := map[[2]string][]*metrics.Counter{}
	for m, rs := range mailauth.Methods {
		for _, r := range rs {
			counters[[2]string{m, r}] = []*metrics.Counter{set.GetOrCreateCounter(`postvakt_smtp_mailauth_results_total{method="` + m + `",result="` + r + `"}`)}
		}
	}
	for _, r := range mailauth.DMARCResults {
		k := [2]string{"dmarc", r}
		counters[k] = append(counters[k], set.GetOrCreateCounter(`postvakt_smtp_dmarc_results_total{result="`+r+`"}`))
	}
	for _, r := range []string{"signed", "no_key", "error"} {
		counters[[2]string{"dkim_sign", r}] = []*metrics.Counter{set.GetOrCreateCounter(`postvakt_smtp_dkim_sign_total{result="` + r + `"}`)}
	}
	counters[[2]string{"from_rewrite", "rewritten"}] = []*metrics.Counter{set.GetOrCreateCounter(`postvakt_smtp_from_rewrites_total`)}
	ma.Count = func(kind, result string) {
		for _, c := range counters[[2]string{kind, result}] {
			c.Inc()
		}
	}
	return ma, nil
}

// netResolver is a resolver that asks server (host:port), or the system's
// when server is "".
func netResolver(server string) *net.Resolver {
	if server == "" {
		return net.DefaultResolver
	}
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, server)
	}}
}
