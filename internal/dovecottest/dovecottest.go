// Package dovecottest starts a private Dovecot for tests (Debian's
// dovecot-core, dovecot-imapd and dovecot-lmtpd): an unprivileged
// configuration with its own base_dir, listening on loopback ports only,
// with passwd-file users whose maildirs are in a temporary directory. It
// offers IMAP, LMTP, the quota-status policy service (Postfix's policy
// protocol) and the auth service's client socket (the SASL protocol
// Postfix's smtpd_sasl_type = dovecot speaks). Tests that need it skip
// when Dovecot is not installed, and fail instead with
// POSTVAKT_REQUIRE_TOOLS=1 (as in CI).
package dovecottest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	dovecotBin = "/usr/sbin/dovecot"
	lmtpBin    = "/usr/lib/dovecot/lmtp"
	imapBin    = "/usr/lib/dovecot/imap"
	quotaBin   = "/usr/lib/dovecot/quota-status"
)

// User is a Dovecot user: a full address as the login name, a plaintext
// password, and a storage quota ("" for none, e.g. "1K", "10M").
type User struct {
	Name, Password, Quota string
}

// Dovecot is a running private instance.
type Dovecot struct {
	t    testing.TB
	Dir  string
	conf string
	// IMAP, LMTP and QuotaStatus are host:port on 127.0.0.1; AuthSocket and
	// LMTPSocket are the paths of the auth service's client socket and of
	// LMTP's unix socket.
	IMAP, LMTP, QuotaStatus string
	AuthSocket, LMTPSocket  string
	cmd                     *exec.Cmd
	out                     bytes.Buffer
}

