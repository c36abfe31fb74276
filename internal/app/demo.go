package app

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http/httptest"
	"net/smtp"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/collectors/ingest"
	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/collectors/rollup"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/internal/store/txlogstore"
	"github.com/uni-mail/postvakt/internal/webauth"
)

// The demo (postvakt serve --demo, docs/demo.md): its own configuration
// (demo/demo.yaml) and database (DATA_DIR/demo.db, marked "demo"), seeded
// through the service's own API so that every page shows a living system
// within a minute of start.

//go:embed demo/demo.yaml
var demoYAML []byte

// DemoDatabase is the demo's database file in the data directory.
const DemoDatabase = "demo.db"

// DemoConfig is the demo's configuration: demo/demo.yaml on the defaults,
// with the HTTP listener, log and web settings of base, the database
// DATA_DIR/demo.db whatever base names, and its other files in
// DATA_DIR/demo. The demo's
// webmail probe checks the demo's own HTTP listener.
func DemoConfig(base *config.Config) (*config.Config, error) {
	cfg := config.Default()
	if _, err := config.Decode(cfg, "demo.yaml", demoYAML); err != nil {
		return nil, fmt.Errorf("demo configuration: %w", err)
	}
	// The engine's files (spool, certificate) go to DATA_DIR/demo, apart
	// from a real service's in the same data directory.
	cfg.DataDir, cfg.HTTP, cfg.Log, cfg.Web = filepath.Join(base.DataDir, "demo"), base.HTTP, base.Log, base.Web
	cfg.Database.URL = "sqlite:" + filepath.Join(base.DataDir, DemoDatabase)
	for i, t := range cfg.Probes.Targets {
		if t.Kind == probe.KindHTTP {
			cfg.Probes.Targets[i].Address = "http://" + demoHTTPAddr(cfg.HTTP.Listen) + "/healthz"
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("demo configuration: %w", err)
	}
	return cfg, nil
}

// demoHTTPAddr is the address the demo's probe reaches the HTTP listener
// at: a wildcard host is reached on the loopback.
func demoHTTPAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// errDemoDatabase refuses to start on the wrong kind of database.
var errDemoDatabase = errors.New("demo database")

// checkDemoMark keeps the demo and a real service apart (docs/demo.md):
// without demo, a database marked "demo" is refused; with demo, a
// database that holds a schema but no demo mark is refused, and a demo
// database of an earlier run is removed, so that each demo starts fresh.
func checkDemoMark(ctx context.Context, cfg *config.Config, demo bool) error {
	url := cfg.DatabaseURL()
	path, isFile := strings.CutPrefix(url, "sqlite:")
	if isFile {
		path, _, _ = strings.Cut(path, "?")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil // nothing there yet
		}
	}
	db, err := storage.Open(ctx, url, storage.Options{MaxConns: 1})
	if err != nil {
		return err
	}
	initialized, err := db.Initialized(ctx)
	if err != nil {
		db.Close()
		return err
	}
	marked, err := db.Marked(ctx, storage.MarkDemo)
	db.Close()
	if err != nil {
		return err
	}
	shown := config.RedactURL(url)
	switch {
	case !demo && marked:
		return fmt.Errorf("%w: %s was made by `postvakt serve --demo` and holds made-up data; start with --demo, "+
			"or name another database (database.url, data_dir)", errDemoDatabase, shown)
	case demo && initialized && !marked:
		return fmt.Errorf("%w: %s holds a postvakt database that is not a demo; --demo never touches one: "+
			"move it away or start the demo with another data_dir", errDemoDatabase, shown)
	case demo && isFile:
		for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove the earlier demo database: %w", err)
			}
		}
	}
	return nil
}

// DemoSamples are the sample logs the demo replays, in the order tried:
// the postfix corpus of the repository (collectors/corpus), or the shared
// samples beside it.
var DemoSamples = []string{
	"collectors/corpus/postfix/merged/mail.log.gz",
	"../shared/samples/real-logs/syslog-mail.log",
}

// demoSeeder fills the demo database through the service's own API, as
// the admin "demo", so the API's rules and audit apply to the seed too.
type demoSeeder struct {
	env      *Env
	password string
	samples  []string
}

// startDemo seeds the demo database in the background and keeps mail
// flowing until the service stops.
func (e *Env) startDemo(opts Options) error {
	pw := opts.DemoPassword
	if pw == "" {
		tok, err := webauth.RandomToken()
		if err != nil {
			return err
		}
		pw = "demo-" + tok[:12]
	}
	samples := opts.DemoSamples
	if samples == nil {
		samples = DemoSamples
	}
	e.demo = true
	d := &demoSeeder{env: e, password: pw, samples: samples}
	e.Go(d.seed)
	return nil
}

