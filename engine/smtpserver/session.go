package smtpserver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"net/textproto"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/uni-mail/postvakt/engine/addr"
	backendcheck "github.com/uni-mail/postvakt/engine/backend"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/dnsbl"
	"github.com/uni-mail/postvakt/engine/event"
	"github.com/uni-mail/postvakt/engine/greylist"
	"github.com/uni-mail/postvakt/engine/mailauth"
	"github.com/uni-mail/postvakt/engine/spool"
	"github.com/uni-mail/postvakt/engine/store"
)

type backend struct {
	s    *Server
	spec Listener
}

// NewSession is called at HELO/EHLO (and again after STARTTLS).
func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s := b.s
	ip := remoteIP(c.Conn())
	_, isTLS := c.TLSConnectionState()
	sess := &session{
		s: s, spec: b.spec, conn: c, ip: ip, tls: isTLS, mc: metered(c.Conn()),
		id:  newQueueID(),
		log: s.o.Logger.With("listener", b.spec.Name, "client", ip.String()),
	}
	sess.ev = event.Session{ID: sess.id, Node: s.o.Node, Listener: b.spec.Name, ClientIP: ip.String(), HELO: c.Hostname(), TLS: isTLS}
	s.o.Metrics.Command(b.spec.Name, "helo")
	sess.log = sess.log.With("session", sess.id)
	if !b.spec.Submission && s.o.DNSBL != nil && !s.policy().WhitelistClients.Contains(ip) {
		// Connection check: look the client up while the client talks.
		ch := make(chan dnsbl.Result, 1)
		sess.dnsbl = ch
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			res, err := s.o.DNSBL.Check(ctx, ip)
			switch {
			case res.Listed:
				s.o.Metrics.DNSBL("listed")
			case err != nil:
				s.o.Metrics.DNSBL("error")
			default:
				s.o.Metrics.DNSBL("clean")
			}
			if err != nil {
				sess.log.Warn("dnsbl lookup failed; continuing as not listed", "err", err)
			}
			ch <- res
		}()
	}
	return sess, nil
}

// session is one SMTP session; go-smtp calls its methods one at a time.
type session struct {
	s    *Server
	spec Listener
	conn *smtp.Conn
	mc   *meteredConn // nil only in tests without a listener
	ip   netip.Addr
	tls  bool
	id   string
	log  *slog.Logger
	ev   event.Session
	// closing is set by a reply that ends the session (421); what the
	// client sends after it is not acted on.
	closing bool

	authUser     string
	authNick     string
	authFailures int
	dnsbl        chan dnsbl.Result
	dnsblRes     *dnsbl.Result

	// the transaction
	from       *addr.Address // nil before MAIL; Local "" for the null path
	fromRaw    string
	sizeHint   int64
	rcpts      []string
	deliveries []store.Delivery
	boxes      map[int64]bool
	remotes    map[string]bool
	greyPassed bool // some recipient passed greylisting (counts toward auto-whitelist)
	wantsAll   bool
	started    time.Time
}

// fail is the SMTP boundary: it logs cause, counts the reason and the reply,
// emits a refused-recipient event when rcpt is set, and returns a fresh
// *smtp.SMTPError. Every refusal the session gives goes through here.
func (s *session) fail(r Reason, cause error, rcpt string) *smtp.SMTPError {
	rep := Reply(r)
	lvl := slog.LevelInfo
	if r == ReasonTempFailure || r == ReasonAuthTemp || r == ReasonContentTemp {
		lvl = slog.LevelError
	}
	attrs := []any{"reason", string(r), "code", rep.Code}
	if cause != nil {
		attrs = append(attrs, "err", cause.Error())
	}
	if rcpt != "" {
		attrs = append(attrs, "rcpt", rcpt)
	}
	s.log.Log(context.Background(), lvl, "smtp refused", attrs...)
	s.s.o.Metrics.Reject(s.spec.Name, string(r))
	s.s.o.Metrics.Reply(s.spec.Name, rep.Code)
	if rep.Code == 421 {
		s.end()
	}
	if rcpt != "" {
		s.s.o.Events.Emit(&event.Recipient{At: s.s.o.Clock(), Session: s.ev, MailFrom: s.fromRaw, Rcpt: rcpt,
			Outcome: event.OutcomeRefused, Code: rep.Code, Enhanced: enhanced(rep.EnhancedCode), Reason: string(r)})
	}
	return rep
}

func (s *session) okReply() { s.s.o.Metrics.Reply(s.spec.Name, 250) }

