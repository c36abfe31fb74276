// Package config owns postvakt's configuration: the YAML file format, its
// defaults, strict decoding (unknown keys are errors with file:line),
// validation that names the key and the bad value, and the environment
// overrides for secrets and the database URL.
//
// The order is always: Default() → strict decode of the file → environment
// overrides → Validate(). `postvakt check-config` runs the same steps and
// prints the same errors.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/uni-mail/postvakt/collectors"
	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/config/timezone"
	"github.com/uni-mail/postvakt/config/validate"
	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/content"
	"github.com/uni-mail/postvakt/engine/queue"
	"github.com/uni-mail/postvakt/internal/webauth"
	"github.com/uni-mail/postvakt/oncall"
	"github.com/uni-mail/postvakt/oncall/notice"
	"github.com/uni-mail/postvakt/oncall/sla"
	"github.com/uni-mail/postvakt/oncall/tickets"
	"github.com/uni-mail/postvakt/oncall/units"
	"github.com/uni-mail/postvakt/reports"
)

// Config is the whole of postvakt's configuration. Every key is documented in
// docs/configuration.md; examples/postvakt.yaml is an annotated example.
type Config struct {
	// DataDir holds the SQLite database, the mail spool and generated
	// development certificates.
	DataDir string `yaml:"data_dir"`
	// Timezone is the service time zone: every time a person reads or
	// types — web pages and forms, the CLI, mails, notices, the status
	// page, iCal feeds, reports — is in it and says so. An IANA name such
	// as Europe/Oslo, "UTC", or "Local" / "" for the server's local zone
	// (config/timezone). Log files keep their own zones
	// (collectors.log_timezone).
	Timezone  string          `yaml:"timezone" env:"POSTVAKT_TIMEZONE"`
	Log       LogConfig       `yaml:"log"`
	Database  DatabaseConfig  `yaml:"database"`
	HTTP      HTTPConfig      `yaml:"http"`
	Metrics   MetricsConfig   `yaml:"metrics"`
	Scheduler SchedulerConfig `yaml:"scheduler"`
	// SMTP is the mail engine: MX and submission listeners, policy,
	// greylisting, the directory and local delivery (docs/configuration.md, section smtp).
	SMTP engine.Config `yaml:"smtp"`
	// Oncall is the on-call rota, paging, escalation and the Alertmanager
	// receiver (docs/oncall.md).
	Oncall oncall.Config `yaml:"oncall"`
	// Tickets, SLA and Notices are fault tickets, SLA policies and outage
	// and maintenance notices (docs/tickets.md).
	Tickets tickets.Config `yaml:"tickets"`
	SLA     sla.Config     `yaml:"sla"`
	Notices notice.Config  `yaml:"notices"`
	// Units are the units joining the central service and their
	// migration checklist (docs/units.md).
	Units units.Config `yaml:"units"`
	// Collectors are the log sources, transaction log, trace and abuse
	// detection (docs/collectors.md).
	Collectors collectors.Config `yaml:"collectors"`
	// Reports is the monthly report to the steering group (docs/reports.md).
	Reports reports.Config `yaml:"reports"`
	// Web is the web interface's sign-in, sessions and single sign-on
	// (docs/web.md).
	Web webauth.Config `yaml:"web"`
	// Content is the engine's content scanning, quarantine and abuse
	// control on submission (docs/configuration.md, `content:`).
	Content content.Config `yaml:"content"`
	// Relay is the engine's outbound relay queue (docs/configuration.md,
	// `relay:`).
	Relay queue.Config `yaml:"relay"`
	// Probes watch the services from outside and measure their
	// availability (docs/probes.md).
	Probes probe.Config `yaml:"probes"`

	// file and lines locate the keys of the file the configuration was
	// loaded from (Where, Warnings); empty for the defaults.
	file  string
	lines lineIndex
}

// LogConfig selects the level and format of the service log (log/slog).
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// DatabaseConfig selects the storage engine.
type DatabaseConfig struct {
	// URL is "sqlite:PATH" (the embedded default) or "postgres://…".
	URL            string `yaml:"url" env:"POSTVAKT_DATABASE_URL" secret:"url"`
	MigrateOnStart bool   `yaml:"migrate_on_start"`
	// MaxConns bounds the connection pool (PostgreSQL) or the number of open
	// SQLite connections (readers; SQLite has one writer at a time).
	MaxConns int `yaml:"max_conns"`
}

