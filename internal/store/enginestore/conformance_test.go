package enginestore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/greylist"
	"github.com/uni-mail/postvakt/engine/store"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
)

func TestConformanceEngineDirectory(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		st := enginestore.New(db)
		ctx := context.Background()
		now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
		if err := st.DirPutDomain(ctx, directory.Domain{Name: "uni.example", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := st.DirPutDomain(ctx, directory.Domain{Name: "uni.example", CreatedAt: now}); err != nil {
			t.Fatalf("idempotent: %v", err)
		}
		if ok, err := st.DirDomainExists(ctx, "uni.example"); !ok || err != nil {
			t.Fatalf("exists = %v, %v", ok, err)
		}
		if ok, _ := st.DirDomainExists(ctx, "other.example"); ok {
			t.Fatal("other.example exists")
		}
		ids, err := st.DirUpsertMailboxes(ctx, []directory.Mailbox{
			{Address: "123456@uni.example", QuotaBytes: 100, PasswordHash: "h1", KeepCopy: true},
			{Address: "234567@uni.example"},
		}, now)
		if err != nil || len(ids) != 2 {
			t.Fatalf("upsert = %v, %v", ids, err)
		}
		// Re-import without a hash keeps the hash and updates the rest.
		again, err := st.DirUpsertMailboxes(ctx, []directory.Mailbox{{Address: "123456@uni.example", QuotaBytes: 200, Locked: true}}, now.Add(time.Hour))
		if err != nil || again[0] != ids[0] {
			t.Fatalf("re-upsert = %v, %v", again, err)
		}
		m, err := st.DirMailbox(ctx, ids[0])
		if err != nil || m.PasswordHash != "h1" || m.QuotaBytes != 200 || !m.Locked || m.KeepCopy || !m.UpdatedAt.Equal(now.Add(time.Hour)) || !m.CreatedAt.Equal(now) {
			t.Fatalf("mailbox = %+v, %v", m, err)
		}
		e, err := st.DirLookup(ctx, "123456@uni.example")
		if err != nil || e.Kind != directory.KindMailbox || e.MailboxID != ids[0] || e.Mailbox == nil || e.Mailbox.Address != "123456@uni.example" || e.Mailbox.QuotaBytes != 200 || !e.Mailbox.Locked {
			t.Fatalf("lookup = %+v, %v", e, err)
		}
		if _, err := st.DirLookup(ctx, "nobody@uni.example"); !errors.Is(err, directory.ErrNotFound) {
			t.Fatalf("missing lookup: %v", err)
		}
		if _, err := st.DirMailbox(ctx, 9999); !errors.Is(err, directory.ErrNotFound) {
			t.Fatalf("missing mailbox: %v", err)
		}
		if err := st.DirUpdateMailbox(ctx, ids[1], now, func(m *directory.Mailbox) error {
			m.ForwardTo = "x@else.example"
			m.ExternalForwardAllowed = true
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if m, _ := st.DirMailbox(ctx, ids[1]); m.ForwardTo != "x@else.example" || !m.ExternalForwardAllowed {
			t.Fatalf("after update: %+v", m)
		}

		// Nicknames: set, change (old one released), quarantine for others, reuse after it.
		q := 30 * 24 * time.Hour
		if err := st.DirSetNickname(ctx, ids[0], "anna@uni.example", now, q); err != nil {
			t.Fatal(err)
		}
		if err := st.DirSetNickname(ctx, ids[1], "anna@uni.example", now, q); !errors.Is(err, directory.ErrExists) {
			t.Fatalf("taken nickname: %v", err)
		}
		if err := st.DirSetNickname(ctx, ids[0], "anna.s@uni.example", now.Add(time.Hour), q); err != nil {
			t.Fatal(err)
		}
		if e, _ := st.DirLookup(ctx, "anna@uni.example"); e.Kind != directory.KindReleased || !e.ReleasedAt.Equal(now.Add(time.Hour)) {
			t.Fatalf("released entry = %+v", e)
		}
		if err := st.DirSetNickname(ctx, ids[1], "anna@uni.example", now.Add(24*time.Hour), q); !errors.Is(err, directory.ErrQuarantined) {
			t.Fatalf("quarantined nickname: %v", err)
		}
		if err := st.DirSetNickname(ctx, ids[1], "anna@uni.example", now.Add(q+2*time.Hour), q); err != nil {
			t.Fatalf("after quarantine: %v", err)
		}
		if e, _ := st.DirLookup(ctx, "anna@uni.example"); e.Kind != directory.KindNickname || e.MailboxID != ids[1] {
			t.Fatalf("reused nickname = %+v", e)
		}

		// Aliases.
		if err := st.DirPutAlias(ctx, directory.Alias{Address: "it-staff@uni.example", Kind: directory.KindList, Targets: []string{"123456@uni.example", "234567@uni.example", "123456@uni.example"}}); err != nil {
			t.Fatal(err)
		}
		if tg, err := st.DirAliasTargets(ctx, "it-staff@uni.example"); err != nil || len(tg) != 2 {
			t.Fatalf("targets = %v, %v", tg, err)
		}
		if err := st.DirPutAlias(ctx, directory.Alias{Address: "it-staff@uni.example", Kind: directory.KindAlias, Targets: []string{"234567@uni.example"}}); err != nil {
			t.Fatal(err)
		}
		if tg, _ := st.DirAliasTargets(ctx, "it-staff@uni.example"); len(tg) != 1 {
			t.Fatalf("replaced targets = %v", tg)
		}
		if err := st.DirPutAlias(ctx, directory.Alias{Address: "123456@uni.example", Kind: directory.KindAlias, Targets: []string{"x@uni.example"}}); !errors.Is(err, directory.ErrExists) {
			t.Fatalf("alias over mailbox: %v", err)
		}
		if _, err := st.DirUpsertMailboxes(ctx, []directory.Mailbox{{Address: "it-staff@uni.example"}}, now); !errors.Is(err, directory.ErrExists) {
			t.Fatalf("mailbox over alias: %v", err)
		}
		if err := st.DirPutAlias(ctx, directory.Alias{Address: "abuse@uni.example", Kind: directory.KindFunction, Targets: []string{"b@uni.example", "a@uni.example"}}); err != nil {
			t.Fatal(err)
		}
		if al, err := st.DirAliases(ctx); err != nil || len(al) != 2 || al[0].Address != "abuse@uni.example" || len(al[0].Targets) != 2 || al[0].Targets[0] != "a@uni.example" || al[1].Kind != directory.KindAlias {
			t.Fatalf("aliases = %+v, %v", al, err)
		}
		if err := st.DirDeleteAlias(ctx, "it-staff@uni.example"); err != nil {
			t.Fatal(err)
		}
		if err := st.DirDeleteAlias(ctx, "it-staff@uni.example"); !errors.Is(err, directory.ErrNotFound) {
			t.Fatalf("delete twice: %v", err)
		}
		if list, err := st.DirMailboxes(ctx); err != nil || len(list) != 2 {
			t.Fatalf("list = %v, %v", list, err)
		}
	})
}

// TestConformanceEngineDirAliasesTargeting: the aliases, lists and
// function addresses forwarding to an address, found case-insensitively
// through the index on engine_alias_targets.target, each with all its
// targets; the others are left out.
func TestConformanceEngineDirAliasesTargeting(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		st := enginestore.New(db)
		ctx := context.Background()
		if err := st.DirPutDomain(ctx, directory.Domain{Name: "uni.example", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		for _, a := range []directory.Alias{
			{Address: "it-staff@uni.example", Kind: directory.KindList, Targets: []string{"ola@uni.example", "kari@remote.example"}},
			{Address: "abuse@uni.example", Kind: directory.KindFunction, Targets: []string{"kari@remote.example"}},
			{Address: "nordmann@uni.example", Kind: directory.KindAlias, Targets: []string{"ola@uni.example"}},
			{Address: "xola@uni.example", Kind: directory.KindAlias, Targets: []string{"xola@remote.example", "ola@uni.example.net"}},
		} {
			if err := st.DirPutAlias(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		render := func(al []directory.Alias) string {
			var s string
			for _, a := range al {
				s += fmt.Sprintf("%s(%s)%v ", a.Address, a.Kind, a.Targets)
			}
			return s
		}
		for _, c := range []struct{ target, want string }{
			{"OLA@Uni.Example", "it-staff@uni.example(list)[kari@remote.example ola@uni.example] nordmann@uni.example(alias)[ola@uni.example] "},
			{"ola@uni.example", "it-staff@uni.example(list)[kari@remote.example ola@uni.example] nordmann@uni.example(alias)[ola@uni.example] "},
			{"kari@remote.example", "abuse@uni.example(function)[kari@remote.example] it-staff@uni.example(list)[kari@remote.example ola@uni.example] "},
			{"nobody@uni.example", ""},
			{"ola@", ""},
		} {
			al, err := st.DirAliasesTargeting(ctx, c.target)
			if got := render(al); err != nil || got != c.want {
				t.Errorf("DirAliasesTargeting(%q) = %q, %v; want %q", c.target, got, err, c.want)
			}
		}
		if err := st.DirDeleteAlias(ctx, "nordmann@uni.example"); err != nil {
			t.Fatal(err)
		}
		if al, err := st.DirAliasesTargeting(ctx, "ola@uni.example"); err != nil || render(al) != "it-staff@uni.example(list)[kari@remote.example ola@uni.example] " {
			t.Errorf("after delete: %q, %v", render(al), err)
		}

		// The lookup by target has its index (migration 20261123015400).
		q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'engine_alias_targets' AND name = 'engine_alias_targets_target'`
		if db.Dialect() == storage.Postgres {
			q = `SELECT COUNT(*) FROM pg_indexes WHERE tablename = 'engine_alias_targets' AND indexname = 'engine_alias_targets_target'`
		}
		var n int
		if err := db.QueryRow(ctx, q).Scan(&n); err != nil || n != 1 {
			t.Errorf("index engine_alias_targets_target: %d, %v", n, err)
		}
	})
}

func TestConformanceEngineGreylist(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		st := enginestore.New(db)
		ctx := context.Background()
		now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
		k := greylist.Key{Net: "192.0.2.0/24", Sender: "a@b.example", Rcpt: "c@uni.example"}
		if _, ok, err := st.GreyTriplet(ctx, k); ok || err != nil {
			t.Fatalf("empty: %v %v", ok, err)
		}
		tr := greylist.Triplet{Key: k, FirstSeen: now, LastSeen: now, Attempts: 1}
		if err := st.GreyPutTriplet(ctx, tr); err != nil {
			t.Fatal(err)
		}
		tr.PassedAt, tr.LastSeen = now.Add(time.Minute), now.Add(time.Minute)
		if err := st.GreyPutTriplet(ctx, tr); err != nil {
			t.Fatal(err)
		}
		got, ok, err := st.GreyTriplet(ctx, k)
		if err != nil || !ok || got != tr {
			t.Fatalf("got %+v %v %v, want %+v", got, ok, err, tr)
		}
		for i := 0; i < 3; i++ {
			if err := st.GreyAddClientPass(ctx, k.Net, now); err != nil {
				t.Fatal(err)
			}
		}
		if n, err := st.GreyClientPasses(ctx, k.Net); n != 3 || err != nil {
			t.Fatalf("passes = %d, %v", n, err)
		}
		pending := greylist.Triplet{Key: greylist.Key{Net: "198.51.100.0/24", Rcpt: "c@uni.example"}, FirstSeen: now, LastSeen: now}
		if err := st.GreyPutTriplet(ctx, pending); err != nil {
			t.Fatal(err)
		}
		n, err := st.GreyExpire(ctx, now.Add(2*time.Minute), now.Add(time.Second))
		if err != nil || n != 3 {
			t.Fatalf("expire = %d, %v", n, err)
		}
	})
}

func TestConformanceEngineMailStore(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		st := enginestore.New(db)
		ctx := context.Background()
		now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
		var boxes []directory.Mailbox
		for i := range 400 {
			boxes = append(boxes, directory.Mailbox{Address: fmt.Sprintf("s%d@uni.example", i)})
		}
		ids, err := st.DirUpsertMailboxes(ctx, boxes, now)
		if err != nil {
			t.Fatal(err)
		}
		body := []byte("Subject: exam\r\n\r\nHello class\r\n")
		msg := &store.Message{QueueID: "Q1", ReceivedAt: now, Listener: "submission", MailFrom: "teacher@uni.example",
			MessageID: "<m1@uni.example>", Body: body, BodyHash: store.Hash(body),
			Truncated: []byte("Subject: exam\r\n\r\n")}
		msg.TruncatedHash = store.Hash(msg.Truncated)
		for i, id := range ids {
			msg.Deliveries = append(msg.Deliveries, store.Delivery{Rcpt: boxes[i].Address, MailboxID: id, Truncated: i == 0})
		}
		msg.Deliveries = append(msg.Deliveries, store.Delivery{Rcpt: "ext@else.example", Remote: "ext@else.example"})
		if err := st.MailCommit(ctx, []*store.Message{msg}); err != nil {
			t.Fatal(err)
		}
		// Same body again in another transaction: still one body row.
		msg2 := *msg
		msg2.QueueID, msg2.Deliveries = "Q2", msg.Deliveries[1:2]
		if err := st.MailCommit(ctx, []*store.Message{&msg2}); err != nil {
			t.Fatal(err)
		}
		stats, err := st.MailStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if stats.Bodies != 2 || stats.Messages != 401 || stats.QueuedMail != 1 || stats.BodyBytes != int64(len(body)+len(msg.Truncated)) {
			t.Fatalf("stats = %+v", stats)
		}
		got, err := st.MailMessages(ctx, ids[1])
		if err != nil || len(got) != 2 || got[0].BodyHash != msg.BodyHash || got[0].Truncated || !got[0].ReceivedAt.Equal(now) {
			t.Fatalf("messages = %+v, %v", got, err)
		}
		if got, _ := st.MailMessages(ctx, ids[0]); len(got) != 1 || !got[0].Truncated || got[0].BodyHash != msg.TruncatedHash {
			t.Fatalf("truncated = %+v", got)
		}
		if m, _ := st.DirMailbox(ctx, ids[1]); m.UsedBytes != 2*int64(len(body)) {
			t.Fatalf("used = %d", m.UsedBytes)
		}
		b, err := st.MailBody(ctx, msg.BodyHash)
		if err != nil || string(b) != string(body) {
			t.Fatalf("body = %q, %v", b, err)
		}
		if _, err := st.MailBody(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing body: %v", err)
		}
		if q, err := st.MailQueueIDsByMessageID(ctx, "<m1@uni.example>"); err != nil || len(q) != 2 {
			t.Fatalf("by message-id = %v, %v", q, err)
		}
		// A duplicate queue ID fails the whole batch and writes nothing of it.
		bad := &store.Message{QueueID: "Q1", ReceivedAt: now, Body: body, BodyHash: store.Hash(body)}
		ok := &store.Message{QueueID: "Q3", ReceivedAt: now, Body: body, BodyHash: store.Hash(body)}
		if err := st.MailCommit(ctx, []*store.Message{ok, bad}); err == nil {
			t.Fatal("duplicate queue id committed")
		}
		if q, _ := st.MailQueueIDsByMessageID(ctx, ""); len(q) != 0 {
			t.Fatalf("partial batch visible: %v", q)
		}
	})
}

// TestConformanceEngineGroupCommit runs the committer over both databases
// with concurrent callers.
func TestConformanceEngineGroupCommit(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		st := enginestore.New(db)
		ctx := context.Background()
		ids, err := st.DirUpsertMailboxes(ctx, []directory.Mailbox{{Address: "a@uni.example"}, {Address: "b@uni.example"}}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		workers := 1
		if db.Dialect() == storage.Postgres {
			workers = 4
		}
		c := store.NewCommitter(st, store.CommitterOptions{MaxBatch: 32, Workers: workers})
		defer c.Close()
		var wg sync.WaitGroup
		errs := make(chan error, 200)
		for i := range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				body := []byte(fmt.Sprintf("Subject: %d\r\n\r\nx\r\n", i%7))
				errs <- c.Commit(ctx, &store.Message{QueueID: fmt.Sprintf("G%d", i), ReceivedAt: time.Now(), Body: body, BodyHash: store.Hash(body),
					Deliveries: []store.Delivery{{MailboxID: ids[0]}, {MailboxID: ids[1]}}})
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		stats, _ := st.MailStats(ctx)
		if stats.Messages != 400 || stats.Bodies != 7 {
			t.Fatalf("stats = %+v", stats)
		}
	})
}

// Retention of the engine's store: old transaction rows go; a body goes
// once no mailbox message and no relay entry refers to it and it was not
// used within the grace period; everything else stays.
func TestConformanceEngineMailPrune(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		st := enginestore.New(db)
		ctx := context.Background()
		now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
		old := now.Add(-100 * 24 * time.Hour)
		ids, err := st.DirUpsertMailboxes(ctx, []directory.Mailbox{{Address: "anna@uni.example"}}, now)
		if err != nil {
			t.Fatal(err)
		}
		local := []store.Delivery{{Rcpt: "anna@uni.example", MailboxID: ids[0]}}
		remote := []store.Delivery{{Rcpt: "x@remote.example", Remote: "x@remote.example"}}
		msg := func(qid string, at time.Time, body string, d []store.Delivery) *store.Message {
			b := []byte("Subject: " + body + "\r\n\r\n" + body + "\r\n")
			return &store.Message{QueueID: qid, ReceivedAt: at, MailFrom: "s@else.example", Rcpts: []string{d[0].Rcpt},
				Body: b, BodyHash: store.Hash(b), Deliveries: d}
		}
		kept := msg("Q1", old, "in a mailbox", local)
		relayed := msg("Q2", old, "relayed and gone", remote)
		queued := msg("Q3", old, "still queued", remote)
		deleted := msg("Q4", old, "deleted from the mailbox", local)
		young := msg("Q5", now.Add(-time.Hour), "young, relayed and gone", remote)
		reused := msg("Q6", old, "relayed, then sent again", remote)
		if err := st.MailCommit(ctx, []*store.Message{kept, relayed, queued, deleted, young, reused}); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			`DELETE FROM engine_relay_queue WHERE queue_id IN ('Q2', 'Q5', 'Q6')`,
			`DELETE FROM engine_messages WHERE queue_id = 'Q4'`,
		} {
			if _, err := db.Exec(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		// the same body again, today, to the mailbox: referenced and young
		again := msg("Q7", now, "relayed, then sent again", local)
		if err := st.MailCommit(ctx, []*store.Message{again}); err != nil {
			t.Fatal(err)
		}
		p, err := st.MailPrune(ctx, now.Add(-90*24*time.Hour), now.Add(-24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if p.Transactions != 5 || p.Bodies != 2 || p.BodyBytes != int64(len(relayed.Body)+len(deleted.Body)) {
			t.Fatalf("pruned %+v, want 5 transactions and the 2 bodies of Q2 and Q4", p)
		}
		for _, m := range []*store.Message{kept, queued, young, reused} {
			if _, err := st.MailBody(ctx, m.BodyHash); err != nil {
				t.Errorf("body of %s: %v", m.QueueID, err)
			}
		}
		for _, m := range []*store.Message{relayed, deleted} {
			if _, err := st.MailBody(ctx, m.BodyHash); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("body of %s still there: %v", m.QueueID, err)
			}
		}
		if q, _ := st.MailQueueIDsByMessageID(ctx, ""); fmt.Sprint(q) != "[Q5 Q7]" {
			t.Errorf("transactions left: %v, want the two of the last 90 days [Q5 Q7]", q)
		}
		// nothing more to do a second time; the store still takes mail
		if p, err := st.MailPrune(ctx, now.Add(-90*24*time.Hour), now.Add(-24*time.Hour)); err != nil || p != (store.Pruned{}) {
			t.Fatalf("second prune %+v, %v", p, err)
		}
		if err := st.MailCommit(ctx, []*store.Message{msg("Q8", now, "after", local)}); err != nil {
			t.Fatal(err)
		}
		if stats, err := st.MailStats(ctx); err != nil || stats.Bodies != 5 {
			t.Fatalf("stats %+v, %v; want 5 bodies (Q1, Q3, Q5, Q6/Q7, Q8)", stats, err)
		}
	})
}
