"""Setting up and tearing down the simulated hosts of the Postfix corpus: a work
directory, rendered configs, one private mount namespace per host, and the
daemons in them. Run as root on Debian 12 (see ../README.md)."""

import crypt
import os
import pwd
import grp
import shutil
import signal
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CONF = os.path.join(HERE, "conf")

IP = {"mx1": "127.0.0.10", "smtp": "127.0.0.11", "imap": "127.0.0.12", "sink": "127.0.0.20"}

# Ordinary accounts (mailboxes on imap.uni.example), as in the public sample.
ORDINARY = [
    "alice.martin@uni.example", "bob.keller@uni.example", "carol.nguyen@uni.example",
    "david.okafor@uni.example", "emma.schulz@uni.example", "frank.rossi@uni.example",
    "grace.chen@uni.example", "henry.dubois@uni.example", "irene.kowalski@uni.example",
    "jack.oneill@uni.example", "karen.petrov@uni.example", "leo.fischer@uni.example",
    "maria.garcia@uni.example", "nina.svensson@uni.example", "oscar.lindqvist@uni.example",
    "paula.moreau@uni.example", "quentin.blake@uni.example", "rita.haddad@uni.example",
    "sam.taylor@uni.example", "it.admin@uni.example",
    "prof.weber@dept.uni.example", "j.tanaka@dept.uni.example", "l.romero@dept.uni.example",
    "m.novak@dept.uni.example", "s.iyer@dept.uni.example", "t.berg@dept.uni.example",
    "u.mensah@dept.uni.example", "v.costa@dept.uni.example", "w.lee@dept.uni.example",
    "x.zhou@dept.uni.example",
]
FUNCTION = ["news.office@uni.example"]  # sends the held mass mailing
DEPARTED = "departed.user@uni.example"  # in Postfix's table, not in Dovecot: LMTP 550

VIRTUAL = """postmaster@uni.example\tit.admin@uni.example
abuse@uni.example\tit.admin@uni.example
hostmaster@uni.example\tit.admin@uni.example
postmaster@dept.uni.example\tit.admin@uni.example
info@uni.example\talice.martin@uni.example, bob.keller@uni.example, it.admin@uni.example
helpdesk@dept.uni.example\tm.novak@dept.uni.example, t.berg@dept.uni.example
cs-staff@dept.uni.example\tprof.weber@dept.uni.example, j.tanaka@dept.uni.example, l.romero@dept.uni.example, m.novak@dept.uni.example, s.iyer@dept.uni.example, t.berg@dept.uni.example, u.mensah@dept.uni.example, v.costa@dept.uni.example, w.lee@dept.uni.example, x.zhou@dept.uni.example
john.doe@uni.example\tjohn.doe@alumni-mail.example
karen.petrov@uni.example\tkaren.petrov@uni.example, karen.p@webmail.example
root@uni.example\tit.admin@uni.example
"""

# Alias expansion the generator uses to know where mail ends up.
ALIASES = {}
for _l in VIRTUAL.strip().split("\n"):
    _k, _v = _l.split("\t")
    ALIASES[_k] = [x.strip() for x in _v.split(",")]

PARTNERS = [
    ("127.0.1.10", "mail.partner-univ.example", "partner-univ.example"),
    ("127.0.1.11", "mx-out.research-lab.example", "research-lab.example"),
    ("127.0.1.12", "smtp.journal-publisher.example", "journal-publisher.example"),
    ("127.0.1.14", "mail.example.com", "example.com"),
    ("127.0.1.15", "mail.example.org", "example.org"),
    ("127.0.1.16", "smtp1.bigmail.example", "bigmail.example"),
    ("127.0.1.17", "smtp2.bigmail.example", "bigmail.example"),
    ("127.0.1.18", "mail.cityhall.example", "cityhall.example"),
    ("127.0.1.19", "relay.conference-org.example", "conference-org.example"),
    ("127.0.1.20", "mailgw.funding-agency.example", "funding-agency.example"),
    ("127.0.1.21", "smtp.bookstore.example", "bookstore.example"),
    ("127.0.1.23", "mx.library-consortium.example", "library-consortium.example"),
    ("127.0.1.25", "mail.student-union.example", "student-union.example"),
    ("127.0.1.27", "mail.hospital.example", "hospital.example"),
    ("127.0.1.29", "mail.webmail.example", "webmail.example"),
    ("127.0.1.30", "smtp.partner-univ2.example", "partner-univ2.example"),
]

REMOTE_MX = ["outbound-gw.uni.example", "mx.partner-univ.example", "mx.research-lab.example",
             "mx.example.com", "mx.example.org", "mx1.bigmail.example", "mx.webmail.example",
             "mx.alumni-mail.example", "mx.slowisp.example", "mx.closed.example", "mx.flaky.example"]


