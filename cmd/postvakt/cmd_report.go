package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/uni-mail/postvakt/internal/app"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/reports"
)

func reportCmd() *command {
	var (
		period, format, out, lang, comment, commentFile, engine string
		archive, send, resend, quiet                            bool
	)
	return &command{
		name:    "report",
		summary: "generate the monthly report (HTML, PDF or CSV), optionally archive and e-mail it",
		help: `Generates the monthly operations report for a period from the database and
writes it to the file named by -o (or to standard output). The format
follows -o's extension unless --format is given. Without --period the last
completed period is reported (reports.start_day and reports.time_zone
define periods). A progress bar is shown when standard output is a
terminal.

--archive stores the report in the database (replacing an archived one);
--send archives and e-mails it to reports.mail.to unless it was sent
before; --resend sends it again.

Examples:
  postvakt report --period 2026-10 -o oktober.pdf
  postvakt report --period 2026-10 --format csv -o - | column -ts,
  postvakt report --period 2026-10 --comment-file note.txt --send`,
		flags: func(fs *flag.FlagSet, _ *globalOpts) {
			fs.StringVar(&period, "period", "", "period `YYYY-MM` (default: the last completed period)")
			fs.StringVar(&format, "format", "", "html, pdf or csv (default: from -o's extension, else html)")
			fs.StringVar(&out, "o", "", "output `file`; - or empty for standard output")
			fs.StringVar(&lang, "lang", "", "report language, en or nb (default: reports.language)")
			fs.StringVar(&comment, "comment", "", "free-text comment printed at the top (stored for the period with --archive or --send)")
			fs.StringVar(&commentFile, "comment-file", "", "read the comment from `file`")
			fs.StringVar(&engine, "pdf-engine", "", "auto, chromium or builtin (default: reports.pdf_engine)")
			fs.BoolVar(&archive, "archive", false, "store the report in the database archive")
			fs.BoolVar(&send, "send", false, "archive and e-mail the report unless it was sent before")
			fs.BoolVar(&resend, "resend", false, "archive and e-mail the report even if it was sent before")
			fs.BoolVar(&quiet, "quiet", false, "no progress bar")
		},
		run: func(ctx context.Context, e *cmdEnv, args []string) error {
			if len(args) > 0 {
				return usagef("report takes no arguments")
			}
			if format == "" {
				format = strings.TrimPrefix(strings.ToLower(filepath.Ext(out)), ".")
				if format == "" || out == "-" {
					format = reports.FormatHTML
				}
			}
			switch format {
			case reports.FormatHTML, reports.FormatPDF, reports.FormatCSV:
			default:
				return usagef("--format %q: want html, pdf or csv", format)
			}
			if commentFile != "" {
				if comment != "" {
					return usagef("--comment and --comment-file exclude each other")
				}
				b, err := os.ReadFile(commentFile)
				if err != nil {
					return err
				}
				comment = strings.TrimSpace(string(b))
			}
			toStdout := out == "" || out == "-"
			stdoutTerm := isTerminal(e.stdout)
			if toStdout && stdoutTerm && format == reports.FormatPDF {
				return usagef("refusing to write a PDF to the terminal; use -o FILE")
			}
			cfg, db, err := e.openDatabase(ctx, openOptions{prepare: func(cfg *config.Config) error {
				if lang != "" {
					cfg.Reports.Language = lang
				}
				if engine != "" {
					cfg.Reports.PDFEngine = engine
				}
				if err := cfg.Reports.Validate(); err != nil {
					return usagef("%v", err)
				}
				return nil
			}})
			if err != nil {
				return err
			}
			defer db.Close()
			host, _ := os.Hostname()
			svc, err := app.NewReportService(cfg, db, e.logger, fmt.Sprintf("%s-cli-%d", host, os.Getpid()), time.Now)
			if err != nil {
				return err
			}
			p, err := svc.Period(period)
			if err != nil {
				return usagef("--period: %v", err)
			}
			store := archive || send || resend
			opts := reports.GenerateOptions{Formats: []string{format}}
			if store {
				opts.Formats = nil // the archive keeps all three
			}
			if comment != "" || commentFile != "" {
				opts.Comment = &comment
				if store {
					if err := svc.Archive.SetComment(ctx, p.Label, comment, "cli", time.Now()); err != nil {
						return err
					}
				}
			}
			var bar *progressbar.ProgressBar
			if stdoutTerm && !toStdout && !quiet {
				bar = progressbar.NewOptions(-1,
					progressbar.OptionSetWriter(e.stdout),
					progressbar.OptionSetDescription("report "+p.Label),
					progressbar.OptionShowCount(),
					progressbar.OptionClearOnFinish(),
				)
				opts.Progress = func(step string, total int) {
					bar.ChangeMax(total)
					bar.Describe(fmt.Sprintf("report %s: %-13s", p.Label, step))
					_ = bar.Add(1)
				}
			}
			g, err := svc.Generate(ctx, p, opts)
			if bar != nil {
				_ = bar.Finish()
			}
			if err != nil {
				return err
			}
			doc := map[string][]byte{reports.FormatHTML: g.HTML, reports.FormatPDF: g.PDF, reports.FormatCSV: g.CSV}[format]
			if toStdout {
				if _, err := e.stdout.Write(doc); err != nil {
					return err
				}
			} else if err := writeFileAtomic(out, doc); err != nil {
				return err
			}
			if store {
				if _, err := svc.Store(ctx, g, "cli", true); err != nil {
					return err
				}
				e.logger.Info("report archived", "period", p.Label)
			}
			if send || resend {
				sent, err := svc.Deliver(ctx, p, resend)
				if err != nil {
					return err
				}
				if !sent {
					fmt.Fprintf(e.stderr, "report %s was not sent (already sent, or reports.mail.to is empty); use --resend to send it again\n", p.Label)
				}
			}
			if !toStdout {
				msg := fmt.Sprintf("wrote %s (%s, %d bytes", out, format, len(doc))
				if format == reports.FormatPDF {
					msg += ", " + g.PDFEngine
				}
				fmt.Fprintln(e.stderr, msg+")")
			}
			return nil
		},
	}
}

// writeFileAtomic writes data to a temporary file beside path and renames
// it into place, so a reader never sees half a report.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
