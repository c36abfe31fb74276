package attack

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// source is the i-th client address: attackers come from many addresses
// (a botnet), and every 127/8 address is this machine's loopback.
func source(i int) net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, byte(1+i/62500), byte(i/250%250), byte(1+i%250))}
}

// code is the SMTP reply code of err: 250 for nil, the code of an
// *smtp.SMTPError, 0 for anything else (the connection failed).
func code(err error) int {
	if err == nil {
		return 250
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// Codes counts replies by code; 0 counts connections that failed.
type Codes struct {
	mu sync.Mutex
	n  map[int]int
}

// Add counts one reply.
func (c *Codes) Add(code int) {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[int]int{}
	}
	c.n[code]++
	c.mu.Unlock()
}

// Get is the count of code.
func (c *Codes) Get(code int) int { c.mu.Lock(); defer c.mu.Unlock(); return c.n[code] }

// Total counts every reply.
func (c *Codes) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := 0
	for _, n := range c.n {
		t += n
	}
	return t
}

// String is "535×800 421×200".
func (c *Codes) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var keys []int
	for k := range c.n {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	var parts []string
	for _, k := range keys {
		name := strconv.Itoa(k)
		if k == 0 {
			name = "conn-failed"
		}
		parts = append(parts, fmt.Sprintf("%s×%d", name, c.n[k]))
	}
	return strings.Join(parts, " ")
}

// dial opens an SMTP session from the i-th source address, with STARTTLS
// when tls is set (the server's certificate is its own self-signed one).
func dial(ctx context.Context, addr string, i int, withTLS bool) (*smtp.Client, error) {
	d := net.Dialer{LocalAddr: source(i), Timeout: 30 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Minute))
	if !withTLS {
		c := smtp.NewClient(conn)
		if err := c.Hello("attacker.example"); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
	c, err := smtp.NewClientStartTLS(conn, &tls.Config{InsecureSkipVerify: true, ServerName: "mx.uni.example"})
	if err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// authOnce tries one AUTH PLAIN on a fresh submission session from the
// i-th address and returns the reply code (235 when it succeeded).
func authOnce(ctx context.Context, addr string, i int, user, pass string) int {
	c, err := dial(ctx, addr, i, true)
	if err != nil {
		return code(err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", user, pass)); err != nil {
		return code(err)
	}
	_ = c.Quit()
	return 235
}

// send mails msg from the i-th address and returns the final reply code
// (250 when accepted).
func send(ctx context.Context, addr string, i int, from string, to []string, msg []byte) int {
	c, err := dial(ctx, addr, i, false)
	if err != nil {
		return code(err)
	}
	defer c.Close()
	if err := c.Mail(from, nil); err != nil {
		return code(err)
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return code(err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return code(err)
	}
	if _, err := io.Copy(w, bytes.NewReader(msg)); err != nil {
		_ = w.Close()
		return code(err)
	}
	if err := w.Close(); err != nil {
		return code(err)
	}
	_ = c.Quit()
	return 250
}

// ordinary is a plain message for checking that ordinary mail still gets
// through.
func ordinary(subject string) []byte {
	return crlf(fmt.Sprintf("From: Kari <kari@else.example>\nTo: %s\nSubject: %s\nDate: %s\nMessage-ID: <%d@else.example>\n\nHello.\n",
		Mailbox, subject, time.Now().Format(time.RFC1123Z), time.Now().UnixNano()))
}

// crlf turns LF line ends into CRLF (RFC 5322 §2.1).
func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }
