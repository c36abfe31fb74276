package probe

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"
)

// probeDNS asks the configured cache (Address) for Query and fails when
// there is no answer or it is slower than MaxLatency.
func (p *prober) probeDNS(ctx context.Context, a *attempt, t Target) error {
	r := &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, t.Address)
		},
	}
	name := t.Query
	if !strings.HasSuffix(name, ".") {
		name += "." // absolute: no search domains
	}
	return a.step("query", func() (string, error) {
		start := time.Now()
		var answers []string
		var err error
		switch t.QueryType {
		case "AAAA", "A":
			network := "ip4"
			if t.QueryType == "AAAA" {
				network = "ip6"
			}
			var ips []net.IP
			ips, err = r.LookupIP(ctx, network, name)
			for _, ip := range ips {
				answers = append(answers, ip.String())
			}
		case "MX":
			var mxs []*net.MX
			mxs, err = r.LookupMX(ctx, name)
			for _, mx := range mxs {
				answers = append(answers, fmt.Sprintf("%d %s", mx.Pref, mx.Host))
			}
		case "TXT":
			answers, err = r.LookupTXT(ctx, name)
		default:
			err = fmt.Errorf("query type %q", t.QueryType)
		}
		took := time.Since(start)
		if err != nil {
			return "", fmt.Errorf("dns: %s %s via %s: %w", t.QueryType, t.Query, t.Address, err)
		}
		detail := fmt.Sprintf("%s %s: %s", t.QueryType, t.Query, oneLine(strings.Join(answers, ", ")))
		if len(answers) == 0 {
			return detail, fmt.Errorf("dns: %s %s via %s: no answer", t.QueryType, t.Query, t.Address)
		}
		if t.MaxLatency > 0 && took > t.MaxLatency {
			return detail, fmt.Errorf("dns: answered in %s, more than max_latency %s", took.Round(time.Millisecond), t.MaxLatency)
		}
		return detail, nil
	})
}
