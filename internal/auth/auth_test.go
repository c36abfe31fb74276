package auth

import (
	"errors"
	"testing"
	"time"
)

func TestRoleOrder(t *testing.T) {
	t.Parallel()
	cases := []struct {
		r, min Role
		want   bool
	}{
		{RoleAdmin, RoleViewer, true},
		{RoleViewer, RoleAdmin, false},
		{RoleHelpdesk, RoleOncall, false},
		{RoleOncall, RoleHelpdesk, true},
		{RolePostmaster, RolePostmaster, true},
		{Role("root"), RoleViewer, false},
	}
	for _, c := range cases {
		if got := c.r.AtLeast(c.min); got != c.want {
			t.Errorf("%s.AtLeast(%s) = %v, want %v", c.r, c.min, got, c.want)
		}
	}
}

func TestParseRole(t *testing.T) {
	t.Parallel()
	if r, err := ParseRole(" Helpdesk "); err != nil || r != RoleHelpdesk {
		t.Fatalf("ParseRole = %v, %v", r, err)
	}
	if _, err := ParseRole("root"); !errors.Is(err, ErrBadRole) {
		t.Fatalf("ParseRole(root) err = %v, want ErrBadRole", err)
	}
}

func TestSecrets(t *testing.T) {
	t.Parallel()
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSecret()
	if a == b || !LooksLikeSecret(a) || !LooksLikeSecret(b) {
		t.Fatalf("secrets %q %q", a, b)
	}
	if HashSecret(a) == a || !EqualHash(HashSecret(a), HashSecret(a)) || EqualHash(HashSecret(a), HashSecret(b)) {
		t.Fatal("hash")
	}
	now := time.Now()
	if !(Token{}).Active(now) || (Token{RevokedAt: now}).Active(now) || (Token{ExpiresAt: now}).Active(now) {
		t.Fatal("Active")
	}
}