// end closes the session once the reply being given has been written
// (RFC 5321 §3.8: 421 closes the transmission channel). go-smtp goes on
// reading commands after any reply, so the connection does it.
func (s *session) end() {
	s.closing = true
	if s.mc != nil {
		s.mc.closeAfterReply()
	}
}

// gone is the reply to a command that arrives after the session ended
// (pipelined behind the closing reply): it is never sent, and nothing is
// done.
func (s *session) gone() error {
	return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Session closed"}
}

func (s *session) direction() string {
	if s.spec.Submission {
		return "outbound"
	}
	return "inbound"
}

// Reset discards the transaction (RSET, EHLO, end of DATA).
func (s *session) Reset() {
	s.from, s.fromRaw, s.sizeHint = nil, "", 0
	s.rcpts, s.deliveries = nil, nil
	s.boxes, s.remotes = nil, nil
	s.greyPassed, s.wantsAll = false, false
}

// Logout frees the session.
func (s *session) Logout() error { return nil }

// AuthMechanisms offers PLAIN and LOGIN (RFC 4954, RFC 4616) on listeners
// with AUTH, and only once the channel is encrypted (or from loopback when
// so configured), so EHLO does not advertise AUTH before STARTTLS.
func (s *session) AuthMechanisms() []string {
	if !s.spec.Auth || !s.authAllowed() {
		return nil
	}
	return []string{sasl.Plain, sasl.Login}
}

func (s *session) authAllowed() bool {
	return s.tls || (s.s.o.InsecureAuthLoopback && s.ip.IsLoopback())
}

// Auth starts a SASL exchange.
func (s *session) Auth(mech string) (sasl.Server, error) {
	if s.closing {
		return nil, s.gone()
	}
	s.s.o.Metrics.Command(s.spec.Name, "auth")
	if !s.spec.Auth {
		s.authEvent(mech, "", "unavailable")
		return nil, s.fail(ReasonAuthUnavailable, nil, "")
	}
	if !s.authAllowed() {
		s.s.o.Metrics.Auth(s.spec.Name, "tls_required")
		s.authEvent(mech, "", "tls_required")
		return nil, s.fail(ReasonAuthTLS, errors.New("AUTH before STARTTLS"), "")
	}
	if s.s.o.Limits.MaxAuthFailures > 0 && s.authFailures >= s.s.o.Limits.MaxAuthFailures {
		s.s.o.Metrics.Auth(s.spec.Name, "aborted")
		return nil, s.fail(ReasonAuthTooMany, nil, "")
	}
	switch strings.ToUpper(mech) {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && identity != username {
				return s.authResult(mech, username, directory.AuthUnknownUser, errors.New("authorization identity differs"))
			}
			return s.authenticate(mech, username, password)
		}), nil
	case sasl.Login:
		return &loginServer{auth: func(u, p string) error { return s.authenticate(mech, u, p) }}, nil
	}
	return nil, s.fail(ReasonAuthMechanism, fmt.Errorf("mechanism %q", mech), "")
}

func (s *session) authenticate(mech, username, password string) error {
	if s.closing {
		return s.gone()
	}
	o := &s.s.o
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// The guess is counted (across sessions and nodes) before the password
	// is hashed, so that parallel attempts cannot overshoot the rate.
	ticket, refused, err := o.AuthLimit.Reserve(ctx, s.ip, username, o.Clock())
	if err != nil {
		return s.authResult(mech, username, directory.AuthError, err)
	}
	if refused != "" {
		o.Metrics.Auth(s.spec.Name, "rate_limited")
		s.authEvent(mech, username, "rate_limited")
		s.authFailures++
		s.failureDelay()
		return s.fail(ReasonAuthRate, fmt.Errorf("AUTH rate per %s reached (user %q)", refused, username), "")
	}
	var auth Authenticator = o.Directory
	if o.Auth != nil {
		auth = o.Auth
	}
	var m directory.Mailbox
	var res directory.AuthResult
	if ca, ok := auth.(ClientAuthenticator); ok {
		m, res, err = ca.AuthenticateFrom(ctx, username, password, s.ip)
	} else {
		m, res, err = auth.Authenticate(ctx, username, password)
	}
	switch res {
	case directory.AuthOK:
		if err := ticket.Succeeded(ctx, m.Address, o.Clock()); err != nil {
			s.log.Warn("auth limit: success not recorded", "err", err)
		}
	case directory.AuthBusy, directory.AuthError:
		// Not a guess: the password was not checked.
		if err := ticket.Cancel(ctx); err != nil {
			s.log.Warn("auth limit: attempt not given back", "err", err)
		}
	}
	if res == directory.AuthOK {
		s.authUser, s.authNick = m.Address, m.Nickname
		s.ev.AuthUser = m.Address
		o.Metrics.Auth(s.spec.Name, string(res))
		s.authEvent(mech, username, "")
		s.okReply()
		s.log.Info("smtp auth", "user", m.Address, "mechanism", mech)
		return nil
	}
	return s.authResult(mech, username, res, err)
}

