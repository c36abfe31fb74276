package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// writeCert writes a self-signed certificate for cn and its key to
// cert and key.
func writeCert(t *testing.T, cn, cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{cn}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	// Written beside and renamed into place, as certbot's deploy hooks do.
	for _, f := range []struct {
		path string
		data []byte
	}{{key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})}, {cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}} {
		if err := os.WriteFile(f.path+".new", f.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(f.path+".new", f.path); err != nil {
			t.Fatal(err)
		}
	}
}

// peerCN returns the common name of the certificate c's STARTTLS got.
func peerCN(t *testing.T, c *smtp.Client) string {
	t.Helper()
	st, ok := c.TLSConnectionState()
	if !ok || len(st.PeerCertificates) == 0 {
		t.Fatal("no TLS state after STARTTLS")
	}
	return st.PeerCertificates[0].Subject.CommonName
}

// rcpt runs MAIL and RCPT on c and returns RCPT's reply code (250 when it
// is accepted).
func rcpt(t *testing.T, c *smtp.Client, from, to string) int {
	t.Helper()
	if err := c.Mail(from, nil); err != nil {
		t.Fatalf("MAIL: %v", err)
	}
	err := c.Rcpt(to, nil)
	var se *smtp.SMTPError
	switch {
	case err == nil:
		return 250
	case errors.As(err, &se):
		return se.Code
	}
	t.Fatalf("RCPT: %v", err)
	return 0
}

