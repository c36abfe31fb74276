package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/quarantine"
	"github.com/uni-mail/postvakt/engine/queue"
	"github.com/uni-mail/postvakt/engine/sendlimit"
	"github.com/uni-mail/postvakt/internal/api/engineapi"
	"github.com/uni-mail/postvakt/internal/app"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
)

// withEngineStore runs fn with the engine's store on the database
// openDatabase gives.
func withEngineStore(fn func(ctx context.Context, e *cmdEnv, st *enginestore.Store, args []string) error) func(context.Context, *cmdEnv, []string) error {
	return withDatabase(func(ctx context.Context, e *cmdEnv, cfg *config.Config, db *storage.DB, args []string) error {
		// the store that writes the queue's and the quarantine's steps to
		// the transaction log, as the service's does
		st, err := app.EngineStore(db, cfg, time.Now)
		if err != nil {
			return err
		}
		return fn(ctx, e, st, args)
	})
}

// parseAge parses a Go duration or a number of days ("3d").
func parseAge(s string) (time.Duration, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad age %q", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	return time.ParseDuration(s)
}

// queueFilter is the filter flags shared by the queue commands.
type queueFilter struct {
	sender, recipient, account, olderThan, state, queueID string
}

func (q *queueFilter) flags(fs *flag.FlagSet) {
	fs.StringVar(&q.sender, "sender", "", "only entries from this envelope `sender`")
	fs.StringVar(&q.recipient, "recipient", "", "only entries to this `recipient`")
	fs.StringVar(&q.account, "account", "", "only mail submitted by this `account` (or sent from it)")
	fs.StringVar(&q.olderThan, "older-than", "", "only entries queued longer ago than this `age` (e.g. 2h, 3d)")
	fs.StringVar(&q.state, "state", "", "only entries in this `state`: queued, deferred or held")
	fs.StringVar(&q.queueID, "queue-id", "", "only entries of this queue `ID`")
}

func (q *queueFilter) filter(args []string, now time.Time) (queue.Filter, error) {
	f := queue.Filter{Sender: q.sender, Recipient: q.recipient, AuthUser: q.account, QueueID: q.queueID, State: queue.State(q.state)}
	switch f.State {
	case "", queue.StateQueued, queue.StateDeferred, queue.StateHeld:
	default:
		return f, usagef("--state %q: want queued, deferred or held", q.state)
	}
	if q.olderThan != "" {
		d, err := parseAge(q.olderThan)
		if err != nil {
			return f, usagef("--older-than: %v", err)
		}
		f.OlderThan = now.Add(-d)
	}
	for _, a := range args {
		id, err := strconv.ParseInt(a, 10, 64)
		if err != nil {
			return f, usagef("entry id %q is not a number", a)
		}
		f.IDs = append(f.IDs, id)
	}
	return f, nil
}

func (q *queueFilter) empty(args []string) bool {
	return len(args) == 0 && q.sender == "" && q.recipient == "" && q.account == "" && q.olderThan == "" && q.state == "" && q.queueID == ""
}