func (s *session) authResult(mech, username string, res directory.AuthResult, err error) error {
	s.s.o.Metrics.Auth(s.spec.Name, string(res))
	s.authEvent(mech, username, string(res))
	switch res {
	case directory.AuthError:
		return s.fail(ReasonAuthTemp, err, "")
	case directory.AuthBusy:
		return s.fail(ReasonAuthBusy, err, "")
	}
	s.authFailures++
	s.failureDelay()
	return s.fail(ReasonAuthFailed, fmt.Errorf("user %q: %s", username, res), "")
}

// failureDelay slows a client down after a failed AUTH (as Postfix's
// smtpd_error_sleep_time does after an error).
func (s *session) failureDelay() {
	if d := s.s.o.Limits.AuthFailureDelay; d > 0 {
		time.Sleep(d)
	}
}

func (s *session) authEvent(mech, user, reason string) {
	s.s.o.Events.Emit(&event.Auth{At: s.s.o.Clock(), Session: s.ev, Mechanism: strings.ToUpper(mech), Username: user,
		Success: reason == "", Reason: reason})
}

// Mail starts a transaction (RFC 5321 §4.1.1.2).
func (s *session) Mail(from string, opts *smtp.MailOptions) error {
	if s.closing {
		return s.gone()
	}
	s.s.o.Metrics.Command(s.spec.Name, "mail")
	s.Reset()
	s.started = s.s.o.Clock()
	a := addr.Address{}
	if from != "" {
		p, err := addr.Parse(from)
		if err != nil || p.Domain == "" {
			return s.fail(ReasonBadSender, fmt.Errorf("sender %q: %v", from, err), "")
		}
		a = p
	}
	if s.authUser != "" && s.s.policy().EnforceSenderLogin && from != "" && a.Key() != s.authUser && a.Key() != s.authNick {
		// Like Postfix's reject_sender_login_mismatch: an account sends
		// only as its permanent address or its nickname.
		return s.fail(ReasonSenderMismatch, fmt.Errorf("user %s sending as %s", s.authUser, a.Key()), "")
	}
	if opts != nil {
		s.sizeHint = opts.Size
	}
	s.from, s.fromRaw = &a, a.String()
	s.boxes, s.remotes = map[int64]bool{}, map[string]bool{}
	s.okReply()
	return nil
}

func (s *session) listed() bool {
	if s.dnsbl != nil && s.dnsblRes == nil {
		r := <-s.dnsbl
		s.dnsblRes = &r
		if r.Listed {
			s.log.Info("client listed on dnsbl", "zone", r.Zone)
		}
	}
	return s.dnsblRes != nil && s.dnsblRes.Listed
}

