// Package dovecotauth owns SMTP AUTH through Dovecot's authentication
// service: the client side of Dovecot's authentication protocol on its
// auth-client socket (unix or TCP), as Postfix speaks it with
// smtpd_sasl_type = dovecot (Dovecot's "Authentication protocol" design
// document): the handshake (VERSION 1.2 and CPID from the client;
// VERSION, MECH, SPID, CUID, COOKIE and DONE from the server), then
// AUTH <id> PLAIN service=smtp secured resp=<base64> answered by OK, FAIL
// (with "temp" for a temporary failure) or CONT. Dovecot checks the
// password against its own passdb and hashes it itself: the password
// never touches postvakt's store. Requests in flight are bounded, so a
// burst of AUTH cannot pile connections onto Dovecot.
package dovecotauth

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/uni-mail/postvakt/engine/directory"
)

// Result is the closed set of answers (a metric label).
type Result string

// The results.
const (
	ResultOK   Result = "ok"
	ResultFail Result = "fail" // wrong user name or password
	// ResultTemp is Dovecot's temporary failure (FAIL … temp), a
	// protocol or connection error, or no answer in time.
	ResultTemp Result = "temp_fail"
	// ResultBusy: no request slot within the wait (MaxConcurrent).
	ResultBusy Result = "busy"
)

// Results lists every Result.
var Results = []Result{ResultOK, ResultFail, ResultTemp, ResultBusy}

