package complaint

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/engine/spam"
)

// RuleState is where a rule stands: proposed by a complaint, accepted
// (active in the scorer) or rejected by a postmaster.
type RuleState string

// The rule states.
const (
	Proposed RuleState = "proposed"
	Active   RuleState = "active"
	Rejected RuleState = "rejected"
)

// Errors the service returns; the API maps them to 400, 404 and 409.
var (
	ErrInvalid    = errors.New("invalid")
	ErrNotFound   = errors.New("not found")
	ErrTransition = errors.New("not allowed in this state")
	// ErrBusy: more complaints in the last hour than allowed.
	ErrBusy = errors.New("too many complaints")
)

// Rule is a filter rule proposed from complaints: a spam.LocalRule with
// its state and the complaints behind it.
type Rule struct {
	ID         int64     `json:"id"`
	Kind       string    `json:"kind"`
	Header     string    `json:"header,omitempty"`
	Value      string    `json:"value"`
	Score      float64   `json:"score"`
	State      RuleState `json:"state"`
	ProposedAt time.Time `json:"proposed_at"`
	DecidedAt  time.Time `json:"decided_at,omitzero"`
	DecidedBy  string    `json:"decided_by,omitempty"`
	// Complaints are the IDs of the complaints that proposed the rule.
	Complaints []int64 `json:"complaints"`
}

// Key identifies a rule by what it matches.
func (r Rule) Key() string { return r.Kind + "\x00" + strings.ToLower(r.Header) + "\x00" + r.Value }

// Local is the rule as the scorer uses it.
func (r Rule) Local() spam.LocalRule {
	return spam.LocalRule{ID: r.ID, Kind: r.Kind, Header: r.Header, Value: r.Value, Score: r.Score}
}

// Complaint is one complaint to the abuse address, kept with what was
// read from it and the rules it proposed.
type Complaint struct {
	ID         int64     `json:"id"`
	ReceivedAt time.Time `json:"received_at"`
	Reporter   string    `json:"reporter"`
	Subject    string    `json:"subject"`
	Parsed     Parsed    `json:"parsed"`
	// Rules are the IDs of the rules the complaint proposed.
	Rules []int64 `json:"rules"`
}

// Store keeps complaints and rules (internal/store/complaintstore).
type Store interface {
	// AddComplaint stores c and links it to rules: each rule not yet known
	// by Key is added as proposed; a known one (in any state) is linked.
	AddComplaint(ctx context.Context, c Complaint, rules []Rule) (Complaint, error)
	// Complaint returns one complaint with its rule IDs; ErrNotFound.
	Complaint(ctx context.Context, id int64) (Complaint, error)
	// Complaints are the newest complaints first, at most limit.
	Complaints(ctx context.Context, limit int) ([]Complaint, error)
	// Rule returns one rule with its complaint IDs; ErrNotFound.
	Rule(ctx context.Context, id int64) (Rule, error)
	// Rules are the rules in state (all when ""), by ID, with their
	// complaint IDs.
	Rules(ctx context.Context, state RuleState) ([]Rule, error)
	// CountComplaints counts the complaints received at or after since.
	CountComplaints(ctx context.Context, since time.Time) (int, error)
	// DecideRules moves the rules among ids that are in state from to
	// state to, recording when and by whom, and returns how many moved.
	DecideRules(ctx context.Context, ids []int64, from, to RuleState, at time.Time, by string) (int, error)
}

// Config is content.complaints.
type Config struct {
	// Address is the abuse address users forward spam to; empty: no
	// complaint intake.
	Address string `yaml:"address"`
	// RuleScore is the score an accepted sender or domain rule adds; a
	// header rule adds half of it. Default 10 (twice the threshold).
	RuleScore float64 `yaml:"rule_score"`
	// ExemptDomains are domains never proposed for blocking (freemail
	// providers whose every user a block would hit); the engine's own
	// domains are exempt too.
	ExemptDomains []string `yaml:"exempt_domains"`
	// ReloadEvery is how often a running engine reads the accepted rules
	// from the database (every replica); default 30s.
	ReloadEvery time.Duration `yaml:"reload_every"`
	// MaxBytes bounds one complaint; default 10 MiB.
	MaxBytes int64 `yaml:"max_bytes"`
	// MaxPerHour bounds the complaints read in any hour, over all
	// senders (the abuse address is open to anyone); beyond it a
	// complaint is delivered but proposes nothing. Default 200.
	MaxPerHour int `yaml:"max_per_hour"`
}

