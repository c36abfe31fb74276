package mailauth

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// Policy is a DMARC policy (RFC 7489 §6.3, p= and sp=).
type Policy string

// The policies.
const (
	PolicyNone       Policy = "none"
	PolicyQuarantine Policy = "quarantine"
	PolicyReject     Policy = "reject"
)

// Record is a parsed DMARC record (RFC 7489 §6.3). Tags this evaluation
// does not use (rua, ruf, fo, rf, ri) are ignored.
type Record struct {
	Policy          Policy
	SubdomainPolicy Policy // sp=; Policy when absent
	StrictDKIM      bool   // adkim=s
	StrictSPF       bool   // aspf=s
	Percent         int    // pct=, 0–100; 100 when absent
}

// ErrNoRecord: the domain publishes no DMARC record.
var ErrNoRecord = errors.New("no DMARC record")

// ParseRecord parses one TXT record's text. It must begin with
// "v=DMARC1" and carry a valid p= (§6.6.3: otherwise it is no record).
// Unknown tags are ignored; a bad sp=, adkim=, aspf= or pct= falls back to
// its default.
func ParseRecord(txt string) (Record, error) {
	r := Record{Percent: 100}
	tags := strings.Split(txt, ";")
	if len(tags) == 0 || !strings.EqualFold(strings.ReplaceAll(strings.TrimSpace(tags[0]), " ", ""), "v=DMARC1") {
		return r, ErrNoRecord
	}
	var sp Policy
	for _, t := range tags[1:] {
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			continue
		}
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.ToLower(strings.TrimSpace(v))
		switch k {
		case "p":
			r.Policy = parsePolicy(v)
		case "sp":
			sp = parsePolicy(v)
		case "adkim":
			r.StrictDKIM = v == "s"
		case "aspf":
			r.StrictSPF = v == "s"
		case "pct":
			if n, err := strconv.Atoi(v); err == nil && n >= 0 && n <= 100 {
				r.Percent = n
			}
		}
	}
	if r.Policy == "" {
		return r, ErrNoRecord
	}
	r.SubdomainPolicy = r.Policy
	if sp != "" {
		r.SubdomainPolicy = sp
	}
	return r, nil
}

func parsePolicy(v string) Policy {
	switch Policy(v) {
	case PolicyNone, PolicyQuarantine, PolicyReject:
		return Policy(v)
	}
	return ""
}

// OrgDomain is the organisational domain of d (RFC 7489 §3.2): the public
// suffix plus one label, from the Public Suffix List compiled into
// golang.org/x/net/publicsuffix; d itself when it is a suffix.
func OrgDomain(d string) string {
	d = strings.ToLower(strings.TrimSuffix(d, "."))
	if o, err := publicsuffix.EffectiveTLDPlusOne(d); err == nil {
		return o
	}
	return d
}

// Aligned says whether identifier domain a aligns with the From: domain
// (RFC 7489 §3.1): the same domain in strict mode, the same organisational
// domain in relaxed mode.
func Aligned(a, from string, strict bool) bool {
	a, from = strings.ToLower(strings.TrimSuffix(a, ".")), strings.ToLower(strings.TrimSuffix(from, "."))
	if a == "" || from == "" {
		return false
	}
	if strict {
		return a == from
	}
	return OrgDomain(a) == OrgDomain(from)
}

// TXTResolver answers TXT questions.
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// LookupDMARC finds the record that governs from (RFC 7489 §6.6.3): at
// _dmarc.<from>, else at _dmarc.<organisational domain>. sub says the
// record came from the organisational domain (so sp= applies). A DNS
// failure other than "no such name/data" is returned as is (temperror).
func LookupDMARC(ctx context.Context, res TXTResolver, from string) (rec Record, sub bool, err error) {
	from = strings.ToLower(strings.TrimSuffix(from, "."))
	rec, err = lookupOne(ctx, res, "_dmarc."+from)
	if !errors.Is(err, ErrNoRecord) {
		return rec, false, err
	}
	org := OrgDomain(from)
	if org == from {
		return rec, false, err
	}
	rec, err = lookupOne(ctx, res, "_dmarc."+org)
	return rec, err == nil, err
}

func lookupOne(ctx context.Context, res TXTResolver, name string) (Record, error) {
	txts, err := res.LookupTXT(ctx, name)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			return Record{}, ErrNoRecord
		}
		return Record{}, err
	}
	// §6.6.3: exactly one record beginning with v=DMARC1, else none.
	var found []Record
	for _, t := range txts {
		if r, err := ParseRecord(t); err == nil {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		return Record{}, ErrNoRecord
	}
	return found[0], nil
}
