package dashboards

// in restricts a selector to the dashboard's instance variable. The
// cluster-wide gauges (telemetry.ClusterWide, exported by one replica) are
// not restricted by it and are aggregated with max, never sum: picking a
// replica that is not the exporting one must not blank them, and N replicas
// must not show N times the figure. The job selector is added to every
// metric when the files are generated (WithJob).
const in = `instance=~"$instance"`

func rate(metric, by, extra string) string {
	sel := in
	if extra != "" {
		sel += "," + extra
	}
	return "sum by (" + by + ") (rate(" + metric + "{" + sel + "}[$__rate_interval]))"
}

func quantile(q, metric, by string) string {
	b := "le"
	if by != "" {
		b = by + ", le"
	}
	return "histogram_quantile(" + q + ", sum by (" + b + ") (rate(" + metric + "_bucket{" + in + "}[$__rate_interval])))"
}

// Boards lists every dashboard postvakt ships.
func Boards() []Board {
	return []Board{mailFlow(), spamAV(), logins(), engineInternals(), oncallSLA(), collectorsHealth()}
}

func mailFlow() Board {
	return Board{
		UID: "postvakt-mailflow", Title: "postvakt — mail flow",
		Description: "Messages and bytes in and out, rejects by reason, greylisting, the relay queue and delivery latency.",
		Rows: []Row{
			{Title: "Volume", Panels: []Panel{
				{Title: "Messages by direction and result (engine)", Unit: "ops", Stack: true,
					Description: "SMTP transactions answered by postvakt's engine per second: accepted, rejected or tempfailed, inbound (MX) and outbound (submission).",
					Queries:     []Query{{rate("postvakt_smtp_messages_total", "direction, result", ""), "{{direction}} {{result}}"}}},
				{Title: "Bytes accepted by direction (engine)", Unit: "Bps",
					Description: "Size of accepted messages per second, inbound and outbound.",
					Queries:     []Query{{rate("postvakt_smtp_message_bytes_total", "direction", ""), "{{direction}}"}}},
				{Title: "Messages received from clients (logs)", Unit: "ops",
					Description: "Messages that entered the existing mail servers from a client, counted once across content-filter re-injection, from the collected logs.",
					Queries:     []Query{{rate("postvakt_mail_messages_total", "direction", ""), "{{direction}}"}}},
				{Title: "Recipient outcomes (logs)", Unit: "ops", Stack: true,
					Description: "Final outcome per recipient from the collected logs: sent, deferred, bounced, expired, rejected, discarded.",
					Queries:     []Query{{rate("postvakt_mail_recipients_total", "direction, result", ""), "{{direction}} {{result}}"}}},
			}},
			{Title: "Rejects and greylisting", Panels: []Panel{
				{Title: "Rejects by reason", Unit: "ops", Stack: true,
					Description: "Refusals by the engine per second, by reason (a closed set: unknown user, relay denied, DNSBL, greylisted, size, quota, policy, …).",
					Queries:     []Query{{rate("postvakt_smtp_rejects_total", "reason", ""), "{{reason}}"}}},
				{Title: "Greylisting decisions", Unit: "ops",
					Description: "Greylisting decisions per second: new triplets deferred, early retries, passed triplets, whitelisted clients; from the engine and from postgrey's logs.",
					Queries: []Query{
						{rate("postvakt_smtp_greylist_decisions_total", "reason", ""), "engine {{reason}}"},
						{rate("postvakt_mail_greylist_total", "result", ""), "logs {{result}}"},
					}},
			}},
			{Title: "Queue and delivery", Panels: []Panel{
				{Title: "Relay queue size by state", Unit: "short",
					Description: "Messages waiting in the outbound relay queue: queued, deferred (waiting for a retry), held (by a postmaster or the abuse rules).",
					Queries:     []Query{{`max by (state) (postvakt_queue_messages)`, "{{state}}"}}},
				{Title: "Oldest queued message", Unit: "s",
					Description: "Age of the oldest message in the relay queue, by state. Messages bounce with a DSN after the maximum lifetime.",
					Queries:     []Query{{`max by (state) (postvakt_queue_oldest_age_seconds)`, "{{state}}"}}},
				{Title: "Relay deliveries by result", Unit: "ops", Stack: true,
					Description: "Outbound delivery attempts per second: sent, deferred (retried with backoff), bounced.",
					Queries:     []Query{{rate("postvakt_queue_deliveries_total", "result", ""), "{{result}}"}}},
				{Title: "Local deliveries by result", Unit: "ops",
					Description: "Deliveries into local mailboxes per second (truncated: over-quota mail from trusted senders stored with From and Subject only).",
					Queries:     []Query{{rate("postvakt_smtp_deliveries_total", "result", ""), "{{result}}"}}},
				{Title: "Delivery delay (logs)", Unit: "s",
					Description: "Time from arrival to final delivery, median and 95th percentile, from the collected logs.",
					Queries: []Query{
						{quantile("0.5", "postvakt_mail_delivery_delay_seconds", ""), "p50"},
						{quantile("0.95", "postvakt_mail_delivery_delay_seconds", ""), "p95"},
					}},
			}},
		},
	}
}

