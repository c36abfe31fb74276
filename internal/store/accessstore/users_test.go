package accessstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/internal/webauth"
)

type webClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *webClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *webClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// TestWebUsersAndSessions runs users, sessions, lockout and throttling on
// both engines.
func TestWebUsersAndSessions(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		st := accessstore.New(db)
		ctx := context.Background()
		clock := &webClock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
		cfg := webauth.Default()
		cfg.Login.MaxFailures, cfg.Login.MaxPerAddress = 3, 5
		// Cheap argon2id parameters: the tests check logic, not cost.
		svc, err := webauth.New(webauth.Options{Config: cfg, Store: st, Now: clock.now,
			Hash: directory.HashParams{MemoryKiB: 1024, Time: 1, Threads: 1}})
		if err != nil {
			t.Fatal(err)
		}
		const pw = "a long enough password"
		if _, err := svc.AddUser(ctx, "Kari", "Kari Nordmann", "oncall", pw); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AddUser(ctx, "kari", "", "viewer", pw); !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("duplicate user: %v", err)
		}
		for _, bad := range []struct{ name, role, pw string }{{"Bad Name", "viewer", pw}, {"ola", "root", pw}, {"ola", "viewer", "short"}} {
			if _, err := svc.AddUser(ctx, bad.name, "", bad.role, bad.pw); !errors.Is(err, webauth.ErrInvalid) {
				t.Errorf("AddUser(%q, %q): %v, want ErrInvalid", bad.name, bad.role, err)
			}
		}
		u, err := st.UserByName(ctx, "kari")
		if err != nil || u.Role != auth.RoleOncall || u.DisplayName != "Kari Nordmann" || u.PasswordHash == pw || u.PasswordHash == "" {
			t.Fatalf("stored user %+v, %v", u, err)
		}
		if _, err := st.UserByName(ctx, "nobody"); !errors.Is(err, webauth.ErrNoUser) || !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("unknown user: %v", err)
		}

		// Sign in, look up, expire by idleness.
		_, secret, sess, err := svc.Login(ctx, "KARI", pw, "192.0.2.1")
		if err != nil || secret == "" || sess.CSRF == "" {
			t.Fatalf("login: %v", err)
		}
		got, who, err := svc.Lookup(ctx, secret)
		if err != nil || who.Name != "kari" || !webauth.ValidCSRF(got, sess.CSRF) || webauth.ValidCSRF(got, sess.CSRF+"x") || webauth.ValidCSRF(got, "") {
			t.Fatalf("lookup: %+v %+v %v", got, who, err)
		}
		clock.add(cfg.IdleTimeout + time.Minute)
		if _, _, err := svc.Lookup(ctx, secret); !errors.Is(err, webauth.ErrNoSession) {
			t.Fatalf("idle session: %v", err)
		}

		// A role change ends the user's sessions.
		_, secret, _, err = svc.Login(ctx, "kari", pw, "192.0.2.1")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.SetRole(ctx, "kari", "helpdesk"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := svc.Lookup(ctx, secret); !errors.Is(err, webauth.ErrNoSession) {
			t.Fatalf("session after role change: %v", err)
		}

		// N bad passwords lock the user out, even with the right password,
		// until the lockout ends.
		for i := 1; i <= cfg.Login.MaxFailures; i++ {
			res, _, _, err := svc.Login(ctx, "kari", "wrong", "198.51.100.1")
			want := webauth.ErrBadCredentials
			if i == cfg.Login.MaxFailures {
				want = webauth.ErrThrottled
				if !res.LockedNow {
					t.Error("the last failure did not report the lockout")
				}
			}
			if !errors.Is(err, want) {
				t.Fatalf("bad password %d: %v, want %v", i, err, want)
			}
		}
		if _, _, _, err := svc.Login(ctx, "kari", pw, "198.51.100.2"); !errors.Is(err, webauth.ErrThrottled) {
			t.Fatalf("right password while locked: %v", err)
		}
		// An administrator lifts the lockout; the failures are forgotten.
		if _, err := svc.Unlock(ctx, "kari"); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := svc.Login(ctx, "kari", pw, "198.51.100.2"); err != nil {
			t.Fatalf("after unlock: %v", err)
		}
		for i := 1; i <= cfg.Login.MaxFailures; i++ {
			_, _, _, _ = svc.Login(ctx, "kari", "wrong", "198.51.100.3")
		}
		clock.add(cfg.Login.Lockout + time.Second)
		if _, _, _, err := svc.Login(ctx, "kari", pw, "198.51.100.2"); err != nil {
			t.Fatalf("after lockout: %v", err)
		}

		// One address guessing many names is throttled as a whole.
		for i := 0; i < cfg.Login.MaxPerAddress; i++ {
			if _, _, _, err := svc.Login(ctx, "nobody", "wrong", "203.0.113.9"); !errors.Is(err, webauth.ErrBadCredentials) {
				t.Fatalf("guess %d: %v", i, err)
			}
		}
		if _, _, _, err := svc.Login(ctx, "kari", pw, "203.0.113.9"); !errors.Is(err, webauth.ErrThrottled) {
			t.Fatalf("throttled address: %v", err)
		}

		// Disabled users cannot sign in; sessions are pruned.
		if _, err := svc.SetDisabled(ctx, "kari", true); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := svc.Login(ctx, "kari", pw, "192.0.2.50"); !errors.Is(err, webauth.ErrBadCredentials) {
			t.Fatalf("disabled user: %v", err)
		}
		if _, err := svc.SSOUser(ctx, "kari"); err == nil {
			t.Fatal("SSO accepted a disabled user")
		}
		clock.add(cfg.SessionLifetime)
		if _, err := svc.Prune(ctx); err != nil {
			t.Fatal(err)
		}
		list, err := svc.Users(ctx)
		if err != nil || len(list) != 1 || !list[0].Disabled {
			t.Fatalf("users: %+v %v", list, err)
		}
	})
}