// Rcpt adds a recipient (RFC 5321 §4.1.1.3), running the policy checks.
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.closing {
		return s.gone()
	}
	s.s.o.Metrics.Command(s.spec.Name, "rcpt")
	o, pol := &s.s.o, s.s.policy()
	if max := o.Limits.MaxRecipients; max > 0 && len(s.rcpts) >= max {
		return s.fail(ReasonTooManyRcpts, nil, to)
	}
	a, err := addr.Parse(to)
	if err == nil && a.Domain == "" && pol.Postmaster != "" {
		a, err = addr.Parse(pol.Postmaster)
	}
	if err != nil || a.Domain == "" {
		return s.fail(ReasonBadRecipient, fmt.Errorf("recipient %q: %v", to, err), to)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	local, err := o.Directory.IsLocalDomain(ctx, a.Domain)
	if err != nil {
		return s.fail(ReasonTempFailure, err, to)
	}
	mayRelay := s.spec.Submission && (s.authUser != "" || pol.LocalNetworks.Contains(s.ip))
	if s.spec.Submission && !mayRelay {
		// RFC 6409 §4.3: submission needs authentication; only configured
		// local networks (minus excluded ranges) are exempt.
		return s.fail(ReasonRelayDenied, errors.New("unauthenticated submission from outside local networks"), to)
	}
	if !local {
		if !mayRelay {
			return s.fail(ReasonRelayDenied, fmt.Errorf("domain %s is not local", a.Domain), to)
		}
		if !s.remotes[a.Key()] {
			s.remotes[a.Key()] = true
			s.deliveries = append(s.deliveries, store.Delivery{Rcpt: a.Key(), Remote: a.Key()})
		}
		s.rcpts = append(s.rcpts, a.String())
		s.okReply()
		return nil
	}
	if !s.spec.Submission {
		if pol.DNSBLReject && s.listed() {
			return s.fail(ReasonDNSBL, errors.New("client listed"), to)
		}
		whitelisted := pol.WhitelistClients.Contains(s.ip) || pol.WhitelistSenders.Contains(*s.from) || pol.WhitelistRecipients.Contains(a)
		if !whitelisted && o.Greylist != nil && o.Greylist.Config.Enabled {
			res, err := o.Greylist.Check(ctx, greylist.Attempt{IP: s.ip, Sender: s.from.Key(), Rcpt: a.Key(), Now: o.Clock(), Listed: s.listed()})
			if err != nil {
				return s.fail(ReasonTempFailure, err, to)
			}
			o.Metrics.Greylist(string(res.Reason))
			if !res.Pass {
				return s.fail(ReasonGreylisted, fmt.Errorf("greylist %s, retry in %s", res.Reason, res.Wait.Round(time.Second)), to)
			}
			s.greyPassed = true
		}
	}
	res, err := o.Directory.Resolve(ctx, a)
	switch {
	case errors.Is(err, directory.ErrNotFound), errors.Is(err, directory.ErrNoDomain):
		return s.fail(ReasonUnknownRecipient, err, to)
	case err != nil:
		return s.fail(ReasonTempFailure, err, to)
	}
	direct := res.Kind == directory.KindMailbox || res.Kind == directory.KindNickname
	trusted := pol.TrustedSenders.Contains(*s.from) || pol.TrustedClients.Contains(s.ip)
	fromOutside := !s.spec.Submission
	var add []store.Delivery
	for _, m := range res.Mailboxes {
		if m.Locked && fromOutside && !trusted {
			if direct && len(res.Mailboxes) == 1 {
				return s.fail(ReasonMailboxDisabled, fmt.Errorf("mailbox %s is locked", m.Address), to)
			}
			continue
		}
		d := store.Delivery{Rcpt: a.Key(), MailboxID: m.ID, Mailbox: m.Address}
		if m.UsedBytes+s.sizeHint > o.Directory.Quota(m) {
			if trusted {
				d.Truncated = true
			} else if direct && len(res.Mailboxes) == 1 {
				return s.fail(ReasonOverQuota, fmt.Errorf("mailbox %s uses %d of %d bytes", m.Address, m.UsedBytes, o.Directory.Quota(m)), to)
			} else {
				s.log.Info("list member over quota; skipped", "mailbox", m.Address, "rcpt", a.Key())
				continue
			}
		}
		add = append(add, d)
	}
	for _, r := range res.Remote {
		add = append(add, store.Delivery{Rcpt: a.Key(), Remote: r})
	}
	// A back end (Dovecot's LMTP, an internal server) gets its copies
	// through the relay queue: durable, retried, bounced as relay mail.
	// What the back end would refuse is refused here, at RCPT, rather
	// than accepted and bounced (backscatter).
	// A list's members are asked too, at most maxBackendChecks of them and
	// none after a back end failed to answer (the client waits at RCPT);
	// the others are queued unverified, and the queue bounces what the back
	// end refuses.
	onlyBackend := len(res.Backend) == 1 && len(res.Mailboxes) == 0 && len(res.Remote) == 0
	asked, unavailable := 0, false
	for _, r := range res.Backend {
		if o.Backend != nil && !unavailable && asked < maxBackendChecks {
			asked++
			st, err := o.Backend.Check(ctx, r, s.sizeHint)
			unavailable = err != nil
			switch {
			case err != nil && o.Backend.AcceptUnverified():
				s.log.Warn("back end not asked; recipient accepted unverified (smtp.backend.accept_unverified)", "rcpt", r, "err", err)
			case err != nil && onlyBackend:
				return s.fail(ReasonBackendUnavailable, err, to)
			case err != nil:
				// A list member whose back end cannot be asked: the queue
				// delivers or bounces it, the list is not held up.
				s.log.Warn("back end not asked for list member; queued unverified", "rcpt", r, "err", err)
			case st == backendcheck.StatusUnknown && onlyBackend:
				return s.fail(ReasonUnknownRecipient, fmt.Errorf("unknown at its back end: %s", r), to)
			case st == backendcheck.StatusUnknown:
				s.log.Info("list member unknown at its back end; skipped", "member", r, "rcpt", a.Key())
				continue
			case st == backendcheck.StatusOverQuota && trusted:
				// The university's own systems are never refused for quota;
				// the back end decides what it keeps.
			case st == backendcheck.StatusOverQuota && onlyBackend:
				return s.fail(ReasonOverQuota, fmt.Errorf("over quota at its back end: %s", r), to)
			case st == backendcheck.StatusOverQuota:
				s.log.Info("list member over quota at its back end; skipped", "member", r, "rcpt", a.Key())
				continue
			}
		}
		add = append(add, store.Delivery{Rcpt: a.Key(), Remote: r})
	}
	if len(add) == 0 {
		if len(res.Mailboxes) > 0 {
			return s.fail(ReasonOverQuota, errors.New("every target is over quota or locked"), to)
		}
		return s.fail(ReasonUnknownRecipient, errors.New("no deliverable target"), to)
	}
	for _, d := range add {
		switch {
		case d.MailboxID != 0 && !s.boxes[d.MailboxID]:
			s.boxes[d.MailboxID] = true
			s.deliveries = append(s.deliveries, d)
		case d.Remote != "" && !s.remotes[d.Remote]:
			s.remotes[d.Remote] = true
			s.deliveries = append(s.deliveries, d)
		}
	}
	s.wantsAll = s.wantsAll || res.WantsAll
	s.rcpts = append(s.rcpts, a.String())
	s.okReply()
	return nil
}