// HTTPConfig is the HTTP server: health, metrics, the API and the web UI.
type HTTPConfig struct {
	Listen            string        `yaml:"listen" env:"POSTVAKT_HTTP_LISTEN"`
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	WriteTimeout      time.Duration `yaml:"write_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	ShutdownTimeout   time.Duration `yaml:"shutdown_timeout"`
	MaxBodyBytes      int64         `yaml:"max_body_bytes"`
	// BaseURL is the external address of the service, used in links that
	// leave it (acknowledge links in e-mail, runbook URLs, iCal feeds).
	BaseURL string `yaml:"base_url"`
}

// MetricsConfig controls /metrics and the optional push of the engine's
// hot-path metrics to VictoriaMetrics.
type MetricsConfig struct {
	Push PushConfig `yaml:"push"`
}

// PushConfig pushes metrics in Prometheus text format to a VictoriaMetrics
// import endpoint (e.g. http://vm:8428/api/v1/import/prometheus).
type PushConfig struct {
	URL         string        `yaml:"url" env:"POSTVAKT_METRICS_PUSH_URL" secret:"url"`
	Interval    time.Duration `yaml:"interval"`
	ExtraLabels string        `yaml:"extra_labels"` // e.g. instance="mx1"
}

// SchedulerConfig controls the scheduled jobs. Jobs run once per tick across
// all replicas sharing a database.
type SchedulerConfig struct {
	Enabled bool `yaml:"enabled"`
	// Jobs overrides the schedule of a named job or disables it.
	Jobs map[string]JobConfig `yaml:"jobs"`
}

// JobConfig overrides one scheduled job.
type JobConfig struct {
	// Schedule is a cron expression with an optional seconds field, or a
	// descriptor such as "@every 1m" or "@daily".
	Schedule string `yaml:"schedule"`
	Disabled bool   `yaml:"disabled"`
}

// Default returns the configuration postvakt runs on without a file: data
// under ./data, SQLite at ./data/postvakt.db, HTTP on 127.0.0.1:9780.
func Default() *Config {
	c := &Config{
		DataDir:  "./data",
		Log:      LogConfig{Level: "info", Format: "text"},
		Database: DatabaseConfig{URL: "", MigrateOnStart: true, MaxConns: 8},
		HTTP: HTTPConfig{
			Listen:            "127.0.0.1:9780",
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       30 * time.Second,
			WriteTimeout:      60 * time.Second,
			IdleTimeout:       120 * time.Second,
			ShutdownTimeout:   15 * time.Second,
			MaxBodyBytes:      1 << 20,
			BaseURL:           "",
		},
		Metrics:    MetricsConfig{Push: PushConfig{Interval: 15 * time.Second}},
		Scheduler:  SchedulerConfig{Enabled: true},
		SMTP:       engine.Default(),
		Oncall:     oncall.Default(),
		Tickets:    tickets.DefaultConfig(),
		SLA:        sla.DefaultConfig(),
		Notices:    notice.DefaultConfig(),
		Units:      units.DefaultConfig(),
		Collectors: collectors.Default(),
		Reports:    reports.DefaultConfig(),
		Web:        webauth.Default(),
		Content:    content.Default(),
		Relay:      queue.Default(),
		Probes:     probe.DefaultConfig(),
	}
	// Notices and reports show times in the service zone unless the file
	// sets their own (ApplyServiceZone).
	c.Notices.TimeZone, c.Reports.TimeZone = "", ""
	return c
}

// Location is the service time zone (Timezone).
func (c *Config) Location() *time.Location {
	loc, err := timezone.Load(c.Timezone)
	if err != nil {
		return time.UTC // Validate refuses it
	}
	return loc
}

// ApplyServiceZone fills the zones that follow the service time zone where
// the file leaves them unset: notices.time_zone, reports.time_zone and each
// rota's time_zone (the zone of its handover wall time). Load calls it, and
// so does app.Run for a configuration built in code; it only fills what is
// empty, so a second call changes nothing.
func (c *Config) ApplyServiceZone() {
	// The zone's IANA name, so that each part names it (CRON_TZ, iCal's
	// TZID); "Local" when the server's zone has no name to give.
	tz := timezone.Name(c.Location())
	if _, err := timezone.Load(tz); err != nil {
		tz = "Local"
	}
	if c.Notices.TimeZone == "" {
		c.Notices.TimeZone = tz
	}
	if c.Reports.TimeZone == "" {
		c.Reports.TimeZone = tz
	}
	for i := range c.Oncall.Rotas {
		if c.Oncall.Rotas[i].TimeZone == "" {
			c.Oncall.Rotas[i].TimeZone = tz
		}
	}
}

// Where names the place of a dotted key in the file the configuration was
// loaded from, "FILE:LINE", or "FILE" when the key is not in it; "" for the
// built-in defaults.
func (c *Config) Where(key string) string {
	if c.file == "" {
		return ""
	}
	if l, ok := c.lines[key]; ok {
		return fmt.Sprintf("%s:%d", c.file, l)
	}
	return c.file
}

// File is the path the configuration was loaded from; "" for the defaults.
func (c *Config) File() string { return c.file }

// Warnings lists what the file does that still works but should change
// (deprecated keys), each "FILE:LINE: key: message". check-config prints
// them and serve logs them at start and on reload.
func (c *Config) Warnings() []string {
	var out []string
	warn := func(key, msg string) {
		if _, ok := c.lines[key]; ok {
			out = append(out, c.Where(key)+": "+key+": "+msg)
		}
	}
	warn("collectors.timezone", "renamed to collectors.log_timezone (the zone of year-less log timestamps, not the zone people read times in, which is the top-level timezone)")
	svc := timezone.Name(c.Location())
	for _, k := range []struct{ key, v string }{{"notices.time_zone", c.Notices.TimeZone}, {"reports.time_zone", c.Reports.TimeZone}} {
		loc, err := timezone.Load(k.v)
		if err != nil {
			continue
		}
		if timezone.Name(loc) == svc {
			warn(k.key, "deprecated: it follows the top-level timezone ("+svc+"); remove it")
		} else {
			warn(k.key, "deprecated: "+timezone.Name(loc)+" differs from the top-level timezone ("+svc+"), so these times disagree with the web and the CLI; set timezone instead")
		}
	}
	return out
}

// ErrInvalid is wrapped by every validation error: it is validate.ErrInvalid.
var ErrInvalid = validate.ErrInvalid

func bad(key string, value any, format string, args ...any) error {
	return validate.Fieldf(key, value, format, args...)
}

// Validate checks every key and returns all problems joined, each a
// *validate.Error naming the key and the bad value.
func (c *Config) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if strings.TrimSpace(c.DataDir) == "" {
		add(bad("data_dir", c.DataDir, "must not be empty"))
	}
	if _, err := timezone.Load(c.Timezone); err != nil {
		add(bad("timezone", c.Timezone, "must be an IANA time zone such as Europe/Oslo, UTC or Local"))
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add(bad("log.level", c.Log.Level, "must be one of debug, info, warn, error"))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		add(bad("log.format", c.Log.Format, "must be text or json"))
	}
	add(validateDatabaseURL(c.Database.URL))
	if c.Database.MaxConns < 1 || c.Database.MaxConns > 1000 {
		add(bad("database.max_conns", c.Database.MaxConns, "must be between 1 and 1000"))
	}
	add(validateListen("http.listen", c.HTTP.Listen))
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"http.read_header_timeout", c.HTTP.ReadHeaderTimeout},
		{"http.read_timeout", c.HTTP.ReadTimeout},
		{"http.write_timeout", c.HTTP.WriteTimeout},
		{"http.idle_timeout", c.HTTP.IdleTimeout},
		{"http.shutdown_timeout", c.HTTP.ShutdownTimeout},
	} {
		if d.v <= 0 {
			add(bad(d.key, d.v, "must be a positive duration such as 30s"))
		}
	}
	if c.HTTP.MaxBodyBytes < 1024 {
		add(bad("http.max_body_bytes", c.HTTP.MaxBodyBytes, "must be at least 1024"))
	}
	if c.HTTP.BaseURL != "" {
		if u, err := url.Parse(c.HTTP.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add(bad("http.base_url", c.HTTP.BaseURL, "must be an absolute http or https URL"))
		}
	}
	if c.Metrics.Push.URL != "" {
		if u, err := url.Parse(c.Metrics.Push.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			add(bad("metrics.push.url", redactURL(c.Metrics.Push.URL), "must be an http or https URL"))
		}
		if c.Metrics.Push.Interval < time.Second {
			add(bad("metrics.push.interval", c.Metrics.Push.Interval, "must be at least 1s"))
		}
	}
	for name, j := range c.Scheduler.Jobs {
		if j.Schedule != "" {
			if err := ValidateSchedule(j.Schedule); err != nil {
				add(bad("scheduler.jobs."+name+".schedule", j.Schedule, "%v", err))
			}
		}
	}
	errs = append(errs, validate.InSection("smtp", c.SMTP.Validate())...)
	errs = append(errs, validate.InSection("oncall", c.Oncall.Validate())...)
	errs = append(errs, validate.InSection("tickets", c.Tickets.Validate())...)
	errs = append(errs, validate.InSection("sla", c.SLA.Validate())...)
	errs = append(errs, validate.InSection("notices", c.Notices.Validate())...)
	errs = append(errs, validate.InSection("units", c.Units.Validate())...)
	errs = append(errs, validate.InSection("collectors", c.Collectors.Validate())...)
	errs = append(errs, validate.InSection("reports", c.Reports.Validate())...)
	errs = append(errs, validate.InSection("web", c.Web.Validate())...)
	errs = append(errs, validate.InSection("content", c.Content.Validate())...)
	errs = append(errs, validate.InSection("relay", c.Relay.Validate())...)
	if c.SMTP.Enabled && c.SMTP.Commit.Workers >= c.Database.MaxConns {
		// Each committer holds a pool connection for its whole commit
		// (on SQLite the commits' own connection is taken from the pool
		// for good), and a commit may need one more: the transaction
		// log's first record of a UTC day makes that day's partition on
		// PostgreSQL on a connection of its own. With no connection left
		// the commits wait for each other for ever.
		add(bad("smtp.commit.workers", c.SMTP.Commit.Workers, "must be below database.max_conns (%d): each committer holds a database connection for its whole commit, and a commit may need one more", c.Database.MaxConns))
	}
	if c.SMTP.Enabled && !c.Relay.Enabled {
		for d, v := range c.SMTP.Directory.Delivery {
			if t, err := engine.ParseDelivery(v); err == nil && t.Proto != "" {
				add(bad("smtp.directory.delivery."+d, v, "needs relay.enabled: mail for a back end goes through the relay queue"))
			}
		}
	}
	errs = append(errs, validate.InSection("probes", c.Probes.Validate())...)
	return errors.Join(errs...)
}

// ScheduleParser parses the schedules of scheduler.jobs: standard cron with
// an optional leading seconds field, or a descriptor (@daily, @every 1m).
var ScheduleParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour |
	cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ValidateSchedule reports whether spec is a schedule ScheduleParser accepts.
func ValidateSchedule(spec string) error {
	_, err := ScheduleParser.Parse(spec)
	return err
}

func validateDatabaseURL(u string) error {
	switch {
	case u == "":
		return nil // filled from data_dir by DatabaseURL
	case strings.HasPrefix(u, "sqlite:"):
		if strings.TrimPrefix(u, "sqlite:") == "" {
			return bad("database.url", u, "sqlite: needs a file path, e.g. sqlite:./data/postvakt.db")
		}
		return nil
	case strings.HasPrefix(u, "postgres://"), strings.HasPrefix(u, "postgresql://"):
		if _, err := url.Parse(u); err != nil {
			return bad("database.url", redactURL(u), "not a valid URL")
		}
		return nil
	default:
		return bad("database.url", redactURL(u), "must start with sqlite: or postgres://")
	}
}

func validateListen(key, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return bad(key, addr, "must be host:port, e.g. 127.0.0.1:9780")
	}
	if host != "" && net.ParseIP(host) == nil && host != "localhost" {
		return bad(key, addr, "host must be an IP address or localhost")
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return bad(key, addr, "bad port")
	}
	return nil
}

// DatabaseURL is the effective database URL: database.url, or SQLite at
// DATA_DIR/postvakt.db when it is empty.
func (c *Config) DatabaseURL() string {
	if c.Database.URL != "" {
		return c.Database.URL
	}
	return "sqlite:" + filepath.Join(c.DataDir, "postvakt.db")
}

// redactURL removes a password from a URL so that it can be logged or shown
// in an error.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// RedactURL is redactURL for other packages (logs, `check-config --print`).
func RedactURL(s string) string { return redactURL(s) }
