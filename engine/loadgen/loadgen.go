// Package loadgen owns `postvakt loadgen`: an SMTP load generator with a
// fixed concurrency, a total count or duration, an optional rate, a mix of
// message sizes, optional STARTTLS and AUTH PLAIN, and either a new
// connection per message or reused connections. It reports messages per
// second and latency percentiles. It refuses non-loopback targets unless
// told otherwise, so it cannot be pointed at someone else's server by
// accident.
package loadgen

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options configure a run.
type Options struct {
	Addr        string // host:port
	Concurrency int    // parallel sessions; default 10
	// Count is the total number of messages (default 1000 when Duration is
	// 0); Duration bounds the run by time instead.
	Count    int
	Duration time.Duration
	// Rate caps messages per second over all sessions (0: as fast as possible).
	Rate float64
	// Sizes are message sizes in bytes, used in turn; default 4096.
	Sizes []int
	From  string   // default loadgen@loadgen.invalid
	To    []string // recipients, used in turn; required
	// RcptsPerMessage recipients from To per message; default 1.
	RcptsPerMessage int
	HELO            string
	StartTLS        bool
	Username        string // AUTH PLAIN when set (after STARTTLS if enabled)
	Password        string
	// Reuse keeps a session's connection for its messages (RSET between);
	// otherwise every message opens a new connection.
	Reuse bool
	// Timeout per SMTP command; default 30 s.
	Timeout time.Duration
	// AllowNonLoopback permits a target outside 127.0.0.0/8 and ::1.
	AllowNonLoopback bool
	// OnAccepted is called with the Message-ID of every message the server
	// acknowledged with 250 (e.g. to check durability later).
	OnAccepted func(messageID string)
}

// Result summarises a run.
type Result struct {
	Attempted  int
	Accepted   int
	Rejected   int // 4xx/5xx replies
	Errors     int // connection and protocol errors
	Elapsed    time.Duration
	PerSecond  float64
	P50        time.Duration
	P90        time.Duration
	P99        time.Duration
	Max        time.Duration
	FirstError string
}

