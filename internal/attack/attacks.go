package attack

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Budget is the memory the server may use under any attack with the
// default limits (the acceptance figure of the resource budget,
// docs/resources.md).
const Budget = 512 << 20

// Verdict is how an attack ended.
type Verdict struct {
	// Outcome says what the server did: refused, throttled, quarantined,
	// accepted, with the replies counted.
	Outcome string
	Pass    bool
	// Why explains a failure (or a pass that needs a word).
	Why string
}

// Attack is one attack of the suite.
type Attack struct {
	Name string
	What string
	// Engine marks the attacks on the SMTP engine's own limits (hash gate,
	// spooling, AUTH throttling, content budgets).
	Engine bool
	Run    func(ctx context.Context, e *Env) Verdict
}

// Attacks are the attacks of the suite, in the order they run.
func Attacks() []Attack {
	return []Attack{
		{Name: "smtp-auth-parallel", Engine: true, What: "up to 1,000 concurrent SMTP AUTH attempts with wrong passwords, from 1,000 addresses", Run: smtpAuthParallel},
		{Name: "smtp-data-parallel", Engine: true, What: "up to 100 concurrent 24 MB messages", Run: smtpDataParallel},
		{Name: "smtp-auth-rate", Engine: true, What: "SMTP AUTH guessing from one address for 20 s, then the right password; a session past its AUTH failures", Run: smtpAuthRate},
		{Name: "zip-bomb", Engine: true, What: "a zip of 8 zips of 64 × 16 MiB of zeros (8 GiB unpacked)", Run: zipBomb},
		{Name: "broken-header", Engine: true, What: "a malformed part header before evil.exe, and before EICAR", Run: brokenHeader},
		{Name: "lying-zip", Engine: true, What: "zip entries that declare sizes they do not have, holding EICAR or a nested .exe", Run: lyingZip},
		{Name: "web-signin-parallel", What: "150 wrong web sign-ins for one user at once; then 99 wrong and the right one at once for another", Run: webSigninParallel},
		{Name: "open-redirect", What: "sign-in with next=/%09/evil.example/phish and friends", Run: openRedirect},
		{Name: "swap-impersonation", What: "an on-call member, signed in, requests a swap in another's name and accepts one addressed to another", Run: swapImpersonation},
		{Name: "fault-auto-reply", What: "automatic replies and a loop to the fault address, with a second recipient", Run: faultAutoReply},
		{Name: "ticket-id-injection", What: "an outsider writes [#ID] of someone's ticket in a subject", Run: ticketIDInjection},
		{Name: "slack-injection", What: "SMTP AUTH as user <!channel> until abuse detection pages Slack", Run: slackInjection},
		{Name: "trace-nul", What: "NUL and control characters in trace parameters", Run: traceNUL},
		{Name: "security-headers", What: "CSP, X-Frame-Options, nosniff on pages, API, status page and runbooks", Run: securityHeaders},
	}
}

// next is the next unused source address index, so that no attack's
// addresses carry counts from an earlier one.
var next atomic.Int64

func addrs(n int) int { return int(next.Add(int64(n))) - n }

// ramp runs step(n) for each n while the server stays under Budget and the
// context is not cancelled (the watch cancels it at its ceiling); it
// returns the last n run and whether it completed every step.
func ramp(ctx context.Context, e *Env, steps []int, step func(n int) string) (string, int, bool) {
	var lines []string
	last := 0
	for _, n := range steps {
		if ctx.Err() != nil {
			return strings.Join(lines, "; "), last, false
		}
		lines = append(lines, fmt.Sprintf("%d: %s", n, step(n)))
		last = n
		if rss, _ := e.Proc.Peak(); rss > Budget {
			return strings.Join(lines, "; "), last, false
		}
	}
	return strings.Join(lines, "; "), last, ctx.Err() == nil
}

func smtpAuthParallel(ctx context.Context, e *Env) Verdict {
	out, last, done := ramp(ctx, e, []int{10, 50, 100, 250, 500, 1000}, func(n int) string {
		var c Codes
		var wg sync.WaitGroup
		base := addrs(n)
		for i := range n {
			wg.Go(func() { c.Add(authOnce(ctx, e.Submission, base+i, Mailbox, fmt.Sprintf("guess-%d", i))) })
		}
		wg.Wait()
		if c.Get(235) > 0 {
			return c.String() + " (a wrong password was accepted!)"
		}
		return c.String()
	})
	v := Verdict{Outcome: "refused: " + out, Pass: done && last == 1000}
	if !v.Pass {
		v.Why = fmt.Sprintf("stopped at %d concurrent attempts: memory over %d MiB", last, Budget>>20)
	}
	return ordinaryStillWorks(ctx, e, v)
}

