package txlog

import (
	"context"
	"strings"
	"time"
)

// Tables are the detail tables of pflogsumm a postmaster reads beside the
// grand totals, over a period:
//
//   - TopSenders: envelope senders of the messages received, by count
//     (bytes: their sizes); TopRecipients: recipients of final deliveries.
//   - SendingDomains: the senders' domains of the messages received;
//     ReceivingDomains: the recipients' domains of final deliveries, with
//     their deferred attempts and bounces.
//   - DeferralReasons, BounceReasons, RejectReasons: the replies of
//     deferred attempts, bounces and SMTP rejects, grouped by ReasonKey.
//   - Hourly: received, delivered, deferred, bounced and rejected per hour
//     of the service's time zone (Zone names it).
//   - Warnings: Postfix's warning:, error:, fatal: and panic: lines by
//     severity and WarningKey.
//
// Addresses and domains are lower-cased; an empty sender (bounces) is
// "<>". Each list is the busiest Top entries, busiest first.
type Tables struct {
	Since            time.Time      `json:"since"`
	Until            time.Time      `json:"until"`
	Top              int            `json:"top"`
	Zone             string         `json:"zone"`
	TopSenders       []Traffic      `json:"top_senders"`
	TopRecipients    []Traffic      `json:"top_recipients"`
	SendingDomains   []Traffic      `json:"sending_domains"`
	ReceivingDomains []Traffic      `json:"receiving_domains"`
	DeferralReasons  []ReasonCount  `json:"deferral_reasons"`
	BounceReasons    []ReasonCount  `json:"bounce_reasons"`
	RejectReasons    []ReasonCount  `json:"reject_reasons"`
	Hourly           []HourTraffic  `json:"hourly"`
	ByHourOfDay      []HourOfDay    `json:"by_hour_of_day"`
	Warnings         []WarningCount `json:"warnings"`
}

// HourOfDay sums one hour of the day (0–23, in Tables.Zone) over the
// period's days, as pflogsumm's per-hour table does.
type HourOfDay struct {
	Hour      int   `json:"hour"`
	Days      int   `json:"days"` // the days of the period with traffic in this hour
	Received  int64 `json:"received"`
	Delivered int64 `json:"delivered"`
	Deferred  int64 `json:"deferred"`
	Bounced   int64 `json:"bounced"`
	Rejected  int64 `json:"rejected"`
}

// Traffic is the messages and bytes of one address or domain. Deferred and
// Bounced are set for receiving domains (attempts and recipients).
type Traffic struct {
	Key      string `json:"key"`
	Count    int64  `json:"count"`
	Bytes    int64  `json:"bytes"`
	Deferred int64  `json:"deferred,omitempty"`
	Bounced  int64  `json:"bounced,omitempty"`
}

// ReasonCount is how often one reason (a reply grouped by ReasonKey) was
// given, with one reply as logged for an example.
type ReasonCount struct {
	Reason  string `json:"reason"`
	Count   int64  `json:"count"`
	Example string `json:"example"`
}

// HourTraffic is one hour of the service's time zone.
type HourTraffic struct {
	Hour      time.Time `json:"hour"`
	Received  int64     `json:"received"`
	Delivered int64     `json:"delivered"`
	Deferred  int64     `json:"deferred"`
	Bounced   int64     `json:"bounced"`
	Rejected  int64     `json:"rejected"`
}

// WarningCount is how many warning lines of one kind a program logged.
type WarningCount struct {
	Severity string `json:"severity"` // warning, error, fatal, panic
	Program  string `json:"program"`
	Text     string `json:"text"` // the WarningKey
	Count    int64  `json:"count"`
	Example  string `json:"example"`
}

// Warning is a Postfix "warning:", "error:", "fatal:" or "panic:" line as
// stored (mail_warnings); Key is WarningKey(Text).
type Warning struct {
	Time     time.Time
	Node     string
	Program  string
	Severity string
	Text     string
	Key      string
}

// TablesStore computes the Tables of [since, until), top entries a list,
// hours in loc.
type TablesStore interface {
	SummaryTables(ctx context.Context, since, until time.Time, top int, loc *time.Location) (Tables, error)
}

// WarningKey groups warning texts as pflogsumm does: the queue ID, client
// names and addresses, numbers and the user name a SASL failure names are
// left out, so "unknown[192.0.2.7]: SASL LOGIN authentication failed:
// (reason unavailable), sasl_username=ann" and the same of another client
// are one line.
func WarningKey(text string) string {
	if i := strings.Index(text, ", sasl_username="); i >= 0 {
		text = text[:i]
	}
	return genericText(text, false)
}

