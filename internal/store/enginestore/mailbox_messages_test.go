package enginestore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/store"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
)

// TestConformanceEngineMailboxMessages: a mailbox's messages come newest
// first in pages with their heads (cut at store.HeadBytes), one message is
// found only in its own mailbox, a deletion takes the size off the quota
// usage once (a second deletion or one through another mailbox changes
// nothing), and MailEach gives every message oldest first with its
// envelope sender and body.
func TestConformanceEngineMailboxMessages(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		st := enginestore.New(db)
		now := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
		ids, err := st.DirUpsertMailboxes(ctx, []directory.Mailbox{{Address: "ola@uni.example"}, {Address: "kari@uni.example"}}, now)
		if err != nil {
			t.Fatal(err)
		}
		ola, kari := ids[0], ids[1]
		var bodies [][]byte
		var msgs []*store.Message
		for i := range 5 {
			b := []byte(fmt.Sprintf("From: x%d@ext.example\r\nSubject: n%d\r\n\r\nbody %d\r\n", i, i, i))
			if i == 4 { // a header block longer than HeadBytes
				b = []byte("X-Long: " + strings.Repeat("a", store.HeadBytes) + "\r\n\r\nlong\r\n")
			}
			bodies = append(bodies, b)
			msgs = append(msgs, &store.Message{QueueID: fmt.Sprintf("Q%d", i), ReceivedAt: now.Add(time.Duration(i) * time.Minute),
				MailFrom: fmt.Sprintf("x%d@ext.example", i), Rcpts: []string{"ola@uni.example"}, Body: b, BodyHash: store.Hash(b),
				Deliveries: []store.Delivery{{Rcpt: "ola@uni.example", MailboxID: ola}}})
		}
		other := []byte("Subject: kari\r\n\r\nk\r\n")
		msgs = append(msgs, &store.Message{QueueID: "QK", ReceivedAt: now, Body: other, BodyHash: store.Hash(other),
			Deliveries: []store.Delivery{{Rcpt: "kari@uni.example", MailboxID: kari}}})
		if err := st.MailCommit(ctx, msgs); err != nil {
			t.Fatal(err)
		}

		page, err := st.MailboxMessagePage(ctx, ola, 0, 3)
		if err != nil || len(page) != 3 {
			t.Fatalf("first page: %d, %v", len(page), err)
		}
		if page[0].QueueID != "Q4" || page[1].QueueID != "Q3" || page[2].QueueID != "Q2" {
			t.Errorf("first page not newest first: %s %s %s", page[0].QueueID, page[1].QueueID, page[2].QueueID)
		}
		if len(page[0].Head) != store.HeadBytes || string(page[1].Head) != string(bodies[3]) || !page[1].ReceivedAt.Equal(now.Add(3*time.Minute)) ||
			page[1].Size != int64(len(bodies[3])) {
			t.Errorf("heads: %d bytes, %q at %s size %d", len(page[0].Head), page[1].Head, page[1].ReceivedAt, page[1].Size)
		}
		rest, err := st.MailboxMessagePage(ctx, ola, page[2].ID, 3)
		if err != nil || len(rest) != 2 || rest[0].QueueID != "Q1" || rest[1].QueueID != "Q0" {
			t.Fatalf("second page: %+v, %v", rest, err)
		}
		if h := store.ParseHeader(rest[0].Head); store.Get(h, "subject") != "n1" || store.Get(h, "From") != "x1@ext.example" {
			t.Errorf("parsed head: %+v", h)
		}

		one, err := st.MailboxMessage(ctx, ola, rest[0].ID)
		if err != nil || one.QueueID != "Q1" || string(one.Head) != string(bodies[1]) {
			t.Fatalf("one message: %+v, %v", one, err)
		}
		if _, err := st.MailboxMessage(ctx, kari, rest[0].ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("ola's message through kari's mailbox: %v", err)
		}

		used := func(id int64) int64 {
			t.Helper()
			m, err := st.DirMailbox(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			return m.UsedBytes
		}
		var total int64
		for _, b := range bodies {
			total += int64(len(b))
		}
		if u := used(ola); u != total {
			t.Fatalf("used %d, want %d", u, total)
		}
		if _, err := st.MailDelete(ctx, kari, one.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("delete through another mailbox: %v", err)
		}
		del, err := st.MailDelete(ctx, ola, one.ID)
		if err != nil || del.Size != int64(len(bodies[1])) || del.QueueID != "Q1" {
			t.Fatalf("delete: %+v, %v", del, err)
		}
		if _, err := st.MailDelete(ctx, ola, one.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("second delete: %v", err)
		}
		if u := used(ola); u != total-int64(len(bodies[1])) {
			t.Errorf("used %d after the delete, want %d", u, total-int64(len(bodies[1])))
		}
		if u := used(kari); u != int64(len(other)) {
			t.Errorf("kari's usage changed: %d", u)
		}
		if _, err := st.MailBody(ctx, del.BodyHash); err != nil {
			t.Errorf("the body went with the message: %v", err)
		}

		var got []string
		err = st.MailEach(ctx, ola, func(m store.StoredMessage, sender string, body []byte) error {
			if m.MailboxID != ola {
				t.Errorf("message of mailbox %d", m.MailboxID)
			}
			got = append(got, m.QueueID+" "+sender+" "+fmt.Sprint(string(body) == string(bodies[m.QueueID[1]-'0'])))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := "Q0 x0@ext.example true|Q2 x2@ext.example true|Q3 x3@ext.example true|Q4 x4@ext.example true"; strings.Join(got, "|") != want {
			t.Errorf("MailEach: %s, want %s", strings.Join(got, "|"), want)
		}
		stop := errors.New("stop")
		n := 0
		if err := st.MailEach(ctx, ola, func(store.StoredMessage, string, []byte) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
			t.Errorf("MailEach did not stop: %d, %v", n, err)
		}
	})
}
