package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/quarantine"
	"github.com/uni-mail/postvakt/engine/queue"
	"github.com/uni-mail/postvakt/engine/store"
	"github.com/uni-mail/postvakt/internal/app"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
)

// openTestDB opens the database of the configuration at path, migrated.
func openTestDB(t *testing.T, path string) *storage.DB {
	t.Helper()
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	db, err := app.OpenDatabase(context.Background(), cfg, slog.New(slog.DiscardHandler), true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestQueueAccountQuarantineCLI is the CLI half of runbook
// outgoing-spam-burst: `postvakt account lock` locks the account and holds
// its queued mail, and `postvakt queue delete --sender` removes it; plus
// the other queue and quarantine commands.
func TestQueueAccountQuarantineCLI(t *testing.T) {
	t.Parallel()
	cfg := dataConfig(t, "data_dir: DATADIR\ndatabase:\n  migrate_on_start: true\n")
	st := enginestore.New(openTestDB(t, cfg))
	ctx := context.Background()
	now := time.Now().UTC()
	if err := st.DirPutDomain(ctx, directory.Domain{Name: "uni.example", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.DirUpsertMailboxes(ctx, []directory.Mailbox{{Address: "phished@uni.example", PasswordHash: "x"}, {Address: "good@uni.example"}}, now); err != nil {
		t.Fatal(err)
	}
	commit := func(qid, from string, at time.Time, n int) {
		body := []byte("Subject: " + qid + "\r\n\r\nx\r\n")
		m := &store.Message{QueueID: qid, ReceivedAt: at, Node: "n", Listener: "submission", AuthUser: from, MailFrom: from,
			Body: body, BodyHash: store.Hash(body)}
		for i := range n {
			r := fmt.Sprintf("v%d@remote.example", i)
			m.Rcpts = append(m.Rcpts, r)
			m.Deliveries = append(m.Deliveries, store.Delivery{Rcpt: r, Remote: r})
		}
		if err := st.MailCommit(ctx, []*store.Message{m}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		commit(fmt.Sprintf("P%d", i), "phished@uni.example", now.Add(-3*time.Hour), 3)
	}
	commit("G1", "good@uni.example", now, 1)

	cli := func(want int, args ...string) string {
		t.Helper()
		code, out, errOut := runCLI(t, append(append([]string{}, args[:2]...), append([]string{"--config", cfg}, args[2:]...)...)...)
		if code != want {
			t.Fatalf("%v: exit %d, want %d: %s%s", args, code, want, out, errOut)
		}
		return out
	}
	out := cli(exitOK, "queue", "list")
	if !strings.Contains(out, "16 entries") || !strings.Contains(out, "phished@uni.example") {
		t.Fatalf("queue list:\n%s", out)
	}
	if out := cli(exitOK, "queue", "list", "--older-than", "2h"); !strings.Contains(out, "15 entries") {
		t.Fatalf("--older-than:\n%s", out)
	}
	if out := cli(exitOK, "queue", "list", "--recipient", "v2@remote.example"); !strings.Contains(out, "5 entries") {
		t.Fatalf("--recipient:\n%s", out)
	}
	out = cli(exitOK, "account", "lock", "--reason", "phished", "phished@uni.example")
	if !strings.Contains(out, "15 queued entries held") {
		t.Fatalf("account lock: %s", out)
	}
	ent, _ := st.DirLookup(ctx, "phished@uni.example")
	if !ent.Mailbox.Locked || ent.Mailbox.LockedReason != "phished" {
		t.Fatalf("not locked: %+v", ent.Mailbox)
	}
	if out := cli(exitOK, "queue", "list", "--state", "held"); !strings.Contains(out, "15 entries") || !strings.Contains(out, "held: account_locked") {
		t.Fatalf("held:\n%s", out)
	}
	cli(exitUsage, "queue", "delete")
	if out := cli(exitOK, "queue", "delete", "--sender", "phished@uni.example"); out != "delete: 15 entries\n" {
		t.Fatalf("delete: %q", out)
	}
	if out := cli(exitOK, "queue", "list"); !strings.Contains(out, "1 entries") || strings.Contains(out, "phished") {
		t.Fatalf("after delete:\n%s", out)
	}
	cli(exitOK, "queue", "hold", "--queue-id", "G1")
	if out := cli(exitOK, "queue", "release", "--sender", "good@uni.example"); out != "release: 1 entries\n" {
		t.Fatalf("release: %q", out)
	}
	if out := cli(exitOK, "queue", "retry", "--all"); out != "retry: 1 entries\n" {
		t.Fatalf("retry: %q", out)
	}
	es, _ := st.QueueList(ctx, queueFilterAll())
	if out := cli(exitOK, "queue", "show", fmt.Sprint(es[0].ID)); !strings.Contains(out, "Subject: G1") || !strings.Contains(out, "good@uni.example") {
		t.Fatalf("show:\n%s", out)
	}
	cli(exitOK, "account", "unlock", "phished@uni.example")

	// Quarantine.
	id, err := st.QuarantineAdd(ctx, &quarantine.Item{QueueID: "QX", At: now, Reason: quarantine.ReasonVirus, Detail: "Eicar-Test-Signature",
		MailFrom: "x@ext.example", Rcpts: []string{"good@uni.example"}, Subject: "invoice", Body: []byte("Subject: invoice\r\n\r\nbody\r\n")})
	if err != nil {
		t.Fatal(err)
	}
	if out := cli(exitOK, "quarantine", "list"); !strings.Contains(out, "Eicar-Test-Signature") || !strings.Contains(out, "1 items") {
		t.Fatalf("quarantine list:\n%s", out)
	}
	if out := cli(exitOK, "quarantine", "show", fmt.Sprint(id)); !strings.Contains(out, "Subject: invoice") || !strings.Contains(out, "virus") {
		t.Fatalf("quarantine show:\n%s", out)
	}
	if out := cli(exitOK, "quarantine", "release", fmt.Sprint(id)); !strings.Contains(out, "1 copies delivered or queued") {
		t.Fatalf("quarantine release: %s", out)
	}
	cli(exitError, "quarantine", "delete", fmt.Sprint(id))
}

func queueFilterAll() queue.Filter { return queue.Filter{} }