func spamAV() Board {
	return Board{
		UID: "postvakt-spam-av", Title: "postvakt — spam and antivirus",
		Description: "Content verdicts, scanner health and abuse events.",
		Rows: []Row{
			{Title: "Verdicts", Panels: []Panel{
				{Title: "Content verdicts (engine)", Unit: "ops", Stack: true,
					Description: "Messages scanned by the engine per second, by verdict: clean, spam, virus, banned attachment, suspect archive.",
					Queries:     []Query{{rate("postvakt_content_verdicts_total", "verdict", ""), "{{verdict}}"}}},
				{Title: "Content-filter verdicts (logs)", Unit: "ops", Stack: true,
					Description: "amavis and rspamd verdicts per second from the collected logs (Passed CLEAN, Passed SPAMMY, Blocked SPAM, INFECTED, BANNED, …).",
					Queries:     []Query{{rate("postvakt_mail_verdicts_total", "verdict", ""), "{{verdict}}"}}},
			}},
			{Title: "Scanners", Panels: []Panel{
				{Kind: Stat, Title: "Scanner up", Unit: "none",
					Description: "1 when the scanner (clamd, spamd, rspamd) answered its last check, 0 when it is down. While down, mail is tempfailed or passed with a header, as configured.",
					Queries:     []Query{{`min by (scanner) (postvakt_content_scanner_up{` + in + `})`, "{{scanner}}"}}},
				{Title: "Scan errors", Unit: "ops",
					Description: "Failed scans per second, by scanner.",
					Queries:     []Query{{rate("postvakt_content_scan_errors_total", "scanner", ""), "{{scanner}}"}}},
			}},
			{Title: "Abuse", Panels: []Panel{
				{Title: "Abuse control on submission", Unit: "ops",
					Description: "Throttled sends, held mass mailings and locked accounts per second (runbook outgoing-spam-burst).",
					Queries:     []Query{{rate("postvakt_abuse_events_total", "kind", ""), "{{kind}}"}}},
				{Title: "Abuse alerts from the logs", Unit: "short",
					Description: "Alerts raised by abuse detection over the last hour: sending bursts, mass mailings, brute force, logins from many addresses.",
					Queries:     []Query{{`sum by (kind) (increase(postvakt_collector_abuse_alerts_total{` + in + `}[1h]))`, "{{kind}}"}}},
			}},
		},
	}
}

func logins() Board {
	return Board{
		UID: "postvakt-logins", Title: "postvakt — logins",
		Description: "Logins by protocol and result, and authentication failures.",
		Rows: []Row{
			{Title: "Logins", Panels: []Panel{
				{Title: "Logins by protocol and result (logs)", Unit: "ops", Stack: true,
					Description: "IMAP, POP3, SMTP AUTH and webmail logins per second from the collected logs, by result.",
					Queries:     []Query{{rate("postvakt_mail_logins_total", "protocol, result", ""), "{{protocol}} {{result}}"}}},
				{Title: "SMTP AUTH attempts (engine)", Unit: "ops",
					Description: "AUTH attempts on the engine's listeners per second, by result (ok, failed, locked, refused without TLS).",
					Queries:     []Query{{rate("postvakt_smtp_auth_attempts_total", "listener, result", ""), "{{listener}} {{result}}"}}},
				{Title: "Share of failed logins", Unit: "percentunit",
					Description: "Failed logins as a share of all logins, by protocol. A sudden rise is password guessing (runbook auth-brute-force).",
					Queries:     []Query{{`sum by (protocol) (rate(postvakt_mail_logins_total{` + in + `,result="failed"}[$__rate_interval])) / sum by (protocol) (rate(postvakt_mail_logins_total{` + in + `}[$__rate_interval]))`, "{{protocol}}"}}},
			}},
		},
	}
}

