package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/store"
	"github.com/uni-mail/postvakt/internal/api/engineapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
)

// withMailbox runs fn with the mailbox ADDRESS (its one argument) of the
// configured directory and the engine's store on the configured database.
func withMailbox(fn func(ctx context.Context, e *cmdEnv, db *storage.DB, st *enginestore.Store, m directory.Mailbox) error) func(context.Context, *cmdEnv, []string) error {
	return withDatabase(func(ctx context.Context, e *cmdEnv, cfg *config.Config, db *storage.DB, args []string) error {
		a, err := oneArg(args, "ADDRESS")
		if err != nil {
			return err
		}
		st := enginestore.New(db)
		d, err := engine.NewDirectory(cfg.SMTP, st, time.Now)
		if err != nil {
			return err
		}
		m, err := d.Mailbox(ctx, a)
		if err != nil {
			return err
		}
		return fn(ctx, e, db, st, m)
	})
}

func auditMailbox(ctx context.Context, db *storage.DB, action, target, detail string) error {
	return accessstore.New(db).Audit(ctx, auth.AuditEntry{At: time.Now(), Actor: "cli:" + currentUser(), Action: action, Target: target, Detail: detail})
}

func mailboxCmd() *command {
	var (
		limit  int
		before int64
		asJSON bool
		out    string
	)
	return &command{
		name:    "mailbox",
		summary: "list and export the messages of a mailbox in the engine's store",
		help: "Reads the mailboxes that local delivery stores in postvakt's database. Every list and export is in the audit log " +
			"(mailbox.list, mailbox.export) with the mailbox as target, as in the API.",
		subs: []*command{
			{name: "list", args: "ADDRESS", summary: "list a mailbox's messages, newest first: id, received, size, from, subject",
				flags: func(fs *flag.FlagSet, _ *globalOpts) {
					fs.IntVar(&limit, "limit", engineapi.MessagesDefaultLimit, "at most `N` messages (1–"+strconv.Itoa(engineapi.MessagesMaxLimit)+")")
					fs.Int64Var(&before, "before", 0, "only messages with an id below `ID` (the next page)")
					fs.BoolVar(&asJSON, "json", false, "print JSON (the API's GET …/messages)")
				},
				run: withMailbox(func(ctx context.Context, e *cmdEnv, db *storage.DB, st *enginestore.Store, m directory.Mailbox) error {
					if limit < 1 || limit > engineapi.MessagesMaxLimit {
						return usagef("--limit must be from 1 to %d", engineapi.MessagesMaxLimit)
					}
					if before < 0 {
						return usagef("--before must be a message id")
					}
					page, err := st.MailboxMessagePage(ctx, m.ID, before, limit)
					if err != nil {
						return err
					}
					if err := auditMailbox(ctx, db, "mailbox.list", m.Address, fmt.Sprintf("limit=%d before=%d", limit, before)); err != nil {
						return err
					}
					list := engineapi.MessageList{Address: m.Address, Messages: []engineapi.MessageSummary{}}
					for _, pm := range page {
						h := store.ParseHeader(pm.Head)
						list.Messages = append(list.Messages, engineapi.MessageSummary{ID: pm.ID, ReceivedAt: pm.ReceivedAt.UTC(), Size: pm.Size,
							From: store.Get(h, "From"), To: store.Get(h, "To"), Subject: store.Get(h, "Subject"), MessageID: store.Get(h, "Message-ID"), Truncated: pm.Truncated})
					}
					if len(page) == limit {
						list.NextBefore = page[len(page)-1].ID
					}
					if asJSON {
						return writeJSON(e.stdout, list)
					}
					if len(list.Messages) == 0 {
						fmt.Fprintf(e.stdout, "no messages in %s\n", m.Address)
						return nil
					}
					tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tRECEIVED\tSIZE\tFROM\tSUBJECT")
					for _, s := range list.Messages {
						fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\n", s.ID, e.when(s.ReceivedAt), s.Size, s.From, s.Subject)
					}
					if err := tw.Flush(); err != nil {
						return err
					}
					if list.NextBefore > 0 {
						fmt.Fprintf(e.stdout, "more: --before %d\n", list.NextBefore)
					}
					return nil
				})},
			{name: "export", args: "ADDRESS", summary: "write a mailbox as an mboxrd file (for a departing user)",
				help: "Writes every message of the mailbox, oldest first, as mboxrd (From_ lines with the envelope sender and arrival in UTC, " +
					">From quoting, LF line ends) to FILE or standard output, one message at a time. With -o the file appears only when the " +
					"export is complete (it is written beside it first), and a progress bar shows on a terminal.",
				flags: func(fs *flag.FlagSet, _ *globalOpts) {
					fs.StringVar(&out, "o", "", "write to `FILE` (an existing file is replaced) instead of standard output")
				},
				run: withMailbox(func(ctx context.Context, e *cmdEnv, db *storage.DB, st *enginestore.Store, m directory.Mailbox) error {
					if err := auditMailbox(ctx, db, "mailbox.export", m.Address, "mboxrd"); err != nil {
						return err
					}
					var w io.Writer = e.stdout
					var tmp *os.File
					if out != "" {
						var err error
						if tmp, err = os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".*"); err != nil {
							return err
						}
						defer func() {
							if tmp != nil {
								tmp.Close()
								os.Remove(tmp.Name())
							}
						}()
						w = tmp
					}
					var bar *progressbar.ProgressBar
					if out != "" && isTerminal(e.stdout) {
						bar = progressbar.NewOptions64(m.UsedBytes, progressbar.OptionSetWriter(e.stdout), progressbar.OptionShowBytes(true),
							progressbar.OptionSetDescription("exporting"), progressbar.OptionThrottle(100*time.Millisecond),
							progressbar.OptionClearOnFinish())
					}
					mw := store.NewMboxWriter(w)
					var n, bytes int64
					err := st.MailEach(ctx, m.ID, func(sm store.StoredMessage, sender string, body []byte) error {
						n, bytes = n+1, bytes+int64(len(body))
						if bar != nil {
							if bytes > bar.GetMax64() {
								bar.ChangeMax64(bytes)
							}
							_ = bar.Set64(bytes)
						}
						return mw.Write(sender, sm.ReceivedAt, body)
					})
					if err == nil {
						err = mw.Flush()
					}
					if bar != nil {
						_ = bar.Finish()
					}
					if err != nil {
						return err
					}
					if tmp != nil {
						if err := tmp.Sync(); err != nil {
							return err
						}
						if err := tmp.Close(); err != nil {
							return err
						}
						if err := os.Rename(tmp.Name(), out); err != nil {
							return err
						}
						tmp = nil
						fmt.Fprintf(e.stdout, "exported %d messages (%d bytes) of %s to %s\n", n, bytes, m.Address, out)
					}
					return nil
				})},
		},
	}
}
