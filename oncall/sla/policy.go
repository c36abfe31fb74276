// Package sla owns service-level policies and the clocks they run: a
// response target (e.g. "investigation starts within one hour of a fault
// notified 09:00–17:00 on a working day", the UK submission SLA), optional
// update and resolution targets, what happens outside the business
// calendar (best effort, or the clock starts at the next opening), which
// ticket states pause a clock, and whether a clock counts business time or
// wall time.
//
// Everything here is a pure function of (policy, input, now): the ticket
// service and `postvakt sla explain` call the same Evaluate, so what the
// command explains is what the tickets do. A policy is identified by a
// version hash of its canonical JSON, which tickets freeze when they open.
package sla

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/config/validate"
	"github.com/uni-mail/postvakt/oncall/calendar"
)

// Outside-hours modes: what a response clock does when the fault is
// notified while the calendar is closed.
const (
	// BestEffort tracks the clock but never counts it as breached
	// ("best endeavours, no commitment").
	BestEffort = "best_effort"
	// NextOpening starts the clock at the calendar's next opening.
	NextOpening = "next_opening"
)

// Time bases: what a clock counts toward its target.
const (
	// Business counts only the calendar's open time.
	Business = "business"
	// Wall counts all elapsed time (a 60-minute target is 60 real minutes).
	Wall = "wall"
)

// Ticket states with a meaning to the clocks. The resolution clock stops
// while a ticket is resolved or closed and resumes when it is reopened.
const (
	StateResolved = "resolved"
	StateClosed   = "closed"
)

// DefaultWarnPercent is the pre-breach warning threshold when a policy
// sets none.
const DefaultWarnPercent = 75

// Policy is one SLA policy as configured under sla.policies.
//
// Example (the UK message submission SLA):
//
//	name: standard
//	calendar:
//	  name: sla-hours
//	  time_zone: Europe/London
//	  hours: [{days: [mon-fri], start: "09:00", end: "17:00"}]
//	  countries: [gb]
//	response: 1h
//	outside_hours: best_effort
//	time: business
//	pause_states: [waiting]
//	warn_percent: 75
type Policy struct {
	// Name identifies the policy in configuration, tickets and reports.
	Name string `yaml:"name" json:"name"`
	// Calendar defines "inside hours" and, for business-time clocks, the
	// time that counts.
	Calendar calendar.Spec `yaml:"calendar" json:"calendar"`
	// Response is the response target: the time from notification to the
	// first acknowledgement or start of investigation.
	Response time.Duration `yaml:"response" json:"response"`
	// OutsideHours is best_effort or next_opening.
	OutsideHours string `yaml:"outside_hours" json:"outside_hours"`
	// Update, when set, is the longest time between updates while the
	// ticket is open (measured from the response, then from each update).
	Update time.Duration `yaml:"update" json:"update,omitempty"`
	// Resolution, when set, is the resolution target from notification.
	Resolution time.Duration `yaml:"resolution" json:"resolution,omitempty"`
	// PauseStates are ticket states whose time every clock excludes
	// (typically "waiting" for the reporter or a third party).
	PauseStates []string `yaml:"pause_states" json:"pause_states,omitempty"`
	// Time is business or wall.
	Time string `yaml:"time" json:"time"`
	// WarnPercent is the share of a target after which the on-call is
	// warned before the breach, 1–99; 0 means DefaultWarnPercent.
	WarnPercent int `yaml:"warn_percent" json:"warn_percent"`
}

// ErrInvalid is wrapped by every validation error of this package, beside
// validate.ErrInvalid.
var ErrInvalid = errors.New("invalid SLA policy")

// bad is a validation error naming a key relative to the sla section, its
// value and what is wrong.
func bad(key, value, format string, a ...any) error {
	return validate.Fieldf(key, value, format, a...).Wrapping(ErrInvalid)
}

// Normalized returns p with defaults applied: outside_hours best_effort,
// time business, warn_percent DefaultWarnPercent.
func (p Policy) Normalized() Policy {
	if p.OutsideHours == "" {
		p.OutsideHours = BestEffort
	}
	if p.Time == "" {
		p.Time = Business
	}
	if p.WarnPercent == 0 {
		p.WarnPercent = DefaultWarnPercent
	}
	if p.Calendar.Name == "" {
		p.Calendar.Name = p.Name
	}
	return p
}