// ReasonKey groups replies (a deferral's, a bounce's, a reject's): the
// remote host's address (its name stays: reasons are per destination), the
// addresses in angle brackets, queue IDs and numbers other than the reply
// codes are left out, so "host mx.a.example[192.0.2.1] said: 451 4.7.1
// <x@a.example>: Try later (in reply to RCPT TO command)" and the same for
// another recipient are one reason.
func ReasonKey(reply string) string {
	return genericText(reply, true)
}

// genericText replaces the parts of a log text that name one message,
// client or recipient: "<…>" addresses, "name[addr]" hosts (the name kept
// with keepHost), "queued as X" and runs of digits that are not an SMTP
// reply code or an RFC 3463 status code.
func genericText(s string, keepHost bool) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '<':
			if j := strings.IndexByte(s[i:], '>'); j > 0 && strings.IndexByte(s[i:i+j], ' ') < 0 {
				b.WriteString("<…>")
				i += j + 1
				continue
			}
		case c == '[':
			if j := strings.IndexByte(s[i:], ']'); j > 0 && strings.IndexByte(s[i:i+j], ' ') < 0 {
				// "name[addr]:port" becomes "name[…]" or "host[…]"
				if keepHost {
					b.WriteString("[…]")
				} else {
					out := b.String()
					k := strings.LastIndexAny(out, " (,=") + 1
					b.Reset()
					b.WriteString(out[:k])
					b.WriteString("host[…]")
				}
				i += j + 1
				if i+1 < len(s) && s[i] == ':' && isDigitByte(s[i+1]) {
					i++
					for i < len(s) && isDigitByte(s[i]) {
						i++
					}
				}
				continue
			}
		case isDigitByte(c) && (i == 0 || !isWordByte(s[i-1])):
			j := i
			for j < len(s) && (isDigitByte(s[j]) || s[j] == '.') {
				j++
			}
			tok := s[i:j]
			if (j == len(s) || !isWordByte(s[j])) && !isReplyCode(tok) {
				b.WriteString("N")
				i = j
				continue
			}
			b.WriteString(tok)
			i = j
			continue
		case strings.HasPrefix(s[i:], "queued as "):
			j := i + len("queued as ")
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			b.WriteString("queued as …")
			i = j
			continue
		}
		b.WriteByte(c)
		i++
	}
	out := strings.TrimSpace(b.String())
	if len(out) > 200 {
		out = out[:200]
	}
	return out
}

func isDigitByte(c byte) bool { return '0' <= c && c <= '9' }

func isWordByte(c byte) bool {
	return isDigitByte(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' || c == '-'
}

// isReplyCode reports whether tok is an SMTP reply code (RFC 5321 §4.2:
// three digits, 2–5 first) or an RFC 3463 status code ("4.7.1").
func isReplyCode(tok string) bool {
	if len(tok) == 3 && tok[0] >= '2' && tok[0] <= '5' && isDigitByte(tok[1]) && isDigitByte(tok[2]) {
		return true
	}
	p := strings.Split(tok, ".")
	if len(p) != 3 || len(p[0]) != 1 || p[0][0] < '2' || p[0][0] > '5' {
		return false
	}
	for _, x := range p[1:] {
		if x == "" || len(x) > 3 {
			return false
		}
	}
	return true
}

// NameCount is an address or a domain with its messages (or deliveries)
// and their bytes: a row of the busiest senders, recipients and domains
// of a period, as pflogsumm lists them.
type NameCount struct {
	Name  string `json:"name"`
	Count int64  `json:"count"`
	Bytes int64  `json:"bytes"`
}

// ReplyCount is how many outcomes of one status (rejected, deferred,
// bounced, expired) had one SMTP stage, reply code, enhanced status code
// and reply text, as logged: the raw material of the reject, deferral and
// bounce reasons, which the monthly report groups (reports.ReasonOf).
type ReplyCount struct {
	Status string `json:"status"`
	Stage  string `json:"stage"`
	Code   int    `json:"code"`
	DSN    string `json:"dsn"`
	Reply  string `json:"reply"`
	Count  int64  `json:"count"`
}

// Kinds of the busiest-names tables.
const (
	TopSenders          = "senders"           // envelope senders of accepted messages
	TopRecipients       = "recipients"        // recipients of final deliveries
	TopSenderDomains    = "sender_domains"    // their domains
	TopRecipientDomains = "recipient_domains" // their domains
)
