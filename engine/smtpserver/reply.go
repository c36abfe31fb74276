package smtpserver

import (
	"fmt"

	"github.com/emersion/go-smtp"
)

// Reason is the closed set of reasons a reply refuses or defers something;
// it is a metric label and the event stream's reason.
type Reason string

// The reasons. Codes are RFC 5321 §4.2 replies with RFC 3463 enhanced codes
// (and RFC 4954 §6 for AUTH, RFC 7372 where it applies).
const (
	ReasonTooManyConns     Reason = "too_many_connections"
	ReasonShuttingDown     Reason = "shutting_down"
	ReasonDNSBL            Reason = "dnsbl_listed"
	ReasonBadSender        Reason = "bad_sender_syntax"
	ReasonSenderMismatch   Reason = "sender_login_mismatch"
	ReasonBadRecipient     Reason = "bad_recipient_syntax"
	ReasonTooManyRcpts     Reason = "too_many_recipients"
	ReasonRelayDenied      Reason = "relay_denied"
	ReasonGreylisted       Reason = "greylisted"
	ReasonUnknownRecipient Reason = "unknown_recipient"
	ReasonMailboxDisabled  Reason = "mailbox_disabled"
	ReasonOverQuota        Reason = "over_quota"
	ReasonTooBig           Reason = "message_too_big"
	ReasonLineTooLong      Reason = "line_too_long"
	ReasonLoop             Reason = "mail_loop"
	ReasonContent          Reason = "content_rejected"
	ReasonContentTemp      Reason = "content_tempfail"
	ReasonAuthFailed       Reason = "auth_failed"
	ReasonAuthTooMany      Reason = "auth_too_many_failures"
	ReasonAuthTLS          Reason = "auth_tls_required"
	ReasonAuthMechanism    Reason = "auth_mechanism"
	ReasonAuthUnavailable  Reason = "auth_unavailable"
	ReasonAuthTemp         Reason = "auth_tempfail"
	ReasonTempFailure      Reason = "temporary_failure"
	ReasonPregreet         Reason = "pregreet"
	ReasonAuthRate         Reason = "auth_rate_limited"
	ReasonAuthBusy         Reason = "auth_busy"
	ReasonResources        Reason = "insufficient_resources"
	// ReasonBackendUnavailable: the recipient's back end (Dovecot's LMTP,
	// quota-status) could not be asked, so the recipient is unverifiable.
	ReasonBackendUnavailable Reason = "backend_unavailable"
	// ReasonDMARC: the sender's domain publishes DMARC p=reject and the
	// message fails DMARC (RFC 7489 §6.6.4, §7.3).
	ReasonDMARC Reason = "dmarc_reject"
)

type replySpec struct {
	code int
	ec   smtp.EnhancedCode
	text string
}