// Require returns the path of program, skipping the test when it is
// missing (failing when POSTVAKT_REQUIRE_TOOLS=1).
func Require(t testing.TB, path, pkg string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("POSTVAKT_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s is required (POSTVAKT_REQUIRE_TOOLS=1) but not installed (apt-get install %s): %v", path, pkg, err)
		}
		t.Skipf("%s not installed (apt-get install %s)", path, pkg)
	}
	return path
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start starts Dovecot with users and stops it when the test ends.
func Start(t testing.TB, users ...User) *Dovecot {
	t.Helper()
	Require(t, dovecotBin, "dovecot-core")
	Require(t, imapBin, "dovecot-imapd")
	Require(t, lmtpBin, "dovecot-lmtpd")
	Require(t, quotaBin, "dovecot-core")
	// A short path (UNIX socket names are limited to 108 bytes) that the
	// mail user can traverse.
	dir, err := os.MkdirTemp("", "pvdv")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d := &Dovecot{t: t, Dir: dir, conf: filepath.Join(dir, "dovecot.conf")}
	ports := [3]int{freePort(t), freePort(t), freePort(t)}
	d.IMAP = fmt.Sprintf("127.0.0.1:%d", ports[0])
	d.LMTP = fmt.Sprintf("127.0.0.1:%d", ports[1])
	d.QuotaStatus = fmt.Sprintf("127.0.0.1:%d", ports[2])
	d.AuthSocket = filepath.Join(dir, "run", "auth-client")
	d.LMTPSocket = filepath.Join(dir, "run", "lmtp")

	// Mail is stored as nobody when the test runs as root (Dovecot refuses
	// mail access as root), else as the current user, who then also runs
	// Dovecot's internal and login processes.
	uid, gid := os.Getuid(), os.Getgid()
	internal := ""
	if uid == 0 {
		uid, gid = 65534, 65534
		if u, err := user.Lookup("nobody"); err == nil {
			uid, _ = strconv.Atoi(u.Uid)
			gid, _ = strconv.Atoi(u.Gid)
		}
	} else {
		u, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		internal = fmt.Sprintf("default_internal_user = %s\ndefault_login_user = %s\n", u.Username, u.Username)
	}
	mail := filepath.Join(dir, "mail")
	if err := os.Mkdir(mail, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(mail, uid, gid); err != nil {
		t.Fatal(err)
	}
	var pw strings.Builder
	for _, u := range users {
		extra := "nopenalty"
		if u.Quota != "" {
			extra += " userdb_quota_rule=*:storage=" + u.Quota
		}
		fmt.Fprintf(&pw, "%s:{PLAIN}%s::::::%s\n", u.Name, u.Password, extra)
	}
	passwd := filepath.Join(dir, "passwd")
	if err := os.WriteFile(passwd, []byte(pw.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
instance_name = pvdv-%[2]d
%[3]slisten = 127.0.0.1
protocols = imap lmtp
ssl = no
auth_mechanisms = plain login
disable_plaintext_auth = no
auth_failure_delay = 0
first_valid_uid = 1
mail_plugins = $mail_plugins quota
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[4]s
}
userdb {
  driver = passwd-file
  args = username_format=%%u %[4]s
  default_fields = uid=%[5]d gid=%[6]d home=%[7]s/%%d/%%n
}
mail_location = maildir:~/Maildir
plugin {
  quota = maildir:User quota
  quota_status_success = DUNNO
  quota_status_nouser = DUNNO
  quota_status_overquota = "552 5.2.2 Mailbox is full"
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[2]d
  }
  inet_listener imaps {
    port = 0
  }
}
service lmtp {
  unix_listener lmtp {
    mode = 0666
  }
  inet_listener lmtp {
    address = 127.0.0.1
    port = %[8]d
  }
}
service quota-status {
  executable = quota-status -p postfix
  inet_listener {
    address = 127.0.0.1
    port = %[9]d
  }
  client_limit = 1
}
service auth {
  unix_listener auth-client {
    mode = 0666
  }
}
# Dovecot's own growing delay after failed logins (per client address)
# is off: postvakt's AUTH rate limits are what the tests look at.
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
`, dir, ports[0], internal, passwd, uid, gid, mail, ports[1], ports[2])
	if err := os.WriteFile(d.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	d.Start()
	t.Cleanup(d.Stop)
	return d
}

// Start runs `dovecot -F -c conf` and waits until it listens.
func (d *Dovecot) Start() {
	d.t.Helper()
	d.out.Reset()
	d.cmd = exec.Command(dovecotBin, "-F", "-c", d.conf)
	d.cmd.Stdout, d.cmd.Stderr = &d.out, &d.out
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, a := range [][2]string{{"tcp", d.IMAP}, {"tcp", d.LMTP}, {"tcp", d.QuotaStatus}, {"unix", d.AuthSocket}, {"unix", d.LMTPSocket}} {
		for {
			c, err := net.DialTimeout(a[0], a[1], time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				log := d.Log()
				d.Stop()
				d.t.Fatalf("dovecot does not listen on %s: %v\n%s\n%s", a[1], err, d.out.String(), log)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// Stop terminates the instance (the master stops its children) and waits
// until LMTP no longer answers.
func (d *Dovecot) Stop() {
	if d.cmd == nil || d.cmd.Process == nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		<-done
	}
	d.cmd = nil
	for range 100 {
		c, err := net.DialTimeout("tcp", d.LMTP, 100*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(50 * time.Millisecond)
	}
}

// Log is Dovecot's log so far.
func (d *Dovecot) Log() string {
	b, _ := os.ReadFile(filepath.Join(d.Dir, "dovecot.log"))
	return string(b)
}

// Maildir returns the messages in user's INBOX (new and cur).
func (d *Dovecot) Maildir(name string) [][]byte {
	local, domain, _ := strings.Cut(name, "@")
	var out [][]byte
	for _, sub := range []string{"new", "cur"} {
		p := filepath.Join(d.Dir, "mail", domain, local, "Maildir", sub)
		es, _ := os.ReadDir(p)
		for _, e := range es {
			if b, err := os.ReadFile(filepath.Join(p, e.Name())); err == nil {
				out = append(out, b)
			}
		}
	}
	return out
}

// FetchIMAP signs in over IMAP as user and returns the INBOX's messages
// (RFC 9051: LOGIN, SELECT, FETCH BODY.PEEK[]).
func (d *Dovecot) FetchIMAP(name, password string) ([][]byte, error) {
	c, err := net.DialTimeout("tcp", d.IMAP, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	r := bufio.NewReader(c)
	if _, err := r.ReadString('\n'); err != nil {
		return nil, err
	}
	cmd := func(tag, line string, onLine func(string) error) error {
		if _, err := fmt.Fprintf(c, "%s %s\r\n", tag, line); err != nil {
			return err
		}
		for {
			l, err := r.ReadString('\n')
			if err != nil {
				return err
			}
			if strings.HasPrefix(l, tag+" ") {
				if !strings.HasPrefix(l, tag+" OK") {
					return fmt.Errorf("imap %s: %s", strings.Fields(line)[0], strings.TrimSpace(l))
				}
				return nil
			}
			if onLine != nil {
				if err := onLine(l); err != nil {
					return err
				}
			}
		}
	}
	if err := cmd("a1", fmt.Sprintf("LOGIN %q %q", name, password), nil); err != nil {
		return nil, err
	}
	exists := 0
	if err := cmd("a2", "SELECT INBOX", func(l string) error {
		if f := strings.Fields(l); len(f) == 3 && f[2] == "EXISTS" {
			exists, _ = strconv.Atoi(f[1])
		}
		return nil
	}); err != nil {
		return nil, err
	}
	var msgs [][]byte
	if exists > 0 {
		err := cmd("a3", "FETCH 1:* BODY.PEEK[]", func(l string) error {
			i := strings.LastIndexByte(l, '{')
			if i < 0 || !strings.HasSuffix(strings.TrimSpace(l), "}") {
				return nil
			}
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(l[i+1:]), "}"))
			if err != nil {
				return err
			}
			b := make([]byte, n)
			if _, err := io.ReadFull(r, b); err != nil {
				return err
			}
			msgs = append(msgs, b)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	_ = cmd("a4", "LOGOUT", nil)
	return msgs, nil
}