func smtpDataParallel(ctx context.Context, e *Env) Verdict {
	msg := LargeMessage(24_000_000)
	out, last, done := ramp(ctx, e, []int{5, 10, 25, 50, 100}, func(n int) string {
		var c Codes
		var wg sync.WaitGroup
		base := addrs(n)
		for i := range n {
			wg.Go(func() {
				c.Add(send(ctx, e.MX, base+i, fmt.Sprintf("big%d@else.example", i), []string{BigMailbox}, msg))
			})
		}
		wg.Wait()
		return c.String()
	})
	v := Verdict{Outcome: "sent: " + out, Pass: done && last == 100}
	if !v.Pass {
		v.Why = fmt.Sprintf("stopped at %d concurrent 24 MB messages: memory over %d MiB", last, Budget>>20)
	}
	return ordinaryStillWorks(ctx, e, v)
}

// ordinaryStillWorks checks that the server still accepts ordinary mail
// and answers /healthz after an attack.
func ordinaryStillWorks(ctx context.Context, e *Env, v Verdict) Verdict {
	if c := send(ctx, e.MX, addrs(1), "kari@else.example", []string{Mailbox}, ordinary("after the attack")); c != 250 {
		v.Pass = false
		v.Why = strings.TrimSpace(v.Why + fmt.Sprintf("; ordinary mail afterwards: %d", c))
	}
	resp, err := http.Get(e.HTTP + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		v.Pass = false
		v.Why = strings.TrimSpace(v.Why + "; /healthz afterwards failed")
	}
	if resp != nil {
		resp.Body.Close()
	}
	return v
}

func smtpAuthRate(ctx context.Context, e *Env) Verdict {
	// Ten sessions at a time from one address, as many as the per-address
	// connection limit lets through, for 20 s.
	src := addrs(1)
	var tried, refused, other Codes
	start := time.Now()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			for time.Since(start) < 20*time.Second && ctx.Err() == nil {
				c := authOnce(ctx, e.Submission, src, Mailbox, "guess")
				switch {
				case c == 535:
					tried.Add(c)
				case c == 454 || c == 421 || c == 450 || c == 451 || c == 0:
					refused.Add(c)
				default:
					other.Add(c)
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	right := authOnce(ctx, e.Submission, src, Mailbox, MailPassword)
	// One session past its failures: after the 421 the session must be
	// closed, not go on answering.
	session := afterAuthFailures(ctx, e, addrs(1))
	v := Verdict{Outcome: fmt.Sprintf("tried %d in %.0f s (%.1f/s), refused %s; right password then: %d; session after its failures: %s",
		tried.Total(), took.Seconds(), float64(tried.Total())/took.Seconds(), refused.String(), right, session)}
	v.Pass = right != 235 && refused.Total() > 0 && strings.HasPrefix(session, "closed")
	if !v.Pass {
		v.Why = "guessing is not throttled across sessions (the right password got 235 after it), or the session stays open after 421"
	}
	return v
}

// afterAuthFailures fails AUTH in one session until the server answers
// other than 535, then sends NOOP: a session that answers it stayed open.
// It speaks SMTP itself, since a client library may hang up on a 421 on its
// own.
func afterAuthFailures(ctx context.Context, e *Env, src int) string {
	d := net.Dialer{LocalAddr: source(src), Timeout: 30 * time.Second}
	raw, err := d.DialContext(ctx, "tcp", e.Submission)
	if err != nil {
		return "no session: " + err.Error()
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(2 * time.Minute))
	tp := textproto.NewConn(raw)
	cmd := func(line string) (int, string, error) {
		if line != "" {
			if err := tp.PrintfLine("%s", line); err != nil {
				return 0, "", err
			}
		}
		return tp.ReadResponse(0)
	}
	if _, _, err := cmd(""); err != nil {
		return "no greeting: " + err.Error()
	}
	if _, _, err := cmd("EHLO attacker.example"); err != nil {
		return "EHLO: " + err.Error()
	}
	if c, _, err := cmd("STARTTLS"); err != nil || c != 220 {
		return fmt.Sprintf("STARTTLS: %d %v", c, err)
	}
	tc := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, ServerName: "mx.uni.example"})
	tp = textproto.NewConn(tc)
	if _, _, err := cmd("EHLO attacker.example"); err != nil {
		return "EHLO after STARTTLS: " + err.Error()
	}
	plain := base64.StdEncoding.EncodeToString([]byte("\x00" + Mailbox + "\x00wrong"))
	last := 0
	for range 20 {
		c, _, err := cmd("AUTH PLAIN " + plain)
		last = c
		if err != nil && c == 0 {
			return "closed (during AUTH)"
		}
		if c != 535 && c != 454 { // a refusal by the rate is a failure too
			break
		}
	}
	c, _, err := cmd("NOOP")
	if err != nil && c == 0 {
		return fmt.Sprintf("closed after %d", last)
	}
	if c == 250 {
		if mc, _, _ := cmd("MAIL FROM:<x@else.example>"); mc == 250 {
			return fmt.Sprintf("open after %d (NOOP and MAIL answered 250)", last)
		}
		return fmt.Sprintf("open after %d (NOOP answered 250)", last)
	}
	return fmt.Sprintf("open after %d (NOOP answered %d)", last, c)
}

