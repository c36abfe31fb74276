package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// testBrowser is a headless Chromium on a phone-sized window for the
// browser tests, with the steps they share.
type testBrowser struct {
	t     *testing.T
	ctx   context.Context
	out   string        // screenshots
	step  time.Duration // bound of one step
	total time.Duration // bound of the whole browser session
}

// newTestBrowser starts Chromium (exe) for at most total; screenshots go
// to out.
func newTestBrowser(t *testing.T, exe, out string, total, step time.Duration) *testBrowser {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), total)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(412, 915))
	browser, cancelBrowser := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() { cancelBrowser(); cancelAlloc(); cancel() })
	if err := chromedp.Do(browser); err != nil { // start the browser on its own context
		t.Fatalf("start chromium: %v", err)
	}
	return &testBrowser{t: t, ctx: browser, out: out, step: step, total: total}
}

// do runs one step; on failure it names the step, the page's address and
// the start of its text.
func (b *testBrowser) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	sctx, cancel := context.WithTimeout(b.ctx, b.step)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		if b.ctx.Err() != nil {
			b.t.Fatalf("%s: the browser session's bound of %s ran out (a machine this loaded cannot run the walk): %v", step, b.total, err)
		}
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		page, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body.innerText.slice(0, 500)`))
		b.t.Fatalf("%s: %v (at %s)\n%s", step, err, loc, page)
	}
}

// saved waits for the page a form redirected to (?ok=saved) and its notice.
// It asks the page again until then: a wait begun on the page being left
// can miss the new one, and an evaluation during the navigation fails.
func (b *testBrowser) saved() {
	b.t.Helper()
	deadline := time.Now().Add(b.step)
	for {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`location.search.includes("ok=saved") && document.readyState === "complete" && document.querySelector(".notice") !== null`))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			loc, _ := chromedp.Run(b.ctx, chromedp.Location())
			b.t.Fatalf("no saved notice in %s (at %s): %v", b.step, loc, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// text is the trimmed text of the element sel.
func (b *testBrowser) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// eval evaluates js (awaiting a promise) to a string.
func (b *testBrowser) eval(js string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate: %v", err)
	}
	return v
}

// shot writes a full-page screenshot to the artifacts folder.
func (b *testBrowser) shot(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		png, err := chromedp.FullScreenshot(100)(ctx, tg)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(b.out, name), png, 0o644)
	})
}

// login signs in on the sign-in page of base. A sign-in answered "try
// again" (503: the password-hash gate full, or the database busy while a
// large import writes) is tried again, as a person would, within the step.
func (b *testBrowser) login(base, user string) {
	b.t.Helper()
	deadline := time.Now().Add(b.step)
	for {
		b.do("sign in as "+user,
			chromedp.Navigate(base+"/login"),
			chromedp.WaitVisible(chromedp.CSS(`input[name=user]`)),
			chromedp.SendKeys(chromedp.CSS(`input[name=user]`), user),
			chromedp.SendKeys(chromedp.CSS(`input[name=password]`), testPassword),
			chromedp.Click(chromedp.CSS(`form[action="/login"] button`)),
		)
		for {
			state, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.readyState !== "complete" ? "" :
				document.querySelector("#whoami") ? "in" : /try again/i.test(document.body.innerText) ? "busy" : ""`))
			if err == nil && state == "in" {
				return
			}
			if err == nil && state == "busy" {
				break
			}
			if time.Now().After(deadline) {
				loc, _ := chromedp.Run(b.ctx, chromedp.Location())
				b.t.Fatalf("sign in as %s: not signed in within %s (at %s): %v", user, b.step, loc, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("sign in as %s: the server kept answering \"try again\" for %s", user, b.step)
		}
		time.Sleep(time.Second)
	}
}
