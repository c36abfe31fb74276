package reports

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"regexp"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/config/timezone"
	"github.com/uni-mail/postvakt/config/validate"
)

// Config is the `reports` section of the configuration.
type Config struct {
	// Title heads the report; empty means the language's default
	// ("Mail operations report").
	Title string `yaml:"title"`
	// Organisation is printed under the title, e.g. "Central e-mail service".
	Organisation string `yaml:"organisation"`
	// Language of the report: "en" (English) or "nb" (Norwegian bokmål).
	Language string `yaml:"language"`
	// TimeZone of days, weeks, periods, the times shown and the schedule:
	// an IANA name, "Local" or "UTC"; "" is the server's local zone. The
	// configuration fills it from the service time zone (timezone:) when
	// the file does not set it.
	TimeZone string `yaml:"time_zone"`
	// StartDay is the first day of a period, 1–28; 1 is a calendar month.
	StartDay int `yaml:"start_day"`
	// Services are listed in the availability table even without outages.
	Services []string `yaml:"services"`
	// TopDomains shows the n busiest sender and recipient domains; 0 leaves
	// them out (privacy).
	TopDomains int `yaml:"top_domains"`
	// TopAddresses shows the n busiest sender and recipient addresses; 0
	// (the default) leaves them out: they name people.
	TopAddresses int `yaml:"top_addresses"`
	// OutlierK is k in the robust bounds median ± k·MAD that name unusual
	// days in the analysis.
	OutlierK float64 `yaml:"outlier_k"`
	// OperatorHours are the hours of operator cover on weekdays, "HH:MM-HH:MM";
	// pages outside them count as out of hours.
	OperatorHours string `yaml:"operator_hours"`
	// PDFEngine chooses how PDFs are made: "auto" (Chromium when installed,
	// else the built-in renderer), "chromium" or "builtin".
	PDFEngine string `yaml:"pdf_engine"`
	// Chromium is the browser binary for PDF printing.
	Chromium string `yaml:"chromium"`
	// PDFTimeout bounds one PDF rendering.
	PDFTimeout time.Duration `yaml:"pdf_timeout"`
	// Mail is how the report reaches the steering group.
	Mail MailConfig `yaml:"mail"`
}

// MailConfig is the delivery of the report by e-mail.
type MailConfig struct {
	// From is the sender address (RFC 5322 From and envelope sender).
	From string `yaml:"from"`
	// To is the steering group's address; empty disables sending (the
	// scheduled job still generates and archives the report).
	To string `yaml:"to"`
	// Cc is an optional copy address, e.g. the team lead.
	Cc string `yaml:"cc"`
	// SMTP is the relay, host:port.
	SMTP string `yaml:"smtp"`
	// StartTLS requires STARTTLS before sending.
	StartTLS bool `yaml:"starttls"`
	// Username and Password authenticate with SASL PLAIN (after STARTTLS).
	Username string `yaml:"username"`
	Password string `yaml:"password" env:"POSTVAKT_REPORTS_MAIL_PASSWORD" secret:"password"`
	// Attempts is how many times the job tries to send before giving up.
	Attempts int `yaml:"attempts"`
	// RetryDelay is the pause between attempts.
	RetryDelay time.Duration `yaml:"retry_delay"`
}

// DefaultConfig returns the defaults: calendar months in Europe/Oslo,
// English, Chromium when installed, no top domains, no e-mail.
func DefaultConfig() Config {
	return Config{
		Language:      "en",
		TimeZone:      "Europe/Oslo",
		StartDay:      1,
		Services:      []string{"smtp", "submission", "imap", "pop3", "webmail", "lists"},
		OutlierK:      3,
		OperatorHours: "08:30-20:30",
		PDFEngine:     "auto",
		Chromium:      "/usr/bin/chromium",
		PDFTimeout:    60 * time.Second,
		Mail: MailConfig{
			From:       "postvakt@localhost",
			SMTP:       "127.0.0.1:25",
			Attempts:   5,
			RetryDelay: 2 * time.Minute,
		},
	}
}

var hoursRe = regexp.MustCompile(`^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$`)

