package txlog

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
