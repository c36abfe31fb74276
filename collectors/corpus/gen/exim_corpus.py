#!/usr/bin/env python3
"""exim_corpus.py — drive Debian's Exim 4.96 (exim4-daemon-light, unpacked with
dpkg -x because exim4 conflicts with postfix as a package) on loopback, record
what every client saw, and write mainlog, rejectlog and truth.json.

Usage (root, Debian 12):
    python3 exim_corpus.py --out ../exim [--seed 18] [--duration 240]

The host is exim1.uni.example on 127.0.0.30 (ports 25 and 587, SMTP AUTH
PLAIN/LOGIN), with local Maildir delivery and every remote domain routed to the
loopback sink on 127.0.0.21:2525. Queue runs every 30 s; retries are compressed
(F,4m,30s). Truth comes from the replies the clients got, the sink's records and
the mailboxes, never from Exim's logs. See ../README.md.
"""

import argparse
import collections
import glob
import gzip
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostsys  # noqa: E402
import sim  # noqa: E402
from postfix_corpus import Plan, FIRST, LAST  # noqa: E402
import truth_postfix  # noqa: E402  (mailbox scanning)

HERE = os.path.dirname(os.path.abspath(__file__))
EXIM_IP = "127.0.0.30"
SINK_IP = "127.0.0.21"
USERS = hostsys.ORDINARY[:20]
ALIASES = {"info@uni.example": ["alice.martin@uni.example", "bob.keller@uni.example", "it.admin@uni.example"],
           "helpdesk@uni.example": ["maria.garcia@uni.example", "nina.svensson@uni.example"],
           "postmaster@uni.example": ["it.admin@uni.example"]}
EXT_DOMAINS = ["example.org", "bigmail.example", "partner-univ.example", "research-lab.example"]


def sh(cmd, check=True, **kw):
    return hostsys.sh(cmd, check=check, **kw)


class Exim:
    def __init__(self, work, passwords):
        self.W = work
        self.pw = passwords
        self.holder = None
        self.exim = os.path.join(work, "root/usr/sbin/exim4")

    def path(self, *p):
        return os.path.join(self.W, *p)

    def prepare(self):
        W = self.W
        os.makedirs(W, exist_ok=True)
        os.chmod(W, 0o755)
        for d in ["etc", "run", "spool", "log", "mail", "ssl", "debs", "root"]:
            os.makedirs(self.path(d), exist_ok=True)
        # Debian's Exim looks up its user by name; the package's postinst would create it
        if subprocess.run(["getent", "passwd", "Debian-exim"], capture_output=True).returncode != 0:
            sh(["adduser", "--system", "--group", "--quiet", "--allow-bad-names", "--home", "/var/spool/exim4",
                "--no-create-home", "--disabled-login", "Debian-exim"])
        sh("cd %s && apt-get download exim4-base exim4-daemon-light exim4-config >/dev/null" % self.path("debs"))
        for deb in sorted(glob.glob(self.path("debs/*.deb"))):
            sh(["dpkg", "-x", deb, self.path("root")])
        with open(self.path("etc/hosts"), "w") as f:
            f.write(hostsys.hosts_file() + "127.0.0.30 exim1.uni.example exim1\n")
        hostsys.render(os.path.join(HERE, "conf/exim/exim4.conf"), self.path("exim4.conf"), W=W)
        os.chmod(self.path("exim4.conf"), 0o644)
        with open(self.path("passwd"), "w") as f:
            for u in USERS:
                f.write("%s: %s\n" % (u, self.pw[u]))
        with open(self.path("aliases"), "w") as f:
            for k, v in ALIASES.items():
                f.write("%s: %s\n" % (k, ", ".join(v)))
        with open(self.path("mailboxes"), "w") as f:
            for u in USERS:
                f.write("%s: %s\n" % (u.split("@")[0], u))
        shutil.copy("/etc/ssl/certs/ssl-cert-snakeoil.pem", self.path("ssl/cert.pem"))
        shutil.copy("/etc/ssl/private/ssl-cert-snakeoil.key", self.path("ssl/key.pem"))
        hostsys.chown_r(self.path("ssl"), "Debian-exim")
        os.chmod(self.path("ssl/key.pem"), 0o600)
        for d in ("spool", "log", "mail"):
            hostsys.chown_r(self.path(d), "Debian-exim")
        os.chmod(self.path("passwd"), 0o640)
        os.chown(self.path("passwd"), 0, int(sh(["getent", "group", "Debian-exim"]).stdout.split(":")[2]))

    def start(self):
        p = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", os.path.join(HERE, "nshold.sh"),
                              self.W, "exim1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = p.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError("namespace: %s %s" % (line, p.stderr.read()))
        self.holder = p
        self.ns(["/usr/sbin/exim4", "-bd", "-q30s", "-oP", self.path("run/exim.pid")])
        deadline = time.time() + 30
        while time.time() < deadline:
            out = sh(["ss", "-Hltn"]).stdout.split()
            if "127.0.0.30:25" in out and "127.0.0.30:587" in out:
                return
            time.sleep(0.5)
        raise RuntimeError("exim did not start: %s" % open(self.path("log/paniclog")).read()
                           if os.path.exists(self.path("log/paniclog")) else "")

    def ns(self, cmd, check=True, **kw):
        full = ["nsenter", "-t", str(self.holder.pid), "-m", "--"] + cmd
        with open(self.path("exim.out"), "a") as out:
            r = subprocess.run(full, stdin=subprocess.DEVNULL, stdout=out, stderr=out, **kw)
        if check and r.returncode != 0:
            raise RuntimeError("failed: %s" % cmd)
        return r

    def queue_count(self):
        r = subprocess.run(["nsenter", "-t", str(self.holder.pid), "-m", "--", "/usr/sbin/exim4", "-bpc"],
                           capture_output=True, text=True)
        try:
            return int(r.stdout.strip())
        except ValueError:
            return -1

    def stop(self):
        try:
            pid = int(open(self.path("run/exim.pid")).read().strip())
            os.kill(pid, 15)
        except (OSError, ValueError):
            pass
        time.sleep(2)
        if self.holder:
            self.holder.terminate()


