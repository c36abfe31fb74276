package attack

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// browser is a cookie-keeping HTTP client that does not follow redirects.
type browser struct {
	base string
	c    *http.Client
}

func newBrowser(base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{base: base, c: &http.Client{Jar: jar, Timeout: 60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn fetches the sign-in form and posts it; it returns the answer's
// status and Location.
func (b *browser) signIn(user, password, next string) (int, string, error) {
	resp, err := b.c.Get(b.base + "/login")
	if err != nil {
		return 0, "", err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRE.FindSubmatch(page)
	if m == nil {
		return resp.StatusCode, "", nil
	}
	form := url.Values{"csrf": {string(m[1])}, "user": {user}, "password": {password}}
	if next != "" {
		form.Set("next", next)
	}
	resp, err = b.c.PostForm(b.base+"/login", form)
	if err != nil {
		return 0, "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location"), nil
}

// post submits a form of the web interface as the signed-in user, with
// the session's CSRF token from the rota page, and returns the status.
func (b *browser) post(path string, form url.Values) (int, error) {
	resp, err := b.c.Get(b.base + "/rota")
	if err != nil {
		return 0, err
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := csrfRE.FindSubmatch(page)
	if m == nil {
		return 0, fmt.Errorf("no CSRF token on /rota (%d)", resp.StatusCode)
	}
	form.Set("csrf", string(m[1]))
	resp, err = b.c.PostForm(b.base+path, form)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// browserTarget is where a browser goes for a Location header: it drops
// ASCII tab and newlines and reads "\" as "/" (WHATWG URL Standard), then
// resolves the rest against the page.
func browserTarget(page, loc string) (*url.URL, error) {
	base, err := url.Parse(page)
	if err != nil {
		return nil, err
	}
	loc = strings.NewReplacer("\t", "", "\n", "", "\r", "", `\`, "/").Replace(loc)
	ref, err := url.Parse(loc)
	if err != nil {
		return nil, err
	}
	return base.ResolveReference(ref), nil
}