func engineInternals() Board {
	return Board{
		UID: "postvakt-engine", Title: "postvakt — engine internals",
		Description: "Connections, commands and replies, latencies, commits and the mailbox store of the SMTP engine; HTTP requests.",
		Rows: []Row{
			{Title: "Connections and commands", Panels: []Panel{
				{Title: "Connections by listener and result", Unit: "cps",
					Description: "New SMTP connections per second by listener (mx, submission) and result (accepted, or refused by a limit).",
					Queries:     []Query{{rate("postvakt_smtp_connections_total", "listener, result", ""), "{{listener}} {{result}}"}}},
				{Title: "Active connections", Unit: "short",
					Description: "Open SMTP sessions by listener.",
					Queries:     []Query{{`sum by (listener) (postvakt_smtp_connections_active{` + in + `})`, "{{listener}}"}}},
				{Title: "Commands", Unit: "ops", Stack: true,
					Description: "SMTP commands per second by command.",
					Queries:     []Query{{rate("postvakt_smtp_commands_total", "command", ""), "{{command}}"}}},
				{Title: "Replies by class", Unit: "ops", Stack: true,
					Description: "Replies per second by class: 2xx, 4xx (temporary), 5xx (permanent).",
					Queries:     []Query{{rate("postvakt_smtp_replies_total", "class", ""), "{{class}}"}}},
			}},
			{Title: "Latency and durability", Panels: []Panel{
				{Title: "Session and DATA duration p95", Unit: "s",
					Description: "95th percentile of SMTP session and DATA phase durations, by listener.",
					Queries: []Query{
						{quantile("0.95", "postvakt_smtp_session_duration_seconds", "listener"), "session {{listener}}"},
						{quantile("0.95", "postvakt_smtp_data_duration_seconds", "listener"), "DATA {{listener}}"},
					}},
				{Title: "Commit latency", Unit: "s",
					Description: "Time to make an accepted message durable (group commit), median and 95th percentile. A 250 is sent only after the commit.",
					Queries: []Query{
						{quantile("0.5", "postvakt_smtp_commit_duration_seconds", ""), "p50"},
						{quantile("0.95", "postvakt_smtp_commit_duration_seconds", ""), "p95"},
					}},
				{Title: "Messages per commit", Unit: "short",
					Description: "Average number of messages made durable by one group commit.",
					Queries:     []Query{{`sum(rate(postvakt_smtp_commit_batch_messages_sum{` + in + `}[$__rate_interval])) / sum(rate(postvakt_smtp_commit_batch_messages_count{` + in + `}[$__rate_interval]))`, "messages"}}},
				{Title: "Commit errors and dropped events", Unit: "ops",
					Description: "Failed commits (answered with a temporary failure) and mail events dropped because a consumer was slow.",
					Queries: []Query{
						{`sum(rate(postvakt_smtp_commit_errors_total{` + in + `}[$__rate_interval]))`, "commit errors"},
						{`sum(rate(postvakt_smtp_events_dropped_total{` + in + `}[$__rate_interval]))`, "events dropped"},
					}},
			}},
			{Title: "Store and lookups", Panels: []Panel{
				{Title: "Mailbox store", Unit: "short",
					Description: "Messages and distinct bodies in the mailbox store (a bulk message keeps one body for all its recipients).",
					Queries: []Query{
						{`max(postvakt_smtp_store_messages)`, "messages"},
						{`max(postvakt_smtp_store_bodies)`, "bodies"},
					}},
				{Title: "Mailbox store bytes", Unit: "bytes",
					Description: "Bytes of message bodies in the store.",
					Queries:     []Query{{`max(postvakt_smtp_store_body_bytes)`, "bytes"}}},
				{Title: "DNSBL lookups", Unit: "ops",
					Description: "DNS blocklist lookups per second by result (listed, clean, error).",
					Queries:     []Query{{rate("postvakt_smtp_dnsbl_lookups_total", "result", ""), "{{result}}"}}},
				{Title: "HTTP requests", Unit: "reqps",
					Description: "HTTP requests per second by status class (API, web UI, metrics).",
					Queries:     []Query{{rate("postvakt_http_requests_total", "code", ""), "{{code}}"}}},
			}},
		},
	}
}

