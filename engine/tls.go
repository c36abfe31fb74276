package engine

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// loadTLS loads the configured certificate, or generates (once) a
// self-signed one under dataDir/tls for development.
func loadTLS(cfg Config, dataDir string, log *slog.Logger) (*tls.Certificate, error) {
	certFile, keyFile, err := tlsFiles(cfg, dataDir, log)
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("smtp.tls.cert_file %q: %w", certFile, err)
	}
	return &cert, nil
}

// tlsFiles names the certificate and key files: the configured ones, or
// the self-signed development pair under dataDir/tls, generated when
// missing.
func tlsFiles(cfg Config, dataDir string, log *slog.Logger) (certFile, keyFile string, err error) {
	certFile, keyFile = cfg.TLS.CertFile, cfg.TLS.KeyFile
	if certFile == "" {
		if dataDir == "" {
			dataDir = "."
		}
		dir := filepath.Join(dataDir, "tls")
		certFile, keyFile = filepath.Join(dir, "smtp-selfsigned.crt"), filepath.Join(dir, "smtp-selfsigned.key")
		if _, err := os.Stat(certFile); errors.Is(err, os.ErrNotExist) {
			if err := writeSelfSigned(dir, certFile, keyFile, cfg.Hostname); err != nil {
				return "", "", fmt.Errorf("smtp.tls.self_signed: %w", err)
			}
			log.Warn("generated a self-signed SMTP certificate: for development only", "cert", certFile)
		}
	}
	return certFile, keyFile, nil
}

func writeSelfSigned(dir, certFile, keyFile, host string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: host, Organization: []string{"postvakt development"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(2, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{host, "localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// sameCert reports whether a and b are the same certificate chain.
func sameCert(a, b *tls.Certificate) bool {
	if len(a.Certificate) != len(b.Certificate) {
		return false
	}
	for i := range a.Certificate {
		if !bytes.Equal(a.Certificate[i], b.Certificate[i]) {
			return false
		}
	}
	return true
}

// describeCert names a certificate for the reload's report: its subject,
// serial and end of validity.
func describeCert(c *tls.Certificate) string {
	leaf := c.Leaf
	if leaf == nil && len(c.Certificate) > 0 {
		leaf, _ = x509.ParseCertificate(c.Certificate[0])
	}
	if leaf == nil {
		return "unparsable certificate"
	}
	return fmt.Sprintf("%s, serial %s, valid until %s", leaf.Subject.CommonName, leaf.SerialNumber.Text(16), leaf.NotAfter.UTC().Format(time.RFC3339))
}
