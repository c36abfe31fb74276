// Package units owns the units that join the central mail service —
// institutes and departments with their own domains — and the migration
// workflow that brings each one on (docs/units.md): the unit record
// (domains, leader, network administrator, contacts, people, quota policy,
// status, services), the survey a unit fills in through a one-time link,
// the plan with its documents, the work order to the system
// administrators, and the checklist of dated steps derived from the
// migration date (Plan, pure time maths in the service time zone). The
// Service records every step with its outcome and who did it, sends each
// due reminder once (mail, and the on-call channels through oncall/page),
// and runs the DNS checks of the unit's MX (oncall/units/dnscheck) until
// they are right.
//
// The checklist follows the migration routine of the design brief's
// domain notes (a Chinese academy network centre): survey of domains, DNS,
// clients, users and capacity; the MX record's TTL lowered two days
// before; the MX switched and the result tested on the day; follow-up
// contacts after 1 day, 1 week, 2 weeks, 1 month, then monthly.
package units

import (
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Errors the service returns; the API maps them to 400, 404 and 409.
var (
	ErrInvalid     = errors.New("invalid")
	ErrNotFound    = errors.New("not found")
	ErrTransition  = errors.New("not allowed in this state")
	ErrLinkInvalid = errors.New("survey link unknown, used or expired")
	// ErrConflict: a domain already belongs to another unit.
	ErrConflict = errors.New("conflict")
)

// Status is where a unit stands on its way onto the central service.
type Status string

// The statuses in their order. A unit starts as StatusNew (recorded by the
// team, not yet surveyed).
const (
	StatusNew       Status = "new"
	StatusSurveyed  Status = "surveyed"
	StatusPlanned   Status = "planned"
	StatusMigrating Status = "migrating"
	StatusLive      Status = "live"
)

// Statuses lists every status in order.
func Statuses() []Status {
	return []Status{StatusNew, StatusSurveyed, StatusPlanned, StatusMigrating, StatusLive}
}

// Valid reports whether s is one of Statuses.
func (s Status) Valid() bool { return slices.Contains(Statuses(), s) }

// Contact is a person at a unit.
type Contact struct {
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone,omitempty"`
	// Role says what the person is to the unit ("IT contact", "secretary");
	// the leader and the network administrator have fields of their own.
	Role string `json:"role,omitempty"`
}

// IsZero reports whether c names nobody.
func (c Contact) IsZero() bool { return c.Name == "" && c.Email == "" && c.Phone == "" }

// Address is c as an RFC 5322 address ("Name <addr>"), or "" without one.
func (c Contact) Address() string {
	if c.Email == "" {
		return ""
	}
	return (&mail.Address{Name: c.Name, Address: c.Email}).String()
}

func (c Contact) validate(field string) error {
	if c.Email != "" {
		a, err := mail.ParseAddress(c.Email)
		if err != nil || a.Address != c.Email {
			return fmt.Errorf("%w: %s e-mail %q is not an address", ErrInvalid, field, c.Email)
		}
	}
	if len(c.Name) > 200 || len(c.Phone) > 50 || len(c.Role) > 100 {
		return fmt.Errorf("%w: %s: name, phone or role too long", ErrInvalid, field)
	}
	if strings.ContainsAny(c.Name+c.Phone+c.Role, "\r\n") {
		return fmt.Errorf("%w: %s: line breaks are not allowed", ErrInvalid, field)
	}
	return nil
}

// People is how many people a unit has. A nil count is not known (shown
// as missing, never as 0).
type People struct {
	Staff    *int `json:"staff"`
	Students *int `json:"students"`
}

// Quota is the unit's mailbox quota policy.
type Quota struct {
	// MailboxMB is the mailbox size the unit's people get; nil: the
	// service's default.
	MailboxMB *int `json:"mailbox_mb"`
	// Note says why or for whom ("5 GB for professors").
	Note string `json:"note,omitempty"`
}

// Unit is a unit on its way onto, or on, the central service.
type Unit struct {
	ID       int64     `json:"id"`
	Name     string    `json:"name"`
	Domains  []string  `json:"domains"`
	Leader   Contact   `json:"leader"`
	NetAdmin Contact   `json:"network_admin"`
	Contacts []Contact `json:"contacts"`
	People   People    `json:"people"`
	Quota    Quota     `json:"quota"`
	Status   Status    `json:"status"`
	// Services are the IDs of the central services the unit uses
	// (tickets.services: smtp, imap, lists …).
	Services []string `json:"services"`
	// Assignee is the team member who leads the migration: an e-mail
	// address, or a name whose reminders go to units.team_address.
	Assignee string `json:"assignee"`
	// MigrationAt is the planned switch of the MX; zero until planned.
	MigrationAt time.Time `json:"migration_at,omitzero"`
	Notes       string    `json:"notes,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// Survey is the unit's latest answer to the survey; nil until then.
	Survey *Survey `json:"survey"`
}

// Recipients are the addresses of the unit's leader, network administrator
// and other contacts, without duplicates — who a notice to the unit
// reaches.
func (u Unit) Recipients() []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range append([]Contact{u.Leader, u.NetAdmin}, u.Contacts...) {
		k := strings.ToLower(c.Email)
		if k == "" || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, c.Address())
	}
	return out
}

var domainRE = regexp.MustCompile(`^(?i)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$`)

// NormalizeDomain lower-cases d and drops a final dot; it returns an error
// wrapping ErrInvalid unless d is a host name (RFC 1123 §2.1).
func NormalizeDomain(d string) (string, error) {
	d = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
	if len(d) > 253 || !domainRE.MatchString(d) {
		return "", fmt.Errorf("%w: domain %q is not a domain name", ErrInvalid, d)
	}
	return d, nil
}

func normalizeDomains(in []string) ([]string, error) {
	var out []string
	for _, d := range in {
		n, err := NormalizeDomain(d)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if len(out) > 100 {
		return nil, fmt.Errorf("%w: at most 100 domains", ErrInvalid)
	}
	return out, nil
}

func validCount(field string, n *int) error {
	if n != nil && (*n < 0 || *n > 10_000_000) {
		return fmt.Errorf("%w: %s must be between 0 and 10000000, not %d", ErrInvalid, field, *n)
	}
	return nil
}

// Normalize checks u and puts its domains in canonical form. Status must
// be set.
func (u *Unit) Normalize() error {
	u.Name = strings.TrimSpace(u.Name)
	if u.Name == "" || len(u.Name) > 200 || strings.ContainsAny(u.Name, "\r\n") {
		return fmt.Errorf("%w: a unit needs a name of one line, at most 200 characters", ErrInvalid)
	}
	ds, err := normalizeDomains(u.Domains)
	if err != nil {
		return err
	}
	u.Domains = ds
	if !u.Status.Valid() {
		return fmt.Errorf("%w: status %q: must be one of %s", ErrInvalid, u.Status, statusList())
	}
	errs := []error{u.Leader.validate("leader"), u.NetAdmin.validate("network_admin"),
		validCount("people.staff", u.People.Staff), validCount("people.students", u.People.Students),
		validCount("quota.mailbox_mb", u.Quota.MailboxMB)}
	for i, c := range u.Contacts {
		errs = append(errs, c.validate(fmt.Sprintf("contacts[%d]", i)))
	}
	errs = append(errs, validAssignee(u.Assignee))
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if len(u.Contacts) > 50 || len(u.Services) > 50 || len(u.Notes) > 10_000 || len(u.Assignee) > 200 || len(u.Quota.Note) > 500 {
		return fmt.Errorf("%w: too many contacts or services, or too long a note", ErrInvalid)
	}
	if u.Domains == nil {
		u.Domains = []string{}
	}
	if u.Contacts == nil {
		u.Contacts = []Contact{}
	}
	if u.Services == nil {
		u.Services = []string{}
	}
	return nil
}

// validAssignee checks an assignee: one line of at most 200 characters
// (an address or a name).
func validAssignee(a string) error {
	if len(a) > 200 || strings.ContainsAny(a, "\r\n") {
		return fmt.Errorf("%w: an assignee is one line of at most 200 characters", ErrInvalid)
	}
	return nil
}

func statusList() string {
	var s []string
	for _, st := range Statuses() {
		s = append(s, string(st))
	}
	return strings.Join(s, ", ")
}

// Event is one line of a unit's history: who did what, when.
type Event struct {
	ID     int64     `json:"id"`
	UnitID int64     `json:"unit_id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Kind   string    `json:"kind"`
	StepID int64     `json:"step_id,omitempty"`
	Text   string    `json:"text"`
}

// Event kinds, a closed set.
const (
	EventCreated   = "created"
	EventUpdated   = "updated"
	EventLink      = "survey_link"
	EventSurvey    = "survey"
	EventPlanned   = "planned"
	EventDocuments = "documents"
	EventWorkOrder = "work_order"
	EventReminder  = "reminder"
	EventStep      = "step"
	EventCheck     = "dns_check"
	EventMail      = "mail"
	EventStatus    = "status"
	EventRef       = "reference"
)

// Ref scopes a ticket or a notice to a unit.
type Ref struct {
	UnitID int64     `json:"unit_id"`
	Kind   string    `json:"kind"` // RefTicket or RefNotice
	RefID  int64     `json:"ref_id"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
}

// The kinds of Ref.
const (
	RefTicket = "ticket"
	RefNotice = "notice"
)