func oncallSLA() Board {
	return Board{
		UID: "postvakt-oncall-sla", Title: "postvakt — on-call and SLA",
		Description: "Open tickets and incidents, SLA compliance and breaches, pages and time to acknowledge.",
		Rows: []Row{
			{Title: "Tickets and SLA", Panels: []Panel{
				{Title: "Open tickets by service and severity", Unit: "short", Stack: true,
					Description: "Tickets not yet closed, by service component and severity. Every fault is followed until closed.",
					Queries:     []Query{{`sum by (service, severity) (max by (service, severity, state) (postvakt_tickets_open))`, "{{service}} {{severity}}"}}},
				{Kind: Stat, Title: "SLA compliance (30 days)", Unit: "percentunit",
					Description: "Share of in-hours tickets of the last 30 days whose response clock met its target (best-effort tickets excluded).",
					Queries:     []Query{{`min by (policy) (postvakt_sla_compliance_ratio{clock="response"})`, "{{policy}}"}}},
				{Title: "SLA warnings and breaches", Unit: "short",
					Description: "Pre-breach warnings (at 75 % of the target) and breaches per day, by clock.",
					Queries: []Query{
						{`sum by (clock) (increase(postvakt_sla_warnings_total{` + in + `}[1d]))`, "warnings {{clock}}"},
						{`sum by (clock) (increase(postvakt_sla_breaches_total{` + in + `}[1d]))`, "breaches {{clock}}"},
					}},
				{Title: "Response time p90", Unit: "s",
					Description: "90th percentile of the time to first response, in business time and wall time, by severity.",
					Queries: []Query{
						{quantile("0.9", "postvakt_sla_response_business_seconds", "severity"), "business {{severity}}"},
						{quantile("0.9", "postvakt_sla_response_wall_seconds", "severity"), "wall {{severity}}"},
					}},
			}},
			{Title: "Paging", Panels: []Panel{
				{Title: "Open incidents", Unit: "short",
					Description: "Incidents not yet resolved, by status (open, acknowledged).",
					Queries:     []Query{{`max by (status) (postvakt_oncall_open_incidents)`, "{{status}}"}}},
				{Title: "Pages by channel and result", Unit: "short",
					Description: "Pages sent per hour by channel (slack, email) and result.",
					Queries:     []Query{{`sum by (channel, result) (increase(postvakt_oncall_pages_total{` + in + `}[1h]))`, "{{channel}} {{result}}"}}},
				{Title: "Time to acknowledge", Unit: "s",
					Description: "Median and 90th percentile of the time from the first page to its acknowledgement.",
					Queries: []Query{
						{quantile("0.5", "postvakt_oncall_time_to_acknowledge_seconds", ""), "p50"},
						{quantile("0.9", "postvakt_oncall_time_to_acknowledge_seconds", ""), "p90"},
					}},
				{Title: "Escalations and Alertmanager webhooks", Unit: "short",
					Description: "Escalations to a later step per hour, and Alertmanager webhook deliveries by result.",
					Queries: []Query{
						{`sum(increase(postvakt_oncall_escalations_total{` + in + `}[1h]))`, "escalations"},
						{`sum by (result) (increase(postvakt_oncall_alertmanager_webhooks_total{` + in + `}[1h]))`, "webhook {{result}}"},
					}},
			}},
		},
	}
}

