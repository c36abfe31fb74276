// Package postfixtest starts a real Postfix (Debian's postfix package) as a
// separate instance for tests: its own configuration, queue and data
// directories and maillog_file under a temporary directory, listening on
// loopback only, accepting mail for one relay domain and discarding it
// after logging it. Two smtpd services listen: one offering STARTTLS with a
// generated certificate, one without TLS. A test that needs it skips when
// Postfix is not installed or the test does not run as root (Postfix's
// master starts as root), and fails instead when POSTVAKT_REQUIRE_TOOLS=1
// (CI).
package postfixtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Instance is a running Postfix.
type Instance struct {
	Dir string
	// TLSAddr offers STARTTLS; PlainAddr does not.
	TLSAddr, PlainAddr string
	// Domain is the relay domain it accepts mail for.
	Domain string
	conf   string
	log    string
}

// skip skips t, or fails it under POSTVAKT_REQUIRE_TOOLS=1.
func skip(t *testing.T, format string, a ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, a...)
	if os.Getenv("POSTVAKT_REQUIRE_TOOLS") == "1" {
		t.Fatalf("postfix is required (POSTVAKT_REQUIRE_TOOLS=1): %s", msg)
	}
	t.Skip(msg)
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Start starts an instance that accepts mail for domain; it is stopped
// and removed when t ends.
func Start(t *testing.T, domain string) *Instance {
	t.Helper()
	bin, err := exec.LookPath("postfix")
	if err != nil {
		if _, err2 := os.Stat("/usr/sbin/postfix"); err2 != nil {
			skip(t, "postfix not installed (apt-get install postfix)")
		}
		bin = "/usr/sbin/postfix"
	}
	if os.Geteuid() != 0 {
		skip(t, "Postfix's master must start as root")
	}
	pu, err := user.Lookup("postfix")
	if err != nil {
		skip(t, "no postfix user: %v", err)
	}
	// Postfix's processes run as the postfix user: the directory must be
	// theirs to traverse, which t.TempDir's is not.
	dir, err := os.MkdirTemp("", "postvakt-postfix-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	in := &Instance{Dir: dir, TLSAddr: freePort(t), PlainAddr: freePort(t), Domain: domain,
		conf: filepath.Join(dir, "conf"), log: filepath.Join(dir, "maillog")}
	for _, d := range []string{"conf", "queue", "data"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var uid, gid int
	fmt.Sscan(pu.Uid, &uid)
	fmt.Sscan(pu.Gid, &gid)
	if err := os.Chown(filepath.Join(dir, "data"), uid, gid); err != nil {
		t.Fatal(err)
	}
	cert, key := selfSigned(t, "nexthop.test")
	if err := os.WriteFile(filepath.Join(in.conf, "cert.pem"), cert, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in.conf, "key.pem"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	main := fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/queue
data_directory = %[1]s/data
mail_owner = postfix
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = nexthop.test
mydestination =
relay_domains = %[2]s
relay_transport = discard:
default_transport = discard:
local_transport = discard:
mynetworks = 127.0.0.0/8
maillog_file = %[1]s/maillog
maillog_file_prefixes = %[1]s
smtpd_tls_cert_file = %[1]s/conf/cert.pem
smtpd_tls_key_file = %[1]s/conf/key.pem
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
alias_maps =
alias_database =
header_checks = regexp:%[1]s/conf/header_checks
`, dir, domain)
	// Postfix logs each message's From: header ("info: header From: …"),
	// so that a test can see what the next hop received in it.
	if err := os.WriteFile(filepath.Join(in.conf, "header_checks"), []byte("/^From:/ INFO\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	master := fmt.Sprintf(`%s inet n - n - - smtpd
%s inet n - n - - smtpd -o smtpd_tls_security_level=none
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
proxymap unix - - n - - proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
`, in.TLSAddr, in.PlainAddr)
	if err := os.WriteFile(filepath.Join(in.conf, "main.cf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in.conf, "master.cf"), []byte(master), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", in.conf, "start").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		t.Fatalf("postfix start: %v\n%s\n%s", err, out, in.Log())
	}
	t.Cleanup(func() {
		_ = exec.Command(bin, "-c", in.conf, "stop").Run()
		os.RemoveAll(dir)
	})
	for _, a := range []string{in.TLSAddr, in.PlainAddr} {
		deadline := time.Now().Add(15 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("postfix does not listen on %s: %v\n%s", a, err, in.Log())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return in
}

// Log returns the instance's maillog_file.
func (in *Instance) Log() string {
	b, _ := os.ReadFile(in.log)
	return string(b)
}

// WaitLog waits up to timeout for a log line containing every one of
// parts, and returns it ("" when none came).
func (in *Instance) WaitLog(timeout time.Duration, parts ...string) string {
	deadline := time.Now().Add(timeout)
	for {
		for _, l := range strings.Split(in.Log(), "\n") {
			all := true
			for _, p := range parts {
				if !strings.Contains(l, p) {
					all = false
					break
				}
			}
			if all {
				return l
			}
		}
		if time.Now().After(deadline) {
			return ""
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// selfSigned returns a PEM certificate and key for name.
func selfSigned(t *testing.T, name string) ([]byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}