// maxBackendChecks bounds the back-end questions one RCPT asks for a
// list's members.
const maxBackendChecks = 20

// Data receives the message and replies 250 only after the commit is
// durable (RFC 5321 §6.1: with 250 the server takes responsibility).
//
// The message is spooled as it arrives (memory up to the spool threshold,
// then a file), read from the spool by the content filter, and assembled
// once in memory for the commit under the message memory budget: no
// message is held whole in memory more than once, and no more bytes at
// once than the budget allows (docs/resources.md).
func (s *session) Data(r io.Reader) error {
	if s.closing {
		return s.gone()
	}
	s.s.o.Metrics.Command(s.spec.Name, "data")
	s.s.inData.Add(1)
	defer s.s.inData.Done()
	o := &s.s.o
	begin := time.Now()
	if d := o.Limits.DataTimeout; d > 0 {
		_ = s.conn.Conn().SetReadDeadline(time.Now().Add(d))
	}
	queueID := newQueueID()
	now := o.Clock()
	tx := &event.Transaction{At: now, Session: s.ev, QueueID: queueID, MailFrom: s.fromRaw, Rcpts: append([]string(nil), s.rcpts...)}
	finish := func(result string, rep *smtp.SMTPError, reason Reason, size int64) {
		tx.Code, tx.Enhanced, tx.Reason, tx.Size = rep.Code, enhanced(rep.EnhancedCode), string(reason), size
		tx.Duration = time.Since(begin)
		if result != "accepted" {
			tx.QueueID = ""
		}
		o.Metrics.Message(s.direction(), result, size)
		o.Metrics.DataDone(s.spec.Name, time.Since(begin))
		o.Events.Emit(tx)
	}
	fail := func(reason Reason, cause error, size int64) error {
		rep := s.fail(reason, cause, "")
		res := "rejected"
		if rep.Code/100 == 4 {
			res = "tempfail"
		}
		finish(res, rep, reason, size)
		return rep
	}

	received := s.receivedHeader(queueID, now)
	sp := o.Spool.Create()
	defer sp.Close()
	if _, err := io.WriteString(sp, received); err != nil {
		return fail(ReasonTempFailure, err, 0)
	}
	sw := &spoolWriter{f: sp}
	buf := copyBuffers.Get().(*[]byte)
	n, err := io.CopyBuffer(sw, r, *buf)
	copyBuffers.Put(buf)
	if err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) && se.Code == 552 {
			return fail(ReasonTooBig, err, n)
		}
		if sw.err != nil {
			// The spool could not take it (disk full): the client may retry.
			_ = s.conn.Conn().SetReadDeadline(time.Now())
			return fail(ReasonResources, sw.err, n)
		}
		// The rest of the message cannot be read reliably: expire the read
		// deadline so that, after this reply, the connection closes rather
		// than reading message lines as commands.
		_ = s.conn.Conn().SetReadDeadline(time.Now())
		if errors.Is(err, smtp.ErrTooLongLine) {
			return fail(ReasonLineTooLong, err, n)
		}
		return fail(ReasonTempFailure, fmt.Errorf("read DATA: %w", err), n)
	}
	traceSize := int64(len(received))
	head, headerSize := headerSection(sp)
	hdr := parseHeader(head)
	// Our own Received: is in the header: one more than the client sent.
	if max := o.Limits.MaxHops; max > 0 && len(hdr.Values("Received")) > max {
		return fail(ReasonLoop, fmt.Errorf("%d Received headers", len(hdr.Values("Received"))), n)
	}
	tx.MessageID, tx.Subject, tx.HeaderFrom = hdr.Get("Message-Id"), hdr.Get("Subject"), hdr.Get("From")
	// The MX's SPF, DKIM and DMARC checks (RFC 7489 §6.6), before the
	// content filter so that a message DMARC refuses is not scanned.
	// One message sees one configuration of them, whatever a reload does
	// meanwhile.
	ma := s.s.mailAuth()
	authRes, checked := s.checkInbound(ma, sp)
	if checked {
		tx.AuthResults = authRes.Summary()
		if authRes.Disposition == mailauth.DispositionReject && ma.EnforceDMARC {
			return fail(ReasonDMARC, fmt.Errorf("dmarc: %s from %s", tx.AuthResults, authRes.FromDomain), n)
		}
	}

	// What is stored: prefix, then the spool from offset `from` on.
	prefix, from := []byte(received), traceSize
	if o.Filter != nil {
		env := Envelope{Node: o.Node, QueueID: queueID, Listener: s.spec.Name, ClientIP: s.ip, HELO: s.conn.Hostname(),
			AuthUser: s.authUser, MailFrom: s.fromRaw, Rcpts: s.rcpts, WantsAll: s.wantsAll, TraceSize: traceSize,
			HeaderSize: headerSize}
		if checked && authRes.Disposition != mailauth.DispositionNone {
			env.DMARCQuarantine, env.AuthResults = true, strings.TrimRight(authRes.Field, "\r\n")
		}
		ctx, cancel := context.WithTimeout(context.Background(), o.Limits.FilterTimeout)
		v, err := o.Filter.Filter(ctx, env, sp)
		cancel()
		switch {
		case err != nil || v.Action == Tempfail:
			return fail(ReasonContentTemp, errors.Join(err, errors.New(v.Reason)), n)
		case v.Action == Reject:
			return fail(ReasonContent, errors.New(v.Reason), n)
		case v.Action == Discard:
			s.log.Info("message discarded by content filter", "reason", v.Reason, "queue_id", queueID, "quarantined", v.Quarantined)
			rep := &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "OK queued as " + queueID}
			s.okReply()
			tx.Disposition = event.Discarded
			if v.Quarantined {
				tx.Disposition = event.Quarantined
			}
			finish("accepted", rep, "", n)
			return rep
		}
		if prefix, from, err = Stored(env, v, sp); err != nil {
			return fail(ReasonTempFailure, err, n)
		}
		if v.Header != nil && env.HeaderSize > 0 {
			tx.Subject = parseHeader(v.Header).Get("Subject")
		}
	}

	if checked {
		// RFC 8601 §5: fields claiming to be ours that came from outside
		// are removed; ours goes at the top, above the trace fields.
		if p, f, ok := stripForgedAuthResults(prefix, sp, from, o.Hostname); ok {
			prefix, from = p, f
			s.log.Info("forged Authentication-Results removed", "queue_id", queueID)
		}
		field := authRes.Field
		if authRes.Disposition == mailauth.DispositionQuarantine || authRes.Disposition == mailauth.DispositionReject {
			// Not refused: say what the sender's domain asked, for the
			// mailbox's filters (RFC 7489 §6.6.4 leaves the means local).
			field += "X-Postvakt-DMARC: " + string(authRes.Disposition) + "\r\n"
		}
		prefix = append([]byte(field), prefix...)
	}
	if prefix, from, tx.OriginalFrom, tx.DKIMSigned, err = s.prepareOutgoing(ma, prefix, sp, from); err != nil {
		return fail(ReasonTempFailure, err, n)
	}
	if tx.OriginalFrom != "" {
		tx.MailFrom = s.fromRaw
		tx.HeaderFrom = parseHeaderOf(prefix, sp, from).Get("From")
		s.log.Info("sender rewritten to the permanent address", "queue_id", queueID, "from", s.fromRaw, "original", tx.OriginalFrom)
	}

	// The message is held whole in memory once, for the commit: reserve
	// its size times the copies the database driver makes on the way.
	size := int64(len(prefix)) + sp.Size() - from
	mctx, mcancel := context.WithTimeout(context.Background(), o.Limits.MemoryWait)
	release, err := o.Memory.Acquire(mctx, commitCopies*size)
	mcancel()
	if err != nil {
		return fail(ReasonResources, fmt.Errorf("message memory budget: %w (%d bytes)", err, commitCopies*size), n)
	}
	defer release()
	body, err := assemble(prefix, sp, from, size)
	if err != nil {
		return fail(ReasonTempFailure, err, n)
	}
	msg := &store.Message{
		QueueID: queueID, ReceivedAt: now, Node: o.Node, Listener: s.spec.Name, ClientIP: s.ip.String(),
		HELO: s.conn.Hostname(), AuthUser: s.authUser, MailFrom: s.fromRaw, Rcpts: tx.Rcpts,
		MessageID: tx.MessageID, Subject: tx.Subject, HeaderFrom: tx.HeaderFrom,
		Body: body, BodyHash: store.Hash(body), Deliveries: s.deliveries,
	}
	for _, d := range msg.Deliveries {
		if d.Truncated {
			msg.Truncated = truncatedCopy(hdr)
			msg.TruncatedHash = store.Hash(msg.Truncated)
			break
		}
	}
	tx.BodyHash = msg.BodyHash
	// The events that record the message, committed with it by a store
	// that keeps the transaction log (store.Message.Events), and emitted
	// once it is committed.
	tx.Code, tx.Enhanced, tx.Size, tx.Disposition = 250, "2.0.0", n, event.Stored
	rcptEvents := make([]event.Event, 0, len(msg.Deliveries)+1)
	rcptEvents = append(rcptEvents, tx)
	for _, d := range msg.Deliveries {
		ev := &event.Recipient{At: now, Session: s.ev, QueueID: queueID, MailFrom: s.fromRaw, Rcpt: d.Rcpt, Code: 250, Enhanced: "2.0.0"}
		switch {
		case d.Remote != "":
			ev.Outcome, ev.Target = event.OutcomeQueued, d.Remote
		case d.Truncated:
			ev.Outcome, ev.Target = event.OutcomeTruncated, d.Mailbox
		default:
			ev.Outcome, ev.Target = event.OutcomeDelivered, d.Mailbox
		}
		rcptEvents = append(rcptEvents, ev)
	}
	msg.Events = rcptEvents
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := o.Committer.Commit(ctx, msg); err != nil {
		tx.Disposition = ""
		return fail(ReasonTempFailure, err, n)
	}
	if s.greyPassed && o.Greylist != nil {
		if err := o.Greylist.Passed(ctx, s.ip, now); err != nil {
			s.log.Warn("greylist auto-whitelist count failed", "err", err)
		}
	}
	for i, d := range msg.Deliveries {
		switch {
		case d.Remote != "":
			o.Metrics.Delivery("queued")
		case d.Truncated:
			o.Metrics.Delivery("truncated")
			o.Directory.Delivered(d.MailboxID, msg.Size(d))
		default:
			o.Metrics.Delivery("delivered")
			o.Directory.Delivered(d.MailboxID, msg.Size(d))
		}
		o.Events.Emit(rcptEvents[i+1])
	}
	s.log.Info("smtp accepted", "queue_id", queueID, "from", s.fromRaw, "rcpts", len(s.rcpts), "copies", len(msg.Deliveries), "size", n)
	rep := &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "OK queued as " + queueID}
	s.okReply()
	finish("accepted", rep, "", n)
	return rep
}

