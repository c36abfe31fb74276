// Package addr owns e-mail address syntax for the engine: parsing and
// normalising RFC 5321 mailbox addresses (§4.1.2, limits of §4.5.3.1), and
// the configurable local-part rules a site applies when it creates
// mailboxes, nicknames, aliases and lists (the Swedish rules of DOMAIN.md are
// the documented example, SwedishRules).
package addr

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/uni-mail/postvakt/config/validate"
)

// Address is a parsed mailbox address. Local is as given (case preserved,
// quotes removed from a quoted string); Domain is lower-cased.
type Address struct {
	Local  string
	Domain string
}

// String is local@domain, quoting the local part when it is not a dot-atom.
func (a Address) String() string {
	if a.Domain == "" {
		return a.Local
	}
	l := a.Local
	if !isDotAtom(l) {
		l = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(l) + `"`
	}
	return l + "@" + a.Domain
}

// Key is the lookup form used by the directory: local part and domain both
// lower-cased. (RFC 5321 §2.4 lets the local part be case-sensitive; this
// site, like nearly every other, folds it.)
func (a Address) Key() string {
	return strings.ToLower(a.Local) + "@" + a.Domain
}

// Errors returned by Parse; they wrap ErrSyntax.
var (
	ErrSyntax   = errors.New("address syntax")
	ErrTooLong  = fmt.Errorf("%w: too long", ErrSyntax)
	ErrNoDomain = fmt.Errorf("%w: no domain", ErrSyntax)
)

// Limits from RFC 5321 §4.5.3.1.1–3.
const (
	MaxLocal  = 64
	MaxDomain = 255
	MaxPath   = 256
)

// Parse parses an address as given in MAIL FROM or RCPT TO without the
// angle brackets: local-part "@" domain (RFC 5321 §4.1.2). The local part
// is a dot-atom or a quoted string of printable ASCII; the domain is a
// sequence of LDH labels or an address literal in brackets. The bare
// "postmaster" of §4.5.1 is accepted with an empty domain.
func Parse(s string) (Address, error) {
	if len(s) > MaxPath {
		return Address{}, ErrTooLong
	}
	if strings.EqualFold(s, "postmaster") {
		return Address{Local: "postmaster"}, nil
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return Address{}, ErrNoDomain
	}
	local, domain := s[:at], s[at+1:]
	if local == "" {
		return Address{}, fmt.Errorf("%w: empty local part", ErrSyntax)
	}
	if len(local) > MaxLocal || len(domain) > MaxDomain {
		return Address{}, ErrTooLong
	}
	if local[0] == '"' {
		l, err := unquote(local)
		if err != nil {
			return Address{}, err
		}
		local = l
	} else if !isDotAtom(local) {
		return Address{}, fmt.Errorf("%w: bad local part", ErrSyntax)
	}
	d, err := ParseDomain(domain)
	if err != nil {
		return Address{}, err
	}
	return Address{Local: local, Domain: d}, nil
}

// ParseDomain checks and lower-cases a domain: LDH labels of 1–63 octets,
// or an address literal such as [192.0.2.1] or [IPv6:2001:db8::1].
func ParseDomain(d string) (string, error) {
	if d == "" {
		return "", ErrNoDomain
	}
	if len(d) > MaxDomain {
		return "", ErrTooLong
	}
	if d[0] == '[' {
		if d[len(d)-1] != ']' || len(d) < 3 {
			return "", fmt.Errorf("%w: bad address literal", ErrSyntax)
		}
		for i := 1; i < len(d)-1; i++ {
			c := d[i]
			if c < 33 || c > 126 || c == '[' || c == ']' || c == '\\' {
				return "", fmt.Errorf("%w: bad address literal", ErrSyntax)
			}
		}
		return strings.ToLower(d), nil
	}
	d = strings.TrimSuffix(d, ".")
	if d == "" {
		return "", ErrNoDomain
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", fmt.Errorf("%w: bad domain label", ErrSyntax)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return "", fmt.Errorf("%w: bad domain label", ErrSyntax)
			}
		}
	}
	return strings.ToLower(d), nil
}

// atext of RFC 5322 §3.2.3.
func isAtext(c byte) bool {
	if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

func isDotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if s[i-1] == '.' {
				return false
			}
			continue
		}
		if !isAtext(c) {
			return false
		}
	}
	return true
}

// unquote decodes a quoted-string local part (RFC 5321 §4.1.2).
func unquote(s string) (string, error) {
	if len(s) < 2 || s[len(s)-1] != '"' {
		return "", fmt.Errorf("%w: unterminated quoted string", ErrSyntax)
	}
	var b strings.Builder
	for i := 1; i < len(s)-1; i++ {
		c := s[i]
		switch {
		case c == '\\':
			i++
			if i >= len(s)-1 || s[i] < 32 || s[i] > 126 {
				return "", fmt.Errorf("%w: bad quoted pair", ErrSyntax)
			}
			b.WriteByte(s[i])
		case c == '"' || c < 32 || c > 126:
			return "", fmt.Errorf("%w: bad quoted string", ErrSyntax)
		default:
			b.WriteByte(c)
		}
	}
	if b.Len() == 0 {
		return "", fmt.Errorf("%w: empty local part", ErrSyntax)
	}
	return b.String(), nil
}