func queueCmd() *command {
	var lf, af queueFilter
	var asJSON, all bool
	var reason string
	action := func(name, summary string, do func(ctx context.Context, st *enginestore.Store, f queue.Filter, now time.Time) (int, error)) *command {
		return &command{
			name: name, args: "[ENTRY-ID...]", summary: summary,
			help: "Select entries by id or with the filters; at least one is required (or --all for every entry).\n\n" +
				"Example, purging what a compromised account queued:\n  postvakt queue delete --account phished@uni.example",
			flags: func(fs *flag.FlagSet, _ *globalOpts) {
				af.flags(fs)
				fs.BoolVar(&all, "all", false, "every entry (not for delete)")
				if name == "hold" {
					fs.StringVar(&reason, "reason", "postmaster", "held `reason` shown in the queue")
				}
			},
			run: withEngineStore(func(ctx context.Context, e *cmdEnv, st *enginestore.Store, args []string) error {
				if af.empty(args) && !(all && name != "delete") {
					return usagef("queue %s needs entry ids or a filter (--sender, --recipient, --account, --older-than, --state, --queue-id)", name)
				}
				now := time.Now()
				f, err := af.filter(args, now)
				if err != nil {
					return err
				}
				n, err := do(ctx, st, f, now)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%s: %d entries\n", name, n)
				return nil
			}),
		}
	}
	return &command{
		name:    "queue",
		summary: "list and administer the outbound relay queue",
		subs: []*command{
			{
				name: "list", summary: "list queue entries (one per recipient)",
				flags: func(fs *flag.FlagSet, _ *globalOpts) {
					lf.flags(fs)
					fs.BoolVar(&asJSON, "json", false, "print JSON")
				},
				run: withEngineStore(func(ctx context.Context, e *cmdEnv, st *enginestore.Store, args []string) error {
					f, err := lf.filter(args, time.Now())
					if err != nil {
						return err
					}
					es, err := st.QueueList(ctx, f)
					if err != nil {
						return err
					}
					if asJSON {
						if es == nil {
							es = []queue.Entry{}
						}
						return writeJSON(e.stdout, es)
					}
					tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tQUEUE-ID\tSTATE\tAGE\tATTEMPTS\tSENDER\tRECIPIENT\tACCOUNT\tLAST ERROR")
					for _, x := range es {
						reason := x.LastError
						if x.State == queue.StateHeld {
							reason = "held: " + x.HeldReason
						}
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%.60s\n", x.ID, x.QueueID, x.State, time.Since(x.CreatedAt).Round(time.Second),
							x.Attempts, orDash(x.MailFrom), x.Target, orDash(x.AuthUser), reason)
					}
					tw.Flush()
					fmt.Fprintf(e.stdout, "%d entries\n", len(es))
					return nil
				}),
			},
			{
				name: "show", args: "ENTRY-ID", summary: "show one entry and its message header",
				flags: func(fs *flag.FlagSet, _ *globalOpts) {
					fs.BoolVar(&asJSON, "json", false, "print the entry as JSON (without the message)")
				},
				run: withEngineStore(func(ctx context.Context, e *cmdEnv, st *enginestore.Store, args []string) error {
					if len(args) != 1 {
						return usagef("queue show takes one entry id")
					}
					id, err := strconv.ParseInt(args[0], 10, 64)
					if err != nil {
						return usagef("entry id %q is not a number", args[0])
					}
					es, err := st.QueueList(ctx, queue.Filter{IDs: []int64{id}})
					if err != nil {
						return err
					}
					if len(es) == 0 {
						return fmt.Errorf("queue entry %d: %w", id, queue.ErrNotFound)
					}
					x := es[0]
					if asJSON {
						return writeJSON(e.stdout, x)
					}
					fmt.Fprintf(e.stdout, "id:           %d\nqueue id:     %s\nstate:        %s %s\nsender:       %s\nrecipient:    %s (for %s)\naccount:      %s\n"+
						"queued:       %s\nattempts:     %d\nnext attempt: %s\nlast error:   %s\nsize:         %d\n\n",
						x.ID, x.QueueID, x.State, x.HeldReason, orDash(x.MailFrom), x.Target, x.Rcpt, orDash(x.AuthUser),
						e.when(x.CreatedAt), x.Attempts, e.when(x.NextAttemptAt), orDash(x.LastError), x.Size)
					body, err := st.QueueBody(ctx, x.BodyHash)
					if err != nil {
						return err
					}
					hdr := body
					if i := strings.Index(string(body), "\r\n\r\n"); i >= 0 {
						hdr = body[:i+2]
					}
					e.stdout.Write(hdr)
					return nil
				}),
			},
			action("hold", "hold entries (they are not delivered until released)", func(ctx context.Context, st *enginestore.Store, f queue.Filter, _ time.Time) (int, error) {
				return st.QueueHold(ctx, f, reason)
			}),
			action("release", "release held entries for delivery now", func(ctx context.Context, st *enginestore.Store, f queue.Filter, now time.Time) (int, error) {
				return st.QueueRelease(ctx, f, now)
			}),
			action("delete", "delete entries without delivering or bouncing them", func(ctx context.Context, st *enginestore.Store, f queue.Filter, _ time.Time) (int, error) {
				return st.QueueDelete(ctx, f)
			}),
			action("retry", "retry queued and deferred entries now", func(ctx context.Context, st *enginestore.Store, f queue.Filter, now time.Time) (int, error) {
				return st.QueueRetry(ctx, f, now)
			}),
		},
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func quarantineCmd() *command {
	var reason, sender, recipient string
	var raw, asJSON bool
	idArg := func(args []string, cmd string) (int64, error) {
		if len(args) != 1 {
			return 0, usagef("quarantine %s takes one item id", cmd)
		}
		id, err := strconv.ParseInt(args[0], 10, 64)
		if err != nil {
			return 0, usagef("item id %q is not a number", args[0])
		}
		return id, nil
	}
	return &command{
		name:    "quarantine",
		summary: "list, show, release and delete quarantined mail",
		subs: []*command{
			{
				name: "list", summary: "list quarantined messages, newest first",
				flags: func(fs *flag.FlagSet, _ *globalOpts) {
					fs.StringVar(&reason, "reason", "", "only this `reason`: virus, spam, suspect or banned")
					fs.StringVar(&sender, "sender", "", "only from this envelope `sender`")
					fs.StringVar(&recipient, "recipient", "", "only to this `recipient`")
					fs.BoolVar(&asJSON, "json", false, "print JSON (as GET /api/v1/quarantine answers)")
				},
				run: withEngineStore(func(ctx context.Context, e *cmdEnv, st *enginestore.Store, args []string) error {
					if len(args) > 0 {
						return usagef("quarantine list takes no arguments")
					}
					switch quarantine.Reason(reason) {
					case "", quarantine.ReasonVirus, quarantine.ReasonSpam, quarantine.ReasonSuspect, quarantine.ReasonBanned:
					default:
						return usagef("--reason %q: want virus, spam, suspect or banned", reason)
					}
					items, err := st.QuarantineList(ctx, quarantine.Filter{Reason: quarantine.Reason(reason), Sender: sender, Recipient: recipient})
					if err != nil {
						return err
					}
					if asJSON {
						if items == nil {
							items = []quarantine.Item{}
						}
						return writeJSON(e.stdout, engineapi.QuarantineList{Items: items})
					}
					tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tWHEN\tREASON\tSENDER\tRECIPIENTS\tSUBJECT\tDETAIL")
					for _, it := range items {
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%.40s\t%.60s\n", it.ID, e.when(it.At), it.Reason, orDash(it.MailFrom),
							strings.Join(it.Rcpts, ","), it.Subject, it.Detail)
					}
					tw.Flush()
					fmt.Fprintf(e.stdout, "%d items\n", len(items))
					return nil
				}),
			},
			{
				name: "show", args: "ITEM-ID", summary: "show a quarantined message's details and header (--raw: the whole message)",
				flags: func(fs *flag.FlagSet, _ *globalOpts) {
					fs.BoolVar(&raw, "raw", false, "print the whole message only")
					fs.BoolVar(&asJSON, "json", false, "print the item as JSON (the message base64-encoded in Body)")
				},
				run: withEngineStore(func(ctx context.Context, e *cmdEnv, st *enginestore.Store, args []string) error {
					id, err := idArg(args, "show")
					if err != nil {
						return err
					}
					it, err := st.QuarantineGet(ctx, id)
					if err != nil {
						return err
					}
					if raw {
						_, err = e.stdout.Write(it.Body)
						return err
					}
					if asJSON {
						return writeJSON(e.stdout, it)
					}
					fmt.Fprintf(e.stdout, "id:         %d\nwhen:       %s\nreason:     %s\ndetail:     %s\nsender:     %s\nrecipients: %s\nclient:     %s (%s)\naccount:    %s\nsize:       %d\n\n",
						it.ID, e.when(it.At), it.Reason, it.Detail, orDash(it.MailFrom), strings.Join(it.Rcpts, ", "),
						orDash(it.ClientIP), it.Listener, orDash(it.AuthUser), it.Size)
					hdr := it.Body
					if i := strings.Index(string(hdr), "\r\n\r\n"); i >= 0 {
						hdr = hdr[:i+2]
					}
					_, err = e.stdout.Write(hdr)
					return err
				}),
			},
			{
				name: "release", args: "ITEM-ID", summary: "deliver a quarantined message to its recipients (local mailboxes, or the relay queue)",
				run: withDatabase(func(ctx context.Context, e *cmdEnv, cfg *config.Config, db *storage.DB, args []string) error {
					id, err := idArg(args, "release")
					if err != nil {
						return err
					}
					st, err := app.EngineStore(db, cfg, time.Now)
					if err != nil {
						return err
					}
					dir, err := engine.NewDirectory(cfg.SMTP, st, time.Now)
					if err != nil {
						return err
					}
					q := &quarantine.Service{Store: st, Directory: dir}
					n, err := q.Release(ctx, id)
					if err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "released %d: %d copies delivered or queued\n", id, n)
					return nil
				}),
			},
			{
				name: "delete", args: "ITEM-ID", summary: "delete a quarantined message",
				run: withEngineStore(func(ctx context.Context, e *cmdEnv, st *enginestore.Store, args []string) error {
					id, err := idArg(args, "delete")
					if err != nil {
						return err
					}
					if err := st.QuarantineDelete(ctx, id); err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "deleted %d\n", id)
					return nil
				}),
			},
		},
	}
}