// Stored says how the engine stores msg after a filter's verdict v (other
// than Reject, Tempfail and Discard): prefix, then msg from offset from on
// — v.Header in place of the header section, or v.Headers after the
// engine's Received: field.
func Stored(env Envelope, v Verdict, msg Message) (prefix []byte, from int64, err error) {
	if v.Header != nil && env.HeaderSize > 0 {
		return v.Header, env.HeaderSize, nil
	}
	trace := make([]byte, env.TraceSize)
	if _, err := msg.ReadAt(trace, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, err
	}
	if len(v.Headers) == 0 {
		return trace, env.TraceSize, nil
	}
	b := bytes.NewBuffer(trace)
	for _, h := range v.Headers {
		b.WriteString(h)
		b.WriteString("\r\n")
	}
	return b.Bytes(), env.TraceSize, nil
}

// StoredReader is the message as Stored says the engine stores it, as a
// stream.
func StoredReader(env Envelope, v Verdict, msg Message) (io.Reader, error) {
	prefix, from, err := Stored(env, v, msg)
	if err != nil {
		return nil, err
	}
	return io.MultiReader(bytes.NewReader(prefix), io.NewSectionReader(msg, from, msg.Size()-from)), nil
}

// commitCopies is how many times a message's size the commit holds in
// memory at its peak: the assembled body, the database driver's encoding
// of it (pgx's parameter buffer, SQLite's bound blob), and the write
// buffer it is sent from (docs/resources.md).
const commitCopies = 3

