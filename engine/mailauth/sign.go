package mailauth

import (
	"bytes"
	"crypto"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-msgauth/dkim"
)

// SignedHeaders are the header fields a signature covers (RFC 6376 §5.4.1's
// recommendation). From is listed twice so that a second From: added in
// transit breaks the signature (§8.15, "oversigning").
var SignedHeaders = []string{"From", "From", "Reply-To", "Subject", "Date", "To", "Cc", "Message-ID",
	"In-Reply-To", "References", "MIME-Version", "Content-Type", "Content-Transfer-Encoding", "Sender"}

// Signer signs mail with the key of its From: domain. The zero value and
// a nil *Signer sign nothing.
type Signer struct {
	keys map[string]Key
}

// NewSigner returns a signer of keys (one per domain; a later key of the
// same domain replaces an earlier).
func NewSigner(keys []Key) *Signer {
	s := &Signer{keys: map[string]Key{}}
	for _, k := range keys {
		s.keys[strings.ToLower(strings.TrimSuffix(k.Domain, "."))] = k
	}
	return s
}

// Domains are the domains s has keys of.
func (s *Signer) Domains() []string {
	if s == nil {
		return nil
	}
	var d []string
	for k := range s.keys {
		d = append(d, k)
	}
	return d
}

// KeyFor is the key that signs mail from domain: the domain's own or, for
// a subdomain, its closest parent's (the signature then aligns under
// DMARC's relaxed rule, RFC 7489 §3.1.1).
func (s *Signer) KeyFor(domain string) (Key, bool) {
	if s == nil || len(s.keys) == 0 {
		return Key{}, false
	}
	d := strings.ToLower(strings.TrimSuffix(domain, "."))
	for d != "" {
		if k, ok := s.keys[d]; ok {
			return k, true
		}
		i := strings.IndexByte(d, '.')
		if i < 0 {
			break
		}
		d = d[i+1:]
	}
	return Key{}, false
}

// Sign reads the whole message from r and returns its DKIM-Signature
// header field ("DKIM-Signature: …\r\n") made with the key of fromDomain;
// ok is false (and nothing is read) when there is no key for it.
// Canonicalisation is relaxed/relaxed (RFC 6376 §3.4), which survives the
// header rewrapping of relays.
func (s *Signer) Sign(r io.Reader, fromDomain string) (field string, ok bool, err error) {
	k, ok := s.KeyFor(fromDomain)
	if !ok {
		return "", false, nil
	}
	field, err = SignWith(r, k)
	return field, err == nil, err
}

// SignWith signs the message in r with k; the shared helper for mail
// postvakt writes itself (notices, pages, reports) as for relayed mail.
func SignWith(r io.Reader, k Key) (string, error) {
	sg, err := dkim.NewSigner(&dkim.SignOptions{
		Domain: k.Domain, Selector: k.Selector, Signer: k.Signer, Hash: crypto.SHA256,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
		HeaderKeys: SignedHeaders,
	})
	if err != nil {
		return "", fmt.Errorf("dkim signer for %s: %w", k.Domain, err)
	}
	if _, err := io.Copy(sg, r); err != nil {
		sg.Close()
		return "", fmt.Errorf("dkim sign: %w", err)
	}
	if err := sg.Close(); err != nil {
		return "", fmt.Errorf("dkim sign: %w", err)
	}
	return sg.Signature(), nil
}

// SignMessage returns msg (a whole message, CRLF line ends) with a
// DKIM-Signature field in front, made with the key of its From: domain;
// msg unchanged when there is no key for it (or no From: address). The
// helper for mail postvakt writes itself: notices, pages and reports.
func (s *Signer) SignMessage(msg []byte) ([]byte, error) {
	d, err := fromDomain(bytes.NewReader(msg))
	if err != nil {
		return msg, nil
	}
	field, ok, err := s.Sign(bytes.NewReader(msg), d)
	if err != nil || !ok {
		return msg, err
	}
	return append([]byte(field), msg...), nil
}
