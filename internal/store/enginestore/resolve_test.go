package enginestore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/addr"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
)

// Resolution rules over the real store: forwarding (local, external
// allowed or not, with and without a copy), lists, loops, nicknames and
// their quarantine, and the Swedish address rules from configuration.
func TestEngineDirectoryResolve(t *testing.T) {
	t.Parallel()
	st := enginestore.New(storagetest.Open(t, storage.SQLite))
	ctx := context.Background()
	clock := &testClock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	cfg := engine.Default()
	cfg.AddressRules = addr.SwedishRules()
	cfg.Directory.NicknameQuarantine = 30 * 24 * time.Hour
	cfg.Directory.PasswordHash = directory.HashParams{MemoryKiB: 1024, Time: 1, Threads: 1}
	dir, err := engine.NewDirectory(cfg, st, clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(dir.AddDomain(ctx, "uni.example"))
	for _, a := range []string{"anna", "bert", "cleo", "dag", "eva"} {
		_, err := dir.AddMailbox(ctx, directory.NewMailbox{Address: a + "@uni.example"})
		must(err)
	}
	must(dir.SetForward(ctx, "bert@uni.example", "b@gmail.example", false, true))  // external, allowed
	must(dir.SetForward(ctx, "cleo@uni.example", "c@gmail.example", false, false)) // external, not allowed: stays
	must(dir.SetForward(ctx, "dag@uni.example", "anna@uni.example", true, false))  // local, keep a copy
	must(dir.SetForward(ctx, "eva@uni.example", "eva-list@uni.example", false, false))
	must(dir.AddAlias(ctx, "eva-list@uni.example", directory.KindList, []string{"eva@uni.example", "anna@uni.example"})) // a loop

	resolve := func(a string) (boxes []string, remote []string, err error) {
		p, _ := addr.Parse(a)
		res, err := dir.Resolve(ctx, p)
		for _, m := range res.Mailboxes {
			boxes = append(boxes, strings.TrimSuffix(m.Address, "@uni.example"))
		}
		return boxes, res.Remote, err
	}
	for _, tc := range []struct {
		addr, boxes, remote string
	}{
		{"bert@uni.example", "", "b@gmail.example"},
		{"cleo@uni.example", "cleo", ""},
		{"dag@uni.example", "dag anna", ""},
		{"eva@uni.example", "anna", ""},
	} {
		b, r, err := resolve(tc.addr)
		if err != nil || strings.Join(b, " ") != tc.boxes || strings.Join(r, " ") != tc.remote {
			t.Errorf("%s → %v %v %v, want [%s] [%s]", tc.addr, b, r, err, tc.boxes, tc.remote)
		}
	}
	if _, _, err := resolve("nobody@uni.example"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("unknown: %v", err)
	}
	if _, _, err := resolve("x@else.example"); !errors.Is(err, directory.ErrNoDomain) {
		t.Errorf("remote: %v", err)
	}

	// Address rules (Swedish example): personal names 2–8 a–z0–9, not u+digit.
	for _, bad := range []string{"u1234@uni.example", "a@uni.example", "anna-b@uni.example", "verylongname@uni.example"} {
		if _, err := dir.AddMailbox(ctx, directory.NewMailbox{Address: bad}); !errors.Is(err, directory.ErrInvalid) {
			t.Errorf("AddMailbox(%s) = %v, want ErrInvalid", bad, err)
		}
	}
	if err := dir.AddAlias(ctx, "it@uni.example", directory.KindAlias, []string{"anna@uni.example"}); !errors.Is(err, directory.ErrInvalid) {
		t.Errorf("personal-form group name: %v", err)
	}
	if _, err := dir.AddMailbox(ctx, directory.NewMailbox{Address: "anna@other.example"}); !errors.Is(err, directory.ErrNoDomain) {
		t.Errorf("foreign domain: %v", err)
	}

	// Nicknames: a freed nickname is quarantined for others, not for its owner.
	must(dir.SetNickname(ctx, "anna@uni.example", "anna.s@uni.example"))
	if b, _, _ := resolve("anna.s@uni.example"); strings.Join(b, " ") != "anna" {
		t.Fatalf("nickname resolves to %v", b)
	}
	must(dir.SetNickname(ctx, "anna@uni.example", "anna.b@uni.example"))
	if _, _, err := resolve("anna.s@uni.example"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("released nickname still delivers: %v", err)
	}
	if err := dir.SetNickname(ctx, "bert@uni.example", "anna.s@uni.example"); !errors.Is(err, directory.ErrQuarantined) {
		t.Errorf("quarantined nickname taken: %v", err)
	}
	clock.Advance(31 * 24 * time.Hour)
	must(dir.SetNickname(ctx, "bert@uni.example", "anna.s@uni.example"))

	// Lock and password.
	must(dir.SetPassword(ctx, "anna@uni.example", "pw"))
	if _, res, _ := dir.Authenticate(ctx, "anna.b@uni.example", "pw"); res != directory.AuthOK {
		t.Errorf("auth by nickname = %s", res)
	}
	must(dir.Lock(ctx, "anna@uni.example", "phished"))
	if _, res, _ := dir.Authenticate(ctx, "anna@uni.example", "pw"); res != directory.AuthLocked {
		t.Errorf("locked auth = %s", res)
	}
	must(dir.Unlock(ctx, "anna@uni.example"))
	must(dir.SetQuota(ctx, "anna@uni.example", 5<<30))
	if m, _ := dir.Mailbox(ctx, "anna@uni.example"); m.QuotaBytes != 5<<30 || m.Locked {
		t.Errorf("after unlock and quota: %+v", m)
	}

	// CSV: bad rows are all reported by line, and nothing is written.
	_, err = dir.ImportCSV(ctx, strings.NewReader("address,quota,keep_copy\nfrida@uni.example,2GB,yes\nu9@uni.example,1GB,no\ngus@uni.example,lots,maybe\n"))
	if err == nil || !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), "line 4") {
		t.Fatalf("csv errors = %v", err)
	}
	if _, err := dir.Mailbox(ctx, "frida@uni.example"); !errors.Is(err, directory.ErrNotFound) {
		t.Errorf("partial import: %v", err)
	}
	if _, err := dir.ImportCSV(ctx, strings.NewReader("address,colour\n")); err == nil || !strings.Contains(err.Error(), `unknown column "colour"`) {
		t.Errorf("unknown column: %v", err)
	}
}

// testClock is an injected clock tests move by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
