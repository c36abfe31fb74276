package incident

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors wrapped by PolicySpec.Validate and the Service.
var (
	// ErrInvalidPolicy reports a bad escalation policy in configuration.
	ErrInvalidPolicy = errors.New("invalid escalation policy")
	// ErrNotFound reports an incident that does not exist.
	ErrNotFound = errors.New("incident not found")
	// ErrConflict reports an open incident with the same key.
	ErrConflict = errors.New("incident conflict")
)

// TargetKind says whom a step pages. It is a closed set.
type TargetKind string

// The TargetKind values.
const (
	// TargetOnCall pages whoever holds the policy's rota at the instant the
	// step fires (overrides and swaps honoured).
	TargetOnCall TargetKind = "oncall"
	// TargetNext pages whoever holds the rota after the current holder:
	// "the next person in the rota".
	TargetNext TargetKind = "next"
	// TargetMember pages a named member (e.g. the team lead).
	TargetMember TargetKind = "member"
	// TargetChannel posts to the team channel (Slack) without a DM.
	TargetChannel TargetKind = "channel"
)

// Target is one recipient of a step.
type Target struct {
	Kind   TargetKind
	Member string // for TargetMember
}

func (t Target) String() string {
	if t.Kind == TargetMember {
		return "member:" + t.Member
	}
	return string(t.Kind)
}

// ParseTarget parses "oncall", "next", "channel" or "member:ID".
func ParseTarget(s string) (Target, error) {
	switch s {
	case "oncall", "next", "channel":
		return Target{Kind: TargetKind(s)}, nil
	}
	if id, ok := strings.CutPrefix(s, "member:"); ok && id != "" {
		return Target{Kind: TargetMember, Member: id}, nil
	}
	return Target{}, fmt.Errorf("target %q: want oncall, next, channel or member:ID", s)
}

// Rule is what a step does when it falls due outside operator cover.
type Rule string

// The Rule values.
const (
	RulePage  Rule = "page"  // page at once, cover or not
	RuleHold  Rule = "hold"  // hold the page until cover starts; later steps keep their delays
	RuleQuiet Rule = "quiet" // never page outside cover; the incident stays open and listed
)

// StepSpec is one step of an escalation policy in configuration.
type StepSpec struct {
	// After is the delay from the start of the round (the incident's
	// opening, for the first round) until the step fires.
	After time.Duration `yaml:"after"`
	// Notify lists targets: oncall, next, channel, member:ID.
	Notify []string `yaml:"notify"`
}

// PolicySpec is an escalation policy in configuration.
//
//	name: mail-default
//	rota: ukevakt
//	steps:
//	  - after: 0s
//	    notify: ["oncall"]
//	  - after: 15m
//	    notify: ["next"]
//	  - after: 30m
//	    notify: ["member:lead", "channel"]
//	repeat: 1
//	repeat_after: 30m
//	out_of_hours: {critical: page, default: hold}
type PolicySpec struct {
	Name  string     `yaml:"name"`
	Rota  string     `yaml:"rota"`
	Steps []StepSpec `yaml:"steps"`
	// Repeat is how many more times the whole list of steps runs after the
	// last step while nobody acknowledges.
	Repeat int `yaml:"repeat"`
	// RepeatAfter is the pause between the last step of a round and the
	// start of the next; default 15m.
	RepeatAfter time.Duration `yaml:"repeat_after"`
	// OutOfHours maps a severity (or "default") to page, hold or quiet for
	// steps that fall due outside the rota's cover calendar. Without an
	// entry, the rule is page.
	OutOfHours map[string]string `yaml:"out_of_hours"`
}

// Step is a compiled StepSpec.
type Step struct {
	After   time.Duration
	Targets []Target
}

// Policy is a compiled, immutable PolicySpec. Its methods are pure.
type Policy struct {
	Name        string
	Rota        string
	Steps       []Step
	Repeat      int
	RepeatAfter time.Duration
	OutOfHours  map[string]Rule
}

