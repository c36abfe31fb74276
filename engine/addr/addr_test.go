package addr_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/engine/addr"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, key string
		ok      bool
	}{
		{"anna@uni.example", "anna@uni.example", true},
		{"Anna.B@UNI.Example", "anna.b@uni.example", true},
		{"anna@uni.example.", "anna@uni.example", true},
		{`"a b"@uni.example`, "a b@uni.example", true},
		{`"a\"b"@uni.example`, `a"b@uni.example`, true},
		{"a+tag@[192.0.2.1]", "a+tag@[192.0.2.1]", true},
		{"postmaster", "postmaster@", true},
		{"a..b@uni.example", "", false},
		{".a@uni.example", "", false},
		{"a@", "", false},
		{"@uni.example", "", false},
		{"a@-uni.example", "", false},
		{"a@uni..example", "", false},
		{"a b@uni.example", "", false},
		{"anna", "", false},
		{strings.Repeat("a", 65) + "@uni.example", "", false},
		{"a@" + strings.Repeat("b", 64) + ".example", "", false},
		{"å@uni.example", "", false},
	} {
		a, err := addr.Parse(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("Parse(%q) err = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if err != nil && !errors.Is(err, addr.ErrSyntax) {
			t.Errorf("Parse(%q) err = %v, want ErrSyntax", tc.in, err)
		}
		if tc.ok && a.Key() != tc.key {
			t.Errorf("Parse(%q).Key() = %q, want %q", tc.in, a.Key(), tc.key)
		}
	}
}

// The Swedish rules of DOMAIN.md, as documented.
func TestSwedishRules(t *testing.T) {
	t.Parallel()
	r, err := addr.SwedishRules().Compile()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		local string
		kind  addr.Kind
		ok    bool
	}{
		{"anna", addr.Personal, true},
		{"ab", addr.Personal, true},
		{"abcd1234", addr.Personal, true},
		{"a", addr.Personal, false},         // at least two characters
		{"abcdefghi", addr.Personal, false}, // longer names are for groups
		{"u1abc", addr.Personal, false},     // "u" and a digit is reserved
		{"uabc", addr.Personal, true},
		{"an-na", addr.Personal, false},
		{"an.na", addr.Personal, false},
		{"it-support", addr.Group, true},
		{"studentexpedition", addr.Group, true},
		{"it_staff", addr.Group, true},
		{"anna", addr.Group, false}, // personal-form names are not for groups
		{"it+x", addr.Group, false}, // only a–z, digits, '.', '-', '_'
		{"anna.svensson", addr.Nickname, true},
		{"Anna", addr.Personal, true}, // folded
	} {
		err := r.Check(tc.local, tc.kind)
		if (err == nil) != tc.ok {
			t.Errorf("Check(%q, %v) = %v, want ok=%v", tc.local, tc.kind, err, tc.ok)
		}
		if err != nil && !errors.Is(err, addr.ErrRule) {
			t.Errorf("Check(%q) err %v does not wrap ErrRule", tc.local, err)
		}
	}
	if _, err := (addr.RulesConfig{Personal: "("}).Compile(); err == nil || !strings.Contains(err.Error(), "address_rules.personal") {
		t.Errorf("bad pattern error = %v", err)
	}
}

// FuzzParse: Parse never panics, bounds what it accepts, and what it
// accepts round-trips through String.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"anna@uni.example", `"a b"@x.example`, "postmaster", "a@[IPv6:2001:db8::1]", "a..b@c", "@", `"\"@x`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := addr.Parse(s)
		if err != nil {
			return
		}
		if len(a.Local) > addr.MaxLocal || len(a.Domain) > addr.MaxDomain || a.Local == "" {
			t.Fatalf("Parse(%q) accepted out-of-bounds %+v", s, a)
		}
		if a.Domain == "" {
			return
		}
		b, err := addr.Parse(a.String())
		if err != nil || b.Key() != a.Key() {
			t.Fatalf("round trip %q → %q → %+v, %v", s, a.String(), b, err)
		}
	})
}