// Validate checks every key and returns all problems joined, each a
// *validate.Error naming the key (relative to the reports section) and the
// bad value.
func (c Config) Validate() error {
	var errs []error
	bad := func(key string, v any, msg string) {
		errs = append(errs, validate.Field(key, v, msg))
	}
	if _, ok := catalogs[c.Language]; !ok {
		bad("language", c.Language, "must be en or nb")
	}
	if _, err := timezone.Load(c.TimeZone); err != nil {
		bad("time_zone", c.TimeZone, "must be an IANA time zone such as Europe/Oslo")
	}
	if c.StartDay < 1 || c.StartDay > 28 {
		bad("start_day", c.StartDay, "must be between 1 and 28")
	}
	for i, s := range c.Services {
		if strings.TrimSpace(s) == "" {
			bad(fmt.Sprintf("services[%d]", i), s, "must not be empty")
		}
	}
	if c.TopDomains < 0 || c.TopDomains > 100 {
		bad("top_domains", c.TopDomains, "must be between 0 (off) and 100")
	}
	if c.TopAddresses < 0 || c.TopAddresses > 100 {
		bad("top_addresses", c.TopAddresses, "must be between 0 (off) and 100")
	}
	if c.OutlierK < 1 || c.OutlierK > 10 {
		bad("outlier_k", c.OutlierK, "must be between 1 and 10")
	}
	if _, _, err := parseHours(c.OperatorHours); err != nil {
		bad("operator_hours", c.OperatorHours, "must be HH:MM-HH:MM with the start before the end")
	}
	switch c.PDFEngine {
	case PDFAuto, PDFChromium, PDFBuiltin:
	default:
		bad("pdf_engine", c.PDFEngine, "must be auto, chromium or builtin")
	}
	if c.PDFEngine != PDFBuiltin && strings.TrimSpace(c.Chromium) == "" {
		bad("chromium", c.Chromium, "must name the Chromium binary")
	}
	if c.PDFTimeout < time.Second {
		bad("pdf_timeout", c.PDFTimeout, "must be at least 1s")
	}
	m := c.Mail
	if _, err := mail.ParseAddress(m.From); err != nil {
		bad("mail.from", m.From, "must be an e-mail address")
	}
	for _, f := range []struct{ key, v string }{{"mail.to", m.To}, {"mail.cc", m.Cc}} {
		if f.v == "" {
			continue
		}
		if _, err := mail.ParseAddressList(f.v); err != nil {
			bad(f.key, f.v, "must be e-mail addresses separated by commas")
		}
	}
	if _, _, err := net.SplitHostPort(m.SMTP); err != nil {
		bad("mail.smtp", m.SMTP, "must be host:port")
	}
	if m.Password != "" && m.Username == "" {
		bad("mail.username", m.Username, "must be set when mail.password is")
	}
	if m.Attempts < 1 || m.Attempts > 100 {
		bad("mail.attempts", m.Attempts, "must be between 1 and 100")
	}
	if m.RetryDelay < 0 {
		bad("mail.retry_delay", m.RetryDelay, "must not be negative")
	}
	return errors.Join(errs...)
}

// Location returns the configured time zone (UTC if it does not load).
func (c Config) Location() *time.Location {
	loc, err := timezone.Load(c.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Schedule is the default cron schedule of the monthly job: 07:00 on the
// first day after each period, in the report's time zone.
func (c Config) Schedule() string {
	tz := c.TimeZone
	if tz == "" {
		tz = "Local"
	}
	return fmt.Sprintf("CRON_TZ=%s 0 7 %d * *", tz, max(c.StartDay, 1))
}

// parseHours parses "HH:MM-HH:MM" into offsets from midnight.
func parseHours(s string) (from, to time.Duration, err error) {
	m := hoursRe.FindStringSubmatch(s)
	if m == nil {
		return 0, 0, fmt.Errorf("operator hours %q", s)
	}
	at := func(h, mm string) time.Duration {
		var hi, mi int
		fmt.Sscanf(h, "%d", &hi)
		fmt.Sscanf(mm, "%d", &mi)
		return time.Duration(hi)*time.Hour + time.Duration(mi)*time.Minute
	}
	from, to = at(m[1], m[2]), at(m[3], m[4])
	if to <= from || to > 24*time.Hour {
		return 0, 0, fmt.Errorf("operator hours %q", s)
	}
	return from, to, nil
}
