// Package trace answers "where did my mail go?": it defines the search over
// the transaction log (Query), the Store that runs it, and turns the rows
// found into one timeline per message — accepted → greylisted → scanned →
// queued → delivered, deferred or bounced — across hosts and content-filter
// re-injections, with the engine's relay queue (queued, held, released,
// deferred, delivered, bounced, expired, deleted) and quarantine
// (quarantined, released, deleted) as steps of their own. Each
// recipient's state is its last real one: mail that is only queued is not
// "delivered". It masks subjects for roles that may not read them.
package trace

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/config/timezone"
)

// MaxLimit bounds the page size.
const MaxLimit = 500

// Query selects messages. Every non-empty field must match; addresses and
// Message-IDs match exactly (case-insensitively), Subject as a substring.
type Query struct {
	From      string // envelope sender
	To        string // envelope recipient (also the original recipient before aliasing)
	MessageID string // with or without angle brackets
	QueueID   string
	IP        string // client IP
	Status    string // a txlog status (sent, deferred, bounced, rejected, greylisted, …)
	Direction string // a txlog direction (inbound, outbound, internal, relayed, unknown)
	Subject   string
	Since     time.Time
	Until     time.Time
	Limit     int // messages per page; 0 means 50
	Offset    int // messages to skip
	// Fold folds retries of the same sender → recipient from the same
	// client (greylisting, refusals) into one result (Arrange).
	Fold bool
}

// ErrEmptyQuery is returned by Validate when no criterion is given.
var ErrEmptyQuery = errors.New("trace: give at least one of from, to, msgid, queue-id, ip, status, subject")

// ErrControl is returned by Normalize for a criterion with a control
// character or invalid UTF-8: no address, Message-ID (RFC 5322 §3.6.4),
// queue ID or subject to search for has one, PostgreSQL refuses a NUL in
// text and SQLite would end the pattern at it and match everything.
var ErrControl = errors.New("trace: control character or invalid UTF-8 in a search criterion")

// Normalize lower-cases addresses, strips angle brackets from the
// Message-ID, applies the default limit and checks the query.
func (q *Query) Normalize() error {
	for _, f := range []struct{ name, v string }{{"from", q.From}, {"to", q.To}, {"msgid", q.MessageID},
		{"queue_id", q.QueueID}, {"ip", q.IP}, {"status", q.Status}, {"subject", q.Subject}} {
		if !utf8.ValidString(f.v) || strings.ContainsFunc(f.v, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return fmt.Errorf("%w: %s", ErrControl, f.name)
		}
	}
	addr := func(s string) string {
		return strings.ToLower(strings.TrimSpace(strings.Trim(strings.TrimSpace(s), "<>")))
	}
	q.From, q.To = addr(q.From), addr(q.To)
	q.MessageID = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(q.MessageID), "<"), ">"))
	q.QueueID = strings.TrimSpace(q.QueueID)
	q.IP = strings.TrimSpace(q.IP)
	q.Status = strings.TrimSpace(q.Status)
	q.Direction = strings.TrimSpace(q.Direction)
	if q.Direction != "" && !slices.Contains(txlog.Directions(), txlog.Direction(q.Direction)) {
		return fmt.Errorf("trace: unknown direction %q (want one of inbound, outbound, internal, relayed, unknown)", q.Direction)
	}
	if q.From == "" && q.To == "" && q.MessageID == "" && q.QueueID == "" && q.IP == "" && q.Status == "" && q.Subject == "" {
		return ErrEmptyQuery
	}
	if q.Status != "" && !slices.Contains(txlog.Statuses(), q.Status) {
		return fmt.Errorf("trace: unknown status %q (want one of %s)", q.Status, strings.Join(txlog.Statuses(), ", "))
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since) {
		return errors.New("trace: until is before since")
	}
	if q.Limit <= 0 {
		q.Limit = 50
	}
	if q.Limit > MaxLimit {
		q.Limit = MaxLimit
	}
	if q.Offset < 0 {
		q.Offset = 0
	}
	return nil
}

// String describes the query for the audit log (no subject text: it is
// personal data the audit log need not copy).
func (q Query) String() string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("from", q.From)
	add("to", q.To)
	add("msgid", q.MessageID)
	add("queue_id", q.QueueID)
	add("ip", q.IP)
	add("status", q.Status)
	add("direction", q.Direction)
	if q.Subject != "" {
		parts = append(parts, "subject=(given)")
	}
	if !q.Since.IsZero() {
		add("since", q.Since.UTC().Format(time.RFC3339))
	}
	if !q.Until.IsZero() {
		add("until", q.Until.UTC().Format(time.RFC3339))
	}
	if q.Fold {
		parts = append(parts, "fold")
	}
	return strings.Join(parts, " ")
}