// Run sends the load and writes a summary to w (if not nil). It returns
// when the count is reached, the duration passes, or ctx is cancelled.
func Run(ctx context.Context, o Options, w io.Writer) (Result, error) {
	if err := o.defaults(); err != nil {
		return Result{}, err
	}
	if o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Duration)
		defer cancel()
	}
	var (
		next      atomic.Int64
		mu        sync.Mutex
		res       Result
		latencies []time.Duration
	)
	var tokens <-chan time.Time
	if o.Rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / o.Rate))
		defer t.Stop()
		tokens = t.C
	}
	runID := randomHex(4)
	record := func(lat time.Duration, err error, id string) {
		mu.Lock()
		defer mu.Unlock()
		res.Attempted++
		var se *smtp.SMTPError
		switch {
		case err == nil:
			res.Accepted++
			latencies = append(latencies, lat)
		case errors.As(err, &se):
			res.Rejected++
		default:
			res.Errors++
		}
		if err != nil && res.FirstError == "" {
			res.FirstError = err.Error()
		}
		if err == nil && o.OnAccepted != nil {
			o.OnAccepted(id)
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c *smtp.Client
			defer func() {
				if c != nil {
					_ = c.Quit()
					c.Close()
				}
			}()
			for {
				n := next.Add(1) - 1
				if (o.Count > 0 && n >= int64(o.Count)) || ctx.Err() != nil {
					return
				}
				if tokens != nil {
					select {
					case <-tokens:
					case <-ctx.Done():
						return
					}
				}
				id := fmt.Sprintf("<loadgen-%s-%d@loadgen.invalid>", runID, n)
				t0 := time.Now()
				var err error
				if c == nil {
					c, err = o.dial(ctx)
				}
				if err == nil {
					err = o.send(c, n, id)
				}
				lat := time.Since(t0)
				if ctx.Err() != nil && err != nil {
					return // cut off by the end of the run: not a result
				}
				record(lat, err, id)
				if c != nil && (!o.Reuse || err != nil) {
					if err == nil {
						_ = c.Quit()
					}
					c.Close()
					c = nil
				}
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	if res.Elapsed > 0 {
		res.PerSecond = float64(res.Accepted) / res.Elapsed.Seconds()
	}
	slices.Sort(latencies)
	res.P50, res.P90, res.P99 = pct(latencies, 0.50), pct(latencies, 0.90), pct(latencies, 0.99)
	if len(latencies) > 0 {
		res.Max = latencies[len(latencies)-1]
	}
	if w != nil {
		fmt.Fprintf(w, "messages: %d attempted, %d accepted, %d rejected, %d errors in %s\n",
			res.Attempted, res.Accepted, res.Rejected, res.Errors, res.Elapsed.Round(time.Millisecond))
		fmt.Fprintf(w, "throughput: %.1f msgs/s\n", res.PerSecond)
		fmt.Fprintf(w, "latency: p50 %s  p90 %s  p99 %s  max %s\n", res.P50.Round(time.Microsecond),
			res.P90.Round(time.Microsecond), res.P99.Round(time.Microsecond), res.Max.Round(time.Microsecond))
		if res.FirstError != "" {
			fmt.Fprintf(w, "first error: %s\n", res.FirstError)
		}
	}
	return res, nil
}

func pct(s []time.Duration, p float64) time.Duration {
	if len(s) == 0 {
		return 0
	}
	i := int(float64(len(s)-1) * p)
	return s[i]
}

func (o *Options) defaults() error {
	if o.Addr == "" {
		return errors.New("loadgen: address required")
	}
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return fmt.Errorf("loadgen: address %q: %w", o.Addr, err)
	}
	if !o.AllowNonLoopback {
		ip := net.ParseIP(host)
		if (ip == nil && host != "localhost") || (ip != nil && !ip.IsLoopback()) {
			return fmt.Errorf("loadgen: %s is not a loopback address (set AllowNonLoopback to load a remote server)", host)
		}
	}
	if len(o.To) == 0 {
		return errors.New("loadgen: at least one recipient required")
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 10
	}
	if o.Count <= 0 && o.Duration <= 0 {
		o.Count = 1000
	}
	if len(o.Sizes) == 0 {
		o.Sizes = []int{4096}
	}
	if o.From == "" {
		o.From = "loadgen@loadgen.invalid"
	}
	if o.RcptsPerMessage <= 0 {
		o.RcptsPerMessage = 1
	}
	if o.HELO == "" {
		o.HELO = "loadgen.invalid"
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	return nil
}

func (o *Options) dial(ctx context.Context) (*smtp.Client, error) {
	d := net.Dialer{Timeout: o.Timeout}
	conn, err := d.DialContext(ctx, "tcp", o.Addr)
	if err != nil {
		return nil, err
	}
	var c *smtp.Client
	if o.StartTLS {
		// go-smtp's STARTTLS client greets as "localhost".
		host, _, _ := net.SplitHostPort(o.Addr)
		c, err = smtp.NewClientStartTLS(conn, &tls.Config{ServerName: host, InsecureSkipVerify: true}) //nolint:gosec // load testing our own server
		if err != nil {
			conn.Close()
			return nil, err
		}
	} else {
		c = smtp.NewClient(conn)
		if err := c.Hello(o.HELO); err != nil {
			c.Close()
			return nil, err
		}
	}
	c.CommandTimeout = o.Timeout
	c.SubmissionTimeout = o.Timeout
	if o.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", o.Username, o.Password)); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

func (o *Options) send(c *smtp.Client, n int64, id string) error {
	if err := c.Mail(o.From, nil); err != nil {
		return err
	}
	for i := range o.RcptsPerMessage {
		if err := c.Rcpt(o.To[(int(n)*o.RcptsPerMessage+i)%len(o.To)], nil); err != nil {
			_ = c.Reset()
			return err
		}
	}
	wc, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := wc.Write(message(id, o.From, o.Sizes[int(n)%len(o.Sizes)])); err != nil {
		return err
	}
	return wc.Close()
}

// message builds a message of about size bytes with lines of 76 characters.
func message(id, from string, size int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: <%s>\r\nTo: <loadgen@loadgen.invalid>\r\nSubject: loadgen %s\r\nMessage-ID: %s\r\nDate: %s\r\n\r\n",
		from, id, id, time.Now().Format(time.RFC1123Z))
	line := strings.Repeat("x", 76) + "\r\n"
	for b.Len() < size {
		b.WriteString(line)
	}
	return []byte(b.String())
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
