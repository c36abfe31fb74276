package mailauth

import (
	"bufio"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/mail"
	"net/netip"
	"net/textproto"
	"strings"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dkim"
)

// Resolver answers the checks' DNS questions: SPF's (TXT, A/AAAA, MX,
// PTR), DKIM's key records and DMARC's policy records. *net.Resolver is
// one.
type Resolver interface {
	spf.DNSResolver
}

// MaxSignatures bounds the DKIM signatures verified per message: a message
// from outside cannot make the MX do more (RFC 6376 §6.1 allows a limit).
const MaxSignatures = 5

// Disposition is what DMARC asks of a message that fails it.
type Disposition string

// The dispositions.
const (
	DispositionNone       Disposition = "none"
	DispositionQuarantine Disposition = "quarantine"
	DispositionReject     Disposition = "reject"
)

// DMARC results (RFC 8601 §2.7.1 with RFC 7489 §11.2), the values of the
// metric's result label.
var DMARCResults = []string{"pass", "fail", "none", "temperror", "permerror"}

// SPFResults are the SPF results (RFC 7208 §2.6, RFC 8601 §2.7.2).
var SPFResults = []string{"pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"}

// DKIMResults are the DKIM results (RFC 8601 §2.7.1) Check gives.
var DKIMResults = []string{"pass", "fail", "none", "temperror", "permerror"}

// Methods are the methods Check evaluates with the results each can give:
// the method and result labels of the per-method metric.
var Methods = map[string][]string{"spf": SPFResults, "dkim": DKIMResults, "dmarc": DMARCResults}

// Result is the outcome of the checks of one message.
type Result struct {
	SPF        string // pass, fail, softfail, neutral, none, temperror, permerror
	SPFDomain  string // the domain SPF checked (MAIL FROM's, or HELO's for the null sender)
	DKIM       string // pass (some signature verified), fail, none, temperror
	DKIMDomain string // d= of the first good signature ("" if none)
	DMARC      string // pass, fail, none, temperror, permerror
	FromDomain string // the RFC5322.From domain
	// Policy is the published policy that applied (p= or sp=); "" without
	// a record.
	Policy Policy
	// Disposition is what the policy asks for this message after pct=:
	// none unless DMARC failed.
	Disposition Disposition
	// Field is the Authentication-Results header field, CRLF-terminated.
	Field string
}

// Summary is the result in one line for the trace:
// "spf=pass dkim=none dmarc=pass (p=reject)".
func (r Result) Summary() string {
	s := "spf=" + r.SPF + " dkim=" + r.DKIM + " dmarc=" + r.DMARC
	if r.Policy != "" {
		s += " (p=" + string(r.Policy) + " disposition=" + string(r.Disposition) + ")"
	}
	return s
}

// Checker checks incoming mail.
type Checker struct {
	// AuthServID names this MX in Authentication-Results (RFC 8601 §2.5):
	// smtp.hostname.
	AuthServID string
	Resolver   Resolver
	// Percent draws a number in [0,100) for pct= sampling; nil uses
	// math/rand.
	Percent func() int
}

// Input is what the checks need of one message.
type Input struct {
	ClientIP netip.Addr
	HELO     string
	MailFrom string // "" for the null reverse-path
	// Open returns a fresh reader of the whole message as received (header
	// and body); it is called more than once.
	Open func() io.Reader
}

