package reports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrNotArchived is returned by an Archive when a period has no report.
var ErrNotArchived = errors.New("report not archived")

// Archived is one report in the archive: one row per period.
type Archived struct {
	Period      string    `json:"period"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	Lang        string    `json:"lang"`
	GeneratedAt time.Time `json:"generated_at"`
	GeneratedBy string    `json:"generated_by"` // "scheduler" or the API token's name
	Comment     string    `json:"comment"`
	PDFEngine   string    `json:"pdf_engine"`
	HTML        []byte    `json:"-"`
	PDF         []byte    `json:"-"`
	CSV         []byte    `json:"-"`
	Model       []byte    `json:"-"` // the model as JSON
	SentAt      time.Time `json:"sent_at"`
	SentTo      string    `json:"sent_to"`
}

// Archive keeps generated reports, one per period, and the comments
// written for periods before their report is sent.
type Archive interface {
	// PutReport stores a. Without replace it stores nothing and returns
	// false when the period already has a report; with replace it overwrites
	// the documents and keeps SentAt.
	PutReport(ctx context.Context, a Archived, replace bool) (bool, error)
	// GetReport returns the report of period; bodies selects whether the
	// documents are read. ErrNotArchived when there is none.
	GetReport(ctx context.Context, period string, bodies bool) (Archived, error)
	// ListReports lists archived reports without documents, newest first.
	ListReports(ctx context.Context, limit int) ([]Archived, error)
	// ClaimSend claims the sending of period's report for node: it
	// succeeds when the report is unsent and unclaimed, or claimed before
	// staleBefore (a replica that died while sending).
	ClaimSend(ctx context.Context, period, node string, now, staleBefore time.Time) (bool, error)
	// MarkSent records that period's report went to the recipients.
	MarkSent(ctx context.Context, period, to string, at time.Time) error
	// ReleaseSend clears the claim and the sent mark of period, after a
	// failed send or before a deliberate resend.
	ReleaseSend(ctx context.Context, period string) error
	// SetComment stores the free-text comment for period (before or after
	// its report is generated).
	SetComment(ctx context.Context, period, comment, by string, at time.Time) error
	// Comment returns period's comment, "" when none.
	Comment(ctx context.Context, period string) (string, error)
	// SetTips replaces period's questions and tips (before or after its
	// report is generated); an empty list removes them.
	SetTips(ctx context.Context, period string, tips []Tip, by string, at time.Time) error
	// Tips returns period's questions and tips in their order, none when
	// there are none.
	Tips(ctx context.Context, period string) ([]Tip, error)
}

// MaxTips bounds the questions and tips of one period, MaxTipText the
// length of a question or an answer in bytes.
const (
	MaxTips    = 50
	MaxTipText = 4000
)

// ErrBadTips is wrapped when questions and tips are not acceptable.
var ErrBadTips = errors.New("bad questions and tips")

// CheckTips validates the questions and tips of a period: at most MaxTips,
// each with a question and an answer of at most MaxTipText bytes of valid
// UTF-8. Surrounding space is trimmed.
func CheckTips(tips []Tip) ([]Tip, error) {
	if len(tips) > MaxTips {
		return nil, fmt.Errorf("%w: %d entries, at most %d", ErrBadTips, len(tips), MaxTips)
	}
	out := make([]Tip, 0, len(tips))
	for i, t := range tips {
		t.Question, t.Answer = strings.TrimSpace(t.Question), strings.TrimSpace(t.Answer)
		switch {
		case t.Question == "" || t.Answer == "":
			return nil, fmt.Errorf("%w: entry %d: question and answer are both required", ErrBadTips, i+1)
		case len(t.Question) > MaxTipText || len(t.Answer) > MaxTipText:
			return nil, fmt.Errorf("%w: entry %d: longer than %d bytes", ErrBadTips, i+1, MaxTipText)
		case !utf8.ValidString(t.Question) || !utf8.ValidString(t.Answer):
			return nil, fmt.Errorf("%w: entry %d: not valid UTF-8", ErrBadTips, i+1)
		}
		out = append(out, t)
	}
	return out, nil
}

// Refresher is a Source that can bring its derived data (the rollups) up
// to date for [from, to) before a report reads it.
type Refresher interface {
	Refresh(ctx context.Context, from, to time.Time) error
}

// Generated is a report and its documents.
type Generated struct {
	Report    *Report
	HTML      []byte
	PDF       []byte
	PDFEngine string
	CSV       []byte
}

// Formats of documents.
const (
	FormatHTML = "html"
	FormatPDF  = "pdf"
	FormatCSV  = "csv"
)

// ContentType returns the media type of a format.
func ContentType(format string) string {
	switch format {
	case FormatHTML:
		return "text/html; charset=utf-8"
	case FormatPDF:
		return "application/pdf"
	case FormatCSV:
		return "text/csv; charset=utf-8"
	}
	return "application/octet-stream"
}

// Service generates, archives and delivers reports.
type Service struct {
	Config  Config
	Source  Source
	Archive Archive
	Sender  Sender
	Logger  *slog.Logger
	Now     func() time.Time
	// Node names this replica in send claims.
	Node string
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// Period parses a period label in the configured time zone and start day;
// an empty label is the last completed period.
func (s *Service) Period(label string) (Period, error) {
	loc := s.Config.Location()
	if label == "" {
		return LastCompleted(s.now(), s.Config.StartDay, loc), nil
	}
	return ParsePeriod(label, s.Config.StartDay, loc)
}

// GenerateOptions select what Generate makes.
type GenerateOptions struct {
	// Comment overrides the archived comment when not nil.
	Comment *string
	// Formats to render; nil means all three.
	Formats []string
	// Progress is called after each step, with the number of steps.
	Progress func(step string, total int)
}

// GenerateSteps is the number of Progress calls of a Generate of every format.
const GenerateSteps = BuildSteps + 3

// Generate builds the report of p and renders the documents.
func (s *Service) Generate(ctx context.Context, p Period, opts GenerateOptions) (*Generated, error) {
	formats := opts.Formats
	if formats == nil {
		formats = []string{FormatHTML, FormatPDF, FormatCSV}
	}
	total := BuildSteps + len(formats)
	progress := func(step string) {
		if opts.Progress != nil {
			opts.Progress(step, total)
		}
	}
	rd := &Renderer{Config: s.Config}
	var browser *Browser
	if slices.Contains(formats, FormatPDF) && rd.Engine() == PDFChromium && ChromiumAvailable(s.Config.Chromium) {
		// Chromium takes seconds to start: let it start while the data is read.
		browser = StartChromium(ctx, s.Config.Chromium, s.Config.PDFTimeout)
		defer browser.Close()
	}
	comment := ""
	var tips []Tip
	if opts.Comment != nil {
		comment = *opts.Comment
	} else if s.Archive != nil {
		c, err := s.Archive.Comment(ctx, p.Label)
		if err != nil {
			return nil, fmt.Errorf("report %s: comment: %w", p.Label, err)
		}
		comment = c
	}
	if s.Archive != nil {
		t, err := s.Archive.Tips(ctx, p.Label)
		if err != nil {
			return nil, fmt.Errorf("report %s: questions and tips: %w", p.Label, err)
		}
		tips = t
	}
	if rf, ok := s.Source.(Refresher); ok {
		// The rollups of the period are recomputed from the raw logs that
		// still cover it, so that messages logged after their hour's rollup
		// last ran are counted (docs/reports.md, "Where the figures come
		// from").
		end := p.End
		if now := s.now(); now.Before(end) {
			end = now
		}
		if end.After(p.Start) {
			if err := rf.Refresh(ctx, p.Start, end); err != nil {
				return nil, fmt.Errorf("report %s: refresh rollups: %w", p.Label, err)
			}
		}
	}
	r, err := Build(ctx, s.Source, p, Options{Config: s.Config, Comment: comment, Tips: tips, Now: s.now, Progress: progress})
	if err != nil {
		return nil, err
	}
	g := &Generated{Report: r}
	for _, f := range formats {
		switch f {
		case FormatHTML:
			g.HTML, err = rd.HTML(r)
		case FormatPDF:
			g.PDF, g.PDFEngine, err = rd.PDFWith(ctx, r, browser)
		case FormatCSV:
			g.CSV, err = rd.CSV(r)
		default:
			err = fmt.Errorf("unknown format %q", f)
		}
		if err != nil {
			return nil, fmt.Errorf("report %s: %s: %w", p.Label, f, err)
		}
		progress(f)
	}
	return g, nil
}

// Store archives g. replace overwrites an existing report of the period.
func (s *Service) Store(ctx context.Context, g *Generated, by string, replace bool) (bool, error) {
	model, err := g.Report.JSON()
	if err != nil {
		return false, err
	}
	r := g.Report
	return s.Archive.PutReport(ctx, Archived{
		Period: r.Period.Label, Start: r.Period.Start, End: r.Period.End, Lang: r.Lang,
		GeneratedAt: r.GeneratedAt, GeneratedBy: by, Comment: r.Comment, PDFEngine: g.PDFEngine,
		HTML: g.HTML, PDF: g.PDF, CSV: g.CSV, Model: model,
	}, replace)
}

// sendClaimTTL is how long a send claim holds before another replica may
// take it over.
const sendClaimTTL = 30 * time.Minute

// Deliver makes sure the report of p is archived and, when recipients are
// configured, e-mailed once: it generates and archives the report unless
// the archive has it, then claims the sending and sends. It returns
// whether this call sent the e-mail. With resend, a report already sent
// goes out again.
func (s *Service) Deliver(ctx context.Context, p Period, resend bool) (bool, error) {
	log := s.logger().With("period", p.Label)
	a, err := s.Archive.GetReport(ctx, p.Label, false)
	if errors.Is(err, ErrNotArchived) {
		g, err := s.Generate(ctx, p, GenerateOptions{})
		if err != nil {
			return false, err
		}
		created, err := s.Store(ctx, g, "scheduler", false)
		if err != nil {
			return false, fmt.Errorf("archive report %s: %w", p.Label, err)
		}
		if created {
			log.Info("report generated and archived", "pdf_engine", g.PDFEngine, "pdf_bytes", len(g.PDF))
		}
		a, err = s.Archive.GetReport(ctx, p.Label, false)
		if err != nil {
			return false, err
		}
	} else if err != nil {
		return false, fmt.Errorf("report %s: %w", p.Label, err)
	}
	if !a.SentAt.IsZero() && !resend {
		log.Info("report already sent", "sent_at", a.SentAt, "to", a.SentTo)
		return false, nil
	}
	rcpts, err := s.Config.Mail.Recipients()
	if err != nil {
		return false, err
	}
	if len(rcpts) == 0 {
		log.Info("report archived; reports.mail.to is empty, nothing sent")
		return false, nil
	}
	now := s.now()
	if resend {
		if err := s.Archive.ReleaseSend(ctx, p.Label); err != nil {
			return false, err
		}
	}
	ok, err := s.Archive.ClaimSend(ctx, p.Label, s.Node, now, now.Add(-sendClaimTTL))
	if err != nil {
		return false, fmt.Errorf("claim sending of report %s: %w", p.Label, err)
	}
	if !ok {
		log.Info("report is being sent or was sent by another replica")
		return false, nil
	}
	if err := s.send(ctx, p, rcpts); err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if rerr := s.Archive.ReleaseSend(rctx, p.Label); rerr != nil {
			log.Error("release send claim", "err", rerr)
		}
		return false, err
	}
	to := s.Config.Mail.To
	if s.Config.Mail.Cc != "" {
		to += ", " + s.Config.Mail.Cc
	}
	if err := s.Archive.MarkSent(context.WithoutCancel(ctx), p.Label, to, s.now()); err != nil {
		return true, fmt.Errorf("record sending of report %s: %w", p.Label, err)
	}
	log.Info("report sent", "to", to)
	return true, nil
}

// send builds the e-mail from the archived report and sends it, retrying
// temporary failures reports.mail.attempts times.
func (s *Service) send(ctx context.Context, p Period, rcpts []string) error {
	a, err := s.Archive.GetReport(ctx, p.Label, true)
	if err != nil {
		return err
	}
	r, err := ReportFromJSON(a.Model, s.Config.Location())
	if err != nil {
		return fmt.Errorf("report %s: archived model: %w", p.Label, err)
	}
	html, images, err := (&Renderer{Config: s.Config}).MailHTML(r)
	if err != nil {
		return err
	}
	msg, err := BuildMail(r, html, images, a.PDF, MailOptions{From: s.Config.Mail.From, To: s.Config.Mail.To, Cc: s.Config.Mail.Cc, Date: s.now()})
	if err != nil {
		return err
	}
	from, err := addressList(s.Config.Mail.From)
	if err != nil || len(from) != 1 {
		return fmt.Errorf("reports.mail.from %q: want one address", s.Config.Mail.From)
	}
	attempts := max(s.Config.Mail.Attempts, 1)
	var last error
	for i := range attempts {
		if i > 0 {
			t := time.NewTimer(s.Config.Mail.RetryDelay)
			select {
			case <-ctx.Done():
				t.Stop()
				return errors.Join(last, ctx.Err())
			case <-t.C:
			}
		}
		last = s.Sender.Send(ctx, from[0].Address, rcpts, msg)
		if last == nil {
			return nil
		}
		s.logger().Warn("sending report failed", "period", p.Label, "attempt", i+1, "of", attempts, "err", last)
		if isPermanent(last) {
			return fmt.Errorf("send report %s: %w: %w", p.Label, errPermanent, last)
		}
	}
	return fmt.Errorf("send report %s after %d attempts: %w", p.Label, attempts, last)
}

// RunJob is the scheduled job: it delivers the report of the last period
// completed at tick.
func (s *Service) RunJob(ctx context.Context, tick time.Time) error {
	p := LastCompleted(tick, s.Config.StartDay, s.Config.Location())
	_, err := s.Deliver(ctx, p, false)
	return err
}