// spoolWriter remembers an error of the spool, to tell it from an error
// reading the client.
// copyBuffers are the buffers DATA is copied into the spool through (one
// per message in flight instead of a fresh 32 KiB per message).
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

type spoolWriter struct {
	f   *spool.File
	err error
}

func (w *spoolWriter) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	if err != nil {
		w.err = err
	}
	return n, err
}

// assemble builds the stored message: prefix, then sp from offset from.
func assemble(prefix []byte, sp *spool.File, from, size int64) ([]byte, error) {
	body := make([]byte, size)
	n := copy(body, prefix)
	if _, err := sp.ReadAt(body[n:], from); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read spool: %w", err)
	}
	return body, nil
}

// maxHeaderScan is how much of a message is searched for the end of its
// header section.
const maxHeaderScan = 256 << 10

// headerSection returns the message's header section (at most the first
// maxHeaderScan bytes) and its length with the empty line that ends it;
// the length is 0 when no empty line ends it within maxHeaderScan.
func headerSection(sp *spool.File) ([]byte, int64) {
	n := min(sp.Size(), maxHeaderScan)
	b := make([]byte, n)
	if _, err := sp.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, 0
	}
	if i := bytes.Index(b, []byte("\n\r\n")); i >= 0 {
		return b[:i+3], int64(i + 3)
	}
	if i := bytes.Index(b, []byte("\n\n")); i >= 0 {
		return b[:i+2], int64(i + 2)
	}
	if sp.Size() <= maxHeaderScan {
		return b, sp.Size()
	}
	return b, 0
}

