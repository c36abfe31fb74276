package accessstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
)

func TestConformanceAudit(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		st := accessstore.New(db)
		ctx := context.Background()
		base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		for i := 0; i < 5; i++ {
			if err := st.Audit(ctx, auth.AuditEntry{At: base.Add(time.Duration(i) * time.Hour), Actor: "alice", Action: "trace.search", Target: "msgid", Remote: "127.0.0.1"}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := st.ListAudit(ctx, base.Add(2*time.Hour), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 || !got[0].At.Equal(base.Add(4*time.Hour)) || got[2].Actor != "alice" {
			t.Fatalf("got %+v", got)
		}
	})
}

func TestConformanceTimesRoundTrip(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		st := accessstore.New(db)
		ctx := context.Background()
		oslo, _ := time.LoadLocation("Europe/Oslo")
		at := time.Date(2026, 3, 29, 3, 30, 0, 999999000, oslo)
		if err := st.Audit(ctx, auth.AuditEntry{At: at, Actor: "x", Action: "y", Detail: "it's ? not a placeholder"}); err != nil {
			t.Fatal(err)
		}
		got, err := st.ListAudit(ctx, at, 1)
		if err != nil || len(got) != 1 || !got[0].At.Equal(at) || got[0].Detail != "it's ? not a placeholder" {
			t.Fatalf("got %+v %v", got, err)
		}
	})
}
