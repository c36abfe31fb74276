// Package spam owns postvakt's built-in spam scorer: cheap named rules
// (GTUBE, DNSBL listing, missing or invalid Date and Message-ID, forged-
// looking headers, the SPF result of RFC 7208) whose weights come from
// configuration, summed against a threshold (default 5.0, DOMAIN.md "MX
// layer"), and the X-Spam-* header fields SpamAssassin made customary.
package spam

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-message/textproto"

	"github.com/uni-mail/postvakt/engine/dnsbl"
)

// The rule names. Each is a key of Config.Rules.
const (
	RuleGTUBE              = "GTUBE"
	RuleMissingDate        = "MISSING_DATE"
	RuleInvalidDate        = "INVALID_DATE"
	RuleFutureDate         = "DATE_IN_FUTURE"
	RuleMissingMessageID   = "MISSING_MESSAGE_ID"
	RuleInvalidMessageID   = "INVALID_MESSAGE_ID"
	RuleMissingFrom        = "MISSING_FROM"
	RuleInvalidFrom        = "INVALID_FROM"
	RuleFromNameAddr       = "FROM_NAME_HAS_OTHER_ADDR"
	RuleMissingSubject     = "MISSING_SUBJECT"
	RuleSubjectAllCaps     = "SUBJECT_ALL_CAPS"
	RuleReplyToDiffers     = "REPLYTO_FREEMAIL_DIFFERS"
	RuleDNSBL              = "DNSBL_LISTED"
	RuleSPFFail            = "SPF_FAIL"
	RuleSPFSoftFail        = "SPF_SOFTFAIL"
	RuleSPFPermError       = "SPF_PERMERROR"
	RuleSPFPass            = "SPF_PASS"
	RuleForgedLocalSender  = "FORGED_LOCAL_SENDER"
	RuleExternalScannerHit = "EXTERNAL_SCANNER"
)

// DefaultWeights are the rule weights unless configured otherwise.
func DefaultWeights() map[string]float64 {
	return map[string]float64{
		RuleGTUBE:              1000,
		RuleMissingDate:        1.4,
		RuleInvalidDate:        1.6,
		RuleFutureDate:         1.0,
		RuleMissingMessageID:   1.2,
		RuleInvalidMessageID:   1.2,
		RuleMissingFrom:        2.0,
		RuleInvalidFrom:        1.5,
		RuleFromNameAddr:       2.5,
		RuleMissingSubject:     0.5,
		RuleSubjectAllCaps:     0.5,
		RuleReplyToDiffers:     0.8,
		RuleDNSBL:              3.0,
		RuleSPFFail:            3.5,
		RuleSPFSoftFail:        1.0,
		RuleSPFPermError:       0.5,
		RuleSPFPass:            -0.5,
		RuleForgedLocalSender:  3.0,
		RuleExternalScannerHit: 0,
	}
}

// gtube is SpamAssassin's Generic Test for Unsolicited Bulk Email.
const gtube = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

// Input is what the scorer looks at.
type Input struct {
	ClientIP netip.Addr // zero: no connection checks (DNSBL, SPF)
	HELO     string
	MailFrom string
	Header   textproto.Header
	Texts    [][]byte // decoded text parts
	// Authenticated is true for submission by an authenticated user or a
	// local network: no DNSBL or SPF checks.
	Authenticated bool
	// LocalDomain reports whether a domain is one of ours (for
	// FORGED_LOCAL_SENDER: our domain in From: arriving unauthenticated
	// from outside with an SPF result other than pass). Nil: rule off.
	LocalDomain func(ctx context.Context, domain string) bool
	// Local are the accepted local rules (LocalRules); nil: none. Each
	// rule that hits adds its score as LOCAL_<id>.
	Local *LocalRules
}

// Result is a score and the rules that hit, sorted by name.
type Result struct {
	Score     float64
	Threshold float64
	Rules     []string
	Extra     []string // informational notes (e.g. the SPF result)
}

// Spam is true when the score reaches the threshold.
func (r Result) Spam() bool { return r.Score >= r.Threshold }

// Headers returns the X-Spam-Flag, X-Spam-Score and X-Spam-Status fields
// (SpamAssassin's format: "Yes, score=7.2 required=5.0 tests=A,B").
func (r Result) Headers() []string {
	flag, yes := "NO", "No"
	if r.Spam() {
		flag, yes = "YES", "Yes"
	}
	tests := strings.Join(r.Rules, ",")
	if tests == "" {
		tests = "none"
	}
	return []string{
		"X-Spam-Flag: " + flag,
		"X-Spam-Score: " + strconv.FormatFloat(r.Score, 'f', 1, 64),
		fmt.Sprintf("X-Spam-Status: %s, score=%.1f required=%.1f tests=%s", yes, r.Score, r.Threshold, tests),
	}
}

// Scorer scores messages. The zero value is not usable: use New.
type Scorer struct {
	weights   map[string]float64
	threshold float64
	dnsbl     *dnsbl.Checker
	spf       spf.DNSResolver
	now       func() time.Time
}

// Options configure a Scorer.
type Options struct {
	Threshold float64            // default 5.0
	Weights   map[string]float64 // override DefaultWeights by rule name
	DNSBL     *dnsbl.Checker     // nil: no DNSBL rule
	// SPFResolver answers SPF's DNS queries (RFC 7208 §4.6); nil disables
	// the SPF rules. Tests inject a fake, production uses net.Resolver.
	SPFResolver spf.DNSResolver
	Clock       func() time.Time
}