func collectorsHealth() Board {
	return Board{
		UID: "postvakt-collectors", Title: "postvakt — collectors and service health",
		Description: "Log ingestion (lines read, parsed, unknown, lag), scheduled jobs, database and disk.",
		Rows: []Row{
			{Title: "Ingestion", Panels: []Panel{
				{Title: "Lines read and parsed by source", Unit: "ops",
					Description: "Log lines read and parsed into events per second, by source (syslog, file, import).",
					Queries: []Query{
						{rate("postvakt_collector_lines_read_total", "source", ""), "read {{source}}"},
						{rate("postvakt_collector_lines_parsed_total", "source", ""), "parsed {{source}}"},
					}},
				{Title: "Unknown lines and parse errors", Unit: "ops",
					Description: "Lines no parser knows (by program: a new software version may have changed its format) and lines that could not be framed.",
					Queries: []Query{
						{rate("postvakt_collector_lines_unknown_total", "program", ""), "unknown {{program}}"},
						{rate("postvakt_collector_parse_errors_total", "source", ""), "errors {{source}}"},
					}},
				{Title: "Lag behind the file end", Unit: "bytes",
					Description: "Bytes of tailed files not yet read, by source.",
					Queries:     []Query{{`max by (source) (postvakt_collector_lag_bytes{` + in + `})`, "{{source}}"}}},
				{Title: "Lag in time", Unit: "s",
					Description: "Age of the last line read while unread data remains, by source.",
					Queries:     []Query{{`max by (source) (postvakt_collector_lag_seconds{` + in + `})`, "{{source}}"}}},
				{Title: "Records written and write errors", Unit: "ops",
					Description: "Records committed to the transaction and login logs per second, failed batch writes, and events dropped.",
					Queries: []Query{
						{rate("postvakt_collector_records_written_total", "log", ""), "written {{log}}"},
						{`sum(rate(postvakt_collector_write_errors_total{` + in + `}[$__rate_interval]))`, "write errors"},
						{`sum(rate(postvakt_collector_events_dropped_total{` + in + `}[$__rate_interval]))`, "events dropped"},
					}},
				{Title: "Messages awaiting their last line", Unit: "short",
					Description: "Messages held by the correlator until their final log line arrives.",
					Queries:     []Query{{`sum(postvakt_collector_open_messages{` + in + `})`, "open"}}},
			}},
			{Title: "Service probes", Panels: []Panel{
				{Title: "Probes failing", Unit: "short",
					Description: "Probes whose last run failed after its retries, by service, node (empty: through the balancer) and kind (runbook probe-failed).",
					Queries:     []Query{{`sum by (service, node, kind) (1 - postvakt_probe_success{` + in + `})`, "{{service}} {{node}} {{kind}}"}}},
				{Title: "Probe duration", Unit: "s",
					Description: "Time of each probe's last run (all steps, the successful attempt or the last one).",
					Queries:     []Query{{`max by (service, node, kind) (postvakt_probe_duration_seconds{` + in + `})`, "{{service}} {{node}} {{kind}}"}}},
				{Title: "Mail loop delivery time", Unit: "s",
					Description: "Time from submitting a probe message to seeing it in the probe mailbox, per mail loop.",
					Queries:     []Query{{`max by (service, node) (postvakt_probe_mail_loop_delivery_seconds{` + in + `})`, "{{service}} {{node}}"}}},
				{Title: "Time until a probed certificate expires", Unit: "dtdurations",
					Description: "Earliest certificate expiry seen by each TLS probe (runbook certificate-expiry).",
					Queries:     []Query{{`min by (service, node, kind) (postvakt_probe_tls_certificate_expiry_timestamp_seconds{` + in + `} - time())`, "{{service}} {{node}} {{kind}}"}}},
			}},
			{Title: "Jobs, database and disk", Panels: []Panel{
				{Title: "Scheduled job runs by result", Unit: "short",
					Description: "Scheduled job ticks handled per hour, by job and result (ok, error, skipped, claimed by another replica).",
					Queries:     []Query{{`sum by (job_name, result) (increase(postvakt_scheduler_runs_total{` + in + `}[1h]))`, "{{job_name}} {{result}}"}}},
				{Title: "Time since last successful run", Unit: "s",
					Description: "Seconds since each job last succeeded on any replica.",
					Queries:     []Query{{`time() - max by (job_name) (postvakt_scheduler_last_success_timestamp_seconds{` + in + `})`, "{{job_name}}"}}},
				{Kind: Stat, Title: "Database up", Unit: "none",
					Description: "1 when the database answered the scrape-time ping; 0 when it did not (runbook database-unreachable).",
					Queries:     []Query{{`min(postvakt_database_up{` + in + `})`, "up"}}},
				{Title: "Free space in the data directory", Unit: "bytes",
					Description: "Bytes available on the file system of the data directory (runbook disk-filling).",
					Queries:     []Query{{`min by (instance) (postvakt_datadir_filesystem_avail_bytes{` + in + `})`, "{{instance}}"}}},
			}},
		},
	}
}
