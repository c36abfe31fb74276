// Package clamd owns the client side of ClamAV's clamd protocol (clamd(8),
// "COMMANDS"): PING, VERSION and INSTREAM over TCP or a unix socket, using
// the null-terminated "z" command form so replies are unambiguous.
package clamd

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// Client talks to one clamd. Network is "tcp" or "unix".
type Client struct {
	Network string
	Addr    string
	// Timeout bounds one command including the scan; default 30 s.
	Timeout time.Duration
	// ChunkSize is the INSTREAM chunk size; default 64 KiB (clamd's
	// StreamMaxLength still applies to the total).
	ChunkSize int
}

// Result is the outcome of a scan.
type Result struct {
	Infected  bool
	Signature string // e.g. "Eicar-Test-Signature" when Infected
}

// ErrScan is wrapped when clamd answered but could not scan (e.g. "INSTREAM
// size limit exceeded. ERROR").
var ErrScan = errors.New("clamd: scan error")

func (c *Client) dial(ctx context.Context) (net.Conn, error) {
	to := c.Timeout
	if to <= 0 {
		to = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, to)
	defer cancel()
	var d net.Dialer
	network := c.Network
	if network == "" {
		network = "tcp"
	}
	conn, err := d.DialContext(ctx, network, c.Addr)
	if err != nil {
		return nil, fmt.Errorf("clamd dial %s %s: %w", network, c.Addr, err)
	}
	_ = conn.SetDeadline(time.Now().Add(to))
	return conn, nil
}

func (c *Client) simple(ctx context.Context, cmd string) (string, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	if _, err := conn.Write([]byte("z" + cmd + "\x00")); err != nil {
		return "", fmt.Errorf("clamd %s: %w", cmd, err)
	}
	return readReply(conn, cmd)
}

func readReply(conn net.Conn, cmd string) (string, error) {
	r := bufio.NewReader(io.LimitReader(conn, 64<<10))
	s, err := r.ReadString(0)
	if err != nil && !(errors.Is(err, io.EOF) && s != "") {
		return "", fmt.Errorf("clamd %s reply: %w", cmd, err)
	}
	return strings.TrimRight(s, "\x00\n"), nil
}

// Ping checks that clamd answers PONG.
func (c *Client) Ping(ctx context.Context) error {
	s, err := c.simple(ctx, "PING")
	if err != nil {
		return err
	}
	if s != "PONG" {
		return fmt.Errorf("clamd PING: unexpected reply %q", s)
	}
	return nil
}

// Version returns clamd's version string, e.g. "ClamAV 1.4.3/…".
func (c *Client) Version(ctx context.Context) (string, error) {
	return c.simple(ctx, "VERSION")
}

// Scan streams r to clamd with INSTREAM: chunks each prefixed by their
// length as a 4-byte big-endian integer, ended by a zero-length chunk.
func (c *Client) Scan(ctx context.Context, r io.Reader) (Result, error) {
	conn, err := c.dial(ctx)
	if err != nil {
		return Result{}, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	size := c.ChunkSize
	if size <= 0 {
		size = 64 << 10
	}
	w := bufio.NewWriterSize(conn, size+4)
	if _, err := w.WriteString("zINSTREAM\x00"); err != nil {
		return Result{}, fmt.Errorf("clamd INSTREAM: %w", err)
	}
	buf := make([]byte, size)
	var hdr [4]byte
	for {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			binary.BigEndian.PutUint32(hdr[:], uint32(n))
			w.Write(hdr[:])
			if _, err := w.Write(buf[:n]); err != nil {
				// clamd closes the stream when the size limit is hit; its
				// reply says so.
				break
			}
		}
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) && !errors.Is(rerr, io.ErrUnexpectedEOF) {
				return Result{}, fmt.Errorf("clamd INSTREAM read: %w", rerr)
			}
			break
		}
	}
	w.Write([]byte{0, 0, 0, 0})
	_ = w.Flush()
	s, err := readReply(conn, "INSTREAM")
	if err != nil {
		return Result{}, err
	}
	return parseScan(s)
}

// parseScan reads "stream: OK", "stream: <signature> FOUND" or
// "<message> ERROR".
func parseScan(s string) (Result, error) {
	s = strings.TrimSpace(s)
	body := strings.TrimPrefix(s, "stream: ")
	switch {
	case body == "OK":
		return Result{}, nil
	case strings.HasSuffix(body, " FOUND"):
		return Result{Infected: true, Signature: strings.TrimSuffix(body, " FOUND")}, nil
	case strings.HasSuffix(body, " ERROR"):
		return Result{}, fmt.Errorf("%w: %s", ErrScan, strings.TrimSuffix(body, " ERROR"))
	}
	return Result{}, fmt.Errorf("%w: unexpected reply %q", ErrScan, s)
}

// ScanBytes scans b.
func (c *Client) ScanBytes(ctx context.Context, b []byte) (Result, error) {
	return c.Scan(ctx, bytes.NewReader(b))
}