def hosts_file():
    lines = ["127.0.0.1 localhost",
             "127.0.0.10 mx1.uni.example mx1",
             "127.0.0.11 smtp.uni.example smtp",
             "127.0.0.12 imap.uni.example imap"]
    for ip, name, _ in PARTNERS:
        lines.append("%s %s" % (ip, name))
    for i in range(10, 30):
        lines.append("127.0.2.%d vpn-%d.vpn.uni.example" % (i, i))
    for i in range(30, 45):
        lines.append("127.0.2.%d pool-2-%d.home-isp.example" % (i, i))
    for n in REMOTE_MX:
        lines.append("127.0.0.20 %s" % n)
    return "\n".join(lines) + "\n"


def sh(cmd, check=True, **kw):
    r = subprocess.run(cmd, shell=isinstance(cmd, str), capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError("command failed: %s\n%s\n%s" % (cmd, r.stdout, r.stderr))
    return r


def render(src, dst, **subst):
    s = open(src).read()
    for k, v in subst.items():
        s = s.replace("@%s@" % k, v)
    with open(dst, "w") as f:
        f.write(s)


def chown_r(path, user, group=None):
    uid = pwd.getpwnam(user).pw_uid
    gid = grp.getgrnam(group or user).gr_gid
    for root, dirs, files in os.walk(path):
        os.chown(root, uid, gid)
        for n in files:
            os.chown(os.path.join(root, n), uid, gid)


class Hosts:
    """Hosts owns the work directory, the namespaces and the daemons."""

    def __init__(self, work, passwords):
        self.W = work
        self.passwords = passwords
        self.holders = {}
        self.rsyslog = None

    def path(self, *p):
        return os.path.join(self.W, *p)

    # ------------------------------------------------------------ files

    def prepare(self):
        W = self.W
        os.makedirs(W, exist_ok=True)
        os.chmod(W, 0o755)
        for d in ["run", "etc", "rsyslog-work", "logs/mx1", "logs/smtp", "logs/imap", "logs/merged",
                  "clamdb", "imap/run", "imap/state", "imap/mail", "mx1/postgrey/db"]:
            os.makedirs(self.path(d), exist_ok=True)
        with open(self.path("etc/hosts"), "w") as f:
            f.write(hosts_file())
        render(os.path.join(CONF, "common/rsyslog.conf"), self.path("rsyslog.conf"), W=W)
        render(os.path.join(CONF, "common/clamd.conf"), self.path("clamd.conf"), W=W)
        shutil.copy(os.path.join(CONF, "common/local-eicar.ndb"), self.path("clamdb"))
        # SpamAssassin: the system's files plus the local rules
        shutil.copytree("/etc/spamassassin", self.path("etc/spamassassin"), dirs_exist_ok=True)
        shutil.copy(os.path.join(CONF, "common/zz-uni-local.cf"), self.path("etc/spamassassin"))
        for h, port, ifp in (("mx1", "10024", ""), ("smtp", "10026", "$interface_policy{'10026'} = 'ORIGINATING';")):
            pf = self.path(h, "postfix")
            shutil.copytree("/etc/postfix", pf, dirs_exist_ok=True)
            common = open(os.path.join(CONF, "common/main.cf.common")).read()
            own = open(os.path.join(CONF, h, "main.cf")).read().replace("@W@", W)
            with open(os.path.join(pf, "main.cf"), "w") as f:
                f.write(common + "\n" + own)
            shutil.copy(os.path.join(CONF, h, "master.cf"), pf)
            for n in ["aliases", "client_access.cidr", "sender_access", "header_checks", "transport"]:
                shutil.copy(os.path.join(CONF, "common", n), pf)
            with open(os.path.join(pf, "virtual"), "w") as f:
                f.write(VIRTUAL)
            with open(os.path.join(pf, "vmailbox"), "w") as f:
                for a in ORDINARY + FUNCTION + [DEPARTED]:
                    lp, d = a.split("@")
                    f.write("%s\t%s/%s/\n" % (a, d, lp))
            with open(os.path.join(pf, "sender_login"), "w") as f:
                for a in ORDINARY + FUNCTION:
                    f.write("%s\t%s\n" % (a, a))
            am = self.path(h, "etc-amavis")
            shutil.copytree("/etc/amavis", am, dirs_exist_ok=True)
            render(os.path.join(CONF, "common/amavis-50-user"), os.path.join(am, "conf.d/50-user"),
                   W=W, HOST=h, IP=IP[h], PORT=port, IFPOLICY=ifp)
            for d in ["amavis/tmp", "amavis/db", "amavis/virusmails"]:
                os.makedirs(self.path(h, d), exist_ok=True)
            chown_r(self.path(h, "amavis"), "amavis")
            os.makedirs(self.path(h, "spool"), exist_ok=True)
            os.makedirs(self.path(h, "data"), exist_ok=True)
            chown_r(self.path(h, "data"), "postfix")
        chown_r(self.path("mx1/postgrey"), "postgrey")
        chown_r(self.path("clamdb"), "amavis")
        os.makedirs(self.path("run/clamd"), exist_ok=True)
        chown_r(self.path("run/clamd"), "amavis")
        render(os.path.join(CONF, "imap/dovecot.conf"), self.path("imap/dovecot.conf"), W=W)
        with open(self.path("imap/users"), "w") as f:
            for a in ORDINARY + FUNCTION:
                h = crypt.crypt(self.passwords[a], crypt.mksalt(crypt.METHOD_SHA512))
                f.write("%s:{SHA512-CRYPT}%s:5000:5000::%s::\n" % (a, h, self.path("imap/mail", a)))
        os.chmod(self.path("imap/users"), 0o640)
        os.chown(self.path("imap/users"), 0, grp.getgrnam("dovecot").gr_gid)
        os.chown(self.path("imap/mail"), 5000, 5000)

    # ------------------------------------------------------------ processes

    def start_rsyslog(self):
        self.rsyslog = subprocess.Popen(["rsyslogd", "-n", "-f", self.path("rsyslog.conf"),
                                         "-i", self.path("run/rsyslog.pid")],
                                        stdout=open(self.path("rsyslog.out"), "w"), stderr=subprocess.STDOUT)
        for _ in range(50):
            if all(os.path.exists(self.path("run/log-%s.sock" % h)) for h in ("mx1", "smtp", "imap")):
                return
            time.sleep(0.1)
        raise RuntimeError("rsyslog sockets did not appear")

    def start_namespaces(self):
        for h in ("mx1", "smtp", "imap"):
            p = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh",
                                  os.path.join(HERE, "nshold.sh"), self.W, h],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            line = p.stdout.readline().strip()
            if line != "ready":
                raise RuntimeError("namespace %s: %s %s" % (h, line, p.stderr.read()))
            self.holders[h] = p

    def ns(self, host, cmd, check=True, daemon=False, **kw):
        """ns runs cmd inside host's namespace. daemon=True sends its output to
        a file, since a daemon keeps inherited pipes open."""
        if isinstance(cmd, str):
            cmd = ["sh", "-c", cmd]
        full = ["nsenter", "-t", str(self.holders[host].pid), "-m", "--"] + cmd
        if daemon:
            with open(self.path("daemons.out"), "a") as out:
                r = subprocess.run(full, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
            if check and r.returncode != 0:
                raise RuntimeError("command failed: %s (see daemons.out)" % cmd)
            return r
        if "input" not in kw:
            kw["stdin"] = subprocess.DEVNULL
        return sh(full, check=check, **kw)

    def start_daemons(self):
        # mailbox host
        self.ns("imap", ["dovecot", "-c", self.path("imap/dovecot.conf")], daemon=True)
        # MX host: clamd, postgrey, amavis, postfix
        self.ns("mx1", ["clamd", "-c", self.path("clamd.conf")], daemon=True)
        self.ns("mx1", ["postgrey", "--inet=127.0.0.10:10023", "--delay=5", "--lookup-by-host",
                        "--daemonize", "--pidfile=" + self.path("mx1/postgrey/postgrey.pid"),
                        "--dbdir=" + self.path("mx1/postgrey/db"), "--hostname=mx1.uni.example"], daemon=True)
        for h in ("mx1", "smtp"):
            self.ns(h, "cd /etc/postfix && postmap virtual vmailbox sender_access sender_login transport "
                       "&& postalias aliases && postfix check && postfix set-permissions >/dev/null 2>&1; true")
            self.ns(h, ["amavisd", "start"], daemon=True)
        for h in ("mx1", "smtp"):
            self.ns(h, ["postfix", "start"], daemon=True)
        # wait for amavis (SpamAssassin takes a while to load) and the listeners; look at the
        # listening sockets rather than connect, so the logs hold no probe connections
        want = {"127.0.0.10:10024", "127.0.0.11:10026", "127.0.0.10:25", "127.0.0.11:587",
                "127.0.0.12:143", "127.0.0.12:110", "127.0.0.12:24", "127.0.0.12:12345",
                "127.0.0.10:10023", "127.0.0.10:10025", "127.0.0.11:10025"}
        deadline = time.time() + 240
        while True:
            out = sh(["ss", "-Hltn"]).stdout.split()
            missing = [a for a in want if a not in out]
            if not missing:
                break
            if time.time() > deadline:
                raise RuntimeError("listeners did not come up: %s" % missing)
            time.sleep(1)
        time.sleep(2)

    def stop_daemons(self):
        for h in ("mx1", "smtp"):
            self.ns(h, ["postfix", "stop"], check=False, daemon=True)
        for h in ("mx1", "smtp"):
            self.ns(h, ["amavisd", "stop"], check=False, daemon=True)
        self.ns("imap", ["doveadm", "-c", self.path("imap/dovecot.conf"), "stop"], check=False, daemon=True)
        pg = self.path("mx1/postgrey/postgrey.pid")
        if os.path.exists(pg):
            kill_pidfile(pg)
        kill_pidfile(self.path("run/clamd/clamd.pid"))
        time.sleep(3)

    def stop_all(self):
        try:
            self.stop_daemons()
        finally:
            for p in self.holders.values():
                p.terminate()
            if self.rsyslog:
                time.sleep(1)
                self.rsyslog.terminate()
                self.rsyslog.wait(10)


def kill_pidfile(path):
    try:
        pid = int(open(path).read().strip())
        os.kill(pid, signal.SIGTERM)
    except (OSError, ValueError):
        pass
