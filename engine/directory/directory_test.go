package directory_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/engine/directory"
)

func TestPassword(t *testing.T) {
	t.Parallel()
	p := directory.HashParams{MemoryKiB: 1024, Time: 1, Threads: 1}
	h, err := directory.HashPassword("correct horse", p)
	if err != nil || !strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Fatalf("hash = %q, %v", h, err)
	}
	h2, _ := directory.HashPassword("correct horse", p)
	if h == h2 {
		t.Fatal("no salt")
	}
	for pw, want := range map[string]bool{"correct horse": true, "correct horsE": false, "": false} {
		if ok, err := directory.VerifyPassword(h, pw); ok != want || err != nil {
			t.Errorf("Verify(%q) = %v, %v", pw, ok, err)
		}
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=0,t=1,p=1$AA$AA", "$argon2id$v=19$m=99999999,t=1,p=1$AA$AA", "plain"} {
		if _, err := directory.VerifyPassword(bad, "x"); !errors.Is(err, directory.ErrBadHash) {
			t.Errorf("Verify(%q) err = %v", bad, err)
		}
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"1234": 1234, "10KB": 10 << 10, "500MiB": 500 << 20, "2GB": 2 << 30, "5G": 5 << 30, "1.5G": 3 << 29, "0": 0} {
		if got, err := directory.ParseSize(in); got != want || err != nil {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "-1", "2XB", "1e30"} {
		if _, err := directory.ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) accepted", bad)
		}
	}
}