// Compile validates spec and returns its Policy. Errors name the field.
func Compile(spec PolicySpec) (Policy, error) {
	p := Policy{Name: spec.Name, Rota: spec.Rota, Repeat: spec.Repeat, RepeatAfter: spec.RepeatAfter, OutOfHours: map[string]Rule{}}
	var errs []error
	bad := func(field, value, msg string) {
		errs = append(errs, fmt.Errorf("policy %q: %s %q: %s: %w", spec.Name, field, value, msg, ErrInvalidPolicy))
	}
	if spec.Name == "" {
		bad("name", "", "required")
	}
	if spec.Rota == "" {
		bad("rota", "", "required")
	}
	if len(spec.Steps) == 0 {
		bad("steps", "", "at least one step is required")
	}
	if p.RepeatAfter == 0 {
		p.RepeatAfter = 15 * time.Minute
	}
	if spec.Repeat < 0 || spec.Repeat > 100 {
		bad("repeat", fmt.Sprint(spec.Repeat), "must be between 0 and 100")
	}
	if p.RepeatAfter < 0 {
		bad("repeat_after", spec.RepeatAfter.String(), "must not be negative")
	}
	var prev time.Duration
	for i, s := range spec.Steps {
		if s.After < prev {
			bad(fmt.Sprintf("steps[%d].after", i), s.After.String(), "must not be before the previous step's")
		}
		prev = s.After
		if len(s.Notify) == 0 {
			bad(fmt.Sprintf("steps[%d].notify", i), "", "at least one target is required")
		}
		st := Step{After: s.After}
		for j, n := range s.Notify {
			tg, err := ParseTarget(n)
			if err != nil {
				bad(fmt.Sprintf("steps[%d].notify[%d]", i, j), n, "want oncall, next, channel or member:ID")
				continue
			}
			st.Targets = append(st.Targets, tg)
		}
		p.Steps = append(p.Steps, st)
	}
	for sev, r := range spec.OutOfHours {
		switch Rule(r) {
		case RulePage, RuleHold, RuleQuiet:
			p.OutOfHours[strings.ToLower(sev)] = Rule(r)
		default:
			bad("out_of_hours."+sev, r, "want page, hold or quiet")
		}
	}
	return p, errors.Join(errs...)
}

// State is where an incident stands in its policy: the next step to fire
// in which round, and when that round started.
type State struct {
	Round      int
	Step       int
	RoundStart time.Time
}

// Due returns when the state's step falls due, ignoring cover. ok is false
// when the policy is exhausted (past the last step of the last round).
func (p Policy) Due(st State) (time.Time, bool) {
	if st.Round > p.Repeat || st.Step >= len(p.Steps) || st.Step < 0 {
		return time.Time{}, false
	}
	return st.RoundStart.Add(p.Steps[st.Step].After), true
}

// Advance returns the state after the state's step has fired: the next
// step, or the first step of the next round, which starts RepeatAfter after
// the last step's due time.
func (p Policy) Advance(st State) State {
	if st.Step+1 < len(p.Steps) {
		return State{Round: st.Round, Step: st.Step + 1, RoundStart: st.RoundStart}
	}
	last := st.RoundStart.Add(p.Steps[len(p.Steps)-1].After)
	return State{Round: st.Round + 1, Step: 0, RoundStart: last.Add(p.RepeatAfter)}
}

// RuleFor returns the out-of-hours rule for a severity.
func (p Policy) RuleFor(severity string) Rule {
	if r, ok := p.OutOfHours[strings.ToLower(severity)]; ok {
		return r
	}
	if r, ok := p.OutOfHours["default"]; ok {
		return r
	}
	return RulePage
}

// Cover is operator cover: *calendar.Calendar implements it.
type Cover interface {
	IsOpen(t time.Time) bool
	NextOpen(t time.Time) time.Time
}

// Next returns when the state's step fires and the state to store with
// it. Inside cover (or with a nil cover, or rule page) the step fires when
// due. Outside cover, rule hold shifts the round so that the step fires
// when cover next opens and the later steps keep their delays from it;
// rule quiet returns ok false, as does an exhausted policy.
func (p Policy) Next(st State, severity string, cover Cover) (State, time.Time, bool) {
	due, ok := p.Due(st)
	if !ok {
		return st, time.Time{}, false
	}
	if cover == nil || cover.IsOpen(due) {
		return st, due, true
	}
	switch p.RuleFor(severity) {
	case RuleHold:
		open := cover.NextOpen(due)
		st.RoundStart = st.RoundStart.Add(open.Sub(due))
		return st, open, true
	case RuleQuiet:
		return st, time.Time{}, false
	}
	return st, due, true
}
