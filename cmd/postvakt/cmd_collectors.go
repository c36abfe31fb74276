package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/uni-mail/postvakt/collectors/abusedetect"
	"github.com/uni-mail/postvakt/collectors/ingest"
	"github.com/uni-mail/postvakt/collectors/logparse"
	"github.com/uni-mail/postvakt/collectors/rollup"
	"github.com/uni-mail/postvakt/collectors/trace"
	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/config/timezone"
	"github.com/uni-mail/postvakt/internal/api/collectorsapi"
	"github.com/uni-mail/postvakt/internal/app"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/control"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/internal/store/txlogstore"
)

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func importCmd() *command {
	var tz, cpuProfile string
	var noRollups, dryRun, create bool
	var writers int
	return &command{
		name:    "import",
		args:    "FILE…",
		summary: "backfill the transaction and login logs from log files (plain or .gz)",
		help: `Reads the log files of ` + logFamilies() + `
(traditional syslog, RFC 3339 or with <PRI>; ".gz" files are decompressed),
merges their lines by time so messages are joined across files (Postfix's
own log and mail.log), and writes the records in batches. Give every file
of one period in one run. Year-less timestamps are resolved against each
file's modification time, in the zone the logging hosts stamp them in
(--timezone, else collectors.log_timezone). A progress bar is shown when
stdout is a terminal.

import writes to the configured database, which must exist (made by
'postvakt migrate up' or 'postvakt serve'); --create-database makes and
migrates it when there is none, for a backfill before the first start.

--cpuprofile FILE writes a CPU profile of the run to FILE (for go tool
pprof; docs/performance.md).`,
		flags: func(fs *flag.FlagSet, _ *globalOpts) {
			fs.StringVar(&tz, "timezone", "", "`zone` of the files' year-less timestamps (default collectors.log_timezone)")
			fs.BoolVar(&create, "create-database", false, "create and migrate the configured database when it does not exist")
			fs.BoolVar(&noRollups, "no-rollups", false, "do not recompute the hourly and daily rollups of the imported period")
			fs.BoolVar(&dryRun, "dry-run", false, "parse, correlate and build the records, but write nothing (no database needed)")
			fs.IntVar(&writers, "writers", 0, "concurrent batch writers; 0: as many as CPUs (2 to 4) on PostgreSQL, on SQLite 2 taking turns into empty logs, else 1")
			fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
		},
		run: func(ctx context.Context, e *cmdEnv, args []string) error {
			if len(args) == 0 {
				return usagef("import needs at least one FILE")
			}
			if cpuProfile != "" {
				stop, err := startCPUProfile(cpuProfile)
				if err != nil {
					return err
				}
				defer stop()
			}
			if !dryRun {
				cfg, db, err := e.openDatabase(ctx, openOptions{create: create, bulk: true})
				if err != nil {
					return err
				}
				defer db.Close()
				return func(ctx context.Context, e *cmdEnv, cfg *config.Config, db *storage.DB, args []string) error {
					w := writers
					if w <= 0 {
						w = 1
						if db.Dialect() == storage.Postgres {
							// More COPY streams than cores only make
							// PostgreSQL's backends contend for the same
							// index pages (2 cores: 2 writers 6.1 s, 4
							// writers 7.1 s per million lines).
							w = min(max(runtime.NumCPU(), 2), 4)
						}
					}
					store := txlogstore.New(db)
					return runImport(ctx, e, importRun{cfg: cfg, db: db, store: store, bulk: store, files: args, tz: tz, noRollups: noRollups, writers: w, autoWriters: writers <= 0})
				}(ctx, e, cfg, db, args)
			}
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			return runImport(ctx, e, importRun{cfg: cfg, store: discardStore{}, files: args, tz: tz, noRollups: true})
		},
	}
}

