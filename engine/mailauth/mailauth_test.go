package mailauth

import (
	"strings"
	"testing"
)

func TestParseRecord(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		txt  string
		want Record
		err  bool
	}{
		{txt: "v=DMARC1; p=reject", want: Record{Policy: PolicyReject, SubdomainPolicy: PolicyReject, Percent: 100}},
		{txt: "v=DMARC1;p=quarantine;sp=none;adkim=s;aspf=s;pct=20;rua=mailto:d@x", want: Record{Policy: PolicyQuarantine, SubdomainPolicy: PolicyNone, StrictDKIM: true, StrictSPF: true, Percent: 20}},
		{txt: "V=DMARC1; P=Reject; pct=300", want: Record{Policy: PolicyReject, SubdomainPolicy: PolicyReject, Percent: 100}},
		{txt: "v=DMARC1; p=bogus", err: true},
		{txt: "v=spf1 -all", err: true},
		{txt: "p=reject; v=DMARC1", err: true}, // v= must come first (§6.4)
		{txt: "", err: true},
	} {
		got, err := ParseRecord(c.txt)
		if (err != nil) != c.err || (!c.err && got != c.want) {
			t.Errorf("ParseRecord(%q) = %+v, %v; want %+v, err %v", c.txt, got, err, c.want, c.err)
		}
	}
}

func TestAligned(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, from string
		strict  bool
		want    bool
	}{
		{"uni.example", "uni.example", true, true},
		{"mail.uni.example", "uni.example", false, true},
		{"mail.uni.example", "uni.example", true, false},
		{"muni.cz", "is.muni.cz", false, true},
		{"a.co.uk", "b.co.uk", false, false}, // different organisations under a public suffix
		{"evil.example", "uni.example", false, false},
		{"", "uni.example", false, false},
	} {
		if got := Aligned(c.a, c.from, c.strict); got != c.want {
			t.Errorf("Aligned(%q, %q, %v) = %v", c.a, c.from, c.strict, got)
		}
	}
	if o := OrgDomain("is.muni.cz."); o != "muni.cz" {
		t.Errorf("OrgDomain = %q", o)
	}
}

func TestDispositionPercent(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		p    Policy
		pct  int
		draw int
		want Disposition
	}{
		{PolicyReject, 100, 99, DispositionReject},
		{PolicyReject, 50, 10, DispositionReject},
		{PolicyReject, 50, 60, DispositionQuarantine}, // RFC 7489 §6.6.4: one step down outside the sample
		{PolicyQuarantine, 50, 60, DispositionNone},
		{PolicyQuarantine, 100, 0, DispositionQuarantine},
		{PolicyNone, 100, 0, DispositionNone},
		{PolicyReject, 0, 0, DispositionQuarantine},
	} {
		ch := &Checker{Percent: func() int { return c.draw }}
		if got := ch.disposition(c.p, c.pct); got != c.want {
			t.Errorf("disposition(%s, pct=%d, draw %d) = %s, want %s", c.p, c.pct, c.draw, got, c.want)
		}
	}
}

func TestRewriteFrom(t *testing.T) {
	t.Parallel()
	const rest = "To: x@y.example\r\nSubject: s\r\n\r\n"
	for _, c := range []struct {
		from, want string
		changed    bool
	}{
		{"From: \"Jan Novak\" <jan.novak@uni.example>\r\n", "From: \"Jan Novak\" <123@uni.example>\r\n", true},
		{"From: Jan.Novak@Uni.Example\r\n", "From: <123@uni.example>\r\n", true},
		{"from: =?utf-8?q?Jan_Nov=C3=A1k?=\r\n <jan.novak@uni.example>\r\n", "From: =?utf-8?q?Jan_Nov=C3=A1k?= <123@uni.example>\r\n", true},
		{"From: Other <other@uni.example>\r\n", "From: Other <other@uni.example>\r\n", false},
		{"From: a@uni.example, jan.novak@uni.example\r\n", "From: a@uni.example, jan.novak@uni.example\r\n", false},
	} {
		got, old, changed := RewriteFrom([]byte(c.from+rest), "jan.novak@uni.example", "123@uni.example")
		if changed != c.changed || string(got) != c.want+rest || (changed && !strings.Contains(old, "jan.novak@uni.example") && !strings.Contains(strings.ToLower(old), "jan.novak@uni.example")) {
			t.Errorf("RewriteFrom(%q) = %q, %q, %v", c.from, got, old, changed)
		}
	}
}

func TestKeyForParentDomain(t *testing.T) {
	t.Parallel()
	s := NewSigner([]Key{{Domain: "Uni.Example", Selector: "a"}})
	if k, ok := s.KeyFor("fak.uni.example"); !ok || k.Selector != "a" {
		t.Fatalf("subdomain: %+v %v", k, ok)
	}
	if _, ok := s.KeyFor("example"); ok {
		t.Fatal("a parent of the key's domain got its key")
	}
	var none *Signer
	if _, ok, err := none.Sign(strings.NewReader("From: a@uni.example\r\n\r\n"), "uni.example"); ok || err != nil {
		t.Fatal("a nil signer signed")
	}
}

func FuzzParseRecord(f *testing.F) {
	f.Add("v=DMARC1; p=reject; sp=none; pct=10")
	f.Add("v=DMARC1;;;=;p=")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRecord(s)
		if err == nil && (r.Policy == "" || r.SubdomainPolicy == "" || r.Percent < 0 || r.Percent > 100) {
			t.Fatalf("ParseRecord(%q) = %+v", s, r)
		}
	})
}

func FuzzRewriteFrom(f *testing.F) {
	f.Add([]byte("From: \"J\" <n@u.example>\r\nTo: x\r\n\r\n"))
	f.Add([]byte("From:\r\n\r\n"))
	f.Fuzz(func(t *testing.T, h []byte) {
		out, _, changed := RewriteFrom(h, "n@u.example", "1@u.example")
		if !changed && string(out) != string(h) {
			t.Fatal("unchanged header altered")
		}
		if changed && !strings.Contains(string(out), "1@u.example") {
			t.Fatal("rewritten header lacks the permanent address")
		}
	})
}

func TestStripAuthResults(t *testing.T) {
	t.Parallel()
	h := "Received: from x\r\nAuthentication-Results: mx.uni.example;\r\n\tdmarc=pass\r\nauthentication-results:  MX.UNI.EXAMPLE 1; spf=pass\r\n" +
		"Authentication-Results: mx.uni.example.evil; spf=pass\r\nFrom: a@b.example\r\n\r\n"
	got, n := StripAuthResults([]byte(h), "mx.uni.example")
	want := "Received: from x\r\nAuthentication-Results: mx.uni.example.evil; spf=pass\r\nFrom: a@b.example\r\n\r\n"
	if n != 2 || string(got) != want {
		t.Fatalf("got %d %q", n, got)
	}
	if got, n := StripAuthResults([]byte(want), "mx.uni.example"); n != 0 || string(got) != want {
		t.Fatalf("changed a header without ours: %q", got)
	}
}