// DefaultConfig is the section's defaults.
func DefaultConfig() Config {
	return Config{RuleScore: 10, ReloadEvery: 30 * time.Second, MaxBytes: 10 << 20, MaxPerHour: 200,
		ExemptDomains: []string{"gmail.com", "outlook.com", "hotmail.com", "yahoo.com"}}
}

// Options configure a Service.
type Options struct {
	Config Config
	Store  Store
	// Local reports whether a domain is one of ours (exempt); nil: none.
	Local func(ctx context.Context, domain string) bool
	// OnChange is called after rules were accepted or rejected, so that
	// this process's engine reloads at once; nil: the periodic reload.
	OnChange func()
	// Counted is told the result of every complaint taken (Results);
	// nil: not counted.
	Counted func(result string)
	Logger  *slog.Logger
	Now     func() time.Time
}

// The results of Intake, a closed set (the metric's label).
const (
	ResultTaken    = "taken"
	ResultNoSpam   = "no_spam"
	ResultTooLarge = "too_large"
	ResultBusy     = "busy"
	ResultError    = "error"
)

// Results lists the results of Intake.
func Results() []string {
	return []string{ResultTaken, ResultNoSpam, ResultTooLarge, ResultBusy, ResultError}
}

func result(err error) string {
	switch {
	case err == nil:
		return ResultTaken
	case errors.Is(err, ErrNoSpam):
		return ResultNoSpam
	case errors.Is(err, ErrTooLarge):
		return ResultTooLarge
	case errors.Is(err, ErrBusy):
		return ResultBusy
	}
	return ResultError
}

// Service takes complaints and decides their rules.
type Service struct{ o Options }

// New returns a Service.
func New(o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Config.RuleScore == 0 {
		o.Config.RuleScore = 10
	}
	return &Service{o: o}
}

// Config is the service's configuration.
func (s *Service) Config() Config { return s.o.Config }

func (s *Service) exempt(ctx context.Context, d string) bool {
	for _, e := range s.o.Config.ExemptDomains {
		if inDomain(d, strings.ToLower(e)) {
			return true
		}
	}
	return s.o.Local != nil && s.o.Local(ctx, d)
}

func inDomain(host, d string) bool { return host == d || strings.HasSuffix(host, "."+d) }

func domainOf(a string) string {
	if i := strings.LastIndexByte(a, '@'); i >= 0 {
		return strings.ToLower(a[i+1:])
	}
	return ""
}

