// Package mtasts owns SMTP MTA Strict Transport Security (RFC 8461) for
// the relay queue: discovering a recipient domain's policy (the
// _mta-sts TXT record, §3.1), fetching it over HTTPS from
// https://mta-sts.<domain>/.well-known/mta-sts.txt with a verified
// certificate and no redirects (§3.3), parsing it (§3.2), caching it until
// its max_age and refetching when the record's id changes (§5.1), and
// matching MX host names against its mx patterns (§4.1). The resolver and
// the HTTP client are injectable, so tests run against servers on
// loopback.
package mtasts

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Modes of a policy (RFC 8461 §5).
const (
	ModeEnforce = "enforce"
	ModeTesting = "testing"
	ModeNone    = "none"
)

// Policy is a domain's MTA-STS policy.
type Policy struct {
	Mode    string
	MX      []string // patterns: "mx.example.net" or "*.example.net"
	MaxAge  time.Duration
	ID      string    // the TXT record's id the policy was fetched for
	Fetched time.Time // when it was fetched
}

// Match reports whether host (an MX host name) matches one of the
// policy's mx patterns (RFC 8461 §4.1: a wildcard covers exactly one
// leftmost label).
func (p *Policy) Match(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, pat := range p.MX {
		pat = strings.ToLower(strings.TrimSuffix(pat, "."))
		if suffix, ok := strings.CutPrefix(pat, "*."); ok {
			if i := strings.IndexByte(host, '.'); i > 0 && host[i+1:] == suffix {
				return true
			}
			continue
		}
		if host == pat {
			return true
		}
	}
	return false
}

// TXTResolver looks up TXT records (net.Resolver implements it).
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// Fetcher discovers, fetches and caches policies. It is safe for
// concurrent use.
type Fetcher struct {
	// Resolver answers the _mta-sts TXT lookups; nil: net.DefaultResolver.
	Resolver TXTResolver
	// HTTP fetches policies; nil: a client with a 10 s timeout. Its
	// redirects are refused whatever it says (RFC 8461 §3.3).
	HTTP *http.Client
	// Clock is the cache's clock; nil: time.Now.
	Clock func() time.Time

	mu    sync.Mutex
	cache map[string]*Policy
}

// MaxPolicyBytes bounds a policy body (RFC 8461 §3.3 suggests 64 KiB).
const MaxPolicyBytes = 64 << 10

// maxMaxAge is the largest max_age (RFC 8461 §3.2: 31557600 seconds).
const maxMaxAge = 31557600 * time.Second

// ErrNoPolicy is returned when a domain publishes no MTA-STS policy.
var ErrNoPolicy = errors.New("mtasts: no policy")

func (f *Fetcher) now() time.Time {
	if f.Clock != nil {
		return f.Clock()
	}
	return time.Now()
}

// Policy returns the domain's policy: the cached one while it is valid and
// the TXT record's id has not changed, else a freshly fetched one. A
// domain without a record gets ErrNoPolicy, unless a cached policy is
// still within its max_age (RFC 8461 §5.1: the record's absence does not
// end a cached policy). When fetching fails, a cached policy is used as
// long as it lasts; without one the error is returned (the sender then
// goes on as if there were no policy, §5).
func (f *Fetcher) Policy(ctx context.Context, domain string) (*Policy, error) {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	now := f.now()
	f.mu.Lock()
	cached := f.cache[domain]
	f.mu.Unlock()
	if cached != nil && now.Sub(cached.Fetched) >= cached.MaxAge {
		cached = nil
	}
	id, err := f.lookupID(ctx, domain)
	switch {
	case errors.Is(err, ErrNoPolicy):
		if cached != nil {
			return cached, nil
		}
		return nil, ErrNoPolicy
	case err != nil:
		if cached != nil {
			return cached, nil
		}
		return nil, err
	case cached != nil && cached.ID == id:
		return cached, nil
	}
	p, err := f.fetch(ctx, domain)
	if err != nil {
		if cached != nil {
			return cached, nil
		}
		return nil, err
	}
	p.ID, p.Fetched = id, now
	f.mu.Lock()
	if f.cache == nil {
		f.cache = map[string]*Policy{}
	}
	f.cache[domain] = p
	f.mu.Unlock()
	return p, nil
}

// lookupID reads the id of the domain's _mta-sts TXT record (RFC 8461
// §3.1): exactly one record beginning "v=STSv1".
func (f *Fetcher) lookupID(ctx context.Context, domain string) (string, error) {
	res := f.Resolver
	if res == nil {
		res = net.DefaultResolver
	}
	txts, err := res.LookupTXT(ctx, "_mta-sts."+domain)
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return "", ErrNoPolicy
	}
	if err != nil {
		return "", fmt.Errorf("mtasts: TXT _mta-sts.%s: %w", domain, err)
	}
	var ids []string
	for _, t := range txts {
		if !strings.HasPrefix(t, "v=STSv1") {
			continue
		}
		id := ""
		for _, f := range strings.Split(t, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(f), "=")
			if k == "id" {
				id = v
			}
		}
		if id == "" {
			return "", fmt.Errorf("mtasts: TXT _mta-sts.%s: no id", domain)
		}
		ids = append(ids, id)
	}
	switch len(ids) {
	case 0:
		return "", ErrNoPolicy
	case 1:
		return ids[0], nil
	}
	// §3.1: more than one record is as if there were none.
	return "", ErrNoPolicy
}

// fetch gets and parses the policy file (RFC 8461 §3.3).
func (f *Fetcher) fetch(ctx context.Context, domain string) (*Policy, error) {
	c := http.Client{Timeout: 10 * time.Second}
	if f.HTTP != nil {
		c = *f.HTTP
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	url := "https://mta-sts." + domain + "/.well-known/mta-sts.txt"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mtasts: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("mtasts: %s: HTTP %d", url, resp.StatusCode)
	}
	if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err != nil || mt != "text/plain" {
		return nil, fmt.Errorf("mtasts: %s: content type %q, want text/plain", url, resp.Header.Get("Content-Type"))
	}
	return Parse(io.LimitReader(resp.Body, MaxPolicyBytes))
}

// Parse reads a policy file (RFC 8461 §3.2): "key: value" lines; version
// STSv1, mode, max_age and (for enforce and testing) at least one mx.
func Parse(r io.Reader) (*Policy, error) {
	p := &Policy{}
	version := ""
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		switch k {
		case "version":
			version = v
		case "mode":
			p.Mode = v
		case "mx":
			p.MX = append(p.MX, v)
		case "max_age":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("mtasts: max_age %q", v)
			}
			p.MaxAge = min(time.Duration(n)*time.Second, maxMaxAge)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("mtasts: %w", err)
	}
	if version != "STSv1" {
		return nil, fmt.Errorf("mtasts: version %q", version)
	}
	switch p.Mode {
	case ModeEnforce, ModeTesting:
		if len(p.MX) == 0 {
			return nil, errors.New("mtasts: no mx")
		}
	case ModeNone:
	default:
		return nil, fmt.Errorf("mtasts: mode %q", p.Mode)
	}
	if p.MaxAge <= 0 {
		return nil, errors.New("mtasts: no max_age")
	}
	return p, nil
}