// Found is what a Store returns for one page: the messages (with every
// row that belongs to them) and rows that belong to no message.
type Found struct {
	Messages []txlog.MessageRow
	// Rows holds the rows of the messages and the standalone rows. A row
	// belongs to a message by MsgKey, or by (Node, QueueID) when its
	// MsgKey is empty (line-level rows such as amavis verdicts).
	Rows []txlog.Row
	// Standalone are the keys of groups without a message row: rows with
	// no queue ID (a reject before the queue file existed) each form one.
	More bool // another page exists
	// Total is how many results (messages and refusals, after folding)
	// match; Capped says the search stopped at its bound (Total is then a
	// lower bound).
	Total  int
	Capped bool
	// Order is the page's results in the order to show them (their keys:
	// a message's key, or StandaloneKey of a row without one); Folded are
	// the refusals folded into each (Arrange). Empty Order: newest first.
	Order  []string
	Folded map[string][]txlog.Row
}

// Store runs a normalized Query.
type Store interface {
	TraceSearch(ctx context.Context, q Query) (Found, error)
}

// Step is one entry of a message's timeline.
type Step struct {
	Time time.Time `json:"time"`
	Node string    `json:"node"`
	// Step is accepted, greylisted, greylist_pass, rejected, filter,
	// scanned, quarantined, queued, held, released, deferred, delivered,
	// bounced, expired, discarded or deleted.
	Step    string `json:"step"`
	QueueID string `json:"queue_id,omitempty"`
	Rcpt    string `json:"rcpt,omitempty"`
	Code    int    `json:"code,omitempty"`
	DSN     string `json:"dsn,omitempty"`
	Relay   string `json:"relay,omitempty"`
	Detail  string `json:"detail,omitempty"`
}

// Message is one traced message with its timeline.
type Message struct {
	Key        string    `json:"key"`
	Node       string    `json:"node"`
	Direction  string    `json:"direction"`
	FirstSeen  time.Time `json:"first_seen"`
	LastSeen   time.Time `json:"last_seen"`
	QueueIDs   []string  `json:"queue_ids"`
	MessageID  string    `json:"message_id,omitempty"`
	From       string    `json:"from"`
	HeaderFrom string    `json:"header_from,omitempty"`
	Subject    string    `json:"subject,omitempty"`
	Size       int64     `json:"size,omitempty"`
	ClientIP   string    `json:"client_ip,omitempty"`
	ClientName string    `json:"client_name,omitempty"`
	Helo       string    `json:"helo,omitempty"`
	AuthUser   string    `json:"auth_user,omitempty"`
	Verdict    string    `json:"verdict,omitempty"`
	SpamScore  string    `json:"spam_score,omitempty"`
	// AuthResults are the receiving MX's SPF, DKIM and DMARC results of
	// an accepted message ("spf=pass dkim=none dmarc=pass"); those of a
	// refused one are in the refusal's reason.
	AuthResults string `json:"auth_results,omitempty"`
	// OriginalFrom is the sender as submitted when it was rewritten to
	// the permanent address ("envelope nick@…; From: …").
	OriginalFrom string `json:"original_from,omitempty"`
	State        string `json:"state"`
	// Recipients are the recipients with the state each is in: the last
	// step that says where it is (recipientStates).
	Recipients []Recipient `json:"recipients"`
	Steps      []Step      `json:"timeline"`
	// Attempts are the earlier refusals of the same sender → recipient
	// from the same client folded into this result (Query.Fold), oldest
	// first, one per attempt; Summary says it in a line ("greylisted 3×,
	// then delivered"; "refused 4× (greylisted)").
	Attempts []Attempt `json:"attempts,omitempty"`
	Summary  string    `json:"summary,omitempty"`
}

// Recipient is a recipient's final outcome.
type Recipient struct {
	Rcpt   string `json:"rcpt"`
	Status string `json:"status"`
	DSN    string `json:"dsn,omitempty"`
	Relay  string `json:"relay,omitempty"`
	// Code and Reason are the reply of the step that put it there (the
	// bounce, deferral or refusal reason), At its time.
	Code   int       `json:"code,omitempty"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at,omitzero"`
}

// Attempt is one refused try folded into a result: Postfix's 450 and
// postgrey's line for the same try are one attempt.
type Attempt struct {
	Time       time.Time `json:"time"`
	Status     string    `json:"status"` // greylisted or rejected
	Greylisted bool      `json:"greylisted"`
	Code       int       `json:"code,omitempty"`
	Reason     string    `json:"reason,omitempty"`
}

// Page is one page of results, newest first.
type Page struct {
	Messages []Message `json:"messages"`
	// Total is how many results match (not the page size); TotalCapped
	// says the search stopped at its bound and there may be more.
	Total       int  `json:"total"`
	TotalCapped bool `json:"total_capped,omitempty"`
	Offset      int  `json:"offset"`
	NextOffset  int  `json:"next_offset,omitempty"` // 0 when this is the last page
}

