package dovecotauth

import (
	"strings"
	"testing"
)

// escape is Dovecot's tab escaping (str_tabescape).
func escape(s string) string {
	r := strings.NewReplacer("\x01", "\x011", "\t", "\x01t", "\r", "\x01r", "\n", "\x01n")
	return r.Replace(s)
}

// FuzzUnescape: unescape undoes Dovecot's escaping of any value.
func FuzzUnescape(f *testing.F) {
	for _, s := range []string{"alice@ug.example", "odd\tname", "a\x01b", "line\r\nbreak", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got := unescape(escape(s)); got != s {
			t.Fatalf("unescape(escape(%q)) = %q", s, got)
		}
		_ = unescape(s) // any input: no panic
	})
}
