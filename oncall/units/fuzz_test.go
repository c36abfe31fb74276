package units

import (
	"strings"
	"testing"
)

// FuzzNormalizeDomain: a domain accepted is lower case, without a final
// dot, of labels a–z 0–9 '-', and normalizing it again gives itself.
func FuzzNormalizeDomain(f *testing.F) {
	for _, s := range []string{"Chem.Uni.Test.", "a.b", "-x.test", "x..test", "ä.test", "a\r\nb.test", strings.Repeat("a.", 130) + "test"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := NormalizeDomain(s)
		if err != nil {
			return
		}
		if d != strings.ToLower(d) || strings.HasSuffix(d, ".") || len(d) > 253 || strings.ContainsAny(d, " \r\n\t_") {
			t.Fatalf("%q → %q", s, d)
		}
		if again, err := NormalizeDomain(d); err != nil || again != d {
			t.Fatalf("not idempotent: %q → %q → %q %v", s, d, again, err)
		}
	})
}

// FuzzSurvey: whatever a unit types, an accepted survey has at least one
// canonical domain, an administrator's address, and no line break in a
// one-line field that reaches a mail header or a template line.
func FuzzSurvey(f *testing.F) {
	f.Add("chem.test", "Kari", "kari@chem.test", "Exchange", "mail.chem.test", "Outlook", "2027-02-01", 10)
	f.Add("x", "a\r\nBcc: y@z", "a@b", "", "", "", "tomorrow", -1)
	f.Fuzz(func(t *testing.T, domain, name, email, system, mx, client, date string, n int) {
		sv := Survey{Domains: []string{domain}, NetAdmin: Contact{Name: name, Email: email}, CurrentSystem: system,
			PublishedMX: []string{mx}, Clients: []string{client}, WishedDate: date, Staff: &n}
		if err := sv.Normalize(); err != nil {
			return
		}
		if len(sv.Domains) == 0 || sv.NetAdmin.Email == "" || n < 0 {
			t.Fatalf("accepted %+v", sv)
		}
		for _, f := range append([]string{sv.NetAdmin.Name, sv.NetAdmin.Email, sv.CurrentSystem}, sv.Clients...) {
			if strings.ContainsAny(f, "\r\n") {
				t.Fatalf("line break kept in %q", f)
			}
		}
		for _, d := range append(sv.Domains, sv.PublishedMX...) {
			if again, err := NormalizeDomain(d); err != nil || again != d {
				t.Fatalf("domain %q not canonical", d)
			}
		}
	})
}