// Validate checks p, with keys relative to prefix (e.g. "policies[0]").
func (p Policy) Validate(prefix string) error {
	p = p.Normalized()
	var errs []error
	k := func(s string) string { return prefix + "." + s }
	if p.Name == "" {
		errs = append(errs, bad(k("name"), "", "required"))
	}
	if p.Response <= 0 {
		errs = append(errs, bad(k("response"), p.Response.String(), "must be a positive duration such as 1h"))
	}
	if p.Update < 0 {
		errs = append(errs, bad(k("update"), p.Update.String(), "must not be negative"))
	}
	if p.Resolution < 0 {
		errs = append(errs, bad(k("resolution"), p.Resolution.String(), "must not be negative"))
	}
	switch p.OutsideHours {
	case BestEffort, NextOpening:
	default:
		errs = append(errs, bad(k("outside_hours"), p.OutsideHours, "must be best_effort or next_opening"))
	}
	switch p.Time {
	case Business, Wall:
	default:
		errs = append(errs, bad(k("time"), p.Time, "must be business or wall"))
	}
	if p.WarnPercent < 1 || p.WarnPercent > 99 {
		errs = append(errs, bad(k("warn_percent"), fmt.Sprint(p.WarnPercent), "must be between 1 and 99"))
	}
	for i, s := range p.PauseStates {
		if s == StateResolved || s == StateClosed || strings.TrimSpace(s) == "" {
			errs = append(errs, bad(fmt.Sprintf("%s[%d]", k("pause_states"), i), s, "must name an open ticket state such as waiting"))
		}
	}
	if err := p.Calendar.Validate(); err != nil {
		for _, e := range unjoin(err) {
			errs = append(errs, bad(k("calendar"), p.Calendar.Name, "%v", e))
		}
	}
	return errors.Join(errs...)
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// Hash returns the policy's version: the hex SHA-256 of its normalized
// canonical JSON, shortened to 16 hex digits. Equal policies have equal
// hashes; any change to a target, the calendar or a mode changes it.
func (p Policy) Hash() string {
	b, err := json.Marshal(p.Normalized())
	if err != nil {
		panic(fmt.Sprintf("sla: marshal policy: %v", err)) // plain data, cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

// Config is the sla section of the configuration.
type Config struct {
	// Policies lists the SLA policies by name.
	Policies []Policy `yaml:"policies"`
	// DefaultPolicy names the policy of tickets that no rule below matches.
	DefaultPolicy string `yaml:"default_policy"`
	// BySeverity maps a ticket severity to a policy name; it wins over
	// ByService.
	BySeverity map[string]string `yaml:"by_severity"`
	// ByService maps a ticket service component to a policy name.
	ByService map[string]string `yaml:"by_service"`
}

// DefaultConfig is one "standard" policy: Europe/Oslo, 09:00–17:00 on
// Norwegian working days, response within one business hour, best effort
// outside, "waiting" pauses, warning at 75 %.
func DefaultConfig() Config {
	return Config{
		Policies: []Policy{{
			Name: "standard",
			Calendar: calendar.Spec{
				Name: "sla-hours", TimeZone: "Europe/Oslo",
				Hours:     []calendar.Hours{{Days: []string{"mon-fri"}, Start: "09:00", End: "17:00"}},
				Countries: []string{"no"},
			},
			Response: time.Hour, OutsideHours: BestEffort, Time: Business,
			PauseStates: []string{"waiting"}, WarnPercent: DefaultWarnPercent,
		}},
		DefaultPolicy: "standard",
	}
}

// Validate checks the section; keys are relative to "sla".
func (c Config) Validate() error {
	var errs []error
	names := map[string]bool{}
	for i, p := range c.Policies {
		prefix := fmt.Sprintf("policies[%d]", i)
		if err := p.Validate(prefix); err != nil {
			errs = append(errs, unjoin(err)...)
		}
		if names[p.Name] {
			errs = append(errs, bad(prefix+".name", p.Name, "duplicate policy name"))
		}
		names[p.Name] = true
	}
	if len(c.Policies) > 0 && !names[c.DefaultPolicy] {
		errs = append(errs, bad("default_policy", c.DefaultPolicy, "must name one of sla.policies"))
	}
	for _, m := range []struct {
		key string
		m   map[string]string
	}{{"by_severity", c.BySeverity}, {"by_service", c.ByService}} {
		for k, v := range m.m {
			if !names[v] {
				errs = append(errs, bad(m.key+"."+k, v, "must name one of sla.policies"))
			}
		}
	}
	return errors.Join(errs...)
}

// Policy returns the policy named name.
func (c Config) Policy(name string) (Policy, bool) {
	i := slices.IndexFunc(c.Policies, func(p Policy) bool { return p.Name == name })
	if i < 0 {
		return Policy{}, false
	}
	return c.Policies[i], true
}

// Select returns the policy for a ticket of the given severity and
// service: by_severity, then by_service, then default_policy.
func (c Config) Select(severity, service string) (Policy, bool) {
	if n, ok := c.BySeverity[severity]; ok {
		return c.Policy(n)
	}
	if n, ok := c.ByService[service]; ok {
		return c.Policy(n)
	}
	return c.Policy(c.DefaultPolicy)
}
