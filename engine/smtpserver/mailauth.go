package smtpserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/mail"
	"net/textproto"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/engine/addr"
	"github.com/uni-mail/postvakt/engine/mailauth"
	"github.com/uni-mail/postvakt/engine/spool"
)

// MailAuth is the authenticity of mail at the session (package mailauth):
// the checks of incoming mail on the MX, the rewriting of a nickname
// sender to the permanent address, and the DKIM signature of outgoing
// mail.
type MailAuth struct {
	// Checker checks mail arriving unauthenticated on the MX; nil checks
	// nothing.
	Checker *mailauth.Checker
	// CheckTimeout bounds the checks of one message (all their DNS
	// questions together); what is unanswered by then is a temperror.
	// 0 means DefaultCheckTimeout.
	CheckTimeout time.Duration
	// EnforceDMARC refuses mail that fails DMARC when its domain publishes
	// p=reject (550 5.7.1, RFC 7489 §6.6.4); otherwise such mail is
	// accepted and marked as for quarantine.
	EnforceDMARC bool
	// Signer signs submitted mail with the key of its From: domain; nil
	// signs nothing.
	Signer *mailauth.Signer
	// RewriteFrom says whether a domain's nicknames are rewritten to the
	// permanent address in submitted mail (smtp.directory.rewrite_from).
	RewriteFrom func(domain string) bool
	// Count counts an outcome (kind "spf", "dkim", "dmarc" for the MX's
	// checks, "dkim_sign", "from_rewrite"; result a closed set); nil
	// counts nothing.
	Count func(kind, result string)
}

// DefaultCheckTimeout is MailAuth.CheckTimeout when unset.
const DefaultCheckTimeout = 5 * time.Second

func (m *MailAuth) count(kind, result string) {
	if m.Count != nil {
		m.Count(kind, result)
	}
}

// outgoing says whether the session submits mail (signed, rewritten) rather
// than delivering it to the MX (checked).
func (s *session) outgoing() bool { return s.spec.Submission || s.authUser != "" }

