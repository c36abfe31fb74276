package dashboards

import (
	"bytes"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Rule is one alerting rule. Runbook is the ID of the runbook its
// runbook_url points to.
type Rule struct {
	Alert, Expr, For, Severity, Summary, Description, Runbook string
}

// RuleGroup is a named group of rules evaluated together.
type RuleGroup struct {
	Name  string
	Rules []Rule
}

// RuleGroups lists the alert rules postvakt ships, without a job selector
// (RulesYAML adds it to every metric). The relay queue is shared by all
// replicas and exported by one (telemetry.ClusterWide), so its rules
// aggregate with max and carry no instance. Thresholds are the
// documented starting points; tune them per site.
func RuleGroups() []RuleGroup {
	return []RuleGroup{
		{Name: "postvakt-service", Rules: []Rule{
			{Alert: "PostvaktDown", Expr: `up == 0`, For: "2m", Severity: "critical", Runbook: "engine-down",
				Summary: "postvakt on {{ $labels.instance }} is down", Description: "Prometheus could not scrape postvakt on {{ $labels.instance }} for 2 minutes."},
			{Alert: "PostvaktSMTPListenerDown", Expr: `sum by (instance) (rate(postvakt_smtp_connections_total{result="accepted"}[15m])) == 0 and sum by (instance) (rate(postvakt_smtp_connections_total{result="accepted"}[15m] offset 1w)) > 0.05`, For: "10m", Severity: "critical", Runbook: "engine-down",
				Summary: "No SMTP connections accepted on {{ $labels.instance }}", Description: "{{ $labels.instance }} accepted no SMTP connection in 15 minutes, although it did at this time last week."},
			{Alert: "PostvaktDatabaseUnreachable", Expr: `postvakt_database_up == 0`, For: "2m", Severity: "critical", Runbook: "database-unreachable",
				Summary: "postvakt on {{ $labels.instance }} cannot reach its database", Description: "The scrape-time database ping failed for 2 minutes; accepted mail is answered with temporary failures."},
			{Alert: "PostvaktDiskFilling", Expr: `predict_linear(postvakt_datadir_filesystem_avail_bytes[6h], 24 * 3600) < 0 and postvakt_datadir_filesystem_avail_bytes / postvakt_datadir_filesystem_size_bytes < 0.2`, For: "30m", Severity: "warning", Runbook: "disk-filling",
				Summary: "The data directory on {{ $labels.instance }} fills within a day", Description: "At the rate of the last 6 hours the file system of the data directory is full within 24 hours ({{ $value | humanize }} bytes predicted)."},
			{Alert: "PostvaktProbeFailing", Expr: `label_replace(min by (instance, service, node, kind) (postvakt_probe_success), "probed_service", "$1", "service", "(.*)") == 0`, For: "5m", Severity: "warning", Runbook: "probe-failed",
				Summary: "The {{ $labels.kind }} probe of {{ $labels.probed_service }} fails{{ if $labels.node }} on node {{ $labels.node }}{{ end }}", Description: "The probe has failed after its retries for 5 minutes. postvakt raises its own on-call incident for it when probes.incidents is on; this alert is for dashboards and Alertmanager routing."},
			{Alert: "PostvaktCertificateExpiry", Expr: `(postvakt_tls_certificate_expiry_timestamp_seconds - time()) / 86400 < 14`, For: "1h", Severity: "warning", Runbook: "certificate-expiry",
				Summary: "A TLS certificate on {{ $labels.instance }} expires in {{ $value | humanize }} days", Description: "The certificate of listener {{ $labels.listener }} expires within 14 days."},
		}},
		{Name: "postvakt-mail", Rules: []Rule{
			{Alert: "PostvaktQueueGrowing", Expr: `sum(max by (state) (postvakt_queue_messages)) > 100 and sum(max by (state) (delta(postvakt_queue_messages[30m]))) > 50`, For: "30m", Severity: "warning", Runbook: "queue-growing",
				Summary: "The relay queue keeps growing", Description: "The outbound relay queue holds {{ $value | humanize }} messages and grew by more than 50 in 30 minutes."},
			{Alert: "PostvaktQueueOldMessages", Expr: `max(postvakt_queue_oldest_age_seconds{state!="held"}) > 4 * 3600`, For: "15m", Severity: "warning", Runbook: "queue-growing",
				Summary: "Messages older than 4 hours in the relay queue", Description: "The oldest queued message is {{ $value | humanizeDuration }} old."},
			{Alert: "PostvaktDeliveryFailureRate", Expr: `sum by (instance) (rate(postvakt_queue_deliveries_total{result=~"deferred|bounced"}[15m])) / sum by (instance) (rate(postvakt_queue_deliveries_total[15m])) > 0.2 and sum by (instance) (rate(postvakt_queue_deliveries_total[15m])) > 0.05`, For: "15m", Severity: "warning", Runbook: "delivery-failures",
				Summary: "More than 20 % of deliveries fail on {{ $labels.instance }}", Description: "{{ $value | humanizePercentage }} of relay delivery attempts in 15 minutes were deferred or bounced."},
			{Alert: "PostvaktGreylistBacklog", Expr: `sum by (instance) (rate(postvakt_smtp_greylist_decisions_total{reason="new"}[1h])) > 3 * sum by (instance) (rate(postvakt_smtp_greylist_decisions_total{reason="new"}[1h] offset 1w)) and sum by (instance) (rate(postvakt_smtp_greylist_decisions_total{reason="new"}[1h])) > 1`, For: "30m", Severity: "info", Runbook: "greylist-backlog",
				Summary: "Greylisting defers three times more than last week on {{ $labels.instance }}", Description: "New triplets are greylisted at {{ $value | humanize }}/s, three times the rate of the same hour last week."},
			{Alert: "PostvaktOutgoingSpamBurst", Expr: `sum by (instance) (increase(postvakt_abuse_events_total{kind="rate_limited"}[10m])) > 0 or sum by (instance) (increase(postvakt_collector_abuse_alerts_total{kind="policy_rejects"}[10m])) > 0`, For: "0m", Severity: "critical", Runbook: "outgoing-spam-burst",
				Summary: "An account sends a spam burst through {{ $labels.instance }}", Description: "Abuse control throttled an account, or the logs show rate-limit and policy rejects; the abuse event or the incident names the account."},
			{Alert: "PostvaktAccountCompromised", Expr: `sum by (instance) (increase(postvakt_collector_abuse_alerts_total{kind=~"login_after_failures|new_address_submissions|submission_burst"}[10m])) > 0`, For: "0m", Severity: "critical", Runbook: "account-compromise",
				Summary: "An account is probably in someone else's hands ({{ $labels.instance }})", Description: "Abuse detection found a guessed password (a login from a guessing address) or a submission burst; the incident names the account, its addresses and the log lines."},
			{Alert: "PostvaktMassMailingHeld", Expr: `sum by (instance) (increase(postvakt_abuse_events_total{kind="mass_mailing_held"}[10m])) > 0`, For: "0m", Severity: "warning", Runbook: "outgoing-spam-burst",
				Summary: "A mass mailing was held on {{ $labels.instance }}", Description: "A message to more than 20 recipients from a sender not on the approved list was held."},
			{Alert: "PostvaktAVScannerDown", Expr: `min by (instance, scanner) (postvakt_content_scanner_up{scanner="clamd"}) == 0`, For: "5m", Severity: "critical", Runbook: "av-scanner-down",
				Summary: "The antivirus scanner is down on {{ $labels.instance }}", Description: "clamd has not answered for 5 minutes; mail is tempfailed or passed unscanned as configured."},
			{Alert: "PostvaktAuthBruteForce", Expr: `sum by (instance) (increase(postvakt_smtp_auth_attempts_total{result=~"bad_password|unknown_user"}[10m]) or increase(postvakt_mail_logins_total{result="failed"}[10m])) > 100 or sum by (instance) (increase(postvakt_collector_abuse_alerts_total{kind=~"guessing_account|guessing_address"}[10m])) > 0`, For: "0m", Severity: "warning", Runbook: "auth-brute-force",
				Summary: "Authentication brute force against {{ $labels.instance }}", Description: "More than 100 failed logins in 10 minutes, or abuse detection flagged brute force."},
			{Alert: "PostvaktNoMailboxLogins", Expr: `sum by (instance) (increase(postvakt_mail_logins_total{protocol=~"imap|pop3",result="ok"}[15m])) == 0 and on () (hour() >= 7 and hour() < 16) and on () (day_of_week() >= 1 and day_of_week() <= 5)`, For: "15m", Severity: "critical", Runbook: "no-logins",
				Summary: "No IMAP or POP logins for 15 minutes during working hours", Description: "No successful IMAP or POP3 login was collected for 15 minutes on a weekday between 07:00 and 16:00 UTC (08:00–17:00 Central European Time)."},
		}},
		{Name: "postvakt-collectors", Rules: []Rule{
			{Alert: "PostvaktCollectorLag", Expr: `max by (instance, source) (postvakt_collector_lag_bytes) > 10e6 or max by (instance, source) (postvakt_collector_lag_seconds) > 300`, For: "10m", Severity: "warning", Runbook: "collector-lag",
				Summary: "Collector {{ $labels.source }} lags on {{ $labels.instance }}", Description: "A log source is more than 10 MB or 5 minutes behind."},
			{Alert: "PostvaktCollectorDown", Expr: `sum by (instance, source) (increase(postvakt_collector_lines_read_total[30m])) == 0 and sum by (instance, source) (increase(postvakt_collector_lines_read_total[30m] offset 1d)) > 0`, For: "0m", Severity: "warning", Runbook: "collector-lag",
				Summary: "Collector {{ $labels.source }} read nothing for 30 minutes on {{ $labels.instance }}", Description: "The source read lines at this time yesterday but none in the last 30 minutes."},
			{Alert: "PostvaktUnknownLogLines", Expr: `sum by (instance) (rate(postvakt_collector_lines_unknown_total[15m])) / sum by (instance) (rate(postvakt_collector_lines_read_total[15m])) > 0.05`, For: "30m", Severity: "info", Runbook: "collector-lag",
				Summary: "Many log lines are not recognised on {{ $labels.instance }}", Description: "{{ $value | humanizePercentage }} of the lines read in 15 minutes matched no parser."},
		}},
	}
}

// RulesYAML renders the rule groups in Prometheus' rule file format, with
// the job selector added to every metric and runbook_url pointing at
// <RunbookURL>/runbooks/<id>.
func RulesYAML(opts Options) ([]byte, error) {
	type rule struct {
		Alert       string            `yaml:"alert"`
		Expr        string            `yaml:"expr"`
		For         string            `yaml:"for,omitempty"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
	}
	type group struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	}
	var doc struct {
		Groups []group `yaml:"groups"`
	}
	base := strings.TrimRight(opts.RunbookURL, "/")
	for _, g := range RuleGroups() {
		out := group{Name: g.Name}
		for _, r := range g.Rules {
			if r.Runbook == "" || r.Severity == "" || r.Summary == "" || r.Description == "" {
				return nil, fmt.Errorf("rule %s: runbook, severity, summary and description are required", r.Alert)
			}
			out.Rules = append(out.Rules, rule{
				Alert: r.Alert, Expr: WithJob(r.Expr, opts.JobSelector), For: r.For,
				Labels: map[string]string{"severity": r.Severity, "service": "postvakt"},
				Annotations: map[string]string{
					"summary": r.Summary, "description": r.Description,
					"runbook_url": base + "/runbooks/" + r.Runbook,
				},
			})
		}
		doc.Groups = append(doc.Groups, out)
	}
	var buf bytes.Buffer
	buf.WriteString("# Generated by `postvakt dashboards generate`; do not edit by hand.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