// quarantined counts the quarantine items whose envelope sender is from.
func quarantined(e *Env, from string) (int, error) {
	status, body, _, err := e.API("GET", "/api/v1/quarantine?sender="+url.QueryEscape(from), "postmaster", "")
	if err != nil || status != 200 {
		return 0, fmt.Errorf("quarantine: %d %v", status, err)
	}
	var l struct {
		Items []json.RawMessage `json:"items"`
	}
	err = json.Unmarshal(body, &l)
	return len(l.Items), err
}

// contentVerdict sends msg from a fresh sender and judges it: refused (5xx)
// or quarantined passes; accepted for delivery or deferred (4xx, retried)
// fails.
func contentVerdict(ctx context.Context, e *Env, name string, msg []byte) (string, bool) {
	from := fmt.Sprintf("attack%d@else.example", addrs(1))
	c := send(ctx, e.MX, addrs(1), from, []string{Mailbox}, msg)
	switch {
	case c >= 500:
		return fmt.Sprintf("%s: refused %d", name, c), true
	case c == 250:
		time.Sleep(200 * time.Millisecond)
		n, err := quarantined(e, from)
		if err != nil {
			return fmt.Sprintf("%s: accepted, quarantine unknown (%v)", name, err), false
		}
		if n > 0 {
			return name + ": quarantined", true
		}
		return name + ": delivered", false
	default:
		return fmt.Sprintf("%s: deferred %d (the sender retries it)", name, c), false
	}
}

func zipBomb(ctx context.Context, e *Env) Verdict {
	z := NewZipBomb(8, 64, 16<<20)
	msg := ZipBombMessage(z, "invoices@else.example")
	cpu0, _ := e.Proc.CPU()
	t0 := time.Now()
	out, ok := contentVerdict(ctx, e, fmt.Sprintf("%d KB message, %d GiB unpacked", len(msg)>>10, z.Unpacked>>30), msg)
	took := time.Since(t0)
	cpu1, _ := e.Proc.CPU()
	v := Verdict{Outcome: fmt.Sprintf("%s in %.1f s", out, took.Seconds())}
	v.Pass = ok && cpu1-cpu0 < 2*time.Second
	if !v.Pass {
		v.Why = fmt.Sprintf("must be refused or quarantined using under 2 CPU-seconds (used %.1f)", (cpu1 - cpu0).Seconds())
	}
	return v
}

func contentSet(ctx context.Context, e *Env, msgs map[string][]byte) Verdict {
	var names []string
	for n := range msgs {
		names = append(names, n)
	}
	sort.Strings(names)
	v := Verdict{Pass: true}
	var outs []string
	for _, n := range names {
		out, ok := contentVerdict(ctx, e, n, msgs[n])
		outs = append(outs, out)
		v.Pass = v.Pass && ok
	}
	v.Outcome = strings.Join(outs, "; ")
	if !v.Pass {
		v.Why = "a message that cannot be fully inspected must be refused or quarantined, never delivered"
	}
	return v
}

func brokenHeader(ctx context.Context, e *Env) Verdict {
	return contentSet(ctx, e, BrokenHeaderMessages("billing@else.example"))
}

