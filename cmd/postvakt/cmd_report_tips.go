package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/internal/store/reportstore"
	"github.com/uni-mail/postvakt/reports"
)

func reportTipsCmd() *command {
	var (
		period, file  string
		clear, asJSON bool
	)
	return &command{
		name:    "report-tips",
		summary: "show or set the questions and tips of a report period",
		help: `Shows the questions and tips kept for a period (the section "Questions and
tips" of its report), or replaces them with those of --file (- for standard
input), or removes them with --clear. Without --period the last completed
period. Regenerate the report to include a change made after it was
generated.

The file is JSON with --json ([{"question": "…", "answer": "…"}, …]),
otherwise text: each entry a line "Q: question" and a line "A: answer"; an
answer continues on the following lines up to a blank line or the next "Q:".

Examples:
  postvakt report-tips --period 2026-10
  postvakt report-tips --period 2026-10 --file tips.txt
  postvakt report-tips --period 2026-10 --json > tips.json`,
		flags: func(fs *flag.FlagSet, _ *globalOpts) {
			fs.StringVar(&period, "period", "", "period `YYYY-MM` (default: the last completed period)")
			fs.StringVar(&file, "file", "", "replace the entries with those of `file` (- for standard input)")
			fs.BoolVar(&clear, "clear", false, "remove the period's entries")
			fs.BoolVar(&asJSON, "json", false, "read and print JSON")
		},
		run: withDatabase(func(ctx context.Context, e *cmdEnv, cfg *config.Config, db *storage.DB, args []string) error {
			if len(args) > 0 {
				return usagef("report-tips takes no arguments")
			}
			if clear && file != "" {
				return usagef("--clear and --file exclude each other")
			}
			svc := &reports.Service{Config: cfg.Reports}
			p, err := svc.Period(period)
			if err != nil {
				return usagef("--period: %v", err)
			}
			st := reportstore.New(db)
			if file != "" || clear {
				var tips []reports.Tip
				if file != "" {
					var r io.Reader = os.Stdin
					if file != "-" {
						f, err := os.Open(file)
						if err != nil {
							return err
						}
						defer f.Close()
						r = f
					}
					if tips, err = readTips(r, asJSON); err != nil {
						return usagef("%s: %v", file, err)
					}
				}
				tips, err := reports.CheckTips(tips)
				if errors.Is(err, reports.ErrBadTips) {
					return usagef("%v", err)
				} else if err != nil {
					return err
				}
				actor := "cli:" + currentUser()
				if err := st.SetTips(ctx, p.Label, tips, actor, time.Now()); err != nil {
					return err
				}
				if err := accessstore.New(db).Audit(ctx, auth.AuditEntry{At: time.Now(), Actor: actor, Action: "report.tips",
					Target: p.Label, Detail: fmt.Sprintf("%d entries", len(tips))}); err != nil {
					return err
				}
				fmt.Fprintf(e.stderr, "%d questions and tips stored for %s\n", len(tips), p.Label)
				return nil
			}
			tips, err := st.Tips(ctx, p.Label)
			if err != nil {
				return err
			}
			if asJSON {
				if tips == nil {
					tips = []reports.Tip{}
				}
				return writeJSON(e.stdout, tips)
			}
			if len(tips) == 0 {
				fmt.Fprintf(e.stderr, "no questions or tips for %s\n", p.Label)
			}
			for i, t := range tips {
				if i > 0 {
					fmt.Fprintln(e.stdout)
				}
				fmt.Fprintf(e.stdout, "Q: %s\nA: %s\n", t.Question, t.Answer)
			}
			return nil
		}),
	}
}

// readTips reads entries as JSON or as "Q:"/"A:" text.
func readTips(r io.Reader, asJSON bool) ([]reports.Tip, error) {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, err
	}
	if asJSON {
		var tips []reports.Tip
		dec := json.NewDecoder(strings.NewReader(string(data)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&tips); err != nil {
			return nil, err
		}
		return tips, nil
	}
	var tips []reports.Tip
	var cur *reports.Tip
	inAnswer := false
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "Q:"):
			tips = append(tips, reports.Tip{Question: strings.TrimSpace(line[2:])})
			cur, inAnswer = &tips[len(tips)-1], false
		case strings.HasPrefix(line, "A:"):
			if cur == nil || cur.Answer != "" {
				return nil, fmt.Errorf("line %d: an answer without its question", n)
			}
			cur.Answer, inAnswer = strings.TrimSpace(line[2:]), true
		case strings.TrimSpace(line) == "":
			inAnswer = false
		case inAnswer:
			cur.Answer += "\n" + strings.TrimRight(line, " \t")
		default:
			return nil, fmt.Errorf("line %d: want \"Q: …\" or \"A: …\"", n)
		}
	}
	return tips, sc.Err()
}