def sink_behaviour(sink, rcpt):
    dom = rcpt.rsplit("@", 1)[-1].lower()
    local = rcpt.rsplit("@", 1)[0].lower()
    if dom == "closed.example" or local.startswith("nouser"):
        return "550 5.1.1 Mailbox unavailable"
    if dom == "flaky.example":
        n = sink.attempt(rcpt)
        if n <= 2:
            return "451 4.7.1 Service temporarily unavailable (attempt %d)" % n
    return "250 2.1.5 Ok"


class Scenario:
    def __init__(self, rec, pw, seed, dur):
        self.rec, self.pw, self.dur = rec, pw, dur
        self.rng = random.Random(seed + 1000)
        self.plan = None
        self.user_ip = {u: "127.0.2.%d" % (10 + i) for i, u in enumerate(USERS)}

    def R(self):
        return random.Random(self.rng.random())

    def ext(self, r, dom=None):
        return "%s.%s@%s" % (r.choice(FIRST), r.choice(LAST), dom or r.choice(EXT_DOMAINS))

    def msg(self, r, sender, rcpts, subject=None, size=None, tag="ex"):
        mid = sim.message_id(tag, sender.split("@")[-1])
        subj = subject or r.choice(["Meeting notes", "Re: draft", "Course update", "Question", "Invoice 2291"])
        body = sim.text_body(r, size or int(10 ** r.uniform(2.8, 4.6)))
        return {"msgid": mid, "sender": sender, "rcpts": rcpts, "subject": subj,
                "data": sim.build(sender, rcpts, subj, body, mid)}

    def session(self, port, src, helo, label, msgs=(), auth=None, tls=False, size_opt=True):
        s = sim.Session(self.rec, EXIM_IP, port, src, helo, label, "exim1")
        if s.open(starttls=tls):
            ok = True
            for user, pw in (auth or []):
                ok = s.login(user, pw)
                if ok:
                    break
            if ok:
                for m in msgs:
                    s.send(m["sender"], m["rcpts"], m["data"], size_opt=size_opt,
                           meta={"msgid": m["msgid"], "label": label, "subject": m["subject"],
                                 "category": "clean"})
                    if s.closed:
                        break
        s.close()

    def build(self):
        rng = self.rng
        local_targets = USERS + list(ALIASES)
        # inbound from partner MTAs on port 25
        for i in range(70):
            p = rng.choice(hostsys.PARTNERS)
            r = self.R()
            msgs = [self.msg(r, self.ext(r, p[2]), sorted(set(r.choice(local_targets) for _ in range(r.choice([1, 1, 2, 3])))))
                    for _ in range(1 if r.random() < 0.8 else 2)]
            self.plan.at(rng.uniform(5, self.dur - 30), self.session, 25, p[0], p[1], "partner", msgs, None,
                         r.random() < 0.5)
        # submission on 587 with SMTP AUTH
        typo = set(rng.sample(USERS, 3))
        for u in USERS:
            r = self.R()
            n = r.choice([1, 1, 2, 3])
            msgs = []
            for _ in range(n):
                rc = [r.choice([x for x in USERS if x != u]) if r.random() < 0.5 else self.ext(r)
                      for _ in range(r.choice([1, 1, 2]))]
                msgs.append(self.msg(r, u, sorted(set(rc))))
            auth = [(u, self.pw[u] + "0"), (u, self.pw[u])] if u in typo else [(u, self.pw[u])]
            self.plan.at(rng.uniform(5, self.dur - 60), self.session, 587, self.user_ip[u], "[%s]" % self.user_ip[u],
                         "user", msgs, auth, r.random() < 0.6)
        for u in rng.sample(USERS, 4):  # clients that authenticate and send nothing
            self.plan.at(rng.uniform(5, self.dur - 30), self.session, 587, self.user_ip[u], "[%s]" % self.user_ip[u],
                         "auth-only", [], [(u, self.pw[u])])
        # a guesser against the submission port
        self.plan.at(60, self.session, 587, "127.0.6.71", "User", "smtp-guess", [],
                     [("admin", "123456"), ("test", "password"), ("alice.martin@uni.example", "qwerty")])
        # special deliveries
        specials = [("alice.martin@uni.example", "%s@flaky.example" % "al.ex", "flaky", 30),
                    ("bob.keller@uni.example", "bo.ex@flaky.example", "flaky", 90),
                    ("carol.nguyen@uni.example", "nouser.ca@closed.example", "bounce", 50),
                    ("david.okafor@uni.example", "nouser.da@closed.example", "bounce", 120)]
        for u, rc, kind, t in specials:
            r = self.R()
            self.plan.at(t, self.session, 587, self.user_ip[u], "[%s]" % self.user_ip[u], "special-" + kind,
                         [self.msg(r, u, [rc], tag=kind)], [(u, self.pw[u])])
        # one message to three recipients at one remote domain: "=>" then "->" twice
        r = self.R()
        self.plan.at(70, self.session, 587, self.user_ip[USERS[5]], "[%s]" % self.user_ip[USERS[5]], "multi-rcpt",
                     [self.msg(r, USERS[5], sorted(self.ext(r, "example.org") for _ in range(3)), tag="multi")],
                     [(USERS[5], self.pw[USERS[5]])])
        # rejects
        for i in range(12):
            r = self.R()
            p = r.choice(hostsys.PARTNERS)
            m = self.msg(r, self.ext(r, p[2]), ["%s.%s@uni.example" % (r.choice(FIRST), r.choice(LAST))])
            self.plan.at(rng.uniform(5, self.dur - 20), self.session, 25, p[0], p[1], "unknown-user", [m])
        for i in range(8):
            r = self.R()
            ip = "127.0.4.%d" % r.randint(2, 250)
            m = self.msg(r, "x@mailer.example", [self.ext(r, "gmail.example")])
            self.plan.at(rng.uniform(5, self.dur - 20), self.session, 25, ip, "host%d.dyn.example" % i, "relay", [m])
        for i in range(5):
            r = self.R()
            m = self.msg(r, "x@mailer.example", [r.choice(USERS)])
            self.plan.at(rng.uniform(5, self.dur - 20), self.session, 25, "127.0.7.%d" % r.randint(2, 250),
                         "bot.example", "blocked-network", [m])
        for i in range(4):
            r = self.R()
            m = self.msg(r, "win@%s" % r.choice(["cheap-pharma.example", "lottery-winner.example"]), [r.choice(USERS)])
            self.plan.at(rng.uniform(5, self.dur - 20), self.session, 25, "127.0.5.%d" % r.randint(2, 250),
                         "spam.example", "blocked-sender", [m])
        for i in range(5):
            r = self.R()
            p = r.choice(hostsys.PARTNERS)
            m = self.msg(r, "news@tempfail.example", [r.choice(USERS)])
            self.plan.at(rng.uniform(5, self.dur - 20), self.session, 25, p[0], p[1], "tempfail", [m])
        for i in range(2):
            r = self.R()
            p = r.choice(hostsys.PARTNERS)
            m = self.msg(r, self.ext(r, p[2]), [r.choice(USERS)], subject="Make money fast, guaranteed")
            self.plan.at(rng.uniform(20, self.dur - 20), self.session, 25, p[0], p[1], "content-reject", [m])
        r = self.R()
        p = r.choice(hostsys.PARTNERS)
        self.plan.at(100, self.oversize, p)
        # a submission without authentication on 587
        self.plan.at(150, self.session, 587, "127.0.2.60", "[127.0.2.60]", "no-auth",
                     [self.msg(self.R(), USERS[3], [self.ext(self.R())])])

    def oversize(self, p):
        s = sim.Session(self.rec, EXIM_IP, 25, p[0], p[1], "oversize-size", "exim1")
        if s.open():
            code, msg = s.s.mail("big@%s" % p[2], ["SIZE=6200000"])
            s._r("MAIL", code, msg)
            s.tx.append({"t": sim.now(), "from": "big@%s" % p[2], "rcpts": [], "bytes": 6200000, "accepted": False,
                         "mail": [code, msg.decode()], "label": "oversize-size", "msgid": None})
        s.close()


