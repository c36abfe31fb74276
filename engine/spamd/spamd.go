// Package spamd owns the client side of SpamAssassin's spamd protocol
// (SPAMC/1.5, "spamd/PROTOCOL" in the SpamAssassin distribution): CHECK a
// message and read its score, and PING.
package spamd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// Client talks to one spamd over TCP ("host:port") or a unix socket.
type Client struct {
	Network string // "tcp" (default) or "unix"
	Addr    string
	Timeout time.Duration // default 30 s
}

// Result is spamd's verdict.
type Result struct {
	Spam      bool
	Score     float64
	Threshold float64
}

// ErrProtocol is wrapped when spamd answers something unexpected.
var ErrProtocol = errors.New("spamd: protocol error")

func (c *Client) do(ctx context.Context, verb string, body []byte) (map[string]string, error) {
	if body == nil {
		return c.doReader(ctx, verb, nil, -1)
	}
	return c.doReader(ctx, verb, bytes.NewReader(body), int64(len(body)))
}

// doReader sends a request whose body (size bytes, -1: none) is streamed
// from body.
func (c *Client) doReader(ctx context.Context, verb string, body io.Reader, size int64) (map[string]string, error) {
	to := c.Timeout
	if to <= 0 {
		to = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, to)
	defer cancel()
	network := c.Network
	if network == "" {
		network = "tcp"
	}
	conn, err := (&net.Dialer{}).DialContext(ctx, network, c.Addr)
	if err != nil {
		return nil, fmt.Errorf("spamd dial: %w", err)
	}
	defer conn.Close()
	dl, _ := ctx.Deadline()
	_ = conn.SetDeadline(dl)
	req := verb + " SPAMC/1.5\r\n"
	if size >= 0 {
		req += "Content-length: " + strconv.FormatInt(size, 10) + "\r\n"
	}
	req += "\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		return nil, fmt.Errorf("spamd %s: %w", verb, err)
	}
	if size >= 0 {
		if _, err := io.Copy(conn, io.LimitReader(body, size)); err != nil {
			return nil, fmt.Errorf("spamd %s: %w", verb, err)
		}
	}
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	r := bufio.NewReader(io.LimitReader(conn, 1<<20))
	status, err := r.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("spamd %s reply: %w", verb, err)
	}
	// "SPAMD/1.1 0 EX_OK"
	f := strings.Fields(status)
	if len(f) < 3 || !strings.HasPrefix(f[0], "SPAMD/") {
		return nil, fmt.Errorf("%w: status %q", ErrProtocol, strings.TrimSpace(status))
	}
	if f[1] != "0" {
		return nil, fmt.Errorf("%w: %s", ErrProtocol, strings.TrimSpace(status))
	}
	hdr := map[string]string{"status": strings.Join(f[2:], " ")}
	for {
		line, err := r.ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		if line == "" || err != nil {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			hdr[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
	}
	return hdr, nil
}

// Ping checks that spamd answers PONG.
func (c *Client) Ping(ctx context.Context) error {
	h, err := c.do(ctx, "PING", nil)
	if err != nil {
		return err
	}
	if h["status"] != "PONG" {
		return fmt.Errorf("%w: PING answered %q", ErrProtocol, h["status"])
	}
	return nil
}

// Check scores msg: "Spam: True ; 15.0 / 5.0".
func (c *Client) Check(ctx context.Context, msg []byte) (Result, error) {
	return c.CheckReader(ctx, bytes.NewReader(msg), int64(len(msg)))
}

// CheckReader is Check for a message of size bytes streamed from msg.
func (c *Client) CheckReader(ctx context.Context, msg io.Reader, size int64) (Result, error) {
	h, err := c.doReader(ctx, "CHECK", msg, size)
	if err != nil {
		return Result{}, err
	}
	v, ok := h["spam"]
	if !ok {
		return Result{}, fmt.Errorf("%w: no Spam header", ErrProtocol)
	}
	flag, scores, _ := strings.Cut(v, ";")
	s, t, _ := strings.Cut(scores, "/")
	var res Result
	res.Spam = strings.EqualFold(strings.TrimSpace(flag), "true") || strings.EqualFold(strings.TrimSpace(flag), "yes")
	if res.Score, err = strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
		return Result{}, fmt.Errorf("%w: score %q", ErrProtocol, v)
	}
	res.Threshold, _ = strconv.ParseFloat(strings.TrimSpace(t), 64)
	return res, nil
}
