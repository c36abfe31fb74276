// Package mailauth owns the authenticity of mail: DKIM signing of outgoing
// mail with per-domain keys (RFC 6376; Ed25519 by RFC 8463), and on the MX
// the checks of incoming mail — SPF (RFC 7208), DKIM verification and our
// own DMARC evaluation (RFC 7489) — summarised in an
// Authentication-Results header field (RFC 8601). Every DNS question goes
// through the Resolver it is given, so tests answer from a local server.
// Private keys are read from files and never logged.
package mailauth

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// The key algorithms (smtp.dkim.keys, `postvakt dkim rotate --algorithm`).
const (
	AlgRSA     = "rsa"     // RSA-2048, rsa-sha256 (RFC 6376 §3.3.1)
	AlgEd25519 = "ed25519" // ed25519-sha256 (RFC 8463)
)

// RSABits is the size of generated RSA keys.
const RSABits = 2048

// Key is one domain's signing key.
type Key struct {
	Domain   string
	Selector string
	Signer   crypto.Signer
}

// LoadKey reads a PEM private key (PKCS #8, or PKCS #1 for RSA) from file.
// Errors name the file, never its contents.
func LoadKey(file string) (crypto.Signer, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return ParseKey(b)
}

// ParseKey parses a PEM private key: RSA of at least 1024 bits (RFC 8301
// §3.2) or Ed25519.
func ParseKey(b []byte) (crypto.Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("no PEM block")
	}
	var k any
	var err error
	switch blk.Type {
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key", blk.Type)
	}
	if err != nil {
		return nil, errors.New("not a parseable private key")
	}
	switch k := k.(type) {
	case *rsa.PrivateKey:
		if k.N.BitLen() < 1024 {
			return nil, fmt.Errorf("RSA key of %d bits is too short (RFC 8301 §3.2)", k.N.BitLen())
		}
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("key type %T is neither RSA nor Ed25519", k)
}

// GenerateKey returns a new private key of alg as PEM (PKCS #8).
func GenerateKey(alg string) (crypto.Signer, []byte, error) {
	var k crypto.Signer
	var err error
	switch alg {
	case AlgRSA:
		k, err = rsa.GenerateKey(rand.Reader, RSABits)
	case AlgEd25519:
		_, k, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, nil, fmt.Errorf("algorithm %q: must be %s or %s", alg, AlgRSA, AlgEd25519)
	}
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, nil, err
	}
	return k, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// TXTRecord is the DKIM key record to publish for k (RFC 6376 §3.6.1):
// "v=DKIM1; k=rsa; p=…". RSA keys are published as SubjectPublicKeyInfo,
// Ed25519 keys as the raw 32 octets (RFC 8463 §4.2).
func TXTRecord(k crypto.Signer) (string, error) {
	var alg string
	var p []byte
	switch pub := k.Public().(type) {
	case *rsa.PublicKey:
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return "", err
		}
		alg, p = AlgRSA, der
	case ed25519.PublicKey:
		alg, p = AlgEd25519, pub
	default:
		return "", fmt.Errorf("key type %T", pub)
	}
	return "v=DKIM1; k=" + alg + "; p=" + base64.StdEncoding.EncodeToString(p), nil
}

// ZoneLine is the TXT record of k at selector._domainkey.domain as a zone
// file line, split into strings of at most 255 octets (RFC 1035 §3.3.14).
func ZoneLine(domain, selector string, k crypto.Signer) (string, error) {
	rec, err := TXTRecord(k)
	if err != nil {
		return "", err
	}
	var parts []string
	for len(rec) > 255 {
		parts = append(parts, `"`+rec[:255]+`"`)
		rec = rec[255:]
	}
	parts = append(parts, `"`+rec+`"`)
	return fmt.Sprintf("%s._domainkey.%s. IN TXT ( %s )", selector, strings.TrimSuffix(domain, "."), strings.Join(parts, " ")), nil
}

// ValidSelector checks a DKIM selector: dot-separated labels of letters,
// digits and '-' (RFC 6376 §3.1), at most 63 octets here.
func ValidSelector(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}