def compute(recs, mailboxes):
    sessions = [r for r in recs if r["kind"] == "smtp_session"]
    sink_rcpt = [r for r in recs if r["kind"] == "sink_rcpt"]
    sink_del = [r for r in recs if r["kind"] == "sink_delivery"]
    runs = {r["event"]: r for r in recs if r["kind"] == "run"}
    received, rejects, auth = [], collections.Counter(), collections.Counter()
    auth_only = 0
    for s in sessions:
        c = s["replies"][0] if s["replies"] else None
        if c and c[0] == "CONNECT" and c[1] >= 400:
            rejects[("CONNECT", c[1])] += 1
        for a in s["auth"]:
            auth["ok" if a["code"] == 235 else ("failed" if a["code"] == 535 else "other:%s" % a["code"])] += 1
        if any(a["ok"] for a in s["auth"]) and not s["tx"]:
            auth_only += 1
        for tx in s["tx"]:
            if tx.get("mail") and tx["mail"][0] >= 400:
                rejects[("MAIL", tx["mail"][0])] += 1
            for rc, code, text in tx["rcpts"]:
                if code >= 400:
                    rejects[("RCPT", code)] += 1
            if tx.get("data") and tx["data"][0] >= 400:
                rejects[("DATA", tx["data"][0])] += 1
            if tx.get("accepted"):
                received.append({"message_id": tx["msgid"], "from": tx["from"], "port": s["port"], "src": s["src"],
                                 "rcpts": [r for r, c, t in tx["rcpts"] if c in (250, 251)], "bytes": tx["bytes"],
                                 "t": tx["t"], "label": tx.get("label"),
                                 "auth": next((a["user"] for a in s["auth"] if a["ok"]), None)})
    local = sum(len(b["INBOX"]) for b in mailboxes.values())
    notif_local = sum(1 for b in mailboxes.values() for e in b["INBOX"] if e["return_path"] in ("<>", ""))
    remote = sum(len(d["rcpts"]) for d in sink_del)
    deferred = [r for r in sink_rcpt if r["reply"][:1] == "4"]
    failed = [r for r in sink_rcpt if r["reply"][:1] == "5"]
    rcpt_msg = {}
    for m in received:
        for r in m["rcpts"]:
            rcpt_msg.setdefault(r.lower(), m["message_id"])
    traces = []
    for m in received:
        if m["label"] in ("special-flaky", "special-bounce", "multi-rcpt"):
            rc = []
            for r in m["rcpts"]:
                at = [{"t": x["t"], "remote_reply": x["reply"]} for x in sink_rcpt if x["rcpt"] == r]
                for d in sink_del:
                    if r in d["rcpts"]:
                        for a in at:
                            if a["remote_reply"].startswith("250") and abs(a["t"] - d["t"]) < 30:
                                a["remote_reply"] = d["reply"]
                rc.append({"rcpt": r, "attempts": at,
                           "final": "delivered" if any(a["remote_reply"].startswith("250 2.0.0") for a in at)
                           else "failed (bounced)"})
            traces.append({"label": m["label"], "message_id": m["message_id"], "from": m["from"],
                           "accepted_t": m["t"], "recipients": rc,
                           "exim_log_shape": {"special-flaky": "== twice, then =>",
                                              "special-bounce": "** then a bounce message (<= <> ... P=local) "
                                                                "delivered => to the sender",
                                              "multi-rcpt": "=> for the first recipient, -> for the others"}[m["label"]]})
    users_ok = sorted({a["user"] for s in sessions for a in s["auth"] if a["ok"]})
    return {
        "corpus": "exim",
        "generator": "collectors/corpus/gen/exim_corpus.py",
        "period": {"traffic_start": runs.get("start", {}).get("t"), "traffic_end": runs.get("traffic-done", {}).get("t"),
                   "drained": runs.get("stop", {}).get("t")},
        "host": {"name": "exim1.uni.example", "ip": EXIM_IP, "files": ["mainlog", "rejectlog"]},
        "summary": {
            "received": len(received),
            "received_by_port": dict(collections.Counter(str(m["port"]) for m in received)),
            "delivered": local + remote,
            "delivered_local": local,
            "delivered_remote": remote,
            "delivered_notifications_local": notif_local,
            "deferred": len(deferred),
            "deferred_messages": len({rcpt_msg.get(r["rcpt"].lower(), r["rcpt"]) for r in deferred}),
            "failed": len(failed),
            "rejected": [{"stage": k[0], "code": k[1], "count": v} for k, v in sorted(rejects.items())],
            "rejected_total": sum(rejects.values()),
            "logins": [{"protocol": "smtp", "result": "ok", "count": auth["ok"]},
                       {"protocol": "smtp", "result": "failed", "count": auth["failed"]}],
            "smtp_auth_other": {k: v for k, v in auth.items() if k.startswith("other")},
            "smtp_auth_sessions_without_mail": auth_only,
            "bytes_received_client": sum(m["bytes"] for m in received),
            "unique_users": {"smtp": len(users_ok)},
        },
        "accounts": USERS,
        "active_users": {"smtp": users_ok},
        "traces": traces,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", default=None)
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--duration", type=int, default=240)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    from postfix_corpus import make_passwords
    pw = make_passwords(a.seed + 1)
    work = a.work or tempfile.mkdtemp(prefix="postvakt-exim-")
    ex = Exim(work, pw)
    ex.prepare()
    rec = sim.Recorder(ex.path("records.jsonl"))
    sink = sim.Sink(SINK_IP, 2525, rec, sink_behaviour, banner="mx.remote.example ESMTP")
    sink.start()
    try:
        ex.start()
        rec.add("run", event="start", seed=a.seed, duration=a.duration)
        sc = Scenario(rec, pw, a.seed, a.duration)
        sc.plan = Plan(time.time())
        sc.build()
        sc.plan.wait()
        rec.add("run", event="traffic-done")
        deadline = time.time() + 400
        while time.time() < deadline and ex.queue_count() != 0:
            time.sleep(5)
        time.sleep(5)
        rec.add("run", event="stop", errors=sc.plan.errors, queue_at_end=ex.queue_count())
        if sc.plan.errors:
            print("task errors:\n" + "\n".join(sc.plan.errors), file=sys.stderr)
    finally:
        ex.stop()
        sink.stop()
    rec.close()
    os.makedirs(a.out, exist_ok=True)
    for f in ("mainlog", "rejectlog", "paniclog"):
        if os.path.exists(ex.path("log", f)) and os.path.getsize(ex.path("log", f)):
            shutil.copy(ex.path("log", f), os.path.join(a.out, f))
    recs = [json.loads(l) for l in open(ex.path("records.jsonl"))]
    mb = truth_postfix.scan_mailboxes(ex.path("mail"))
    t = compute(recs, mb)
    with open(os.path.join(a.out, "truth.json"), "w") as f:
        json.dump(t, f, indent=1, sort_keys=True)
        f.write("\n")
    with gzip.open(os.path.join(a.out, "records.jsonl.gz"), "wt") as f:
        for r in recs:
            f.write(json.dumps(r, sort_keys=True) + "\n")
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    print("corpus written to", a.out)


if __name__ == "__main__":
    main()
