package enginemetrics

import (
	"bufio"
	"bytes"
	"io"
	"strings"

	"github.com/VictoriaMetrics/metrics"
)

// Help is the HELP text of every engine metric family.
var Help = map[string]string{
	"postvakt_smtp_mailauth_results_total":        "SPF, DKIM and DMARC results of mail checked on the MX by method and result (RFC 8601).",
	"postvakt_smtp_dmarc_results_total":           "DMARC results of mail checked on the MX by result (RFC 7489).",
	"postvakt_smtp_dkim_sign_total":               "Submitted messages by DKIM signing result: signed, no key for the From domain, or error.",
	"postvakt_smtp_from_rewrites_total":           "Submitted messages whose nickname sender was rewritten to the permanent address.",
	"postvakt_smtp_connections_total":             "SMTP connections by listener and result (accepted or refused by a connection limit).",
	"postvakt_smtp_connections_active":            "Open SMTP connections by listener.",
	"postvakt_smtp_commands_total":                "SMTP commands handled by listener and command.",
	"postvakt_smtp_replies_total":                 "SMTP replies given by the engine's policy by listener and code class.",
	"postvakt_smtp_rejects_total":                 "Refused or deferred SMTP commands by listener and reason.",
	"postvakt_smtp_messages_total":                "Mail transactions after DATA by direction and result.",
	"postvakt_smtp_message_bytes_total":           "Bytes of accepted messages by direction.",
	"postvakt_smtp_message_size_bytes":            "Size of accepted messages by direction.",
	"postvakt_smtp_deliveries_total":              "Copies stored in mailboxes or queued for relay, by result.",
	"postvakt_smtp_greylist_decisions_total":      "Greylisting decisions by reason.",
	"postvakt_smtp_auth_attempts_total":           "SMTP AUTH attempts by listener and result.",
	"postvakt_smtp_dnsbl_lookups_total":           "DNS blocklist lookups of clients by result.",
	"postvakt_smtp_session_duration_seconds":      "Duration of SMTP connections by listener.",
	"postvakt_smtp_data_duration_seconds":         "Time from DATA to the final reply by listener, including the durable commit.",
	"postvakt_smtp_commit_duration_seconds":       "Duration of one group commit to the database.",
	"postvakt_smtp_commit_batch_messages":         "Messages per group commit.",
	"postvakt_smtp_commit_errors_total":           "Group commits that failed.",
	"postvakt_smtp_store_bodies":                  "Distinct message bodies in the mailbox store.",
	"postvakt_smtp_store_body_bytes":              "Bytes of distinct message bodies in the mailbox store.",
	"postvakt_smtp_store_messages":                "Messages (body references) in mailboxes.",
	"postvakt_smtp_relay_queue_messages":          "Entries waiting in the relay queue.",
	"postvakt_smtp_store_pruned_total":            "Transaction rows and bodies deleted by the store's retention (smtp.retention), by kind.",
	"postvakt_smtp_store_pruned_body_bytes_total": "Bytes of the bodies deleted by the store's retention.",
	"postvakt_smtp_events_dropped_total":          "Mail events dropped because the consumer was slow.",
	"postvakt_smtp_message_memory_bytes":          "Bytes of the message memory budget (smtp.limits.message_memory) reserved now: spooled DATA in memory, messages assembled for the commit, scans' scratch space, quarantine and relay copies.",
	"postvakt_smtp_message_memory_limit_bytes":    "The message memory budget (smtp.limits.message_memory).",
	"postvakt_smtp_message_memory_waiting":        "Messages waiting for their share of the message memory budget.",
	"postvakt_smtp_password_hashes_in_progress":   "Password hashes (SMTP AUTH and web sign-in) being computed now, bounded by smtp.limits.password_hash_memory.",
	"postvakt_smtp_password_hashes_waiting":       "Password checks waiting for room to hash (smtp.limits.password_hash_wait at most).",
}

// WritePrometheus writes set in the Prometheus text format with the HELP
// texts of the engine metrics filled in (VictoriaMetrics/metrics writes
// empty HELP lines when metrics.ExposeMetadata is on, which promtool
// rejects). Serve the engine's set on /metrics through it.
func WritePrometheus(w io.Writer, set *metrics.Set) error {
	var b bytes.Buffer
	set.WritePrometheus(&b)
	return AddHelp(w, &b)
}

// AddHelp copies an exposition from r to w, completing empty HELP lines
// of the engine metric families.
func AddHelp(w io.Writer, r io.Reader) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	bw := bufio.NewWriter(w)
	for sc.Scan() {
		line := sc.Text()
		if name, ok := strings.CutPrefix(line, "# HELP "); ok && !strings.Contains(name, " ") {
			if h, ok := Help[name]; ok {
				line += " " + h
			}
		}
		bw.WriteString(line)
		bw.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return bw.Flush()
}