// logFamilies lists the programs whose logs the collectors parse: the
// logparse families, "postfix, dovecot, … and roundcube".
func logFamilies() string {
	var names []string
	for _, f := range logparse.Families() {
		names = append(names, f.String())
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// discardStore counts nothing and keeps nothing: import --dry-run.
type discardStore struct{}

func (discardStore) WriteBatch(context.Context, *txlog.Batch, []txlog.Checkpoint) error { return nil }
func (discardStore) Checkpoint(context.Context, string) (txlog.Checkpoint, error) {
	return txlog.Checkpoint{}, txlog.ErrNoCheckpoint
}

// importRun is one import: db is nil for a dry run.
type importRun struct {
	cfg   *config.Config
	db    *storage.DB
	store txlog.Store
	// bulk loads into empty logs without their indexes
	// (txlogstore.Store.BeginBulkLoad); nil for a dry run
	bulk      *txlogstore.Store
	files     []string
	tz        string
	noRollups bool
	writers   int
	// autoWriters: writers is the default (--writers 0)
	autoWriters bool
}

func runImport(ctx context.Context, e *cmdEnv, o importRun) error {
	cfg, db, args, tz, noRollups := o.cfg, o.db, o.files, o.tz, o.noRollups
	cc := cfg.Collectors
	if tz != "" {
		cc.LogTimezone, cc.Timezone = tz, ""
	}
	loc, err := cc.LogLocation()
	if err != nil {
		return usagef("--timezone %q: %v", tz, err)
	}
	po, err := app.PipelineOptions(cc, o.store)
	if err != nil {
		return err
	}
	po.Writers = o.writers
	start := time.Now()
	var bulk txlogstore.BulkLoad
	if o.bulk != nil {
		if bulk, err = o.bulk.BeginBulkLoad(ctx); err != nil {
			return err
		}
		if bulk.StartedOver {
			fmt.Fprintf(e.stdout, "an earlier import into the empty logs did not finish: its rows were deleted, starting over\n")
		}
		if bulk.On && o.autoWriters && db.Dialect() == storage.SQLite {
			// batches written while the next are parsed: the store
			// writes them one at a time
			po.Writers = 2
		}
	}
	// Abuse detection runs on the imported lines as on tailed ones
	// (docs/collectors.md, "Abuse detection"); its findings are listed.
	var findings []abusedetect.Alert
	if po.Detector, err = app.Detector(cc, abusedetect.AlertSinkFunc(func(_ context.Context, a abusedetect.Alert) error {
		findings = append(findings, a)
		return nil
	}), nil, nil); err != nil {
		return err
	}
	p := ingest.New(po)
	var bar *progressbar.ProgressBar
	progress := func(read, total int64) {}
	if isTerminal(e.stdout) {
		bar = progressbar.NewOptions64(-1, progressbar.OptionSetWriter(e.stdout), progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription("importing"), progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish())
		progress = func(read, total int64) {
			if bar.GetMax64() != total {
				bar.ChangeMax64(total)
			}
			_ = bar.Set64(read)
		}
	}
	if os.Getenv("GOGC") == "" {
		defer startImportGC()()
	}
	st, err := ingest.Import(ctx, p, ingest.ImportOptions{Files: args, Loc: loc, Progress: progress})
	if bar != nil {
		_ = bar.Finish()
	}
	if err != nil {
		err = errors.Join(err, p.Abandon())
		if bulk.On {
			o.bulk.EndBulkWrites()
			return fmt.Errorf("%w (the logs were empty: run the same import again to start over)", err)
		}
		return err
	}
	if bulk.On {
		// the indexes go back before the summary: an import is done when
		// its rows can be traced
		loaded := time.Now()
		if err := o.bulk.FinishBulkLoad(ctx); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "loaded into empty logs in %s, then built their %d indexes in %s\n",
			loaded.Sub(start).Round(time.Millisecond), len(bulk.Indexes), time.Since(loaded).Round(time.Millisecond))
	}
	took := time.Since(start)
	sum := p.Correlator().Summary()
	fmt.Fprintf(e.stdout, "imported %d lines (%d unparsable, %d unknown) from %d file(s) in %s: %.0f lines/s\n",
		st.Lines, st.ParseErrors, sumMap(sum.Unknown), len(args), took.Round(time.Millisecond), float64(st.Lines)/took.Seconds())
	fmt.Fprintf(e.stdout, "messages %d, period %s … %s\n", sum.Messages, e.when(st.First), e.when(st.Last))
	fmt.Fprintf(e.stdout, "abuse findings: %d\n", len(findings))
	for _, a := range findings {
		fmt.Fprintf(e.stdout, "  %s  %s  %s: %s (runbook %s)\n", e.when(a.At), a.Kind, a.Subject, a.Summary, a.Runbook)
	}
	if db == nil {
		return nil
	}
	if !noRollups && !st.First.IsZero() {
		jobs := rollup.Jobs{Store: txlogstore.New(db), Location: cfg.Reports.Location()}
		if err := jobs.RollRange(ctx, st.First, st.Last.Add(time.Hour)); err != nil {
			return err
		}
	}
	return accessstore.New(db).Audit(ctx, auth.AuditEntry{At: time.Now(), Actor: "cli:" + currentUser(), Action: "collectors.import",
		Detail: fmt.Sprintf("%d files, %d lines", len(args), st.Lines)})
}

func sumMap(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func summaryCmd() *command {
	var since, until string
	var asJSON, noTables bool
	var top int
	return &command{
		name:    "summary",
		summary: "grand totals of mail traffic, rejects, greylisting, logins and verdicts from the stored logs",
		help: `Totals in the spirit of pflogsumm, computed by the database from the stored
transaction and login logs, and pflogsumm's tables: top senders and recipients,
sending and receiving domains (messages and bytes), deferral, bounce and reject
reasons grouped, traffic per hour (in the service's time zone, named in the
output) and Postfix's warnings. --since and --until take ` + timezone.Grammar + `,
or a duration before now (24h); without them the whole stored period.`,
		flags: func(fs *flag.FlagSet, _ *globalOpts) {
			fs.StringVar(&since, "since", "", "start `time` of the period (inclusive)")
			fs.StringVar(&until, "until", "", "end `time` of the period (exclusive)")
			fs.BoolVar(&asJSON, "json", false, "print JSON")
			fs.IntVar(&top, "top", 10, "entries per table (top senders, recipients, domains, reasons, warnings)")
			fs.BoolVar(&noTables, "no-tables", false, "print the grand totals only")
		},
		run: withDatabase(func(ctx context.Context, e *cmdEnv, cfg *config.Config, db *storage.DB, args []string) error {
			if len(args) > 0 {
				return usagef("summary takes no arguments")
			}
			s0, err := e.parseTime("--since", since)
			if err != nil {
				return err
			}
			u0, err := e.parseTime("--until", until)
			if err != nil {
				return err
			}
			if top < 1 || top > 1000 {
				return usagef("--top %d: want 1 to 1000", top)
			}
			st := txlogstore.New(db)
			s, err := st.TxSummary(ctx, s0, u0)
			if err != nil {
				return err
			}
			if !noTables {
				t, err := st.SummaryTables(ctx, s0, u0, top, e.loc)
				if err != nil {
					return err
				}
				s.Tables = &t
			}
			if asJSON {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(s)
			}
			return printSummary(e, s)
		}),
	}
}

func printSummary(e *cmdEnv, s txlog.Summary) error {
	w := e.stdout
	row := func(n int64, label string) { fmt.Fprintf(w, "%10d  %s\n", n, label) }
	head := func(h string) { fmt.Fprintf(w, "\n%s\n%s\n", h, strings.Repeat("-", len(h))) }
	period := "all stored data"
	if !s.Since.IsZero() || !s.Until.IsZero() {
		period = fmt.Sprintf("%s … %s", e.when(s.Since), e.when(s.Until))
	}
	fmt.Fprintf(w, "Grand Totals (%s)\n------------\n", period)
	row(s.Received, "received")
	row(s.Delivered, "delivered")
	row(s.Forwarded, "forwarded")
	row(s.Deferred, fmt.Sprintf("deferred  (%d messages)", s.DeferredMessages))
	row(s.Bounced, "bounced")
	row(s.Expired, "expired")
	row(s.RejectedTotal, "rejected")
	row(s.CleanupRejected, "rejected by header/body checks")
	row(s.Discarded, "discarded")
	row(s.Greylisted, "greylisted")
	row(s.BytesReceived, "bytes received")
	row(s.BytesDelivered, "bytes delivered")
	row(s.Senders, "senders")
	row(s.Recipients, "recipients")
	head("Rejects by stage and code")
	for _, r := range s.Rejected {
		row(r.Count, fmt.Sprintf("%s %d", r.Stage, r.Code))
	}
	head("Logins by protocol and result")
	for _, l := range s.Logins {
		row(l.Count, l.Protocol+" "+l.Result)
	}
	row(s.UniqueUsers, "unique users")
	row(s.SASLFailures, "SASL authentication failures (Postfix)")
	keys := make([]string, 0, len(s.AuthFailures))
	for k := range s.AuthFailures {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		row(s.AuthFailures[k], "failed authentications "+k+" (Dovecot)")
	}
	head("Content filter")
	keys = keys[:0]
	for k := range s.Verdicts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		row(s.Verdicts[k], k)
	}
	row(s.Spam, "spam (SPAM, SPAMMY)")
	row(s.Virus, "virus (INFECTED)")
	if s.Tables != nil {
		printTables(w, *s.Tables)
	}
	return nil
}

// printTables prints pflogsumm's detail tables.
func printTables(w io.Writer, t txlog.Tables) {
	head := func(h string) { fmt.Fprintf(w, "\n%s\n%s\n", h, strings.Repeat("-", len(h))) }
	traffic := func(title, what string, rows []txlog.Traffic, more bool) {
		head(title)
		if len(rows) == 0 {
			fmt.Fprintln(w, "      none")
			return
		}
		if more {
			fmt.Fprintf(w, "%10s %10s %9s %8s  %s\n", "msgs", "bytes", "deferred", "bounced", what)
		} else {
			fmt.Fprintf(w, "%10s %10s  %s\n", "msgs", "bytes", what)
		}
		for _, r := range rows {
			if more {
				fmt.Fprintf(w, "%10d %10s %9d %8d  %s\n", r.Count, bytesText(r.Bytes), r.Deferred, r.Bounced, r.Key)
			} else {
				fmt.Fprintf(w, "%10d %10s  %s\n", r.Count, bytesText(r.Bytes), r.Key)
			}
		}
	}
	reasons := func(title string, rows []txlog.ReasonCount) {
		head(title)
		if len(rows) == 0 {
			fmt.Fprintln(w, "      none")
		}
		for _, r := range rows {
			fmt.Fprintf(w, "%10d  %s\n", r.Count, r.Reason)
		}
	}
	traffic(fmt.Sprintf("Senders by message count (top %d)", t.Top), "sender", t.TopSenders, false)
	traffic(fmt.Sprintf("Recipients by message count (top %d)", t.Top), "recipient", t.TopRecipients, false)
	traffic(fmt.Sprintf("Sending domains (top %d)", t.Top), "domain", t.SendingDomains, false)
	traffic(fmt.Sprintf("Receiving domains (top %d)", t.Top), "domain", t.ReceivingDomains, true)
	reasons("Deferral reasons", t.DeferralReasons)
	reasons("Bounce reasons", t.BounceReasons)
	reasons("Reject reasons", t.RejectReasons)
	head("Per-hour traffic (" + t.Zone + ", summed over the days)")
	fmt.Fprintf(w, "%-11s %9s %9s %9s %9s %9s\n", "hour", "received", "delivered", "deferred", "bounced", "rejected")
	for _, h := range t.ByHourOfDay {
		if h.Days == 0 {
			continue
		}
		fmt.Fprintf(w, "%02d:00-%02d:00 %9d %9d %9d %9d %9d\n", h.Hour, (h.Hour+1)%24, h.Received, h.Delivered, h.Deferred, h.Bounced, h.Rejected)
	}
	head("Warnings")
	if len(t.Warnings) == 0 {
		fmt.Fprintln(w, "      none")
	}
	for _, x := range t.Warnings {
		fmt.Fprintf(w, "%10d  %s %s: %s\n", x.Count, x.Program, x.Severity, x.Text)
	}
}

// bytesText is a size for people: 1.2M, 34k, 512.
func bytesText(n int64) string {
	switch {
	case n >= 10<<30:
		return fmt.Sprintf("%dG", n>>30)
	case n >= 1<<30:
		return fmt.Sprintf("%.1fG", float64(n)/(1<<30))
	case n >= 10<<20:
		return fmt.Sprintf("%dM", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1fM", float64(n)/(1<<20))
	case n >= 10<<10:
		return fmt.Sprintf("%dk", n>>10)
	}
	return strconv.FormatInt(n, 10)
}

func traceCmd() *command {
	var q trace.Query
	var since, until string
	var asJSON, asCSV, direct bool
	return &command{
		name:    "trace",
		summary: "find messages in the transaction log and show each as one timeline",
		help: `Every criterion given must match: --from and --to are envelope addresses
(case-insensitive; --to also matches the address before alias expansion),
--msgid the Message-ID, --queue-id any Postfix or engine queue ID of the
message, --ip the client IP, --status a recipient status (sent, deferred,
bounced, expired, rejected, greylisted, greylist_pass, scanned, discarded),
--subject a substring of the Subject, --direction the direction. Results
come newest first; the first line says how many match. Each search is
written to the audit log.

When 'postvakt serve' runs on this host with the same data directory and
database, the search runs in it, on its open connections, through its
control socket (DATA_DIR/control.sock); otherwise, or with --direct, on a
connection of this command's own. The answer is the same.`,
		flags: func(fs *flag.FlagSet, _ *globalOpts) {
			fs.StringVar(&q.From, "from", "", "envelope sender")
			fs.StringVar(&q.To, "to", "", "envelope recipient")
			fs.StringVar(&q.MessageID, "msgid", "", "Message-ID")
			fs.StringVar(&q.QueueID, "queue-id", "", "queue ID")
			fs.StringVar(&q.IP, "ip", "", "client IP")
			fs.StringVar(&q.Status, "status", "", "recipient status")
			fs.StringVar(&q.Direction, "direction", "", "inbound, outbound, internal, relayed or unknown")
			fs.BoolVar(&q.Fold, "fold", false, "fold greylisting and retries of one sender → recipient from one client into one result")
			fs.StringVar(&q.Subject, "subject", "", "Subject substring")
			fs.StringVar(&since, "since", "", "start `time`: "+timezone.Grammar+", or a duration before now (24h)")
			fs.StringVar(&until, "until", "", "end (exclusive)")
			fs.IntVar(&q.Limit, "limit", 50, "messages per page")
			fs.IntVar(&q.Offset, "offset", 0, "messages to skip")
			fs.BoolVar(&asJSON, "json", false, "print JSON")
			fs.BoolVar(&asCSV, "csv", false, "print CSV, one line per timeline step")
			fs.BoolVar(&direct, "direct", false, "search on a database connection of its own even when the service runs on this host")
		},
		run: func(ctx context.Context, e *cmdEnv, args []string) error {
			if len(args) > 0 {
				return usagef("trace takes no arguments; use the flags")
			}
			if asJSON && asCSV {
				return usagef("--json and --csv exclude each other")
			}
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			if q.Since, err = e.parseTime("--since", since); err != nil {
				return err
			}
			if q.Until, err = e.parseTime("--until", until); err != nil {
				return err
			}
			if err := q.Normalize(); err != nil {
				return usageError{err.Error()}
			}
			show := func(page trace.Page) error {
				switch {
				case asJSON:
					enc := json.NewEncoder(e.stdout)
					enc.SetIndent("", "  ")
					return enc.Encode(page)
				case asCSV:
					return writeTraceCSV(e.stdout, page)
				}
				return writeTraceText(e.stdout, page, e.loc)
			}
			// The running service searches on its warm connections; a new
			// PostgreSQL connection first plans over every partition from
			// a cold catalog cache (internal/control).
			if !direct {
				var page trace.Page
				err := control.Do(ctx, control.Path(cfg.DataDir), cfg.DatabaseURL(), "/v1/trace",
					collectorsapi.ControlTrace{Query: q, User: currentUser()}, &page)
				if err == nil {
					return show(page)
				}
				if !errors.Is(err, control.ErrUnavailable) {
					return err
				}
				e.logger.Debug("trace: searching on a connection of its own", "why", err)
			}
			return withDatabase(func(ctx context.Context, e *cmdEnv, _ *config.Config, db *storage.DB, _ []string) error {
				page, err := collectorsapi.SearchAsCLI(ctx, txlogstore.New(db), accessstore.New(db), q, currentUser(), "", time.Now())
				if err != nil {
					return err
				}
				return show(page)
			})(ctx, e, nil)
		},
	}
}

func writeTraceText(w io.Writer, p trace.Page, loc *time.Location) error {
	if len(p.Messages) == 0 {
		fmt.Fprintln(w, "no messages found")
		return nil
	}
	more := ""
	if p.TotalCapped {
		more = " or more"
	}
	fmt.Fprintf(w, "%d%s matching, newest first; %d to %d shown\n\n", p.Total, more, p.Offset+1, p.Offset+len(p.Messages))
	for i, m := range p.Messages {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s  %s  %s  queue %s\n", m.FirstSeen.In(loc).Format("2006-01-02 15:04:05 MST"), m.Direction, m.State, strings.Join(m.QueueIDs, ","))
		if m.Summary != "" {
			fmt.Fprintf(w, "  %s\n", m.Summary)
		}
		fmt.Fprintf(w, "  from <%s>", m.From)
		if m.MessageID != "" {
			fmt.Fprintf(w, "  message-id <%s>", m.MessageID)
		}
		if m.Size > 0 {
			fmt.Fprintf(w, "  size %d", m.Size)
		}
		fmt.Fprintln(w)
		if m.Subject != "" {
			fmt.Fprintf(w, "  subject %q\n", m.Subject)
		}
		if m.Verdict != "" {
			fmt.Fprintf(w, "  verdict %s %s\n", m.Verdict, m.SpamScore)
		}
		if m.AuthResults != "" {
			fmt.Fprintf(w, "  authentication %s\n", m.AuthResults)
		}
		if m.OriginalFrom != "" {
			fmt.Fprintf(w, "  rewritten from %s\n", m.OriginalFrom)
		}
		for _, s := range m.Steps {
			line := fmt.Sprintf("  %s  %-13s %-10s", s.Time.In(loc).Format("15:04:05.000"), s.Step, s.QueueID)
			if s.Rcpt != "" {
				line += " <" + s.Rcpt + ">"
			}
			if s.Code != 0 {
				line += " " + strconv.Itoa(s.Code)
			}
			if s.DSN != "" {
				line += " " + s.DSN
			}
			if s.Relay != "" {
				line += " relay=" + s.Relay
			}
			if s.Detail != "" {
				line += "  " + s.Detail
			}
			fmt.Fprintln(w, strings.TrimRight(line, " "))
		}
	}
	if p.NextOffset > 0 {
		fmt.Fprintf(w, "\nmore: --offset %d\n", p.NextOffset)
	}
	return nil
}

func writeTraceCSV(w io.Writer, p trace.Page) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"message", "first_seen", "direction", "state", "from", "message_id", "queue_ids", "subject",
		"verdict", "time", "node", "step", "queue_id", "rcpt", "code", "dsn", "relay", "detail", "auth_results", "original_from"})
	for _, m := range p.Messages {
		for _, s := range m.Steps {
			_ = cw.Write([]string{m.Key, m.FirstSeen.UTC().Format(time.RFC3339Nano), m.Direction, m.State, m.From, m.MessageID,
				strings.Join(m.QueueIDs, " "), m.Subject, m.Verdict, s.Time.UTC().Format(time.RFC3339Nano), s.Node, s.Step,
				s.QueueID, s.Rcpt, strconv.Itoa(s.Code), s.DSN, s.Relay, s.Detail, m.AuthResults, m.OriginalFrom})
		}
	}
	cw.Flush()
	return cw.Error()
}
