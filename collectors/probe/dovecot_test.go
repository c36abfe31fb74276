package probe

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

const (
	dovecotBin = "/usr/sbin/dovecot"
	ldaBin     = "/usr/lib/dovecot/dovecot-lda"
)

// dovecot is a private Dovecot instance on loopback (Debian's dovecot-core,
// dovecot-imapd, dovecot-pop3d) with one user, probeUser/probePass, whose
// maildir is in a temporary directory.
type dovecot struct {
	t                 *testing.T
	bin, conf, dir    string
	imap, imaps, pop3 string // host:port
	pki               *testPKI
	cmd               *exec.Cmd
}

// startDovecot starts the instance; it skips the test without Dovecot
// (fails with POSTVAKT_REQUIRE_TOOLS=1).
func startDovecot(t *testing.T) *dovecot {
	t.Helper()
	bin := requireTool(t, dovecotBin, "dovecot-imapd dovecot-pop3d")
	requireTool(t, "/usr/lib/dovecot/imap", "dovecot-imapd")
	requireTool(t, "/usr/lib/dovecot/pop3", "dovecot-pop3d")
	// A short path (UNIX socket names are limited to 108 bytes) that the
	// mail user can traverse.
	dir, err := os.MkdirTemp("", "pvdc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	d := &dovecot{t: t, bin: bin, dir: dir, conf: filepath.Join(dir, "dovecot.conf")}
	d.pki = newPKI(t, dir, time.Now().Add(60*24*time.Hour))
	ports := [3]int{freePort(t), freePort(t), freePort(t)}
	d.imap = fmt.Sprintf("127.0.0.1:%d", ports[0])
	d.imaps = fmt.Sprintf("127.0.0.1:%d", ports[1])
	d.pop3 = fmt.Sprintf("127.0.0.1:%d", ports[2])

	// Mail is stored as nobody when the test runs as root (Dovecot refuses
	// mail access as root), else as the current user, who then also runs
	// Dovecot's internal and login processes.
	uid, gid := os.Getuid(), os.Getgid()
	users := ""
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
		users = fmt.Sprintf("default_internal_user = %s\ndefault_login_user = %s\n", u.Username, u.Username)
	}
	mail := filepath.Join(dir, "mail")
	if err := os.Mkdir(mail, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(mail, uid, gid); err != nil {
		t.Fatal(err)
	}
	passwd := filepath.Join(dir, "passwd")
	if err := os.WriteFile(passwd, []byte(probeUser+":{PLAIN}"+probePass+"::::::nopenalty\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
instance_name = pvtest-%[2]d
%[3]slisten = 127.0.0.1
protocols = imap pop3
ssl = yes
ssl_cert = <%[4]s
ssl_key = <%[5]s
auth_mechanisms = plain login
disable_plaintext_auth = no
auth_failure_delay = 0
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[6]s
}
userdb {
  driver = static
  args = uid=%[7]d gid=%[8]d home=%[9]s/%%u
}
mail_location = maildir:~/Maildir
pop3_uidl_format = %%08Xu%%08Xv
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[10]d
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = %[11]d
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = %[12]d
  }
  inet_listener pop3s {
    port = 0
  }
}
`, dir, ports[0], users, d.pki.certFile, d.pki.keyFile, passwd, uid, gid, mail, ports[0], ports[1], ports[2])
	if err := os.WriteFile(d.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	d.start()
	t.Cleanup(d.stop)
	return d
}

// start runs `dovecot -F -c conf` and waits until it listens.
func (d *dovecot) start() {
	d.t.Helper()
	d.cmd = exec.Command(d.bin, "-F", "-c", d.conf)
	var out bytes.Buffer
	d.cmd.Stdout, d.cmd.Stderr = &out, &out
	if err := d.cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, addr := range []string{d.imap, d.imaps, d.pop3} {
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(filepath.Join(d.dir, "dovecot.log"))
				d.stop()
				d.t.Fatalf("dovecot does not listen on %s: %v\n%s\n%s", addr, err, out.String(), log)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// stop terminates the instance (the master stops its children).
func (d *dovecot) stop() {
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
	// Wait until the listeners are gone.
	for i := 0; i < 100; i++ {
		c, err := net.DialTimeout("tcp", d.imap, 100*time.Millisecond)
		if err != nil {
			return
		}
		c.Close()
		time.Sleep(50 * time.Millisecond)
	}
}

// deliver hands a message to dovecot-lda (the real local delivery agent)
// for the probe user.
func (d *dovecot) deliver(msg []byte) error {
	cmd := exec.Command(ldaBin, "-c", d.conf, "-d", probeUser)
	cmd.Stdin = bytes.NewReader(msg)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("dovecot-lda: %v: %s", err, out)
	}
	return nil
}

// messages counts the messages in the probe user's maildir.
func (d *dovecot) messages() int {
	n := 0
	for _, sub := range []string{"new", "cur"} {
		es, _ := os.ReadDir(filepath.Join(d.dir, "mail", probeUser, "Maildir", sub))
		n += len(es)
	}
	return n
}