// call sends an API request in-process and decodes the answer into out.
func (d *demoSeeder) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequestWithContext(auth.WithPrincipal(ctx, auth.Principal{Name: "demo", Role: auth.RoleAdmin}), method, path, rd)
	req.RemoteAddr = "127.0.0.1:0"
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	d.env.Server.Dispatch(rec, req)
	if rec.Code < 200 || rec.Code > 299 {
		return fmt.Errorf("demo seed: %s %s: %d %s", method, path, rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	if out != nil {
		return json.Unmarshal(rec.Body.Bytes(), out)
	}
	return nil
}

// demoUsers are the demo's web users: name, role, display name.
var demoUsers = [][3]string{
	{"demo", "admin", "Demo Admin"},
	{"ana", "oncall", "Ana Berg"},
	{"helpdesk", "helpdesk", "Helga Desk"},
	{"viewer", "viewer", "Vera Viewer"},
}

// demoMailboxes are the demo domain's mailboxes; the first names are
// those of the sample logs.
var demoMailboxes = []string{"alice.martin", "jack.oneill", "w.lee", "ana", "bjorn", "chen", "dina",
	"announce", "steering", "postmaster", "helpdesk", "kari.nordmann", "ola.nordmann", "per.hansen"}

// seed fills the demo: users, the directory, the replayed sample logs,
// tickets with SLA clocks, incidents, notices and last month's report.
// Then it keeps mail flowing through the engine until ctx ends.
func (d *demoSeeder) seed(ctx context.Context) error {
	log := d.env.Logger.With("capability", "demo")
	start := time.Now()
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"users", d.users}, {"directory", d.directory}, {"sample logs", d.replay}, {"tickets", d.tickets},
		{"incidents", d.incidents}, {"notices", d.notices}, {"report", d.report},
	}
	for _, s := range steps {
		if err := s.fn(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			log.Warn("demo: seeding "+s.name+" failed; the rest goes on", "err", err)
		}
	}
	log.Info("demo: seeded", "took_seconds", time.Since(start).Round(time.Millisecond).Seconds())
	return d.mailFlow(ctx)
}

func (d *demoSeeder) users(ctx context.Context) error {
	env := d.env
	svc, err := webauth.New(webauth.Options{Config: env.Config.Web, Store: accessstore.New(env.DB), Logger: env.Logger, Now: env.Now})
	if err != nil {
		return err
	}
	for _, u := range demoUsers {
		if _, err := svc.AddUser(ctx, u[0], u[2], u[1], d.password); err != nil {
			return fmt.Errorf("user %s: %w", u[0], err)
		}
	}
	env.Logger.Info("demo: sign in as demo (admin), ana (oncall), helpdesk or viewer, password " + d.password +
		" — made-up data in " + config.RedactURL(env.Config.DatabaseURL()) + ", made afresh at every --demo start")
	return nil
}

func (d *demoSeeder) directory(ctx context.Context) error {
	if !d.env.Config.SMTP.Enabled {
		return nil
	}
	for _, dom := range []string{"uni.example", "dept.uni.example"} {
		if err := d.call(ctx, "POST", "/api/v1/directory/domains", map[string]string{"name": dom}, nil); err != nil {
			return err
		}
	}
	for i, m := range demoMailboxes {
		quota := []string{"2GB", "5GB", "1GB"}[i%3]
		if err := d.call(ctx, "POST", "/api/v1/directory/mailboxes", map[string]any{"address": m + "@uni.example", "quota": quota}, nil); err != nil {
			return err
		}
	}
	return d.call(ctx, "POST", "/api/v1/directory/aliases", map[string]any{"address": "drift@uni.example",
		"targets": []string{"ana@uni.example", "bjorn@uni.example", "chen@uni.example", "dina@uni.example"}}, nil)
}

// replay imports the first sample log found with its timestamps shifted
// so that its last line is a minute ago, then rolls up its hours.
func (d *demoSeeder) replay(ctx context.Context) error {
	env := d.env
	var src string
	for _, p := range d.samples {
		if _, err := os.Stat(p); err == nil {
			src = p
			break
		}
	}
	if src == "" {
		env.Logger.Info("demo: no sample logs found (looked for " + strings.Join(d.samples, ", ") + "); trace shows only the demo's own mail")
		return nil
	}
	dst := filepath.Join(env.Config.DataDir, "demo-replay.log")
	first, last, n, err := shiftLog(src, dst, env.Now().Add(-time.Minute))
	if err != nil {
		return err
	}
	defer os.Remove(dst)
	store := txlogstore.New(env.DB)
	po, err := PipelineOptions(env.Config.Collectors, store)
	if err != nil {
		return err
	}
	st, err := ingest.Import(ctx, ingest.New(po), ingest.ImportOptions{Files: []string{dst}, Loc: time.UTC, Progress: func(int64, int64) {}})
	if err != nil {
		return err
	}
	if err := (rollup.Jobs{Store: store}).RollRange(ctx, first.Add(-time.Hour), last.Add(time.Hour)); err != nil {
		return err
	}
	env.Logger.Info("demo: replayed the sample logs with their times shifted to now", "file", src, "lines", n, "imported", st.Lines)
	return nil
}

