package server

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// DefaultCSP is the Content-Security-Policy of every response that does
// not set its own (Content Security Policy Level 3): nothing may be loaded,
// framed or posted anywhere. The web interface's pages loosen it to their
// own static files; a page with one inline style block allows that block
// by its hash (InlineStyleCSP).
const DefaultCSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// InlineStyleCSP is the policy of a page whose only styling is the inline
// <style> element with exactly the text css: the element is allowed by its
// SHA-256 hash (CSP Level 3, "hash-source"), nothing else is.
func InlineStyleCSP(css string) string {
	sum := sha256.Sum256([]byte(css))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; img-src 'self'; " +
		"frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
}

// securityHeaders sets the security headers on every response, page or
// API, before its handler runs: a handler may replace the
// Content-Security-Policy with its own (Set), never drop the others.
//   - Content-Security-Policy: DefaultCSP.
//   - X-Frame-Options: DENY (RFC 7034), for browsers without
//     frame-ancestors.
//   - X-Content-Type-Options: nosniff (Fetch standard), so that no answer
//     is run as a script or style it does not say it is.
//   - Referrer-Policy: same-origin, so that links out carry no path (a
//     ticket number, a feed secret).
//   - Cross-Origin-Opener-Policy: same-origin.
//   - Strict-Transport-Security (RFC 6797) on requests that came over TLS.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", DefaultCSP)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// CheckQuery refuses a query string with a control character (U+0000 to
// U+001F, U+007F) or invalid UTF-8 in a parameter's name or value: no
// search or parameter of postvakt takes one, PostgreSQL refuses a NUL in
// text and SQLite ends a string at it.
func CheckQuery(q url.Values) error {
	for k, vs := range q {
		if err := checkText(k); err != nil {
			return BadRequest(fmt.Sprintf("query parameter name %q: %v", k, err))
		}
		for _, v := range vs {
			if err := checkText(v); err != nil {
				return BadRequest(fmt.Sprintf("query parameter %s: %v", k, err))
			}
		}
	}
	return nil
}

func checkText(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("not valid UTF-8")
	}
	if i := strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }); i >= 0 {
		return fmt.Errorf("control character %U at byte %d", s[i], i)
	}
	return nil
}

// checkQuery answers 400 to a request whose query string CheckQuery
// refuses: the API's error envelope under /api/, plain text elsewhere.
// Pairs that do not parse are left out, as r.URL.Query() leaves them out
// for the handlers.
func checkQuery(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.RawQuery == "" {
			next.ServeHTTP(w, r)
			return
		}
		q, _ := url.ParseQuery(r.URL.RawQuery)
		if err := CheckQuery(q); err != nil {
			if strings.HasPrefix(r.URL.Path, "/api/") {
				WriteError(w, r, err)
			} else {
				http.Error(w, err.(*Error).Message, http.StatusBadRequest)
			}
			return
		}
		next.ServeHTTP(w, r)
	})
}