// Check runs SPF, DKIM and DMARC and formats Authentication-Results.
// Network failures yield temperror results, never an error.
func (c *Checker) Check(ctx context.Context, in Input) Result {
	res := Result{Disposition: DispositionNone}
	// SPF (RFC 7208 §2.4: the null sender is checked as postmaster@HELO).
	sender := in.MailFrom
	if sender == "" {
		sender = "postmaster@" + in.HELO
	}
	res.SPFDomain = domainOf(sender)
	var spfRes spf.Result
	if in.ClientIP.IsValid() {
		spfRes, _ = spf.CheckHostWithSender(net.IP(in.ClientIP.Unmap().AsSlice()), in.HELO, sender,
			spf.WithResolver(c.Resolver), spf.WithContext(ctx))
	} else {
		spfRes = spf.None
	}
	res.SPF = string(spfRes)

	// DKIM.
	lookup := func(name string) ([]string, error) { return c.Resolver.LookupTXT(ctx, name) }
	vs, err := dkim.VerifyWithOptions(in.Open(), &dkim.VerifyOptions{LookupTXT: lookup, MaxVerifications: MaxSignatures})
	var good []string
	switch {
	case err != nil && !errors.Is(err, dkim.ErrTooManySignatures):
		res.DKIM = "permerror"
	case len(vs) == 0:
		res.DKIM = "none"
	default:
		res.DKIM = "fail"
		temp := false
		for _, v := range vs {
			if v.Err == nil {
				good = append(good, v.Domain)
			} else if dkim.IsTempFail(v.Err) {
				temp = true
			}
		}
		switch {
		case len(good) > 0:
			res.DKIM, res.DKIMDomain = "pass", good[0]
		case temp:
			res.DKIM = "temperror"
		}
	}

	// DMARC (RFC 7489 §6.6).
	res.FromDomain, err = fromDomain(in.Open())
	switch {
	case err != nil:
		res.DMARC = "permerror"
	default:
		rec, sub, err := LookupDMARC(ctx, c.Resolver, res.FromDomain)
		switch {
		case errors.Is(err, ErrNoRecord):
			res.DMARC = "none"
		case err != nil:
			res.DMARC = "temperror"
		default:
			res.Policy = rec.Policy
			if sub {
				res.Policy = rec.SubdomainPolicy
			}
			pass := spfRes == spf.Pass && Aligned(res.SPFDomain, res.FromDomain, rec.StrictSPF)
			for _, d := range good {
				pass = pass || Aligned(d, res.FromDomain, rec.StrictDKIM)
			}
			if pass {
				res.DMARC = "pass"
				break
			}
			if spfRes == spf.TempError || res.DKIM == "temperror" {
				// A DNS failure is not evidence of forgery: no policy is
				// applied, the sender may be asked again another time.
				res.DMARC = "temperror"
				break
			}
			res.DMARC = "fail"
			res.Disposition = c.disposition(res.Policy, rec.Percent)
		}
	}
	res.Field = c.field(res, in)
	return res
}

// disposition applies pct= (RFC 7489 §6.6.4): outside the sampled share a
// reject is treated as quarantine, a quarantine as none.
func (c *Checker) disposition(p Policy, pct int) Disposition {
	draw := c.Percent
	if draw == nil {
		draw = func() int { return rand.IntN(100) }
	}
	sampled := pct >= 100 || draw() < pct
	switch {
	case p == PolicyReject && sampled:
		return DispositionReject
	case p == PolicyReject, p == PolicyQuarantine && sampled:
		return DispositionQuarantine
	}
	return DispositionNone
}

func (c *Checker) field(r Result, in Input) string {
	results := []authres.Result{
		&authres.SPFResult{Value: authres.ResultValue(r.SPF), From: spfFrom(in), Helo: helo(in)},
		&authres.DKIMResult{Value: authres.ResultValue(r.DKIM), Domain: r.DKIMDomain},
		&authres.DMARCResult{Value: authres.ResultValue(r.DMARC), From: r.FromDomain},
	}
	return "Authentication-Results: " + foldAuthRes(authres.Format(c.AuthServID, results)) + "\r\n"
}

func spfFrom(in Input) string {
	if in.MailFrom == "" {
		return ""
	}
	return sanitize(in.MailFrom)
}

func helo(in Input) string {
	if in.MailFrom != "" {
		return ""
	}
	return sanitize(in.HELO)
}

// sanitize keeps client-given text from breaking the header field.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e || r == ';' || r == '(' || r == ')' || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
}

// foldAuthRes puts each method on a line of its own (RFC 5322 §2.2.3
// folding at the "; " separators).
func foldAuthRes(v string) string {
	return strings.ReplaceAll(v, "; ", ";\r\n\t")
}

// fromDomain is the domain of the message's single RFC5322.From address
// (RFC 7489 §6.6.1: none or several is a permerror).
func fromDomain(r io.Reader) (string, error) {
	tp := textproto.NewReader(bufio.NewReaderSize(io.LimitReader(r, 256<<10), 4096))
	h, err := tp.ReadMIMEHeader()
	if err != nil && len(h) == 0 {
		return "", err
	}
	froms := h.Values("From")
	if len(froms) != 1 {
		return "", errors.New("not exactly one From field")
	}
	as, err := mail.ParseAddressList(froms[0])
	if err != nil || len(as) != 1 {
		return "", errors.New("not exactly one From address")
	}
	d := domainOf(as[0].Address)
	if d == "" {
		return "", errors.New("From address without domain")
	}
	return d, nil
}

func domainOf(a string) string {
	if i := strings.LastIndexByte(a, '@'); i >= 0 {
		return strings.ToLower(strings.TrimSuffix(a[i+1:], "."))
	}
	return ""
}
