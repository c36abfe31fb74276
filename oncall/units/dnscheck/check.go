package dnscheck

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Problem codes, a closed set.
const (
	ProblemLookup      = "lookup_failed" // the resolver gave no answer
	ProblemNoDomain    = "no_domain"     // NXDOMAIN
	ProblemNoMX        = "no_mx"         // no MX record at all
	ProblemNullMX      = "null_mx"       // "MX 0 ." (RFC 7505): the domain takes no mail
	ProblemNotCentral  = "not_central"   // a target that is not a central MX host
	ProblemAlias       = "alias_target"  // the target is a CNAME (RFC 2181 §10.3)
	ProblemNoAddress   = "no_address"    // the target has no A or AAAA record
	ProblemDomainAlias = "domain_alias"  // the domain itself is a CNAME
	ProblemTooMany     = "too_many_mx"   // more MX records than are checked
)

// Problem is one thing wrong with a domain's MX.
type Problem struct {
	Code string `json:"code"`
	// Record is the record at fault, as it would appear in a zone file.
	Record string `json:"record"`
	Found  string `json:"found"`
	Want   string `json:"want"`
	Fix    string `json:"fix"`
}

// Target is one MX target with its addresses.
type Target struct {
	MX
	Central bool   `json:"central"`
	CNAME   string `json:"cname,omitempty"`
	Addrs   []Addr `json:"addrs"`
}

// Result is the check of one domain.
type Result struct {
	Domain  string    `json:"domain"`
	At      time.Time `json:"at"`
	OK      bool      `json:"ok"`
	Targets []Target  `json:"targets"`
	// TTL is the MX record set's TTL as published (the smallest of its
	// records'); nil when there is no MX record.
	TTL *uint32 `json:"ttl"`
	// Authoritative says TTL came from an authoritative answer; otherwise
	// it is a cache's remaining time, at most the published TTL.
	Authoritative bool      `json:"authoritative"`
	Problems      []Problem `json:"problems"`
}

// MaxTargets bounds the MX targets whose addresses one check looks up.
const MaxTargets = 16

// Checker checks domains against the central MX hosts.
type Checker struct {
	Resolver Resolver
	// Central are the central service's MX host names; an MX target must
	// be one of them.
	Central []string
	Now     func() time.Time
}

func (c *Checker) isCentral(h string) bool {
	for _, x := range c.Central {
		if strings.EqualFold(strings.TrimSuffix(x, "."), h) {
			return true
		}
	}
	return false
}

// want is the MX set the domain should publish, as zone-file lines.
func (c *Checker) want(domain string) string {
	var lines []string
	for i, h := range c.Central {
		lines = append(lines, fmt.Sprintf("%s. IN MX %d %s.", domain, (i+1)*10, strings.TrimSuffix(h, ".")))
	}
	return strings.Join(lines, "\n")
}