// MaskedSubject replaces a subject for roles that may not read it.
const MaskedSubject = "(hidden)"

// Search runs q on s and builds the timelines. When maskSubjects is set,
// subjects are replaced by MaskedSubject (and a Subject criterion is
// refused, since it would reveal them).
func Search(ctx context.Context, s Store, q Query, maskSubjects bool) (Page, error) {
	if err := q.Normalize(); err != nil {
		return Page{}, err
	}
	if maskSubjects && q.Subject != "" {
		return Page{}, errors.New("trace: searching by subject needs the postmaster role")
	}
	f, err := s.TraceSearch(ctx, q)
	if err != nil {
		return Page{}, fmt.Errorf("trace search: %w", err)
	}
	p := Page{Messages: Build(f), Offset: q.Offset, Total: f.Total, TotalCapped: f.Capped}
	if f.More {
		p.NextOffset = q.Offset + q.Limit
	}
	if maskSubjects {
		for i := range p.Messages {
			if p.Messages[i].Subject != "" {
				p.Messages[i].Subject = MaskedSubject
			}
		}
	}
	return p, nil
}

type nq struct{ node, qid string }

// Build groups rows under their messages and orders each timeline. Rows
// without a message become a message of their own (State "refused").
func Build(f Found) []Message {
	byKey := map[string]*Message{}
	byQueue := map[nq]*Message{}
	var out []*Message
	for _, m := range f.Messages {
		tm := &Message{
			Key: m.MsgKey, Node: m.Node, Direction: string(m.Direction), FirstSeen: m.FirstSeen, LastSeen: m.LastSeen,
			QueueIDs: m.QueueIDs, MessageID: m.MessageID, From: m.MailFrom, HeaderFrom: m.HeaderFrom,
			Subject: m.Subject, Size: m.Size, ClientIP: m.ClientIP, ClientName: m.ClientName, Helo: m.Helo,
			AuthUser: m.AuthUser, Verdict: m.AVVerdict, SpamScore: m.SpamScore, State: m.State,
			AuthResults: m.AuthResults, OriginalFrom: m.OriginalFrom,
		}
		if m.Received > 0 || m.Origin != "" {
			who := m.ClientName
			if m.ClientIP != "" {
				who += "[" + m.ClientIP + "]"
			}
			detail := strings.TrimSpace("from " + who)
			if m.Service != "" {
				detail += " via " + m.Service
			}
			if m.AuthUser != "" {
				detail += " as " + m.AuthUser
			}
			if m.Origin == "bounce" {
				detail = "notification generated by the mail system"
			}
			qid := ""
			if len(m.QueueIDs) > 0 {
				qid = m.QueueIDs[0]
			}
			tm.Steps = append(tm.Steps, Step{Time: m.FirstSeen, Node: m.Node, Step: "accepted", QueueID: qid, Detail: detail})
		}
		byKey[m.MsgKey] = tm
		for _, q := range m.QueueIDs {
			byQueue[nq{m.Node, q}] = tm
		}
		out = append(out, tm)
	}
	standalone := map[string]*Message{}
	for _, r := range f.Rows {
		tm := byKey[r.MsgKey]
		if tm == nil && r.QueueID != "" {
			tm = byQueue[nq{r.Node, r.QueueID}]
		}
		if tm == nil {
			k := StandaloneKey(r)
			tm = standalone[k]
			if tm == nil {
				tm = &Message{Key: k, Node: r.Node, Direction: string(r.Direction), FirstSeen: r.Time, LastSeen: r.Time,
					MessageID: r.MessageID, From: r.MailFrom, Subject: r.Subject, ClientIP: r.ClientIP,
					ClientName: r.ClientName, Helo: r.Helo, AuthUser: r.AuthUser, State: "refused"}
				if r.QueueID != "" {
					tm.QueueIDs = []string{r.QueueID}
					tm.State = "partial"
				}
				standalone[k] = tm
				out = append(out, tm)
			}
		}
		if r.Time.Before(tm.FirstSeen) {
			tm.FirstSeen = r.Time
		}
		if r.Time.After(tm.LastSeen) {
			tm.LastSeen = r.Time
		}
		tm.Steps = append(tm.Steps, stepOf(r))
		if tm.Verdict == "" && r.AVVerdict != "" {
			tm.Verdict, tm.SpamScore = r.AVVerdict, r.SpamScore
		}
	}
	res := make([]Message, 0, len(out))
	for _, tm := range out {
		// Traditional syslog timestamps have whole seconds while rsyslog's
		// have microseconds: within one second the order of the stages
		// decides (amavis logs its verdict just after the hand-off).
		slices.SortStableFunc(tm.Steps, func(a, b Step) int {
			if c := a.Time.Truncate(time.Second).Compare(b.Time.Truncate(time.Second)); c != 0 {
				return c
			}
			if c := stepRank(a.Step) - stepRank(b.Step); c != 0 {
				return c
			}
			return a.Time.Compare(b.Time)
		})
		tm.Recipients = recipients(tm.Steps)
		res = append(res, *tm)
	}
	if len(f.Order) == 0 {
		slices.SortStableFunc(res, func(a, b Message) int { return b.FirstSeen.Compare(a.FirstSeen) })
	} else {
		pos := make(map[string]int, len(f.Order))
		for i, k := range f.Order {
			pos[k] = i
		}
		slices.SortStableFunc(res, func(a, b Message) int { return pos[a.Key] - pos[b.Key] })
	}
	for i := range res {
		if rows := f.Folded[res[i].Key]; len(rows) > 0 {
			res[i].Attempts = attempts(rows)
		}
		res[i].Summary = summary(res[i])
	}
	return res
}

