// Package rspamd owns the client side of rspamd's HTTP scan API
// (POST /checkv2 on the normal worker, https://rspamd.com/doc/developers/protocol.html):
// the message with its envelope in request headers, the score, the
// required score, the action and the symbols in the JSON reply.
package rspamd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Client talks to one rspamd worker, e.g. BaseURL "http://127.0.0.1:11333".
type Client struct {
	BaseURL string
	HTTP    *http.Client // nil: a client with Timeout
	Timeout time.Duration
}

// Envelope is what rspamd is told about the transaction.
type Envelope struct {
	IP, HELO, From, User string
	Rcpts                []string
}

// Result is rspamd's verdict.
type Result struct {
	Score    float64
	Required float64
	Action   string // "no action", "add header", "rewrite subject", "reject", …
	Symbols  []string
}

// Check posts msg to /checkv2.
func (c *Client) Check(ctx context.Context, env Envelope, msg []byte) (Result, error) {
	return c.CheckReader(ctx, env, bytes.NewReader(msg), int64(len(msg)))
}

// CheckReader is Check for a message of size bytes streamed from msg.
func (c *Client) CheckReader(ctx context.Context, env Envelope, msg io.Reader, size int64) (Result, error) {
	hc := c.HTTP
	if hc == nil {
		to := c.Timeout
		if to <= 0 {
			to = 30 * time.Second
		}
		hc = &http.Client{Timeout: to}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.BaseURL, "/")+"/checkv2", io.LimitReader(msg, size))
	if err != nil {
		return Result{}, err
	}
	req.ContentLength = size
	for k, v := range map[string]string{"IP": env.IP, "Helo": env.HELO, "From": env.From, "User": env.User} {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	for _, r := range env.Rcpts {
		req.Header.Add("Rcpt", r)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("rspamd: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return Result{}, fmt.Errorf("rspamd: HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	var body struct {
		Score         float64                    `json:"score"`
		RequiredScore float64                    `json:"required_score"`
		Action        string                     `json:"action"`
		Symbols       map[string]json.RawMessage `json:"symbols"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&body); err != nil {
		return Result{}, fmt.Errorf("rspamd: reply: %w", err)
	}
	res := Result{Score: body.Score, Required: body.RequiredScore, Action: body.Action}
	for s := range body.Symbols {
		res.Symbols = append(res.Symbols, s)
	}
	sort.Strings(res.Symbols)
	return res, nil
}