// Check looks up domain's MX, the TTL it is published with and the
// addresses of its targets, and says what is wrong, if anything. A look-up
// failure is a problem of the result (ProblemLookup), not an error; the
// error is only the context's.
func (c *Checker) Check(ctx context.Context, domain string) (Result, error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	domain = strings.TrimSuffix(strings.ToLower(domain), ".")
	res := Result{Domain: domain, At: now(), Targets: []Target{}, Problems: []Problem{}}
	want := c.want(domain)
	fail := func(p Problem) (Result, error) {
		res.Problems = append(res.Problems, p)
		return res, ctx.Err()
	}
	ans, err := c.Resolver.MX(ctx, domain)
	if err != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		return fail(Problem{Code: ProblemLookup, Record: domain + ". IN MX", Found: err.Error(), Want: want,
			Fix: "The check could not reach an answer; it is repeated. If it persists, check that the domain's name servers answer."})
	}
	res.Authoritative = ans.Authoritative
	switch {
	case ans.NXDomain:
		return fail(Problem{Code: ProblemNoDomain, Record: domain + ". IN MX", Found: "the domain does not exist (NXDOMAIN)", Want: want,
			Fix: "Check the domain's spelling and that its zone is delegated and published."})
	case ans.CNAME != "":
		res.Problems = append(res.Problems, Problem{Code: ProblemDomainAlias, Record: fmt.Sprintf("%s. IN CNAME %s.", domain, ans.CNAME),
			Found: "the domain is an alias of " + ans.CNAME, Want: want,
			Fix: "A mail domain that is an alias cannot have MX records of its own (RFC 1034 §3.6.2): remove the CNAME and publish the MX records at " + domain + "."})
	}
	if len(ans.MX) == 0 {
		return fail(Problem{Code: ProblemNoMX, Record: domain + ". IN MX", Found: "no MX record; mail would go to the domain's own A/AAAA (RFC 5321 §5.1)", Want: want,
			Fix: "Publish the MX records below in the zone of " + domain + "."})
	}
	ttl := ans.MX[0].TTL
	for _, m := range ans.MX {
		ttl = min(ttl, m.TTL)
	}
	res.TTL = &ttl
	slices.SortStableFunc(ans.MX, func(a, b MX) int { return int(a.Preference) - int(b.Preference) })
	if len(ans.MX) == 1 && (ans.MX[0].Host == "" || ans.MX[0].Host == ".") {
		return fail(Problem{Code: ProblemNullMX, Record: fmt.Sprintf("%s. IN MX 0 .", domain), Found: "a null MX: the domain accepts no mail (RFC 7505)", Want: want,
			Fix: "Replace the null MX with the records below."})
	}
	if len(ans.MX) > MaxTargets {
		res.Problems = append(res.Problems, Problem{Code: ProblemTooMany, Record: domain + ". IN MX",
			Found: fmt.Sprintf("%d MX records; the first %d by preference are checked", len(ans.MX), MaxTargets), Want: want,
			Fix: "Publish only the central service's MX records."})
		ans.MX = ans.MX[:MaxTargets]
	}
	for _, m := range ans.MX {
		t := Target{MX: m, Central: c.isCentral(m.Host), Addrs: []Addr{}}
		rec := fmt.Sprintf("%s. %d IN MX %d %s.", domain, m.TTL, m.Preference, m.Host)
		if !t.Central {
			res.Problems = append(res.Problems, Problem{Code: ProblemNotCentral, Record: rec,
				Found: fmt.Sprintf("the MX points to %s, which is not a central mail server", m.Host), Want: want,
				Fix: fmt.Sprintf("Remove the record %q and publish the records below; keep no MX to the old server, or mail keeps going there.", rec)})
		}
		a, err := c.Resolver.Addrs(ctx, m.Host)
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			res.Problems = append(res.Problems, Problem{Code: ProblemLookup, Record: m.Host + ". IN A/AAAA", Found: err.Error(), Want: "an answer",
				Fix: "The check could not reach an answer for the target; it is repeated."})
		case a.CNAME != "":
			t.CNAME = a.CNAME
			res.Problems = append(res.Problems, Problem{Code: ProblemAlias, Record: rec,
				Found: fmt.Sprintf("the MX target %s is an alias (CNAME) of %s", m.Host, a.CNAME), Want: want,
				Fix: "An MX must name a host, not an alias (RFC 2181 §10.3): point it at the host name itself."})
		case len(a.Addrs) == 0:
			res.Problems = append(res.Problems, Problem{Code: ProblemNoAddress, Record: rec,
				Found: fmt.Sprintf("the MX target %s has no A or AAAA record", m.Host), Want: want,
				Fix: "Point the MX at a host name that has addresses; check its spelling."})
		}
		t.Addrs = append(t.Addrs, a.Addrs...)
		res.Targets = append(res.Targets, t)
	}
	res.OK = len(res.Problems) == 0
	return res, nil
}

// Explain writes the result for the unit's administrator: what was found
// and, when wrong, what to change.
func (r Result) Explain() string {
	var b strings.Builder
	fmt.Fprintf(&b, "MX of %s", r.Domain)
	if r.TTL != nil {
		fmt.Fprintf(&b, " (TTL %d s", *r.TTL)
		if !r.Authoritative {
			b.WriteString(", as the resolver's cache holds it")
		}
		b.WriteString(")")
	}
	b.WriteString(":\n")
	for _, t := range r.Targets {
		var ips []string
		for _, a := range t.Addrs {
			ips = append(ips, a.IP)
		}
		if len(ips) == 0 {
			ips = []string{"no address"}
		}
		mark := "central"
		if !t.Central {
			mark = "NOT central"
		}
		fmt.Fprintf(&b, "  %d %s (%s) → %s\n", t.Preference, t.Host, mark, strings.Join(ips, ", "))
	}
	if r.OK {
		b.WriteString("The MX points to the central service.\n")
		return b.String()
	}
	for i, p := range r.Problems {
		fmt.Fprintf(&b, "\nProblem %d: %s\n  Record: %s\n  Found:  %s\n  Fix:    %s\n", i+1, p.Code, p.Record, p.Found, p.Fix)
	}
	if len(r.Problems) > 0 && r.Problems[0].Want != "" {
		fmt.Fprintf(&b, "\nThe zone should hold exactly these MX records:\n%s\n", indent(r.Problems[0].Want))
	}
	return b.String()
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

// Summary is a stable one-line digest of what was wrong, so that the same
// wrong state is explained to the administrator once, not at every
// repetition of the check.
func (r Result) Summary() string {
	if r.OK {
		return "ok"
	}
	var parts []string
	for _, p := range r.Problems {
		if p.Code == ProblemLookup {
			continue
		}
		parts = append(parts, p.Code+" "+p.Found)
	}
	return strings.Join(parts, "; ")
}

// OnlyLookupFailures reports whether every problem is a failed look-up:
// nothing is known to be wrong yet.
func (r Result) OnlyLookupFailures() bool {
	if r.OK {
		return false
	}
	return !slices.ContainsFunc(r.Problems, func(p Problem) bool { return p.Code != ProblemLookup })
}
