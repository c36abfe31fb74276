package accessstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
)

func TestConformanceTokens(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		st := accessstore.New(db)
		ctx := context.Background()
		now := time.Date(2026, 11, 23, 9, 0, 0, 123456000, time.UTC)
		secret, _ := auth.NewSecret()
		tok, err := st.CreateToken(ctx, auth.Token{Name: "ci", Role: auth.RolePostmaster, Prefix: auth.DisplayPrefix(secret), CreatedAt: now, CreatedBy: "test"}, auth.HashSecret(secret))
		if err != nil {
			t.Fatal(err)
		}
		if tok.ID == 0 {
			t.Fatal("no id")
		}
		if _, err := st.CreateToken(ctx, auth.Token{Name: "dup", Role: auth.RoleViewer, CreatedAt: now}, auth.HashSecret(secret)); !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("duplicate hash: err = %v, want ErrConflict", err)
		}
		got, err := st.TokenByHash(ctx, auth.HashSecret(secret))
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "ci" || got.Role != auth.RolePostmaster || !got.CreatedAt.Equal(now) || !got.ExpiresAt.IsZero() || !got.Active(now) {
			t.Fatalf("got %+v", got)
		}
		if _, err := st.TokenByHash(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("missing: %v", err)
		}
		if err := st.TouchToken(ctx, tok.ID, now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := st.RevokeToken(ctx, tok.ID, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := st.RevokeToken(ctx, tok.ID, now.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := st.RevokeToken(ctx, 9999, now); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("revoke missing: %v", err)
		}
		list, err := st.ListTokens(ctx)
		if err != nil || len(list) != 1 {
			t.Fatalf("list = %v, %v", list, err)
		}
		if !list[0].RevokedAt.Equal(now.Add(time.Hour)) || !list[0].LastUsedAt.Equal(now.Add(time.Minute)) || list[0].Active(now.Add(2*time.Hour)) {
			t.Fatalf("after revoke: %+v", list[0])
		}
	})
}