// New returns a Scorer.
func New(o Options) *Scorer {
	w := DefaultWeights()
	for k, v := range o.Weights {
		w[k] = v
	}
	if o.Threshold == 0 {
		o.Threshold = 5.0
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	return &Scorer{weights: w, threshold: o.Threshold, dnsbl: o.DNSBL, spf: o.SPFResolver, now: o.Clock}
}

// Threshold is the configured threshold.
func (s *Scorer) Threshold() float64 { return s.threshold }

// Score runs every rule over in. Network failures of DNSBL and SPF lookups
// score nothing (they are not evidence).
func (s *Scorer) Score(ctx context.Context, in Input) Result {
	res := Result{Threshold: s.threshold}
	hits := map[string]bool{}
	hit := func(rule string) {
		if w, ok := s.weights[rule]; ok && w != 0 && !hits[rule] {
			hits[rule] = true
		}
	}
	for _, t := range in.Texts {
		if bytes.Contains(t, []byte(gtube)) {
			hit(RuleGTUBE)
		}
	}
	h := in.Header
	if d := h.Get("Date"); d == "" {
		hit(RuleMissingDate)
	} else if t, err := mail.ParseDate(d); err != nil {
		hit(RuleInvalidDate)
	} else if t.After(s.now().Add(24 * time.Hour)) {
		hit(RuleFutureDate)
	}
	if id := h.Get("Message-Id"); id == "" {
		hit(RuleMissingMessageID)
	} else if !validMsgID(id) {
		hit(RuleInvalidMessageID)
	}
	var fromDomain string
	if f := h.Get("From"); f == "" {
		hit(RuleMissingFrom)
	} else if a, err := mail.ParseAddress(f); err != nil {
		hit(RuleInvalidFrom)
	} else {
		fromDomain = domainOf(a.Address)
		// A display name that carries a different address is the classic
		// forgery: "support@bank.example" <x@elsewhere>.
		if n := strings.ToLower(a.Name); strings.Contains(n, "@") && !strings.Contains(n, strings.ToLower(a.Address)) {
			hit(RuleFromNameAddr)
		}
		if rt := h.Get("Reply-To"); rt != "" {
			if ra, err := mail.ParseAddress(rt); err == nil && !strings.EqualFold(domainOf(ra.Address), fromDomain) {
				hit(RuleReplyToDiffers)
			}
		}
	}
	if subj := h.Get("Subject"); subj == "" {
		hit(RuleMissingSubject)
	} else if len(subj) >= 10 && strings.ToUpper(subj) == subj && strings.ToLower(subj) != subj {
		hit(RuleSubjectAllCaps)
	}
	spfPass := false
	if !in.Authenticated && in.ClientIP.IsValid() {
		if s.dnsbl != nil {
			if r, err := s.dnsbl.Check(ctx, in.ClientIP); err == nil && r.Listed {
				hit(RuleDNSBL)
				res.Extra = append(res.Extra, "dnsbl="+r.Zone)
			}
		}
		if s.spf != nil {
			sender := in.MailFrom
			if sender == "" {
				sender = "postmaster@" + in.HELO
			}
			r, _ := spf.CheckHostWithSender(net.IP(in.ClientIP.Unmap().AsSlice()), in.HELO, sender,
				spf.WithResolver(s.spf), spf.WithContext(ctx))
			res.Extra = append(res.Extra, "spf="+string(r))
			switch r {
			case spf.Fail:
				hit(RuleSPFFail)
			case spf.SoftFail:
				hit(RuleSPFSoftFail)
			case spf.PermError:
				hit(RuleSPFPermError)
			case spf.Pass:
				spfPass = true
				hit(RuleSPFPass)
			}
		}
		if in.LocalDomain != nil && fromDomain != "" && !spfPass && in.LocalDomain(ctx, fromDomain) {
			hit(RuleForgedLocalSender)
		}
	}
	for r := range hits {
		res.Rules = append(res.Rules, r)
		res.Score += s.weights[r]
	}
	for _, r := range in.Local.Match(in) {
		res.Rules = append(res.Rules, r.Name())
		res.Score += r.Score
	}
	sort.Strings(res.Rules)
	return res
}

// AddExternal adds an external scanner's score (spamd, rspamd) as the rule
// name given, with its score in the rule list ("SPAMD=3.2").
func (r *Result) AddExternal(name string, score float64) {
	r.Score += score
	name = fmt.Sprintf("%s=%.1f", name, score)
	if !slices.Contains(r.Rules, name) {
		r.Rules = append(r.Rules, name)
		sort.Strings(r.Rules)
	}
}

// validMsgID checks the msg-id form of RFC 5322 §3.6.4: "<" id-left "@"
// id-right ">".
func validMsgID(s string) bool {
	s = strings.TrimSpace(s)
	if len(s) < 5 || s[0] != '<' || s[len(s)-1] != '>' {
		return false
	}
	inner := s[1 : len(s)-1]
	at := strings.LastIndexByte(inner, '@')
	return at > 0 && at < len(inner)-1 && !strings.ContainsAny(inner, " <>\t")
}

func domainOf(a string) string {
	if i := strings.LastIndexByte(a, '@'); i >= 0 {
		return strings.ToLower(a[i+1:])
	}
	return ""
}

// KnownRule reports whether name is a rule of this package.
func KnownRule(name string) bool { _, ok := DefaultWeights()[name]; return ok }