func accountCmd() *command {
	var reason string
	var keepQueue bool
	lock := func(locked bool) func(ctx context.Context, e *cmdEnv, st *enginestore.Store, args []string) error {
		return func(ctx context.Context, e *cmdEnv, st *enginestore.Store, args []string) error {
			if len(args) != 1 {
				return usagef("account lock|unlock takes one account address")
			}
			user := strings.ToLower(args[0])
			ent, err := st.DirLookup(ctx, user)
			if errors.Is(err, directory.ErrNotFound) || (err == nil && ent.Mailbox == nil) {
				return fmt.Errorf("account %s: no such mailbox", user)
			}
			if err != nil {
				return err
			}
			if err := st.DirUpdateMailbox(ctx, ent.Mailbox.ID, time.Now(), func(m *directory.Mailbox) error {
				m.Locked, m.LockedReason = locked, ""
				if locked {
					m.LockedReason = reason
				}
				return nil
			}); err != nil {
				return err
			}
			if !locked {
				fmt.Fprintf(e.stdout, "unlocked %s (held mail stays held: postvakt queue release --account %s)\n", user, user)
				return nil
			}
			held := 0
			if !keepQueue {
				if held, err = st.QueueHold(ctx, queue.Filter{AuthUser: ent.Mailbox.Address}, sendlimit.KindAccountLocked); err != nil {
					return err
				}
			}
			fmt.Fprintf(e.stdout, "locked %s: AUTH refused; %d queued entries held (purge: postvakt queue delete --account %s)\n", user, held, user)
			return nil
		}
	}
	return &command{
		name:    "account",
		summary: "lock or unlock a sending account (abuse control)",
		subs: []*command{
			{
				name: "lock", args: "USER", summary: "lock an account: AUTH is refused and its queued mail is held",
				flags: func(fs *flag.FlagSet, _ *globalOpts) {
					fs.StringVar(&reason, "reason", "locked by postmaster", "`reason` recorded with the lock")
					fs.BoolVar(&keepQueue, "keep-queue", false, "do not hold the account's queued mail")
				},
				run: withEngineStore(lock(true)),
			},
			{name: "unlock", args: "USER", summary: "unlock an account", run: withEngineStore(lock(false))},
		},
	}
}