// Options configure a Client.
type Options struct {
	// Network and Addr are the auth-client socket: "unix" and its path, or
	// "tcp" and host:port (an inet_listener of service auth).
	Network, Addr string
	// Service is the service name Dovecot sees (service=); default "smtp".
	Service string
	// MaxConcurrent bounds requests in flight; default 16. Wait is how
	// long a request waits for a slot before it is ResultBusy; default 5s.
	MaxConcurrent int
	Wait          time.Duration
	// Timeout bounds one request (connect, handshake, answer); default 10s.
	Timeout time.Duration
	// Metrics receives postvakt_smtp_dovecot_auth_total{result} and
	// postvakt_smtp_dovecot_auth_in_flight; nil: none.
	Metrics *metrics.Set
	// Dial opens connections; nil: a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Client asks Dovecot's authentication service, one connection per
// request.
type Client struct {
	o        Options
	sem      chan struct{}
	nextID   atomic.Uint64
	results  map[Result]*metrics.Counter
	inFlight atomic.Int64
}

// New returns a Client.
func New(o Options) *Client {
	if o.Service == "" {
		o.Service = "smtp"
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 16
	}
	if o.Wait <= 0 {
		o.Wait = 5 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Dial == nil {
		o.Dial = (&net.Dialer{}).DialContext
	}
	c := &Client{o: o, sem: make(chan struct{}, o.MaxConcurrent), results: map[Result]*metrics.Counter{}}
	if o.Metrics != nil {
		for _, r := range Results {
			c.results[r] = o.Metrics.GetOrCreateCounter(fmt.Sprintf(`postvakt_smtp_dovecot_auth_total{result=%q}`, r))
		}
		o.Metrics.GetOrCreateGauge("postvakt_smtp_dovecot_auth_in_flight", func() float64 { return float64(c.inFlight.Load()) })
	}
	return c
}

// Answer is Dovecot's answer to one request.
type Answer struct {
	Result Result
	// User is the canonical user name Dovecot returned (OK user=), or the
	// name asked about.
	User string
	// Reason is Dovecot's reason for a failure (for the log), if any.
	Reason string
}

// Request is one AUTH to ask about.
type Request struct {
	Username, Password string
	// Client is the SMTP client's address (rip=), for Dovecot's log and
	// its per-client penalty; the zero value sends none.
	Client netip.Addr
	// Secured tells Dovecot the client's channel is encrypted (postvakt
	// takes AUTH only after TLS, or from loopback when configured).
	Secured bool
}

// Authenticate asks whether the request's user name and password are
// valid, with the PLAIN mechanism (RFC 4616). err is set for ResultTemp
// and ResultBusy.
func (c *Client) Authenticate(ctx context.Context, q Request) (Answer, error) {
	ans, err := c.authenticate(ctx, q)
	if ctr := c.results[ans.Result]; ctr != nil {
		ctr.Inc()
	}
	return ans, err
}

func (c *Client) authenticate(ctx context.Context, q Request) (Answer, error) {
	username, password := q.Username, q.Password
	if strings.ContainsRune(username, 0) || strings.ContainsRune(password, 0) {
		return Answer{Result: ResultFail, User: username, Reason: "NUL in credentials"}, nil
	}
	wait := time.NewTimer(c.o.Wait)
	defer wait.Stop()
	select {
	case c.sem <- struct{}{}:
	case <-wait.C:
		return Answer{Result: ResultBusy, User: username}, errors.New("dovecot auth: no request slot in time")
	case <-ctx.Done():
		return Answer{Result: ResultBusy, User: username}, ctx.Err()
	}
	c.inFlight.Add(1)
	defer func() { <-c.sem; c.inFlight.Add(-1) }()

	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	temp := func(err error) (Answer, error) {
		return Answer{Result: ResultTemp, User: username}, fmt.Errorf("dovecot auth %s: %w", c.o.Addr, err)
	}
	conn, err := c.o.Dial(ctx, c.o.Network, c.o.Addr)
	if err != nil {
		return temp(err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	if _, err := fmt.Fprintf(conn, "VERSION\t1\t2\nCPID\t%d\n", os.Getpid()); err != nil {
		return temp(err)
	}
	r := bufio.NewReaderSize(conn, 4096)
	plain := false
	for {
		line, err := readLine(r)
		if err != nil {
			return temp(fmt.Errorf("handshake: %w", err))
		}
		f := strings.Split(line, "\t")
		switch f[0] {
		case "VERSION":
			if len(f) < 2 || f[1] != "1" {
				return temp(fmt.Errorf("unsupported protocol version %q", line))
			}
		case "MECH":
			if len(f) > 1 && strings.EqualFold(f[1], "PLAIN") {
				plain = true
			}
		}
		if f[0] == "DONE" {
			break
		}
	}
	if !plain {
		return temp(errors.New("the auth service does not offer PLAIN"))
	}
	id := c.nextID.Add(1)
	resp := base64.StdEncoding.EncodeToString([]byte("\x00" + username + "\x00" + password))
	req := fmt.Sprintf("AUTH\t%d\tPLAIN\tservice=%s", id, c.o.Service)
	if q.Secured {
		req += "\tsecured"
	}
	if q.Client.IsValid() {
		req += "\trip=" + q.Client.Unmap().String()
	}
	if _, err := fmt.Fprintf(conn, "%s\tresp=%s\n", req, resp); err != nil {
		return temp(err)
	}
	for {
		line, err := readLine(r)
		if err != nil {
			return temp(fmt.Errorf("answer: %w", err))
		}
		f := strings.Split(line, "\t")
		if len(f) < 2 || f[1] != strconv.FormatUint(id, 10) {
			continue // not ours (nothing else is asked on this connection)
		}
		params := map[string]string{}
		flags := map[string]bool{}
		for _, p := range f[2:] {
			if k, v, ok := strings.Cut(p, "="); ok {
				params[k] = unescape(v)
			} else {
				flags[p] = true
			}
		}
		user := params["user"]
		if user == "" {
			user = username
		}
		switch f[0] {
		case "OK":
			return Answer{Result: ResultOK, User: user}, nil
		case "FAIL":
			if flags["temp"] {
				return Answer{Result: ResultTemp, User: user, Reason: params["reason"]}, fmt.Errorf("dovecot auth: temporary failure: %s", params["reason"])
			}
			return Answer{Result: ResultFail, User: user, Reason: params["reason"]}, nil
		case "CONT":
			return temp(errors.New("unexpected CONT to PLAIN with an initial response"))
		}
		return temp(fmt.Errorf("unexpected answer %q", f[0]))
	}
}

// maxLine bounds one line from the auth service.
const maxLine = 16 << 10

func readLine(r *bufio.Reader) (string, error) {
	var b []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			return "", err
		}
		b = append(b, chunk...)
		if len(b) > maxLine {
			return "", errors.New("line too long")
		}
		if !isPrefix {
			return string(b), nil
		}
	}
}

// unescape undoes Dovecot's tab escaping of values (\001 followed by 1,
// t, r or n).
func unescape(s string) string {
	if !strings.ContainsRune(s, '\x01') {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\x01' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case '1':
			b.WriteByte('\x01')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'n':
			b.WriteByte('\n')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// Accounts names the account of a user Dovecot signed in:
// *directory.Directory.
type Accounts interface {
	// Account returns the mailbox whose permanent address or nickname is
	// name, or an error wrapping directory.ErrNotFound.
	Account(ctx context.Context, name string) (directory.Mailbox, error)
}

// Authenticator checks SMTP AUTH through Dovecot and maps the signed-in
// user to postvakt's account, so that smtp.enforce_sender_login and the
// account lock hold as for postvakt's own passwords: a user with a mailbox
// in the directory sends as its permanent address or nickname and is
// refused while locked; a user only Dovecot knows sends as its login name.
// No password hash of the directory is read.
type Authenticator struct {
	Client   *Client
	Accounts Accounts
}

// Authenticate implements the session's Authenticator without a client
// address.
func (a *Authenticator) Authenticate(ctx context.Context, username, password string) (directory.Mailbox, directory.AuthResult, error) {
	return a.AuthenticateFrom(ctx, username, password, netip.Addr{})
}

// AuthenticateFrom is Authenticate for a client at ip. PLAIN is sent as
// "secured": the session takes AUTH only over TLS (or from loopback with
// smtp.insecure_auth_loopback).
func (a *Authenticator) AuthenticateFrom(ctx context.Context, username, password string, ip netip.Addr) (directory.Mailbox, directory.AuthResult, error) {
	ans, err := a.Client.Authenticate(ctx, Request{Username: username, Password: password, Client: ip, Secured: true})
	switch ans.Result {
	case ResultBusy:
		return directory.Mailbox{}, directory.AuthBusy, err
	case ResultTemp:
		return directory.Mailbox{}, directory.AuthError, err
	case ResultFail:
		// Dovecot does not say whether the user or the password was wrong.
		return directory.Mailbox{}, directory.AuthBadPassword, nil
	}
	m, err := a.Accounts.Account(ctx, ans.User)
	switch {
	case errors.Is(err, directory.ErrNotFound):
		return directory.Mailbox{Address: strings.ToLower(ans.User)}, directory.AuthOK, nil
	case err != nil:
		return directory.Mailbox{}, directory.AuthError, err
	case m.Locked:
		return directory.Mailbox{}, directory.AuthLocked, nil
	}
	m.PasswordHash = ""
	return m, directory.AuthOK, nil
}
