package page

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Link errors, wrapped by Signer.Verify.
var (
	ErrBadLink     = errors.New("invalid link")
	ErrExpiredLink = errors.New("expired link")
)

// Claims is what a signed link carries.
type Claims struct {
	Action     string // "ack"
	IncidentID int64
	Member     string
	Expires    time.Time
}

// Signer signs and verifies the acknowledge links in e-mail pages:
// HMAC-SHA256 over the claims, with an expiry, so that a link works only
// for its incident and only for a while.
type Signer struct {
	Key []byte
	TTL time.Duration
	Now func() time.Time
}

// Sign returns a token for c; an empty Expires gets Now()+TTL.
func (s Signer) Sign(c Claims) string {
	if c.Expires.IsZero() {
		c.Expires = s.Now().Add(s.TTL)
	}
	payload := strings.Join([]string{"v1", c.Action, strconv.FormatInt(c.IncidentID, 10), c.Member, strconv.FormatInt(c.Expires.Unix(), 10)}, "|")
	mac := hmac.New(sha256.New, s.Key)
	mac.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// Verify checks a token's signature and expiry and returns its claims.
func (s Signer) Verify(token string) (Claims, error) {
	if len(s.Key) == 0 {
		return Claims{}, fmt.Errorf("%w: no signing key configured", ErrBadLink)
	}
	p64, m64, ok := strings.Cut(token, ".")
	if !ok {
		return Claims{}, ErrBadLink
	}
	payload, err1 := base64.RawURLEncoding.DecodeString(p64)
	sig, err2 := base64.RawURLEncoding.DecodeString(m64)
	if err1 != nil || err2 != nil {
		return Claims{}, ErrBadLink
	}
	mac := hmac.New(sha256.New, s.Key)
	mac.Write(payload)
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return Claims{}, ErrBadLink
	}
	parts := strings.Split(string(payload), "|")
	if len(parts) != 5 || parts[0] != "v1" {
		return Claims{}, ErrBadLink
	}
	id, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return Claims{}, ErrBadLink
	}
	exp, err := strconv.ParseInt(parts[4], 10, 64)
	if err != nil {
		return Claims{}, ErrBadLink
	}
	c := Claims{Action: parts[1], IncidentID: id, Member: parts[3], Expires: time.Unix(exp, 0)}
	if !s.Now().Before(c.Expires) {
		return c, ErrExpiredLink
	}
	return c, nil
}
