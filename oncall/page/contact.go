package page

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/uni-mail/postvakt/oncall/incident"
)

// ContactRule is one line of a member's contact rules: a page goes to
// Channel once After has passed since the member was first paged for the
// incident, if the incident is still unacknowledged then. A member
// without rules is paged on every channel at once. Rules with After 0 are
// the channels of the first page and of the acknowledged and resolved
// news; GoAlert's contact methods and notification rules are the model
// ("slack at 0, sms at 5 minutes").
type ContactRule struct {
	Channel string        `yaml:"channel" json:"channel"`
	After   time.Duration `yaml:"after" json:"after"`
}

// ContactRules are the rules by member ID; the key "*" holds the rules of
// members without their own.
type ContactRules map[string][]ContactRule

// For returns the rules of member: its own, else "*", else none.
func (c ContactRules) For(member string) []ContactRule {
	if r, ok := c[member]; ok {
		return r
	}
	return c["*"]
}

// immediate lists the channels of rules with After 0; nil when rules is
// empty (every channel).
func immediate(rules []ContactRule) []string {
	if len(rules) == 0 {
		return nil
	}
	out := []string{}
	for _, r := range rules {
		if r.After <= 0 && !slices.Contains(out, r.Channel) {
			out = append(out, r.Channel)
		}
	}
	return out
}

// OpenIncidents lists the incidents still waiting for an acknowledgement
// (incident.Service.List with the status triggered).
type OpenIncidents interface {
	List(ctx context.Context, f incident.Filter) ([]incident.Incident, error)
}

// PagedLog finds when each member was first paged for an incident (the
// page log, internal/store/oncallstore).
type PagedLog interface {
	MemberPages(ctx context.Context, from, to time.Time) ([]Paged, error)
}

// FollowUp sends the pages of contact rules that have come due: for each
// unacknowledged incident and each member paged for it, every rule whose
// After has passed since that member's first page. Each such page has its
// own key, so it goes once however often FollowUp runs, across restarts
// and replicas. It does nothing without ContactRules, Open and Paged.
func (d *Dispatcher) FollowUp(ctx context.Context) error {
	if len(d.ContactRules) == 0 || d.Open == nil || d.Paged == nil {
		return nil
	}
	now := time.Now()
	if d.Now != nil {
		now = d.Now()
	}
	open, err := d.Open.List(ctx, incident.Filter{Status: []incident.Status{incident.StatusTriggered}})
	if err != nil {
		return fmt.Errorf("contact rules: open incidents: %w", err)
	}
	if len(open) == 0 {
		return nil
	}
	byID := make(map[int64]incident.Incident, len(open))
	from := now
	for _, inc := range open {
		byID[inc.ID] = inc
		if inc.OpenedAt.Before(from) {
			from = inc.OpenedAt
		}
	}
	paged, err := d.Paged.MemberPages(ctx, from, now.Add(time.Second))
	if err != nil {
		return fmt.Errorf("contact rules: pages: %w", err)
	}
	var msgs []Message
	for _, p := range paged {
		inc, ok := byID[p.IncidentID]
		if !ok {
			continue
		}
		for _, rule := range d.ContactRules.For(p.Member) {
			if rule.After <= 0 || now.Before(p.At.Add(rule.After)) {
				continue
			}
			n := incident.Notification{Kind: incident.NotifyPage, Incident: inc, Members: []string{p.Member}}
			m := d.message(n, p.Member, fmt.Sprintf("incident/%d/contact/%s/%s/%s", inc.ID, p.Member, rule.Channel, rule.After))
			m.Channels = []string{rule.Channel}
			msgs = append(msgs, m)
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return d.Pipeline.Send(ctx, msgs...)
}