// checkInbound runs the MX's checks over the received message (the spool
// with the engine's Received: field).
func (s *session) checkInbound(ma *MailAuth, sp *spool.File) (mailauth.Result, bool) {
	if ma == nil || ma.Checker == nil || s.outgoing() {
		return mailauth.Result{}, false
	}
	timeout := ma.CheckTimeout
	if timeout <= 0 {
		timeout = DefaultCheckTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	res := ma.Checker.Check(ctx, mailauth.Input{ClientIP: s.ip, HELO: s.conn.Hostname(), MailFrom: s.fromRaw,
		Open: func() io.Reader { return io.NewSectionReader(sp, 0, sp.Size()) }})
	ma.count("spf", res.SPF)
	ma.count("dkim", res.DKIM)
	ma.count("dmarc", res.DMARC)
	return res, true
}

// combined is the message as it will be stored: prefix, then sp from
// offset from on.
func combined(prefix []byte, sp *spool.File, from int64) io.Reader {
	return io.MultiReader(bytes.NewReader(prefix), io.NewSectionReader(sp, from, sp.Size()-from))
}

// prepareOutgoing rewrites a nickname sender to the permanent address
// (envelope and From:, the display name kept) where the nickname's domain
// asks for it, then signs the message with DKIM. It returns the new
// prefix and offset of what is stored, the original sender when it was
// rewritten, and the signing domain.
func (s *session) prepareOutgoing(ma *MailAuth, prefix []byte, sp *spool.File, from int64) ([]byte, int64, string, string, error) {
	if ma == nil || !s.outgoing() {
		return prefix, from, "", "", nil
	}
	var original string
	if ma.RewriteFrom != nil && s.authUser != "" && s.authNick != "" {
		nick, err1 := addr.Parse(s.authNick)
		perm, err2 := addr.Parse(s.authUser)
		if err1 == nil && err2 == nil && ma.RewriteFrom(nick.Domain) {
			var orig []string
			if s.from != nil && s.from.Key() == nick.Key() {
				orig = append(orig, "envelope "+s.fromRaw)
				s.from, s.fromRaw = &perm, perm.String()
			}
			p, f, old, changed, err := rewriteHeaderFrom(prefix, sp, from, nick.Key(), perm.String())
			if err != nil {
				return nil, 0, "", "", err
			}
			if changed {
				prefix, from = p, f
				orig = append(orig, "From: "+old)
			}
			if len(orig) > 0 {
				original = strings.Join(orig, "; ")
				ma.count("from_rewrite", "rewritten")
			}
		}
	}
	var signed string
	if ma.Signer != nil {
		d, err := headerFromDomain(combined(prefix, sp, from))
		if err == nil {
			field, ok, err := ma.Signer.Sign(combined(prefix, sp, from), d)
			switch {
			case err != nil:
				ma.count("dkim_sign", "error")
				s.log.Warn("dkim signing failed; sending unsigned", "domain", d, "err", err)
			case ok:
				ma.count("dkim_sign", "signed")
				prefix, signed = append([]byte(field), prefix...), d
			default:
				ma.count("dkim_sign", "no_key")
			}
		}
	}
	return prefix, from, original, signed, nil
}

// readHeader returns the header section of r (with the empty line that
// ends it), at most maxHeaderScan bytes; ok is false without one.
func readHeader(r io.Reader) ([]byte, bool) {
	b, err := io.ReadAll(io.LimitReader(r, maxHeaderScan))
	if err != nil {
		return nil, false
	}
	if i := bytes.Index(b, []byte("\n\r\n")); i >= 0 {
		return b[:i+3], true
	}
	if i := bytes.Index(b, []byte("\n\n")); i >= 0 {
		return b[:i+2], true
	}
	return nil, false
}

func headerFromDomain(r io.Reader) (string, error) {
	h, ok := readHeader(r)
	if !ok {
		return "", errors.New("no header section")
	}
	a, err := mail.ParseAddress(parseHeader(h).Get("From"))
	if err != nil {
		return "", err
	}
	at := strings.LastIndexByte(a.Address, '@')
	if at < 0 {
		return "", errors.New("no domain")
	}
	return strings.ToLower(a.Address[at+1:]), nil
}

// rewriteHeaderFrom replaces the From: field of the stored message when
// its single address is nick, keeping the display name.
func rewriteHeaderFrom(prefix []byte, sp *spool.File, from int64, nick, perm string) ([]byte, int64, string, bool, error) {
	var old string
	p, f, changed := editHeader(prefix, sp, from, func(h []byte) ([]byte, bool) {
		nh, o, ok := mailauth.RewriteFrom(h, nick, perm)
		old = o
		return nh, ok
	})
	return p, f, old, changed, nil
}

// stripForgedAuthResults removes Authentication-Results fields that claim
// this MX's authserv-id from the stored message (RFC 8601 §5).
func stripForgedAuthResults(prefix []byte, sp *spool.File, from int64, authServID string) ([]byte, int64, bool) {
	return editHeader(prefix, sp, from, func(h []byte) ([]byte, bool) {
		nh, n := mailauth.StripAuthResults(h, authServID)
		return nh, n > 0
	})
}

// editHeader applies edit to the header section of the stored message
// (prefix, then sp from offset from on) and returns the new prefix and
// offset; unchanged when edit changes nothing or there is no header
// section within maxHeaderScan.
func editHeader(prefix []byte, sp *spool.File, from int64, edit func([]byte) ([]byte, bool)) ([]byte, int64, bool) {
	h, ok := readHeader(combined(prefix, sp, from))
	if !ok {
		return prefix, from, false
	}
	nh, changed := edit(h)
	if !changed {
		return prefix, from, false
	}
	n := int64(len(h))
	if n <= int64(len(prefix)) {
		return append(nh, prefix[n:]...), from, true
	}
	return nh, from + n - int64(len(prefix)), true
}

// parseHeaderOf parses the header section of the stored message.
func parseHeaderOf(prefix []byte, sp *spool.File, from int64) textproto.MIMEHeader {
	h, _ := readHeader(combined(prefix, sp, from))
	return parseHeader(h)
}
