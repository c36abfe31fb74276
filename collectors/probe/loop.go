package probe

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/textproto"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// TokenHeader is the header field that carries a mail loop's token.
const TokenHeader = "X-Postvakt-Probe"

// newToken returns a unique loop token, "pv-<unix seconds>-<random hex>";
// the time lets stale probe messages be recognised and removed.
func newToken(now time.Time) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "pv-" + strconv.FormatInt(now.Unix(), 10) + "-" + hex.EncodeToString(b[:])
}

// tokenTime returns the creation time of a token.
func tokenTime(tok string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(tok), "pv-")
	if !ok {
		return time.Time{}, false
	}
	sec, _, ok := strings.Cut(rest, "-")
	if !ok {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// loopMessage builds the probe message (RFC 5322).
func loopMessage(t Target, token string, now time.Time) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: postvakt probe <%s>\r\n", t.From)
	fmt.Fprintf(&b, "To: <%s>\r\n", t.Recipient)
	fmt.Fprintf(&b, "Subject: postvakt probe %s %s\r\n", t.Name, token)
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@postvakt.invalid>\r\n", token)
	fmt.Fprintf(&b, "%s: %s\r\n", TokenHeader, token)
	b.WriteString("Auto-Submitted: auto-generated\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
	fmt.Fprintf(&b, "This message tests mail delivery for postvakt probe %s.\r\nIt is removed when it arrives.\r\n", t.Name)
	return b.Bytes()
}

// probeLoop submits a message with a unique token and polls the probe
// mailbox until it is seen (or loop.deadline passes). A missing or late
// message is a failure that a retry cannot help.
func (p *prober) probeLoop(ctx context.Context, a *attempt, t Target, timeout time.Duration) error {
	token := newToken(p.now())
	msg := loopMessage(t, token, p.now())

	sctx, cancel := context.WithTimeout(ctx, timeout)
	s, err := p.smtpOpen(sctx, a, targetEndpoint(t))
	if err != nil {
		cancel()
		return fmt.Errorf("loop: submit: %w", err)
	}
	err = a.step("submit", func() (string, error) { return s.send(t.From, t.Recipient, msg) })
	if err != nil {
		s.c.Close()
		cancel()
		return fmt.Errorf("loop: submit: %w", err)
	}
	submitted := time.Now()
	_ = s.quit() // the message is accepted; a failed QUIT does not matter
	cancel()

	a.noRetry = true // from here on, a retry would only send another message
	var seenAt time.Time
	err = a.step("fetch", func() (string, error) {
		deadline := submitted.Add(p.loop.Deadline)
		polls := 0
		var lastErr error
		for {
			polls++
			pctx, cancel := context.WithTimeout(ctx, timeout)
			at, ok, err := p.fetch(pctx, t, token, submitted)
			cancel()
			if err != nil {
				lastErr = err
			}
			if ok {
				seenAt = at
				return fmt.Sprintf("%s: seen after %d polls", t.Fetch.Kind, polls), nil
			}
			wait := p.loop.Poll
			if left := time.Until(deadline); left <= 0 {
				if lastErr != nil {
					return "", fmt.Errorf("loop: message not seen within %s (last fetch error: %w)", p.loop.Deadline, lastErr)
				}
				return "", fmt.Errorf("loop: message not seen within %s", p.loop.Deadline)
			} else if left < wait {
				wait = left
			}
			if err := sleep(ctx, wait); err != nil {
				return "", fmt.Errorf("loop: %w", err)
			}
		}
	})
	if err != nil {
		return err
	}
	a.loop = max(seenAt.Sub(submitted), time.Millisecond)
	if a.loop > p.loop.LateAfter {
		return fmt.Errorf("loop: delivered late, after %s (late_after %s)", a.loop.Round(time.Millisecond), p.loop.LateAfter)
	}
	return nil
}

// fetch looks once for the token in the probe mailbox, removing the
// message (and stale probe messages) when found. Sessions of a fetch are
// not recorded as steps (there may be many).
func (p *prober) fetch(ctx context.Context, t Target, token string, submitted time.Time) (time.Time, bool, error) {
	var scratch attempt
	stale := 2 * p.loop.Deadline
	switch t.Fetch.Kind {
	case FetchStore:
		if p.mailbox == nil {
			return time.Time{}, false, errors.New("no mailbox store configured")
		}
		at, ok, err := p.mailbox.Seen(ctx, t.Recipient, token)
		if !ok || err != nil {
			return time.Time{}, false, err
		}
		if at.IsZero() || at.Before(submitted) || at.After(time.Now()) {
			at = time.Now()
		}
		return at, true, nil
	case FetchIMAP, FetchPOP3:
		mb, err := p.openMailbox(ctx, &scratch, t.Fetch)
		if err != nil {
			return time.Time{}, false, err
		}
		defer mb.abort()
		found, err := take(mb, token, stale, p.now())
		if err != nil {
			return time.Time{}, false, err
		}
		at := time.Now()
		if err := mb.end(); err != nil && found {
			return time.Time{}, false, err // the deletion was not committed
		}
		return at, found, nil
	}
	return time.Time{}, false, fmt.Errorf("fetch kind %q", t.Fetch.Kind)
}

// loopMailbox is a fetch protocol's session as the mail loop uses it.
type loopMailbox interface {
	// probeMessages lists the messages that carry TokenHeader, with the
	// header's value.
	probeMessages() ([]probeMessage, error)
	// remove deletes messages by their IDs (POP3: marks them deleted; end
	// commits the deletions).
	remove(ids []string) error
	// end ends the session and closes it. It fails only when the
	// deletions may not have been committed.
	end() error
	// abort closes the connection without ending the session (POP3:
	// deletions are dropped).
	abort()
}

// probeMessage is a message in a probe mailbox: its ID in the session
// (IMAP UID, POP3 message number) and the token it carries.
type probeMessage struct {
	id, token string
}

// openMailbox opens a session with f's IMAP or POP3 server.
func (p *prober) openMailbox(ctx context.Context, a *attempt, f Fetch) (loopMailbox, error) {
	e := fetchEndpoint(f)
	switch f.Kind {
	case FetchIMAP:
		s, err := p.imapOpen(ctx, a, e)
		if err != nil {
			return nil, err
		}
		return s, nil
	case FetchPOP3:
		s, err := p.pop3Open(ctx, a, e)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("fetch kind %q", f.Kind)
}

// take finds the message carrying token and deletes it, together with
// probe messages whose token is older than stale.
func take(mb loopMailbox, token string, stale time.Duration, now time.Time) (bool, error) {
	msgs, err := mb.probeMessages()
	if err != nil {
		return false, err
	}
	found := false
	var del []string
	for _, m := range msgs {
		if m.token == "" {
			continue
		}
		if m.token == token {
			found = true
			del = append(del, m.id)
		} else if at, ok := tokenTime(m.token); ok && now.Sub(at) > stale {
			del = append(del, m.id)
		}
	}
	if len(del) == 0 {
		return false, nil
	}
	return found, mb.remove(del)
}

// probeMessages selects INBOX and lists at most 100 probe messages per
// look.
func (s *imapSession) probeMessages() ([]probeMessage, error) {
	if _, err := s.run("SELECT", "SELECT", "INBOX"); err != nil {
		return nil, err
	}
	r, err := s.run("SEARCH", "UID SEARCH HEADER", TokenHeader, `""`)
	if err != nil {
		return nil, err
	}
	all := searchUIDs(r)
	if len(all) == 0 {
		return nil, nil
	}
	if len(all) > 100 {
		all = all[:100]
	}
	r, err = s.run("FETCH", "UID FETCH", strings.Join(all, ","), "(UID BODY.PEEK[HEADER.FIELDS ("+TokenHeader+")])")
	if err != nil {
		return nil, err
	}
	var out []probeMessage
	for _, l := range r.untagged {
		first, head, ok := strings.Cut(l, "\r\n")
		m := fetchUIDRe.FindStringSubmatch(first)
		if m == nil || !ok {
			continue
		}
		out = append(out, probeMessage{id: m[1], token: headerValue(strings.Split(head, "\r\n"), TokenHeader)})
	}
	return out, nil
}

var fetchUIDRe = regexp.MustCompile(`(?i)^\* \d+ FETCH .*\bUID (\d+)`)

// remove flags the messages \Deleted and expunges them.
func (s *imapSession) remove(uids []string) error {
	if _, err := s.run("STORE", "UID STORE", strings.Join(uids, ","), `+FLAGS.SILENT (\Deleted)`); err != nil {
		return err
	}
	_, err := s.run("EXPUNGE", "EXPUNGE")
	return err
}

// end logs out; EXPUNGE has committed the deletions already, so a failed
// LOGOUT does not matter.
func (s *imapSession) end() error {
	_ = s.logout()
	return nil
}

func (s *imapSession) abort() { s.c.Close() }

// probeMessages reads the header block of every message (TOP n 0).
func (s *pop3Session) probeMessages() ([]probeMessage, error) {
	if _, err := s.cmd("UIDL", "UIDL"); err != nil {
		return nil, err
	}
	list, err := s.lines("UIDL")
	if err != nil {
		return nil, err
	}
	var out []probeMessage
	for _, l := range list {
		num, _, _ := strings.Cut(l, " ")
		if _, err := strconv.Atoi(num); err != nil {
			return nil, fmt.Errorf("pop3: UIDL: bad line %q", oneLine(l))
		}
		if _, err := s.cmd("TOP", "TOP %s 0", num); err != nil {
			return nil, err
		}
		head, err := s.lines("TOP")
		if err != nil {
			return nil, err
		}
		out = append(out, probeMessage{id: num, token: headerValue(head, TokenHeader)})
	}
	return out, nil
}

// remove marks the messages deleted; QUIT (end) commits the deletions.
func (s *pop3Session) remove(nums []string) error {
	for _, num := range nums {
		if _, err := s.cmd("DELE", "DELE %s", num); err != nil {
			return err
		}
	}
	return nil
}

// end sends QUIT, which commits the deletions (RFC 1939 §6).
func (s *pop3Session) end() error { return s.quit() }

func (s *pop3Session) abort() { s.c.Close() }

// headerValue returns the (unfolded) value of a header field in a header
// block's lines.
func headerValue(lines []string, name string) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	r := textproto.NewReader(bufio.NewReader(strings.NewReader(b.String())))
	h, _ := r.ReadMIMEHeader()
	return strings.TrimSpace(h.Get(name))
}