// StandaloneKey is the key of the result a row without a message forms:
// its message key, its node and queue ID, or (a refusal before the queue
// file existed) the row itself.
func StandaloneKey(r txlog.Row) string {
	switch {
	case r.MsgKey != "":
		return r.MsgKey
	case r.QueueID != "":
		return r.Node + "/" + r.QueueID
	}
	return r.Node + "/" + r.QueueID + "/" + r.Time.UTC().Format(time.RFC3339Nano) + "/" + r.Rcpt + "/" + r.Status
}

// ranks order the steps of one second: what happens first in a
// message's life first.
var ranks = map[string]int{"accepted": 0, "greylisted": 1, "greylist_pass": 1, "rejected": 2, "filter": 3, "scanned": 4,
	"quarantined": 5, "queued": 5, "held": 6, "released": 7, "deferred": 8, "delivered": 9, "bounced": 9, "expired": 9,
	"discarded": 9, "deleted": 9}

func stepRank(s string) int { return ranks[s] }

func stepOf(r txlog.Row) Step {
	s := Step{Time: r.Time, Node: r.Node, QueueID: r.QueueID, Rcpt: r.Rcpt, Code: r.Code, DSN: r.DSN, Relay: r.Relay, Detail: r.Reply}
	switch r.Status {
	case txlog.StatusSent:
		s.Step = "delivered"
		if r.Handoff {
			s.Step = "filter"
			s.Detail = "handed to the content filter: " + r.Reply
		}
	case txlog.StatusScanned:
		s.Step = "scanned"
		s.Detail = strings.TrimSpace(r.AVVerdict + " " + scoreText(r.SpamScore) + " " + r.Reply)
	case txlog.StatusRejected:
		s.Step = "rejected"
		if r.Stage != "" {
			s.Detail = r.Stage + ": " + r.Reply
		}
	default:
		s.Step = r.Status
	}
	if r.OrigRcpt != "" && r.OrigRcpt != r.Rcpt {
		s.Detail = strings.TrimSpace(s.Detail + " (for " + r.OrigRcpt + ")")
	}
	return s
}

func scoreText(s string) string {
	if s == "" || s == "-" {
		return ""
	}
	return "score " + s
}

// recipientStates are the steps that say where a recipient is; the last
// of them in the timeline is its state. A hand-off to a content filter, a
// verdict and a greylisting pass are on the way, not a state.
var recipientStates = map[string]bool{"delivered": true, "deferred": true, "bounced": true, "expired": true, "rejected": true,
	"discarded": true, "greylisted": true, "queued": true, "held": true, "released": true, "quarantined": true, "deleted": true}

func recipients(steps []Step) []Recipient {
	idx := map[string]int{}
	var out []Recipient
	for _, s := range steps {
		if !recipientStates[s.Step] {
			continue
		}
		if s.Rcpt == "" {
			continue
		}
		i, ok := idx[s.Rcpt]
		if !ok {
			i = len(out)
			idx[s.Rcpt] = i
			out = append(out, Recipient{Rcpt: s.Rcpt})
		}
		out[i].Status, out[i].DSN, out[i].Relay, out[i].Code, out[i].Reason, out[i].At = s.Step, s.DSN, s.Relay, s.Code, s.Detail, s.Time
	}
	return out
}

// ParseTime reads a time bound as given on the command line or in a query
// string, in the one grammar of people's times (config/timezone): RFC 3339,
// a date or a date and minute in loc, now, +2h / -30m, or a bare duration
// before now ("24h"). "" is the zero time (unbounded).
func ParseTime(s string, now time.Time, loc *time.Location) (time.Time, error) {
	return timezone.Parse(s, now, loc)
}
