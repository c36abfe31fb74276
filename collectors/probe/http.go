package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"time"
)

// maxBody bounds how much of an HTTP body is read for expect_body.
const maxBody = 1 << 20

// probeHTTP requests the URL (without following redirects) and checks the
// status, the body and the certificate.
func (p *prober) probeHTTP(ctx context.Context, a *attempt, t Target) error {
	u, err := url.Parse(t.Address)
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	tcfg, err := tlsConfig(t.TLSServerName, t.TLSCAFile, t.TLSInsecureSkipVerify, u.Hostname())
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	if t.TLSServerName == "" {
		tcfg.ServerName = ""
	}
	tr := &http.Transport{
		TLSClientConfig:   tcfg,
		DisableKeepAlives: true,
		DialContext:       (&net.Dialer{}).DialContext,
		Proxy:             nil, // probe the server itself
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	var connStart, connDone, tlsStart, tlsDone, wrote time.Time
	var tlsState *tls.ConnectionState
	var connAddr string
	var connErr, tlsErr error
	trace := &httptrace.ClientTrace{
		ConnectStart: func(string, string) { connStart = time.Now() },
		ConnectDone: func(_, addr string, err error) {
			connDone, connAddr, connErr = time.Now(), addr, err
		},
		TLSHandshakeStart: func() { tlsStart = time.Now() },
		TLSHandshakeDone: func(cs tls.ConnectionState, err error) {
			tlsDone, tlsErr = time.Now(), err
			if err == nil {
				tlsState = &cs
			}
		},
		WroteRequest: func(httptrace.WroteRequestInfo) { wrote = time.Now() },
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, t.Address, nil)
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	req.Header.Set("User-Agent", "postvakt-probe")
	start := time.Now()
	resp, doErr := client.Do(req)
	end := time.Now()

	add := func(name string, from, to time.Time, detail string, err error) {
		s := Step{Name: name, Duration: to.Sub(from), Detail: detail}
		if err != nil {
			s.Err = err.Error()
		}
		a.steps = append(a.steps, s)
	}
	if !connStart.IsZero() {
		if connDone.IsZero() {
			connDone = end
		}
		add("connect", connStart, connDone, connAddr, connErr)
	}
	if !tlsStart.IsZero() {
		if tlsDone.IsZero() {
			tlsDone = end
		}
		detail := ""
		if tlsState != nil {
			detail = a.sawTLS(*tlsState, p.now())
		}
		add("tls", tlsStart, tlsDone, detail, tlsErr)
	}
	if doErr != nil {
		err := fmt.Errorf("http: %w", unwrapURLError(doErr))
		add("response", start, end, "", err)
		return err
	}
	defer resp.Body.Close()
	from := wrote
	if from.IsZero() {
		from = start
	}
	var statusErr error
	if resp.StatusCode != t.ExpectStatus {
		statusErr = fmt.Errorf("http: status %d, want %d", resp.StatusCode, t.ExpectStatus)
	}
	add("response", from, end, resp.Proto+" "+resp.Status, statusErr)
	if statusErr != nil {
		return statusErr
	}
	return a.step("body", func() (string, error) {
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
		if err != nil {
			return "", fmt.Errorf("http: body: %w", err)
		}
		if t.ExpectBody != "" && !strings.Contains(string(body), t.ExpectBody) {
			return fmt.Sprintf("%d bytes", len(body)), fmt.Errorf("http: the body does not contain %q", t.ExpectBody)
		}
		return fmt.Sprintf("%d bytes", len(body)), nil
	})
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
