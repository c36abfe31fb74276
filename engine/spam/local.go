package spam

import (
	"bytes"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
)

// Local rule kinds: the block lists and the header and body rules the
// postmasters accept from spam complaints (docs/configuration.md, "Rules from
// spam complaints").
const (
	LocalSender = "sender" // an envelope sender, From or Return-Path address
	LocalDomain = "domain" // a sender's domain or a URL's host in the text, with its subdomains
	LocalHeader = "header" // a header field (Header) containing Value
	LocalBody   = "body"   // a text part containing Value
)

// LocalKinds lists the local rule kinds.
func LocalKinds() []string { return []string{LocalSender, LocalDomain, LocalHeader, LocalBody} }

// LocalRule is one accepted rule; matching is case-insensitive.
type LocalRule struct {
	ID     int64
	Kind   string
	Header string // the field name of a header rule
	Value  string
	Score  float64
}

// Name is the rule's name in X-Spam-Status: "LOCAL_<id>".
func (r LocalRule) Name() string { return fmt.Sprintf("LOCAL_%d", r.ID) }

// LocalRules is a compiled set of local rules, swapped whole when the
// database's rules change; nil matches nothing.
type LocalRules struct {
	rules []LocalRule
}

// CompileLocal compiles rules; values are lower-cased.
func CompileLocal(rules []LocalRule) *LocalRules {
	l := &LocalRules{}
	for _, r := range rules {
		r.Value = strings.ToLower(strings.TrimSpace(r.Value))
		if r.Value == "" {
			continue
		}
		l.rules = append(l.rules, r)
	}
	return l
}

// Len is the number of rules.
func (l *LocalRules) Len() int {
	if l == nil {
		return 0
	}
	return len(l.rules)
}

// urlRE finds http(s) URLs in text (RFC 3986's authority, roughly).
var urlRE = regexp.MustCompile(`(?i)\bhttps?://([a-z0-9.-]+)`)

// URLHosts returns the lower-cased hosts of the http and https URLs in
// text, each once, at most max.
func URLHosts(text []byte, max int) []string {
	var out []string
	for _, m := range urlRE.FindAllSubmatch(text, -1) {
		h := strings.TrimSuffix(strings.ToLower(string(m[1])), ".")
		if h == "" || containsStr(out, h) {
			continue
		}
		out = append(out, h)
		if len(out) >= max {
			break
		}
	}
	return out
}

func containsStr(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// inDomain reports whether host is d or one of its subdomains.
func inDomain(host, d string) bool { return host == d || strings.HasSuffix(host, "."+d) }

// Match returns the rules that hit in.
func (l *LocalRules) Match(in Input) []LocalRule {
	if l.Len() == 0 {
		return nil
	}
	var senders []string
	add := func(a string) {
		a = strings.ToLower(strings.Trim(strings.TrimSpace(a), "<>"))
		if a != "" && !containsStr(senders, a) {
			senders = append(senders, a)
		}
	}
	add(in.MailFrom)
	for _, f := range []string{"From", "Return-Path", "Sender", "Reply-To"} {
		if v := in.Header.Get(f); v != "" {
			if a, err := mail.ParseAddress(v); err == nil {
				add(a.Address)
			} else {
				add(v)
			}
		}
	}
	var hosts []string
	for _, s := range senders {
		if d := domainOf(s); d != "" && !containsStr(hosts, d) {
			hosts = append(hosts, d)
		}
	}
	for _, t := range in.Texts {
		for _, h := range URLHosts(t, 200) {
			if !containsStr(hosts, h) {
				hosts = append(hosts, h)
			}
		}
	}
	var out []LocalRule
	for _, r := range l.rules {
		hit := false
		switch r.Kind {
		case LocalSender:
			hit = containsStr(senders, r.Value)
		case LocalDomain:
			for _, h := range hosts {
				if inDomain(h, r.Value) {
					hit = true
					break
				}
			}
		case LocalHeader:
			for _, v := range in.Header.Values(r.Header) {
				if strings.Contains(strings.ToLower(v), r.Value) {
					hit = true
					break
				}
			}
		case LocalBody:
			for _, t := range in.Texts {
				if bytes.Contains(bytes.ToLower(t), []byte(r.Value)) {
					hit = true
					break
				}
			}
		}
		if hit {
			out = append(out, r)
		}
	}
	return out
}