// Propose lists the rules a parsed complaint proposes: a sender rule for
// every sender address (Return-Path, From) and a domain rule for every
// sender domain and URL host that is not exempt, and a header rule for a
// Subject of at least 12 characters. Each rule once.
func (s *Service) Propose(ctx context.Context, p Parsed) []Rule {
	var out []Rule
	seen := map[string]bool{}
	add := func(r Rule) {
		if k := r.Key(); !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	score := s.o.Config.RuleScore
	for _, sp := range p.Spam {
		for _, a := range sp.Senders() {
			if d := domainOf(a); d != "" && s.o.Local != nil && s.o.Local(ctx, d) {
				continue // our own users' addresses are not blocked from a complaint
			}
			add(Rule{Kind: spam.LocalSender, Value: a, Score: score})
		}
		for _, a := range sp.Senders() {
			if d := domainOf(a); d != "" && !s.exempt(ctx, d) {
				add(Rule{Kind: spam.LocalDomain, Value: d, Score: score})
			}
		}
		for _, h := range sp.URLHosts {
			if !s.exempt(ctx, h) {
				add(Rule{Kind: spam.LocalDomain, Value: h, Score: score})
			}
		}
		if len(sp.Subject) >= 12 {
			add(Rule{Kind: spam.LocalHeader, Header: "Subject", Value: strings.ToLower(sp.Subject), Score: score / 2})
		}
	}
	return out
}

// Intake reads a complaint sent to the abuse address, keeps it and the
// rules it proposes. ErrNoSpam and ErrTooLarge (wrapping ErrInvalid) for a
// complaint that carries no spam or is too large, and ErrBusy past
// Config.MaxPerHour: nothing is stored.
func (s *Service) Intake(ctx context.Context, r io.Reader) (Complaint, error) {
	c, err := s.intake(ctx, r)
	if s.o.Counted != nil {
		s.o.Counted(result(err))
	}
	return c, err
}

func (s *Service) intake(ctx context.Context, r io.Reader) (Complaint, error) {
	if max := s.o.Config.MaxPerHour; max > 0 {
		n, err := s.o.Store.CountComplaints(ctx, s.o.Now().Add(-time.Hour))
		if err != nil {
			return Complaint{}, err
		}
		if n >= max {
			return Complaint{}, fmt.Errorf("%w: %d complaints in the last hour (content.complaints.max_per_hour)", ErrBusy, n)
		}
	}
	p, err := Parse(r, Limits{MaxBytes: s.o.Config.MaxBytes})
	if err != nil {
		return Complaint{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	now := s.o.Now()
	rules := s.Propose(ctx, p)
	for i := range rules {
		rules[i].State, rules[i].ProposedAt = Proposed, now
	}
	c, err := s.o.Store.AddComplaint(ctx, Complaint{ReceivedAt: now, Reporter: p.Reporter, Subject: p.Subject, Parsed: p}, rules)
	if err != nil {
		return c, fmt.Errorf("store complaint: %w", err)
	}
	s.o.Logger.Info("spam complaint", "complaint", c.ID, "spam", len(p.Spam), "rules", len(c.Rules))
	return c, nil
}

// Complaint returns a complaint with the rules it proposed.
func (s *Service) Complaint(ctx context.Context, id int64) (Complaint, []Rule, error) {
	c, err := s.o.Store.Complaint(ctx, id)
	if err != nil {
		return c, nil, err
	}
	var rules []Rule
	for _, rid := range c.Rules {
		r, err := s.o.Store.Rule(ctx, rid)
		if err != nil {
			return c, nil, err
		}
		rules = append(rules, r)
	}
	return c, rules, nil
}

// Complaints are the newest complaints.
func (s *Service) Complaints(ctx context.Context, limit int) ([]Complaint, error) {
	if limit <= 0 || limit > 1000 {
		limit = 200
	}
	return s.o.Store.Complaints(ctx, limit)
}

// Rule returns a rule with the complaints behind it.
func (s *Service) Rule(ctx context.Context, id int64) (Rule, []Complaint, error) {
	r, err := s.o.Store.Rule(ctx, id)
	if err != nil {
		return r, nil, err
	}
	var cs []Complaint
	for _, cid := range r.Complaints {
		c, err := s.o.Store.Complaint(ctx, cid)
		if err != nil {
			return r, nil, err
		}
		cs = append(cs, c)
	}
	return r, cs, nil
}

// Rules are the rules in state ("" for all).
func (s *Service) Rules(ctx context.Context, state RuleState) ([]Rule, error) {
	switch state {
	case "", Proposed, Active, Rejected:
	default:
		return nil, fmt.Errorf("%w: state %q: must be proposed, active or rejected", ErrInvalid, state)
	}
	return s.o.Store.Rules(ctx, state)
}

// Decide accepts (to Active) or rejects (to Rejected) rules: ruleIDs, or
// when complaintID is set all the complaint's proposed rules — one action
// for a complaint. An active rule can be withdrawn (to Rejected).
func (s *Service) Decide(ctx context.Context, complaintID int64, ruleIDs []int64, to RuleState, actor string) (int, error) {
	if to != Active && to != Rejected {
		return 0, fmt.Errorf("%w: a rule is accepted (active) or rejected", ErrInvalid)
	}
	ids := ruleIDs
	if complaintID != 0 {
		c, err := s.o.Store.Complaint(ctx, complaintID)
		if err != nil {
			return 0, err
		}
		ids = c.Rules
	}
	if len(ids) == 0 {
		return 0, fmt.Errorf("%w: no rules named", ErrInvalid)
	}
	if len(ids) > 1000 {
		return 0, fmt.Errorf("%w: at most 1000 rules at once", ErrInvalid)
	}
	now := s.o.Now()
	n, err := s.o.Store.DecideRules(ctx, ids, Proposed, to, now, actor)
	if err != nil {
		return n, err
	}
	if to == Rejected && complaintID == 0 {
		m, err := s.o.Store.DecideRules(ctx, ids, Active, Rejected, now, actor)
		if err != nil {
			return n, err
		}
		n += m
	}
	if n == 0 {
		return 0, fmt.Errorf("no rule among %v could become %s: %w", ids, to, ErrTransition)
	}
	if s.o.OnChange != nil {
		s.o.OnChange()
	}
	return n, nil
}

// ActiveRules are the accepted rules, compiled for the scorer.
func (s *Service) ActiveRules(ctx context.Context) (*spam.LocalRules, error) {
	rs, err := s.o.Store.Rules(ctx, Active)
	if err != nil {
		return nil, err
	}
	var local []spam.LocalRule
	for _, r := range rs {
		local = append(local, r.Local())
	}
	return spam.CompileLocal(local), nil
}