func lyingZip(ctx context.Context, e *Env) Verdict {
	return contentSet(ctx, e, LyingZipMessages("scan@else.example"))
}

// webFrom is an HTTP client whose requests come from the i-th address.
func webFrom(base string, i int) *browser {
	b := newBrowser(base)
	d := &net.Dialer{LocalAddr: source(i), Timeout: 30 * time.Second}
	b.c.Transport = &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 1}
	return b
}

// userLocked reads `postvakt user list` for whether name is locked out.
func userLocked(ctx context.Context, e *Env, name string) (bool, error) {
	out, err := e.CLI(ctx, "", "user", "list")
	if err != nil {
		return false, err
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == name {
			return strings.Contains(line, "locked until"), nil
		}
	}
	return false, fmt.Errorf("user %s not listed", name)
}

func webSigninParallel(ctx context.Context, e *Env) Verdict {
	const n = 150
	var c Codes
	var wg sync.WaitGroup
	base := addrs(n)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			b := webFrom(e.HTTP, base+i)
			<-start
			status, _, err := b.signIn("ana", fmt.Sprintf("wrong %d", i), "")
			if err != nil {
				status = 0
			}
			c.Add(status)
		})
	}
	close(start)
	wg.Wait()
	locked, err := userLocked(ctx, e, "ana")
	// 99 wrong and the right one at once for bjorn.
	var c2 Codes
	base = addrs(100)
	start = make(chan struct{})
	for i := range 100 {
		wg.Go(func() {
			b := webFrom(e.HTTP, base+i)
			pw := fmt.Sprintf("wrong %d", i)
			if i == 37 {
				pw = WebPassword
			}
			<-start
			status, _, err := b.signIn("bjorn", pw, "")
			if err != nil {
				status = 0
			}
			c2.Add(status)
		})
	}
	close(start)
	wg.Wait()
	v := Verdict{Outcome: fmt.Sprintf("150 wrong: %s, locked %v; 99 wrong + right: %s", c.String(), locked, c2.String())}
	// The sequential case: max_failures (5) − 1 answers 401, the rest 429.
	v.Pass = err == nil && locked && c.Get(401) == 4 && c.Get(429) == n-4 && c2.Get(303) == 0
	if !v.Pass {
		v.Why = fmt.Sprintf("want 401×4 429×%d and the user locked as one after another; no sign-in (303) among 99 wrong + 1 right (%v)", n-4, err)
	}
	return v
}

func openRedirect(ctx context.Context, e *Env) Verdict {
	v := Verdict{Pass: true}
	var outs []string
	for _, next := range []string{"/\t/evil.example/phish", "/\n/evil.example", `/\evil.example`, "//evil.example", "https://evil.example/"} {
		b := webFrom(e.HTTP, addrs(1))
		status, loc, err := b.signIn("admin", WebPassword, next)
		to, perr := browserTarget(e.HTTP+"/login", loc)
		ok := err == nil && perr == nil && status == http.StatusSeeOther && to.Host == strings.TrimPrefix(e.HTTP, "http://")
		if !ok {
			v.Pass = false
		}
		outs = append(outs, fmt.Sprintf("%q→%q", next, loc))
	}
	v.Outcome = strings.Join(outs, " ")
	if !v.Pass {
		v.Why = "a sign-in sent the browser off this site"
	}
	return v
}