// Kind is what a local part is being created for; rules differ per kind.
type Kind int

// The kinds of local part.
const (
	Personal Kind = iota // a user's own mailbox name
	Nickname             // a user's changeable nickname alias
	Group                // aliases, distribution lists and function addresses
)

func (k Kind) String() string {
	switch k {
	case Personal:
		return "personal"
	case Nickname:
		return "nickname"
	case Group:
		return "group"
	}
	return "unknown"
}

// RulesConfig is the YAML form of Rules (key smtp.address_rules). Each
// pattern is a Go regular expression matched against the lower-cased local
// part; an empty pattern does not constrain.
type RulesConfig struct {
	Allowed      string `yaml:"allowed"`       // every local part, e.g. ^[a-z0-9._-]+$
	MinLength    int    `yaml:"min_length"`    // every local part
	MaxLength    int    `yaml:"max_length"`    // every local part; 0 means 64
	Personal     string `yaml:"personal"`      // personal mailbox names must match
	PersonalDeny string `yaml:"personal_deny"` // … and must not match
	Nickname     string `yaml:"nickname"`      // nicknames must match
	Group        string `yaml:"group"`         // aliases, lists, function addresses must match
}

// SwedishRules are the address rules of the Swedish university in
// DOMAIN.md: only a–z, digits, '.', '-', '_', at least two characters;
// personal addresses are 2–8 characters a–z, 0–9, not "u" followed by a
// digit; longer names, or names with '-' or '_', are reserved for group and
// function addresses.
func SwedishRules() RulesConfig {
	return RulesConfig{
		Allowed:      `^[a-z0-9._-]+$`,
		MinLength:    2,
		MaxLength:    64,
		Personal:     `^[a-z0-9]{2,8}$`,
		PersonalDeny: `^u[0-9]`,
		Group:        `^([a-z0-9._-]{9,}|.*[-_].*)$`,
	}
}

// Rules are compiled RulesConfig.
type Rules struct {
	cfg                                          RulesConfig
	allowed, personal, personalDeny, nick, group *regexp.Regexp
}

// ErrRule is wrapped by every rule violation.
var ErrRule = errors.New("address rule")

// Compile checks and compiles the patterns; the error (a *validate.Error)
// names the key relative to the smtp section ("address_rules.personal").
func (c RulesConfig) Compile() (*Rules, error) {
	r := &Rules{cfg: c}
	for _, p := range []struct {
		key string
		src string
		dst **regexp.Regexp
	}{
		{"allowed", c.Allowed, &r.allowed},
		{"personal", c.Personal, &r.personal},
		{"personal_deny", c.PersonalDeny, &r.personalDeny},
		{"nickname", c.Nickname, &r.nick},
		{"group", c.Group, &r.group},
	} {
		if p.src == "" {
			continue
		}
		re, err := regexp.Compile(p.src)
		if err != nil {
			return nil, validate.Field("address_rules."+p.key, p.src, err.Error())
		}
		*p.dst = re
	}
	if c.MinLength < 0 || c.MaxLength < 0 || (c.MaxLength > 0 && c.MinLength > c.MaxLength) {
		return nil, validate.Fieldf("address_rules.min_length", c.MinLength, "must be between 0 and max_length (%d)", c.MaxLength)
	}
	return r, nil
}

// Check reports whether local is acceptable as a new local part of kind k.
// The error wraps ErrRule and says which rule failed.
func (r *Rules) Check(local string, k Kind) error {
	l := strings.ToLower(local)
	if !isDotAtom(l) {
		return fmt.Errorf("%w: %q is not a dot-atom", ErrRule, local)
	}
	max := r.cfg.MaxLength
	if max == 0 || max > MaxLocal {
		max = MaxLocal
	}
	if len(l) < r.cfg.MinLength || len(l) > max {
		return fmt.Errorf("%w: %q must be %d–%d characters", ErrRule, local, r.cfg.MinLength, max)
	}
	if r.allowed != nil && !r.allowed.MatchString(l) {
		return fmt.Errorf("%w: %q has characters outside %s", ErrRule, local, r.cfg.Allowed)
	}
	switch k {
	case Personal:
		if r.personal != nil && !r.personal.MatchString(l) {
			return fmt.Errorf("%w: %q does not match the personal pattern %s", ErrRule, local, r.cfg.Personal)
		}
		if r.personalDeny != nil && r.personalDeny.MatchString(l) {
			return fmt.Errorf("%w: %q matches the reserved pattern %s", ErrRule, local, r.cfg.PersonalDeny)
		}
	case Nickname:
		if r.nick != nil && !r.nick.MatchString(l) {
			return fmt.Errorf("%w: %q does not match the nickname pattern %s", ErrRule, local, r.cfg.Nickname)
		}
	case Group:
		if r.group != nil && !r.group.MatchString(l) {
			return fmt.Errorf("%w: %q does not match the group pattern %s", ErrRule, local, r.cfg.Group)
		}
	}
	return nil
}
