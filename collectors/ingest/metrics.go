package ingest

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/uni-mail/postvakt/collectors/logparse"
	"github.com/uni-mail/postvakt/collectors/txlog"
)

// Source labels: how lines or events reached the collectors (closed set).
const (
	SourceFile   = "file"
	SourceSyslog = "syslog"
	SourceImport = "import"
	SourceEngine = "engine"
)

// SourceLabels lists every source label.
func SourceLabels() []string { return []string{SourceFile, SourceSyslog, SourceImport, SourceEngine} }

// ProgramLabels is the closed set of program labels for unknown lines: the
// name of every logparse family, and "other".
func ProgramLabels() []string {
	var out []string
	for _, f := range logparse.Families() {
		out = append(out, f.String())
	}
	return append(out, logparse.FamilyNone.String())
}

// ProgramLabel maps a syslog program tag to its closed metric label: its
// logparse family's name.
func ProgramLabel(program string) string { return logparse.FamilyOf(program).String() }

var verdictLabels = []string{"clean", "spammy", "spam", "infected", "banned", "bad_header", "unchecked", "other"}

// VerdictLabel maps a content-filter verdict ("Passed CLEAN") to a label.
func VerdictLabel(v string) string {
	_, cat, _ := strings.Cut(v, " ")
	switch cat {
	case "CLEAN":
		return "clean"
	case "SPAMMY":
		return "spammy"
	case "SPAM":
		return "spam"
	case "INFECTED":
		return "infected"
	case "BANNED":
		return "banned"
	case "BAD-HEADER":
		return "bad_header"
	case "UNCHECKED":
		return "unchecked"
	}
	return "other"
}

var protocolLabels = []string{"imap", "pop3", "smtp", "submission", "webmail", "other"}

// ProtocolLabel maps a login service to a label.
func ProtocolLabel(service string) string {
	switch service {
	case "imap", "pop3", "smtp", "submission", "webmail":
		return service
	}
	return "other"
}

// Metrics are the collectors' client_golang metrics: ingestion health per
// source and the mail facts (traffic, verdicts, greylisting, logins).
// Every label is a closed set.
type Metrics struct {
	LinesRead     *prometheus.CounterVec
	LinesParsed   *prometheus.CounterVec
	LinesUnknown  *prometheus.CounterVec
	ParseErrors   *prometheus.CounterVec
	LinesLate     *prometheus.CounterVec
	LinesCut      *prometheus.CounterVec
	LagBytes      *prometheus.GaugeVec
	LagSeconds    *prometheus.GaugeVec
	Written       *prometheus.CounterVec
	WriteErrors   prometheus.Counter
	OpenMessages  prometheus.Gauge
	EventsDropped prometheus.Counter

	Messages       *prometheus.CounterVec
	ReceivedBytes  *prometheus.CounterVec
	Recipients     *prometheus.CounterVec
	DeliveredBytes *prometheus.CounterVec
	Verdicts       *prometheus.CounterVec
	Greylist       *prometheus.CounterVec
	Logins         *prometheus.CounterVec
	Delay          *prometheus.HistogramVec
}