func swapImpersonation(ctx context.Context, e *Env) Verdict {
	loc, _ := time.LoadLocation("Europe/Oslo")
	// Turns of the rota (from 2026-01-05, weekly: ana, bjorn, chen): the
	// member's first turn at least a week ahead, at noon on its Monday.
	turn := func(member int) time.Time {
		t := time.Date(2026, 1, 5, 12, 0, 0, 0, loc)
		for i := 0; ; i++ {
			if i%3 == member && t.After(time.Now().Add(7*24*time.Hour)) {
				return t
			}
			t = t.AddDate(0, 0, 7)
		}
	}
	ana, bjorn := turn(0), turn(1)
	// chen, an on-call member, signed in to the web interface.
	b := webFrom(e.HTTP, addrs(1))
	if status, _, err := b.signIn("chen", WebPassword, ""); err != nil || status != http.StatusSeeOther {
		return Verdict{Outcome: fmt.Sprintf("chen could not sign in: %d %v", status, err)}
	}
	form := url.Values{"rota": {"ukevakt"}, "requester": {"ana"}, "counterpart": {"bjorn"},
		"mine": {ana.Format("2006-01-02T15:04")}, "theirs": {bjorn.Format("2006-01-02T15:04")}}
	asAna, err := b.post("/rota/swaps", form)
	if err != nil {
		return Verdict{Outcome: err.Error()}
	}
	// The administrator asks in ana's name, properly; chen accepts in
	// bjorn's place.
	body := fmt.Sprintf(`{"rota":"ukevakt","requester":"ana","counterpart":"bjorn","mine":%q,"theirs":%q}`, ana.Format(time.RFC3339), bjorn.Format(time.RFC3339))
	status, resp, _, err := e.API("POST", "/api/v1/oncall/swaps", "admin", body)
	if err != nil || status != http.StatusCreated {
		return Verdict{Outcome: fmt.Sprintf("the administrator could not request the swap: %d %s %v", status, resp, err)}
	}
	var sw struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(resp, &sw)
	accept, err := b.post("/rota/swaps/"+sw.ID+"/accept", url.Values{})
	if err != nil {
		return Verdict{Outcome: err.Error()}
	}
	v := Verdict{Outcome: fmt.Sprintf("chen asks in ana's name: %d; chen accepts for bjorn: %d", asAna, accept)}
	v.Pass = asAna == http.StatusForbidden && accept == http.StatusForbidden
	if !v.Pass {
		v.Why = "a member acted in another member's name"
	}
	return v
}

// tickets lists the tickets' IDs and titles.
func tickets(e *Env) (map[int64]string, error) {
	status, body, _, err := e.API("GET", "/api/v1/tickets?all=true&limit=500", "viewer", "")
	if err != nil || status != 200 {
		return nil, fmt.Errorf("tickets: %d %v", status, err)
	}
	var l struct {
		Tickets []struct {
			ID    int64  `json:"id"`
			Title string `json:"title"`
		} `json:"tickets"`
	}
	if err := json.Unmarshal(body, &l); err != nil {
		return nil, err
	}
	out := map[int64]string{}
	for _, t := range l.Tickets {
		out[t.ID] = t.Title
	}
	return out, nil
}

func faultAutoReply(ctx context.Context, e *Env) Verdict {
	before, err := tickets(e)
	if err != nil {
		return Verdict{Outcome: err.Error()}
	}
	var c Codes
	for _, h := range []string{"Auto-Submitted: auto-replied", "Precedence: bulk", "Precedence: junk", "Precedence: list"} {
		msg := crlf(fmt.Sprintf("From: ooo@else.example\nTo: %s, %s\nSubject: Away\n%s\nDate: %s\nMessage-ID: <%d@else.example>\n\nI am away.\n",
			FaultAddress, Mailbox, h, time.Now().Format(time.RFC1123Z), time.Now().UnixNano()))
		c.Add(send(ctx, e.MX, addrs(1), "ooo@else.example", []string{FaultAddress, Mailbox}, msg))
	}
	loop := crlf(fmt.Sprintf("From: %s\nTo: %s\nSubject: Re: [#1] our own\nDate: %s\nMessage-ID: <%d@uni.example>\n\nLoop.\n",
		FaultAddress, FaultAddress, time.Now().Format(time.RFC1123Z), time.Now().UnixNano()))
	c.Add(send(ctx, e.MX, addrs(1), FaultAddress, []string{FaultAddress, Mailbox}, loop))
	time.Sleep(time.Second)
	after, err := tickets(e)
	v := Verdict{Outcome: fmt.Sprintf("replies %s; tickets %d → %d", c.String(), len(before), len(after))}
	v.Pass = err == nil && c.Get(250) == 5 && len(after) == len(before)
	if !v.Pass {
		v.Why = "automatic mail to the fault address must be accepted (250) and open no ticket"
	}
	return v
}

