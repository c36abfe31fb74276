package page

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/config/timezone"
	"github.com/uni-mail/postvakt/oncall/incident"
)

// Directory finds the contact details of a member.
type Directory interface {
	Recipient(id string) (Recipient, bool)
}

// DirectoryFunc adapts a function to Directory.
type DirectoryFunc func(id string) (Recipient, bool)

// Recipient calls f.
func (f DirectoryFunc) Recipient(id string) (Recipient, bool) { return f(id) }

// Dispatcher turns incident notifications into messages and sends them
// through a Pipeline. It implements incident.Notifier.
type Dispatcher struct {
	Pipeline  *Pipeline
	Directory Directory
	// AckURL returns the signed acknowledge link for a member, or "".
	AckURL func(incidentID int64, member string) string
	// IncidentURL returns a link to the incident, or "".
	IncidentURL func(incidentID int64) string
	// Location is the service time zone (config/timezone) of the times in
	// messages; nil: UTC.
	Location *time.Location
	// ContactRules say which channels reach a member and when
	// (ContactRule); nil: every channel at once for everyone. The later
	// rules are sent by FollowUp, which needs Open and Paged.
	ContactRules ContactRules
	Open         OpenIncidents
	Paged        PagedLog
	Now          func() time.Time
}

var _ incident.Notifier = (*Dispatcher)(nil)

// Notify sends n to its members and, when asked, the team channel.
func (d *Dispatcher) Notify(ctx context.Context, n incident.Notification) error {
	inc := n.Incident
	kind := Kind(n.Kind)
	base := fmt.Sprintf("incident/%d/%s", inc.ID, n.Kind)
	switch {
	case n.Manual != "":
		base = fmt.Sprintf("incident/%d/manual/%s", inc.ID, n.Manual)
	case n.Kind == incident.NotifyPage:
		base = fmt.Sprintf("incident/%d/page/r%d/s%d", inc.ID, n.Round, n.Step)
	}
	subject, text := Describe(n, d.Location)
	link := d.link(inc)
	var msgs []Message
	for _, id := range n.Members {
		m := d.message(n, id, base+"/"+id)
		if rules := d.ContactRules.For(id); len(rules) > 0 {
			// The first page and the news go to the channels of rules
			// with After 0; the later rules are FollowUp's.
			if m.Channels = immediate(rules); len(m.Channels) == 0 {
				continue
			}
		}
		msgs = append(msgs, m)
	}
	if n.Channel {
		msgs = append(msgs, Message{Key: base + "/channel", Kind: kind, Channel: true, IncidentID: inc.ID, Severity: inc.Severity,
			Subject: subject, Text: text, Link: link, Buttons: n.Kind == incident.NotifyPage})
	}
	return d.Pipeline.Send(ctx, msgs...)
}

// link is the incident's link: in the UI when IncidentURL gives one,
// else the source's.
func (d *Dispatcher) link(inc incident.Incident) string {
	if d.IncidentURL != nil {
		if u := d.IncidentURL(inc.ID); u != "" {
			return u
		}
	}
	return inc.ExternalURL
}

// message is notification n for member id, with key.
func (d *Dispatcher) message(n incident.Notification, id, key string) Message {
	inc := n.Incident
	subject, text := Describe(n, d.Location)
	r, ok := d.Directory.Recipient(id)
	if !ok {
		r = Recipient{ID: id}
	}
	m := Message{Key: key, Kind: Kind(n.Kind), To: r, IncidentID: inc.ID, Severity: inc.Severity,
		Subject: subject, Text: text, Link: d.link(inc), Buttons: n.Kind == incident.NotifyPage}
	if n.Kind == incident.NotifyPage && d.AckURL != nil {
		m.AckURL = d.AckURL(inc.ID, id)
	}
	return m
}

// Describe returns the subject and text of a notification, its times in
// loc (the service time zone; nil: UTC).
func Describe(n incident.Notification, loc *time.Location) (subject, text string) {
	inc := n.Incident
	sev := strings.ToUpper(inc.Severity)
	switch n.Kind {
	case incident.NotifyAcknowledged:
		subject = fmt.Sprintf("[ACK] #%d %s", inc.ID, inc.Title)
		text = fmt.Sprintf("Incident #%d was acknowledged by %s.", inc.ID, n.Actor)
	case incident.NotifyResolved:
		subject = fmt.Sprintf("[RESOLVED] #%d %s", inc.ID, inc.Title)
		text = fmt.Sprintf("Incident #%d is resolved (by %s).", inc.ID, n.Actor)
	default:
		subject = fmt.Sprintf("[%s] #%d %s", sev, inc.ID, inc.Title)
		var b strings.Builder
		if inc.Summary != "" {
			b.WriteString(inc.Summary + "\n")
		}
		fmt.Fprintf(&b, "Incident #%d, severity %s, opened %s.", inc.ID, inc.Severity, timezone.Format(inc.OpenedAt, loc))
		if n.Manual != "" {
			fmt.Fprintf(&b, " Paged by hand by %s.", n.Actor)
			if n.Note != "" {
				fmt.Fprintf(&b, "\nNote: %s\n", n.Note)
			}
		} else if n.Round > 0 || n.Step > 0 {
			fmt.Fprintf(&b, " Escalation step %d (round %d): nobody has acknowledged yet.", n.Step+1, n.Round+1)
		}
		if inc.TicketID != "" {
			fmt.Fprintf(&b, " Ticket %s.", inc.TicketID)
		}
		if len(inc.Labels) > 0 {
			keys := make([]string, 0, len(inc.Labels))
			for k := range inc.Labels {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			b.WriteString("\n")
			for _, k := range keys {
				fmt.Fprintf(&b, "\n%s=%s", k, inc.Labels[k])
			}
		}
		text = b.String()
	}
	return subject, text
}