// shiftLog copies the log src (plain or gzip) to dst with every line's
// timestamp moved by the same amount, so that the last one is at end.
// It reads RFC 3339 stamps ("2026-12-07T05:51:12.597820+00:00 host …")
// and traditional syslog ones ("Dec  7 05:51:12 host …", read as UTC in
// the year of end), and writes RFC 3339 in UTC.
func shiftLog(src, dst string, end time.Time) (first, last time.Time, n int, err error) {
	read := func(fn func(t time.Time, rest string)) error {
		f, err := os.Open(src)
		if err != nil {
			return err
		}
		defer f.Close()
		var r io.Reader = f
		if strings.HasSuffix(src, ".gz") {
			gz, err := gzip.NewReader(f)
			if err != nil {
				return err
			}
			defer gz.Close()
			r = gz
		}
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		year := end.Year() // of year-less stamps: that of the last full one before them
		for sc.Scan() {
			if t, rest, full, ok := logStamp(sc.Text(), year); ok {
				if full {
					year = t.Year()
				}
				fn(t, rest)
			}
		}
		return sc.Err()
	}
	if err := read(func(t time.Time, _ string) {
		if first.IsZero() || t.Before(first) {
			first = t
		}
		if t.After(last) {
			last = t
		}
	}); err != nil {
		return first, last, 0, err
	}
	if last.IsZero() {
		return first, last, 0, fmt.Errorf("%s: no timestamped lines", src)
	}
	shift := end.Sub(last)
	out, err := os.Create(dst)
	if err != nil {
		return first, last, 0, err
	}
	w := bufio.NewWriter(out)
	err = read(func(t time.Time, rest string) {
		n++
		fmt.Fprintf(w, "%s %s\n", t.Add(shift).UTC().Format("2006-01-02T15:04:05.000000Z07:00"), rest)
	})
	if err == nil {
		err = w.Flush()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return first.Add(shift), last.Add(shift), n, err
}

// logStamp splits a log line into its timestamp and the rest; full says
// the stamp carried its year (RFC 3339), else it is read in year.
func logStamp(line string, year int) (t time.Time, rest string, full, ok bool) {
	if stamp, rest, ok := strings.Cut(line, " "); ok && len(stamp) >= 20 && stamp[4] == '-' {
		if t, err := time.Parse(time.RFC3339Nano, stamp); err == nil {
			return t, rest, true, true
		}
	}
	if len(line) > 16 && line[15] == ' ' {
		if t, err := time.Parse("Jan _2 15:04:05", line[:15]); err == nil {
			return t.AddDate(year, 0, 0), line[16:], false, true
		}
	}
	return time.Time{}, "", false, false
}

func (d *demoSeeder) tickets(ctx context.Context) error {
	now := d.env.Now()
	type tk struct {
		title, service, severity, symptoms string
		ago                                time.Duration
		actions                            []string
	}
	for _, t := range []tk{
		{"Mail to outlook.com deferred since the morning", "smtp", "critical", "Queue on mx1 grows; 421 4.7.0 from outlook.com.", 50 * time.Minute, nil},
		{"IMAP logins slow for staff", "imap", "major", "Thunderbird times out at login, about 30 s.", 2 * time.Hour, nil},
		{"Webmail attachment upload fails over 20 MB", "webmail", "minor", "Upload spinner never ends.", 25 * time.Minute, []string{"ack", "start"}},
		{"Moderation mails of the physics list missing", "lists", "minor", "No moderation mail since Friday.", 3 * time.Hour, []string{"ack", "wait"}},
		{"Spam wave from a compromised student account", "smtp", "major", "800 messages in 10 minutes from one account.", 40 * time.Minute, []string{"ack", "start", "resolve"}},
	} {
		var created struct {
			ID int64 `json:"id"`
		}
		if err := d.call(ctx, "POST", "/api/v1/tickets", map[string]any{"title": t.title, "service": t.service, "severity": t.severity,
			"symptoms": t.symptoms, "source": "helpdesk", "reporter": "Helga Desk", "notified_at": now.Add(-t.ago)}, &created); err != nil {
			return err
		}
		for _, a := range t.actions {
			if err := d.call(ctx, "POST", fmt.Sprintf("/api/v1/tickets/%d/%s", created.ID, a), map[string]any{"note": "demo: " + a}, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *demoSeeder) incidents(ctx context.Context) error {
	type inc struct {
		title, severity, summary string
		then                     string
	}
	for _, i := range []inc{
		{"Outbound queue above 5000 on mx1", "critical", "postfix_queue_size > 5000 for 10m", ""},
		{"Disk 85 % full on /var/spool on mx1", "warning", "node_filesystem_avail_bytes below 15 %", "ack"},
		{"Certificate of imap.uni.example expires in 10 days", "warning", "probe_tls_cert_expiry_days < 14", "resolve"},
		{"Greylisting database slow", "warning", "postvakt_greylist_lookup_seconds p99 > 0.5", "resolve"},
	} {
		var created struct {
			ID int64 `json:"id"`
		}
		if err := d.call(ctx, "POST", "/api/v1/incidents", map[string]any{"title": i.title, "severity": i.severity, "summary": i.summary,
			"key": "demo/" + i.title}, &created); err != nil {
			return err
		}
		if i.then != "" {
			if err := d.call(ctx, "POST", fmt.Sprintf("/api/v1/incidents/%d/%s", created.ID, i.then), nil, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *demoSeeder) notices(ctx context.Context) error {
	now := d.env.Now()
	loc := d.env.Config.Location()
	tomorrow := now.In(loc).AddDate(0, 0, 1)
	start := time.Date(tomorrow.Year(), tomorrow.Month(), tomorrow.Day(), 6, 0, 0, 0, loc)
	if err := d.call(ctx, "POST", "/api/v1/notices", map[string]any{"kind": "outage", "title": "IMAP unavailable for some users",
		"services": []string{"imap"}, "symptoms": "Mail programs cannot fetch new mail; webmail works.",
		"impact": "About a third of staff and students", "handling_plan": "The IMAP balancer is being restarted.",
		"started_at": now.Add(-25 * time.Minute), "next_update_at": now.Add(35 * time.Minute)}, nil); err != nil {
		return err
	}
	return d.call(ctx, "POST", "/api/v1/notices", map[string]any{"kind": "maintenance", "title": "Mail server upgrade",
		"services": []string{"smtp", "webmail"}, "impact": "Sending may be delayed by up to 15 minutes; no mail is lost.",
		"started_at": start, "planned_end": start.Add(2 * time.Hour)}, nil)
}

// report builds the report of last month.
func (d *demoSeeder) report(ctx context.Context) error {
	now := d.env.Now().In(d.env.Config.Location())
	last := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, now.Location()).AddDate(0, -1, 0)
	return d.call(ctx, "POST", "/api/v1/reports", map[string]any{"period": last.Format("2006-01")}, nil)
}

// mailFlow sends a message through the demo's own MX every 20 seconds,
// so the transaction log, the trace and the counts keep moving.
func (d *demoSeeder) mailFlow(ctx context.Context) error {
	cfg := d.env.Config.SMTP
	if !cfg.Enabled || cfg.MX.Listen == "" {
		<-ctx.Done()
		return nil
	}
	senders := []string{"noreply@lms.example.org", "w.lee@dept.uni.example", "newsletter@publisher.example", "jack.oneill@uni.example"}
	subjects := []string{"Exam timetable", "Your library loan", "Weekly digest", "Lab results", "Meeting on Thursday"}
	tick := time.NewTicker(20 * time.Second)
	defer tick.Stop()
	for i := 0; ; i++ {
		from, to := senders[i%len(senders)], demoMailboxes[rand.IntN(7)]+"@uni.example"
		if err := demoSend(ctx, demoHTTPAddr(cfg.MX.Listen), from, to, subjects[i%len(subjects)]); err != nil && ctx.Err() == nil {
			d.env.Logger.Debug("demo: mail flow", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// demoSend delivers one small message over SMTP (RFC 5321) without TLS:
// the demo's engine listens on the loopback only.
func demoSend(ctx context.Context, addr, from, to, subject string) error {
	dl := net.Dialer{Timeout: 5 * time.Second}
	conn, err := dl.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	c, err := smtp.NewClient(conn, "127.0.0.1")
	if err != nil {
		conn.Close()
		return err
	}
	defer c.Close()
	if err := c.Hello("demo.localhost"); err != nil {
		return err
	}
	if err := c.Mail(from); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	now := time.Now()
	fmt.Fprintf(w, "From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%d.demo@demo.localhost>\r\n\r\nA message of the postvakt demo.\r\n",
		from, to, subject, now.Format(time.RFC1123Z), now.UnixNano())
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}
