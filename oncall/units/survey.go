package units

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Survey is what a unit tells the centre before it is planned: the
// survey of the migration routine (docs/units.md "The survey"). Counts
// and choices the unit leaves out stay nil: not known.
type Survey struct {
	Domains []string `json:"domains"`
	// CurrentSystem is the mail system in use today ("Exchange 2016",
	// "Postfix + Dovecot"), CurrentHost the host it runs on.
	CurrentSystem string `json:"current_system"`
	CurrentHost   string `json:"current_host"`
	// MX and TTL as the unit says they are published; the centre's own
	// look-up is in the DNS checks beside them.
	PublishedMX  []string `json:"published_mx"`
	PublishedTTL *int     `json:"published_ttl"`
	Staff        *int     `json:"staff"`
	Students     *int     `json:"students"`
	// MailboxMB is the mailbox size wanted above the service's default;
	// nil: the default is enough.
	MailboxMB *int `json:"mailbox_mb"`
	// MoveContent says whether existing mail must be moved.
	MoveContent *bool    `json:"move_content"`
	Clients     []string `json:"clients"`
	NetAdmin    Contact  `json:"network_admin"`
	Leader      Contact  `json:"leader"`
	// WishedDate is the date the unit wishes to move, YYYY-MM-DD; "" none.
	WishedDate  string    `json:"wished_date"`
	Notes       string    `json:"notes"`
	SubmittedAt time.Time `json:"submitted_at"`
	// SubmittedBy is "link" for the one-time link, else the API user.
	SubmittedBy string `json:"submitted_by"`
}

func cleanList(in []string, max int) ([]string, error) {
	out := []string{}
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if len(s) > 200 || strings.ContainsAny(s, "\r\n") {
			return nil, fmt.Errorf("%w: list entry %.40q too long or not one line", ErrInvalid, s)
		}
		out = append(out, s)
	}
	if len(out) > max {
		return nil, fmt.Errorf("%w: at most %d entries", ErrInvalid, max)
	}
	return out, nil
}

// Normalize checks the survey's fields and puts domains and MX hosts in
// canonical form; at least one domain and a network administrator with an
// e-mail address are required.
func (s *Survey) Normalize() error {
	ds, err := normalizeDomains(s.Domains)
	if err != nil {
		return err
	}
	if len(ds) == 0 {
		return fmt.Errorf("%w: the survey needs at least one domain", ErrInvalid)
	}
	s.Domains = ds
	mx := []string{}
	for _, h := range s.PublishedMX {
		if strings.TrimSpace(h) == "" {
			continue
		}
		n, err := NormalizeDomain(h)
		if err != nil {
			return fmt.Errorf("published MX: %w", err)
		}
		mx = append(mx, n)
	}
	if len(mx) > 20 {
		return fmt.Errorf("%w: at most 20 MX hosts", ErrInvalid)
	}
	s.PublishedMX = mx
	if s.Clients, err = cleanList(s.Clients, 30); err != nil {
		return err
	}
	if err := s.NetAdmin.validate("network_admin"); err != nil {
		return err
	}
	if s.NetAdmin.Email == "" {
		return fmt.Errorf("%w: the network administrator's e-mail address is required", ErrInvalid)
	}
	if err := s.Leader.validate("leader"); err != nil {
		return err
	}
	for _, c := range []struct {
		f string
		n *int
	}{{"staff", s.Staff}, {"students", s.Students}, {"mailbox_mb", s.MailboxMB}, {"published_ttl", s.PublishedTTL}} {
		if err := validCount(c.f, c.n); err != nil {
			return err
		}
	}
	if s.WishedDate != "" {
		if _, err := time.Parse(time.DateOnly, s.WishedDate); err != nil {
			return fmt.Errorf("%w: wished_date %q must be a date YYYY-MM-DD", ErrInvalid, s.WishedDate)
		}
	}
	for _, f := range []string{s.CurrentSystem, s.CurrentHost} {
		if len(f) > 200 || strings.ContainsAny(f, "\r\n") {
			return fmt.Errorf("%w: current_system and current_host are one line of at most 200 characters", ErrInvalid)
		}
	}
	if len(s.Notes) > 10_000 {
		return fmt.Errorf("%w: notes are at most 10000 characters", ErrInvalid)
	}
	return nil
}

// apply copies what the survey says about the unit into u: the survey is
// the unit's own word on its domains, people and contacts.
func (s Survey) apply(u *Unit) {
	u.Domains = s.Domains
	if s.Staff != nil {
		u.People.Staff = s.Staff
	}
	if s.Students != nil {
		u.People.Students = s.Students
	}
	if s.MailboxMB != nil {
		u.Quota.MailboxMB = s.MailboxMB
	}
	if !s.NetAdmin.IsZero() {
		u.NetAdmin = s.NetAdmin
	}
	if !s.Leader.IsZero() {
		u.Leader = s.Leader
	}
}

// SurveyLink is a one-time link to the survey form. Only the token's
// SHA-256 is stored; the token itself is shown once, when the link is
// made.
type SurveyLink struct {
	ID        int64     `json:"id"`
	UnitID    int64     `json:"unit_id"`
	TokenHash string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	ExpiresAt time.Time `json:"expires_at"`
	UsedAt    time.Time `json:"used_at,omitzero"`
	// Token and URL are set only in the answer that makes the link.
	Token string `json:"token,omitempty"`
	URL   string `json:"url,omitempty"`
}

// NewToken returns a fresh random token (256 bits, URL-safe) and its hash.
func NewToken() (token, hash string) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashToken(token)
}

// HashToken is the stored form of a survey token.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// WellFormedToken reports whether token can be one NewToken made, so that
// garbage is refused before it reaches the database.
func WellFormedToken(token string) bool {
	if len(token) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(token)
	return err == nil
}