// NewMetrics creates the metrics and registers them on reg (nil: not
// registered, e.g. for the import command). Every label combination is
// initialised so dashboards see zeros.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	src := []string{"source"}
	m := &Metrics{
		LinesRead:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "postvakt_collector_lines_read_total", Help: "Log lines read, by source."}, src),
		LinesParsed:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "postvakt_collector_lines_parsed_total", Help: "Log lines parsed into a known event, by source."}, src),
		LinesUnknown: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "postvakt_collector_lines_unknown_total", Help: "Log lines no parser recognised, by source and program."}, []string{"source", "program"}),
		ParseErrors:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "postvakt_collector_parse_errors_total", Help: "Log lines that could not be framed (no timestamp, host or program tag), by source."}, src),
		LinesLate: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "postvakt_collector_lines_late_total",
			Help: "Log lines that arrived after a later line of another source had been processed (later than the merge lateness), by source."}, src),
		LinesCut: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "postvakt_collector_lines_cut_total",
			Help: "Log lines longer than the line limit, cut to it (the rest of the line is skipped), by source."}, src),
		LagBytes:     prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "postvakt_collector_lag_bytes", Help: "Bytes of tailed files not yet read, by source."}, src),
		LagSeconds:   prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "postvakt_collector_lag_seconds", Help: "Age of the last line read while unread data remains, by source."}, src),
		Written:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "postvakt_collector_records_written_total", Help: "Records committed to the database, by log (tx, message, login, session)."}, []string{"log"}),
		WriteErrors:  prometheus.NewCounter(prometheus.CounterOpts{Name: "postvakt_collector_write_errors_total", Help: "Failed batch writes (retried)."}),
		OpenMessages: prometheus.NewGauge(prometheus.GaugeOpts{Name: "postvakt_collector_open_messages", Help: "Messages held by the correlator waiting for their last line."}),
		EventsDropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "postvakt_collector_events_dropped_total",
			Help: "Syslog messages or engine events dropped because the collectors could not keep up."}),

		Messages:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "postvakt_mail_messages_total", Help: "Messages received from clients, by direction."}, []string{"direction"}),
		ReceivedBytes:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "postvakt_mail_received_bytes_total", Help: "Bytes of messages received from clients, by direction."}, []string{"direction"}),
		Recipients:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "postvakt_mail_recipients_total", Help: "Recipient outcomes, by direction and result (sent, deferred, bounced, expired, rejected, discarded)."}, []string{"direction", "result"}),
		DeliveredBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "postvakt_mail_delivered_bytes_total", Help: "Bytes of final deliveries, by direction."}, []string{"direction"}),
		Verdicts:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "postvakt_mail_verdicts_total", Help: "Content-filter verdicts, by verdict."}, []string{"verdict"}),
		Greylist:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "postvakt_mail_greylist_total", Help: "Greylisting decisions, by result (greylisted, passed)."}, []string{"result"}),
		Logins:         prometheus.NewCounterVec(prometheus.CounterOpts{Name: "postvakt_mail_logins_total", Help: "Login outcomes, by protocol and result (ok, failed)."}, []string{"protocol", "result"}),
		Delay: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "postvakt_mail_delivery_delay_seconds", Help: "Time from arrival to final delivery, by direction.",
			Buckets: []float64{0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400}}, []string{"direction"}),
	}
	for _, s := range SourceLabels() {
		m.LinesRead.WithLabelValues(s)
		m.LinesParsed.WithLabelValues(s)
		m.ParseErrors.WithLabelValues(s)
		m.LinesLate.WithLabelValues(s)
		m.LinesCut.WithLabelValues(s)
		for _, p := range ProgramLabels() {
			m.LinesUnknown.WithLabelValues(s, p)
		}
	}
	for _, s := range []string{SourceFile} {
		m.LagBytes.WithLabelValues(s)
		m.LagSeconds.WithLabelValues(s)
	}
	for _, l := range []string{"tx", "message", "login", "session"} {
		m.Written.WithLabelValues(l)
	}
	for _, d := range txlog.Directions() {
		m.Messages.WithLabelValues(string(d))
		m.ReceivedBytes.WithLabelValues(string(d))
		m.DeliveredBytes.WithLabelValues(string(d))
		m.Delay.WithLabelValues(string(d))
		for _, r := range []string{txlog.StatusSent, txlog.StatusDeferred, txlog.StatusBounced, txlog.StatusExpired, txlog.StatusRejected, txlog.StatusDiscarded} {
			m.Recipients.WithLabelValues(string(d), r)
		}
	}
	for _, v := range verdictLabels {
		m.Verdicts.WithLabelValues(v)
	}
	m.Greylist.WithLabelValues("greylisted")
	m.Greylist.WithLabelValues("passed")
	for _, p := range protocolLabels {
		m.Logins.WithLabelValues(p, "ok")
		m.Logins.WithLabelValues(p, "failed")
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.LinesRead, m.LinesParsed, m.LinesUnknown, m.ParseErrors, m.LinesLate, m.LinesCut, m.LagBytes, m.LagSeconds,
			m.Written, m.WriteErrors, m.OpenMessages, m.EventsDropped, m.Messages, m.ReceivedBytes, m.Recipients,
			m.DeliveredBytes, m.Verdicts, m.Greylist, m.Logins, m.Delay} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