// replies maps each reason to its reply. The texts are generic on purpose:
// the cause is logged, never shown (STYLE.md §6).
var replies = map[Reason]replySpec{
	ReasonTooManyConns:     {421, smtp.EnhancedCode{4, 7, 0}, "Too many connections from your host, try again later"},
	ReasonShuttingDown:     {421, smtp.EnhancedCode{4, 3, 2}, "Service shutting down, try again later"},
	ReasonDNSBL:            {554, smtp.EnhancedCode{5, 7, 1}, "Client host rejected: listed on a DNS blocklist"},
	ReasonBadSender:        {501, smtp.EnhancedCode{5, 1, 7}, "Bad sender address syntax"},
	ReasonSenderMismatch:   {553, smtp.EnhancedCode{5, 7, 1}, "Sender address rejected: not owned by the authenticated user"},
	ReasonBadRecipient:     {501, smtp.EnhancedCode{5, 1, 3}, "Bad recipient address syntax"},
	ReasonTooManyRcpts:     {452, smtp.EnhancedCode{4, 5, 3}, "Too many recipients"},
	ReasonRelayDenied:      {554, smtp.EnhancedCode{5, 7, 1}, "Relay access denied"},
	ReasonGreylisted:       {451, smtp.EnhancedCode{4, 7, 1}, "Greylisted, please try again later"},
	ReasonUnknownRecipient: {550, smtp.EnhancedCode{5, 1, 1}, "Recipient address rejected: user unknown"},
	ReasonMailboxDisabled:  {550, smtp.EnhancedCode{5, 2, 1}, "Recipient mailbox disabled"},
	ReasonOverQuota:        {452, smtp.EnhancedCode{4, 2, 2}, "Recipient mailbox full, try again later"},
	ReasonTooBig:           {552, smtp.EnhancedCode{5, 3, 4}, "Message size exceeds fixed limit"},
	ReasonLineTooLong:      {500, smtp.EnhancedCode{5, 5, 2}, "Line too long"},
	ReasonLoop:             {554, smtp.EnhancedCode{5, 4, 6}, "Too many hops: mail loop detected"},
	ReasonDMARC:            {550, smtp.EnhancedCode{5, 7, 1}, "Message rejected by the sender domain's DMARC policy"},
	ReasonContent:          {554, smtp.EnhancedCode{5, 7, 1}, "Message content rejected"},
	ReasonContentTemp:      {451, smtp.EnhancedCode{4, 7, 0}, "Message could not be checked, try again later"},
	ReasonAuthFailed:       {535, smtp.EnhancedCode{5, 7, 8}, "Authentication credentials invalid"},
	ReasonAuthTooMany:      {421, smtp.EnhancedCode{4, 7, 0}, "Too many authentication failures"},
	ReasonAuthTLS:          {538, smtp.EnhancedCode{5, 7, 11}, "Encryption required for requested authentication mechanism"},
	ReasonAuthMechanism:    {504, smtp.EnhancedCode{5, 5, 4}, "Unrecognized authentication type"},
	ReasonAuthUnavailable:  {503, smtp.EnhancedCode{5, 5, 1}, "Authentication not available on this port"},
	ReasonAuthTemp:         {454, smtp.EnhancedCode{4, 7, 0}, "Temporary authentication failure"},
	ReasonTempFailure:      {451, smtp.EnhancedCode{4, 3, 0}, "Requested action aborted: local error in processing"},
	// Postfix's postscreen drops a client that talks before its turn with
	// "521 5.5.1 Protocol error" (RFC 7504 §3: 521, does not accept mail).
	ReasonPregreet: {521, smtp.EnhancedCode{5, 5, 1}, "Protocol error: command sent before the greeting"},
	// Over the AUTH rate (Postfix's smtpd_client_auth_rate_limit) and
	// hashing busy: temporary failures of AUTH (RFC 4954 §6, 454 4.7.0).
	ReasonAuthRate: {454, smtp.EnhancedCode{4, 7, 0}, "Too many authentication attempts, try again later"},
	ReasonAuthBusy: {454, smtp.EnhancedCode{4, 7, 0}, "Temporary authentication failure, try again later"},
	// RFC 5321 §4.2.3: 452 insufficient system storage; RFC 3463: 4.3.1.
	ReasonResources: {452, smtp.EnhancedCode{4, 3, 1}, "Insufficient system resources, try again later"},
	// RFC 3463 §3.5: 4.4.0, a network or routing problem, here the
	// recipient's back end; the sender retries rather than get a bounce.
	ReasonBackendUnavailable: {451, smtp.EnhancedCode{4, 4, 0}, "Recipient cannot be verified now, try again later"},
}

// Reasons lists every Reason, for metric initialisation and tests.
func Reasons() []string {
	out := make([]string, 0, len(replies))
	for _, r := range []Reason{ReasonTooManyConns, ReasonShuttingDown, ReasonDNSBL, ReasonBadSender, ReasonSenderMismatch, ReasonBadRecipient,
		ReasonTooManyRcpts, ReasonRelayDenied, ReasonGreylisted, ReasonUnknownRecipient, ReasonMailboxDisabled,
		ReasonOverQuota, ReasonTooBig, ReasonLineTooLong, ReasonLoop, ReasonContent, ReasonContentTemp, ReasonAuthFailed, ReasonAuthTooMany,
		ReasonAuthTLS, ReasonAuthMechanism, ReasonAuthUnavailable, ReasonAuthTemp, ReasonTempFailure,
		ReasonPregreet, ReasonAuthRate, ReasonAuthBusy, ReasonResources, ReasonBackendUnavailable, ReasonDMARC} {
		out = append(out, string(r))
	}
	return out
}

// Reply returns a fresh *smtp.SMTPError for reason r. go-smtp recognises
// *smtp.SMTPError by type assertion, so it is never wrapped; a fresh value
// each time means nothing downstream can alter a shared one.
func Reply(r Reason) *smtp.SMTPError {
	s, ok := replies[r]
	if !ok {
		s = replies[ReasonTempFailure]
	}
	return &smtp.SMTPError{Code: s.code, EnhancedCode: s.ec, Message: s.text}
}

// enhanced formats an enhanced code as "x.y.z".
func enhanced(ec smtp.EnhancedCode) string {
	return fmt.Sprintf("%d.%d.%d", ec[0], ec[1], ec[2])
}