// receivedHeader is the trace field of RFC 5321 §4.4, with the protocol
// names of RFC 3848 (ESMTPS, ESMTPA, ESMTPSA).
func (s *session) receivedHeader(queueID string, now time.Time) string {
	proto := "ESMTP"
	if s.tls {
		proto += "S"
	}
	if s.authUser != "" {
		proto += "A"
	}
	helo := sanitize(s.conn.Hostname())
	ipLit := s.ip.String()
	if s.ip.Is6() {
		ipLit = "IPv6:" + ipLit
	}
	return fmt.Sprintf("Received: from %s ([%s])\r\n\tby %s (postvakt) with %s id %s;\r\n\t%s\r\n",
		helo, ipLit, s.s.o.Hostname, proto, queueID, now.Format(time.RFC1123Z))
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r <= 32 || r >= 127 || r == '(' || r == ')' || r == '[' || r == ']' || r == ';' {
			return '_'
		}
		return r
	}, s)
}

// parseHeader reads the message's header section, tolerating damage: what
// parses is returned.
func parseHeader(msg []byte) textproto.MIMEHeader {
	// Only the header section is read: the reader's buffer is sized to it
	// (up to bufio's default), not 4 KiB for every message.
	n := len(msg)
	if i := bytes.Index(msg, []byte("\n\r\n")); i >= 0 {
		n = i + 3
	} else if i := bytes.Index(msg, []byte("\n\n")); i >= 0 {
		n = i + 2
	}
	tr := textproto.NewReader(bufio.NewReaderSize(bytes.NewReader(msg[:n]), min(n, 4096)))
	h, _ := tr.ReadMIMEHeader()
	if h == nil {
		h = textproto.MIMEHeader{}
	}
	return h
}

// truncatedCopy is what an over-quota mailbox keeps of mail from a trusted
// sender: only From and Subject (DOMAIN.md, the Czech university).
func truncatedCopy(h textproto.MIMEHeader) []byte {
	var b bytes.Buffer
	for _, k := range []string{"From", "Subject"} {
		if v := h.Get(k); v != "" {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// loginServer is the server side of the LOGIN mechanism
// (draft-murchison-sasl-login): prompts "Username:" and "Password:".
type loginServer struct {
	auth  func(user, pass string) error
	state int
	user  string
}

func (l *loginServer) Next(response []byte) ([]byte, bool, error) {
	switch l.state {
	case 0:
		l.state = 1
		if response == nil {
			return []byte("Username:"), false, nil
		}
		fallthrough
	case 1:
		l.user = string(response)
		l.state = 2
		return []byte("Password:"), false, nil
	case 2:
		l.state = 3
		return nil, true, l.auth(l.user, string(response))
	}
	return nil, true, sasl.ErrUnexpectedClientResponse
}