// TestSIGHUPReloadsWhitelistAndCertificate (docs/configuration.md,
// "Reloading"): a real `postvakt serve` with the engine on loopback. An
// SMTP session opened (and upgraded to TLS) before SIGHUP survives it and
// goes on under the new whitelist; a new STARTTLS session sees the new
// certificate; a client the new whitelist names passes greylisting, which
// greylisted it before. A broken certificate, and a file with an error,
// are refused with FILE:LINE and change nothing. POST /api/v1/admin/reload
// answers the same report.
func TestSIGHUPReloadsWhitelistAndCertificate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "mx.crt"), filepath.Join(dir, "mx.key")
	writeCert(t, "old.uni.example", certFile, keyFile)
	httpAddr, mxAddr := freeAddr(t), freeAddr(t)
	yaml := func(whitelist, hostname string) string {
		return `data_dir: ` + filepath.Join(dir, "data") + `
http:
  listen: ` + httpAddr + `
smtp:
  enabled: true
  hostname: ` + hostname + `
  mx:
    listen: ` + mxAddr + `
  submission:
    listen: ""
  tls:
    cert_file: ` + certFile + `
    key_file: ` + keyFile + `
  whitelist:
    clients: [` + whitelist + `]
  directory:
    domains: [uni.example]
    mailboxes:
      - {address: ola@uni.example}
`
	}
	cfg := filepath.Join(dir, "postvakt.yaml")
	if err := os.WriteFile(cfg, []byte(yaml("192.0.2.1/32", "mx.uni.example")), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, []string{"POSTVAKT_SMTP_ENABLED=true"}, "--config", cfg)
	waitHTTP(t, p, "http://"+httpAddr+"/readyz")
	dial := func() *smtp.Client {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, err := smtp.DialStartTLS(mxAddr, &tls.Config{InsecureSkipVerify: true})
			if err == nil {
				if err := c.Hello("client.example"); err != nil { // EHLO again, over TLS
					t.Fatal(err)
				}
				return c
			}
			if time.Now().After(deadline) {
				t.Fatalf("dial %s: %v\n%s", mxAddr, err, p.log())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// Before: 127.0.0.1 is not whitelisted, so greylisting answers 451.
	before := dial()
	defer before.Close()
	if cn := peerCN(t, before); cn != "old.uni.example" {
		t.Fatalf("certificate before the reload: %s", cn)
	}
	if code := rcpt(t, before, "alice@sender.example", "ola@uni.example"); code != 451 {
		t.Fatalf("RCPT before the reload: %d, want 451 (greylisted)", code)
	}
	if err := before.Reset(); err != nil {
		t.Fatal(err)
	}

	// A new certificate and a whitelist that names the client; also a
	// key that needs a restart.
	writeCert(t, "new.uni.example", certFile, keyFile)
	if err := os.WriteFile(cfg, []byte(yaml("127.0.0.1/32", "mx2.uni.example")), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, p, "configuration reloaded")
	logs := p.log()
	for _, want := range []string{"applied=smtp.whitelist.clients", "smtp.tls: new certificate for new TLS sessions: new.uni.example", "restart_required=smtp.hostname"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the reload's log lacks %q:\n%s", want, logs)
		}
	}

	// The session opened before the reload is still there and is now
	// whitelisted: its message is accepted (250 after DATA).
	if code := rcpt(t, before, "alice@sender.example", "ola@uni.example"); code != 250 {
		t.Fatalf("RCPT in the session opened before the reload: %d, want 250", code)
	}
	w, err := before.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("From: alice@sender.example\r\nSubject: across the reload\r\n\r\nhello\r\n")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("DATA in the session opened before the reload: %v", err)
	}
	if err := before.Quit(); err != nil {
		t.Errorf("QUIT: %v", err)
	}

	// A new session gets the new certificate, and passes greylisting.
	after := dial()
	if cn := peerCN(t, after); cn != "new.uni.example" {
		t.Errorf("certificate of a new session after the reload: %s, want new.uni.example", cn)
	}
	if code := rcpt(t, after, "bob@other.example", "ola@uni.example"); code != 250 {
		t.Errorf("RCPT of a whitelisted client after the reload: %d, want 250", code)
	}
	after.Close()

	// A broken certificate: refused with the file and line of cert_file,
	// and nothing changes (new sessions keep the new certificate, the
	// whitelist stays).
	if err := os.WriteFile(certFile, []byte("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, []byte(yaml("192.0.2.1/32", "mx2.uni.example")), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Process.Signal(syscall.SIGHUP)
	waitLog(t, p, "configuration rejected")
	certLine := cfg + ":" + strconv.Itoa(1+strings.Count(yaml("", "")[:strings.Index(yaml("", ""), "cert_file:")], "\n")) + ": smtp.tls.cert_file"
	waitLog(t, p, certLine)
	again := dial()
	if cn := peerCN(t, again); cn != "new.uni.example" {
		t.Errorf("certificate after a refused reload: %s", cn)
	}
	if code := rcpt(t, again, "carol@third.example", "ola@uni.example"); code != 250 {
		t.Errorf("RCPT after a refused reload: %d, want 250 (the whitelist of the last good reload)", code)
	}
	again.Close()

	// The same through the API (admin): a file with an error is 422 with
	// FILE:LINE; a good one answers the report.
	ctx := t.Context()
	code, out, errOut := runCLI(t, "token", "create", "--config", cfg, "--name", "ops", "--role", "admin", "--json")
	var tok struct{ Secret string }
	if code != exitOK || json.Unmarshal([]byte(out), &tok) != nil || tok.Secret == "" {
		t.Fatalf("token: %d %s %s", code, out, errOut)
	}
	post := func() (int, string) {
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+httpAddr+"/api/v1/admin/reload", nil)
		req.Header.Set("Authorization", "Bearer "+tok.Secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post(); code != http.StatusUnprocessableEntity || !strings.Contains(body, `"invalid_configuration"`) ||
		!strings.Contains(body, certLine) {
		t.Errorf("API reload with a broken certificate: %d %s", code, body)
	}
	writeCert(t, "third.uni.example", certFile, keyFile)
	if err := os.WriteFile(cfg, []byte(yaml("192.0.2.1/32", "mx2.uni.example")+"  greylist:\n    delay: oops\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, body := post(); code != http.StatusUnprocessableEntity || !strings.Contains(body, cfg+":") {
		t.Errorf("API reload of a file with an error: %d %s", code, body)
	}
	if err := os.WriteFile(cfg, []byte(yaml("192.0.2.1/32", "mx2.uni.example")), 0o600); err != nil {
		t.Fatal(err)
	}
	code, body := post()
	var rep struct {
		Applied         []string `json:"applied"`
		Notes           []string `json:"notes"`
		RestartRequired []string `json:"restart_required"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &rep) != nil || strings.Join(rep.Applied, ",") != "smtp.whitelist.clients" ||
		strings.Join(rep.RestartRequired, ",") != "smtp.hostname" || len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "third.uni.example") {
		t.Errorf("API reload: %d %s", code, body)
	}
	_, pm, _ := runCLI(t, "token", "create", "--config", cfg, "--name", "pm", "--role", "postmaster")
	req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+httpAddr+"/api/v1/admin/reload", nil)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(pm))
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("reload by a postmaster: %v %v", resp.StatusCode, err)
	}
	// The whitelist is back to the one that does not name the client.
	last := dial()
	if code := rcpt(t, last, "dave@fourth.example", "ola@uni.example"); code != 451 {
		t.Errorf("RCPT after the whitelist was reloaded away: %d, want 451", code)
	}
	last.Close()
	if code := p.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d:\n%s", code, p.log())
	}
}