func ticketIDInjection(ctx context.Context, e *Env) Verdict {
	before, err := tickets(e)
	if err != nil {
		return Verdict{Outcome: err.Error()}
	}
	report := crlf(fmt.Sprintf("From: Kari <kari@else.example>\nTo: %s\nSubject: IMAP login fails\nDate: %s\nMessage-ID: <%d@else.example>\n\nSince 10:05.\n",
		FaultAddress, time.Now().Format(time.RFC1123Z), time.Now().UnixNano()))
	if c := send(ctx, e.MX, addrs(1), "kari@else.example", []string{FaultAddress}, report); c != 250 {
		return Verdict{Outcome: fmt.Sprintf("the report was answered %d", c)}
	}
	var id int64
	for deadline := time.Now().Add(20 * time.Second); id == 0 && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		now, _ := tickets(e)
		for k, title := range now {
			if _, old := before[k]; !old && title == "IMAP login fails" {
				id = k
			}
		}
	}
	if id == 0 {
		return Verdict{Outcome: "the report opened no ticket"}
	}
	inject := crlf(fmt.Sprintf("From: mallory@evil.example\nTo: %s\nSubject: Re: [#%d] IMAP login fails\nDate: %s\nMessage-ID: <%d@evil.example>\n\nReset your password at http://evil.example/reset\n",
		FaultAddress, id, time.Now().Format(time.RFC1123Z), time.Now().UnixNano()))
	c := send(ctx, e.MX, addrs(1), "mallory@evil.example", []string{FaultAddress}, inject)
	time.Sleep(2 * time.Second)
	_, body, _, _ := e.API("GET", fmt.Sprintf("/api/v1/tickets/%d", id), "viewer", "")
	after, _ := tickets(e)
	attached := strings.Contains(string(body), "evil.example/reset")
	v := Verdict{Outcome: fmt.Sprintf("injection answered %d; added to ticket #%d: %v; tickets %d → %d", c, id, attached, len(before)+1, len(after))}
	v.Pass = c == 250 && !attached && len(after) == len(before)+2
	if !v.Pass {
		v.Why = "[#ID] from neither the reporter nor staff must open a new ticket, not add to #ID"
	}
	return v
}

func slackInjection(ctx context.Context, e *Env) Verdict {
	const user = "<!channel> & <@U0ADMIN> <http://evil.example|reset>"
	before := len(e.Slack.Posts())
	base := addrs(12)
	// abuse.auth_failures_per_user is 10 within 10 minutes.
	for i := range 12 {
		authOnce(ctx, e.Submission, base+i, user, "x")
	}
	var text string
	deadline := time.Now().Add(60 * time.Second)
	for text == "" && time.Now().Before(deadline) && ctx.Err() == nil {
		for _, p := range e.Slack.Posts()[before:] {
			if t := p.Get("text") + p.Get("blocks"); strings.Contains(t, "channel") {
				text = t
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	if text == "" {
		return Verdict{Outcome: "no page mentioning the user reached Slack within 60 s", Why: "abuse detection did not page"}
	}
	raw := strings.Contains(text, "<!channel>") || strings.Contains(text, "<@U0ADMIN>") || strings.Contains(text, "<http://evil.example")
	v := Verdict{Outcome: fmt.Sprintf("paged; raw control sequences in the Slack text: %v", raw), Pass: !raw}
	if raw {
		v.Why = "an outsider's string mentioned @channel in Slack"
	}
	return v
}

func traceNUL(ctx context.Context, e *Env) Verdict {
	var outs []string
	pass := true
	for _, q := range []string{"from=%00", "subject=a%00b", "msgid=%3Cx%00%3E", "from=%1b%5b31m"} {
		status, _, _, err := e.API("GET", "/api/v1/trace?"+q, "helpdesk", "")
		if err != nil || status != 400 {
			pass = false
		}
		outs = append(outs, fmt.Sprintf("%s→%d", q, status))
	}
	v := Verdict{Outcome: strings.Join(outs, " "), Pass: pass}
	if !pass {
		v.Why = "control characters in a search must be a 400"
	}
	return v
}

func securityHeaders(ctx context.Context, e *Env) Verdict {
	var missing []string
	for _, p := range []string{"/status", "/runbooks", "/runbooks/auth-brute-force", "/login", "/healthz", "/metrics", "/api/v1/tickets", "/nowhere"} {
		resp, err := http.Get(e.HTTP + p)
		if err != nil {
			missing = append(missing, p+": "+err.Error())
			continue
		}
		resp.Body.Close()
		for _, h := range []string{"Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options"} {
			if resp.Header.Get(h) == "" {
				missing = append(missing, p+" "+h)
			}
		}
	}
	v := Verdict{Outcome: "every answer sends CSP, X-Frame-Options, nosniff", Pass: len(missing) == 0}
	if !v.Pass {
		v.Outcome = "missing: " + strings.Join(missing, ", ")
		v.Why = "every page and API answer must send the security headers"
	}
	return v
}
