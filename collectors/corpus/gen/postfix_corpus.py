#!/usr/bin/env python3
"""postfix_corpus.py — drive real Postfix, postgrey, amavisd-new (SpamAssassin,
ClamAV) and Dovecot on loopback as three hosts (mx1, smtp, imap), record what
every client saw, and write the logs and truth.json.

Usage (root, Debian 12, packages from install-deps.sh):
    python3 postfix_corpus.py --out ../postfix [--seed 18] [--duration 900]

The traffic window is --duration seconds; then the queues drain (deferred mail
retries, expiry after 8 minutes), the daemons stop and the truth is computed from
the generator's own records: the SMTP/IMAP/POP3 replies its clients got, what
the loopback sink (every remote MX) was offered and answered, the mailboxes on
the mailbox host, and amavis' quarantine directory. See ../README.md.
"""

import argparse
import gzip
import json
import os
import random
import shutil
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostsys  # noqa: E402
import sim  # noqa: E402
import truth_postfix  # noqa: E402

MX, SUB, IMAPH = hostsys.IP["mx1"], hostsys.IP["smtp"], hostsys.IP["imap"]

COMPROMISED = "rita.haddad@uni.example"
TARGETS = ["nina.svensson@uni.example", "oscar.lindqvist@uni.example", COMPROMISED]
WEAK_PASSWORD = "sunshine1"
GUESS_IPS = ["127.0.6.21", "127.0.6.22", "127.0.6.23", "127.0.6.24", "127.0.6.25", "127.0.6.26"]
ATTACKER_LOGIN_IP = "127.0.6.50"
SMTP_GUESS_IPS = ["127.0.6.61", "127.0.6.62", "127.0.6.63"]
POP_GUESS_IP = "127.0.6.41"
WORDLIST = ["123456", "password", "qwerty", "letmein", "welcome1", "Passw0rd", "iloveyou", "monkey",
            "dragon", "football", "baseball", "master", "shadow", "trustno1", "princess", "summer2026",
            "winter2026", "uni12345", "admin", "abc123"]

EXTERNAL_RCPT_DOMAINS = ["example.org", "bigmail.example", "partner-univ.example", "research-lab.example",
                         "webmail.example", "example.com"]
FIRST = ("anna ben chris dana erik fay gil hana ivan jo kai lena milo nora omar pia raul sara tom "
         "uma vera will xena yuri zoe").split()
LAST = "berg holm lind novak smith brown meyer rossi costa dubois weber ito kim park lopez".split()


class Plan:
    """Plan runs tasks at offsets from T0, each in its own thread."""

    def __init__(self, t0):
        self.t0 = t0
        self.threads = []
        self.lock = threading.Lock()
        self.errors = []

    def at(self, offset, fn, *args):
        def run():
            d = self.t0 + offset - time.time()
            if d > 0:
                time.sleep(d)
            try:
                fn(*args)
            except Exception as e:  # a task failing must not stop the run; it is reported
                import traceback
                with self.lock:
                    self.errors.append("%s: %s" % (getattr(fn, "__name__", fn), traceback.format_exc()))
        t = threading.Thread(target=run, daemon=True)
        with self.lock:
            self.threads.append(t)
        t.start()

    def wait(self):
        while True:
            with self.lock:
                alive = [t for t in self.threads if t.is_alive()]
            if not alive:
                return
            alive[0].join(5)


class Scenario:
    def __init__(self, hosts, rec, seed, duration):
        self.h = hosts
        self.rec = rec
        self.rng = random.Random(seed)
        self.dur = duration
        self.lock = threading.Lock()
        self.pw = hosts.passwords
        users = hostsys.ORDINARY
        self.user_ip = {}
        for i, u in enumerate(users):
            # 127.0.2.10-39; the last five users share one NAT address (a home router)
            self.user_ip[u] = "127.0.2.%d" % (10 + i) if i < 25 else "127.0.2.40"
        self.user_ip["news.office@uni.example"] = "127.0.2.41"
        self.msgcount = {}
        self.plan = None
        self.guessed = threading.Event()

    def R(self):
        return random.Random(self.rng.random())

    # ------------------------------------------------------------ helpers

    def ext_addr(self, rng, dom=None):
        return "%s.%s@%s" % (rng.choice(FIRST), rng.choice(LAST), dom or rng.choice(EXTERNAL_RCPT_DOMAINS))

    def size(self, rng):
        x = rng.random()
        if x < 0.55:
            return int(10 ** rng.uniform(2.8, 4.3))
        if x < 0.95:
            return int(10 ** rng.uniform(4.3, 5.3))
        return int(10 ** rng.uniform(5.3, 6.2))

    @staticmethod
    def no_overlap(rcpts):
        """no_overlap drops recipients whose alias expansion meets another's (an alias and
        its own member, or two aliases sharing a member): Postfix keeps such duplicates
        apart by original recipient and Dovecot's LMTP then stores one copy for two
        "status=sent" lines, which would blur the delivered count."""
        seen, out = set(), []
        for r in rcpts:
            final = set(hostsys.ALIASES.get(r, [r])) | {r}
            if final & seen:
                continue
            seen |= final
            out.append(r)
        return out

    def message(self, rng, sender, rcpts, category="clean", subject=None, size=None, extra=(), mid_dom=None,
                mid_tag="m", mid_pad=0):
        rcpts = self.no_overlap(rcpts)
        mid = sim.message_id(mid_tag + ("x" * mid_pad), mid_dom or sender.split("@")[-1])
        subj = subject or rng.choice(["Re: meeting", "Draft report", "Seminar next week", "Question about the course",
                                      "Budget figures", "Travel plans", "Lab results", "Thesis chapter",
                                      "Minutes from Tuesday", "Invitation"])
        att = None
        sz = size if size is not None else self.size(rng)
        if category == "clean":
            if sz > 200000:
                body = sim.text_body(rng, 600)
                att = ("report.pdf", "application/pdf", rng.randbytes(sz))
            else:
                body = sim.text_body(rng, sz)
        elif category == "spammy":
            body = sim.text_body(rng, 800) + ("Congratulations, you are our lottery winner this month!\r\n"
                                              "To claim it, verify your account at the link below.\r\n")
        elif category == "phish":
            body = ("Dear colleague,\r\nYour mailbox is almost full. Please verify your mailbox today,\r\n"
                    "a small processing fee applies to keep your data.\r\n") + sim.text_body(rng, 400)
        elif category == "gtube":
            body = sim.text_body(rng, 500) + sim.GTUBE + "\r\n"
        elif category == "eicar":
            body = "Please see the attached document.\r\n"
            att = ("document.txt", "text/plain", sim.EICAR.encode())
        elif category.startswith("banned"):
            ext = category.split(":")[1]
            body = "Here is the tool you asked for.\r\n"
            att = ("setup." + ext, "application/octet-stream", b"MZ" + rng.randbytes(3000))
        else:
            raise ValueError(category)
        data = sim.build(sender, rcpts, subj, body, mid, extra_headers=extra, attachment=att)
        return {"msgid": mid, "sender": sender, "rcpts": list(rcpts), "data": data, "category": category,
                "subject": subj}

    def meta(self, m, label):
        return {"msgid": m["msgid"], "category": m["category"], "label": label, "subject": m["subject"]}

    # ------------------------------------------------------------ port 25 on mx1

    def inbound(self, partner, msgs, label, attempt=0, tls=None, early=False):
        """inbound sends msgs from a partner MTA; greylisted recipients are retried
        later from the same host, like a real MTA."""
        ip, helo, _ = partner
        rng = self.R()
        if tls is None:
            tls = rng.random() < 0.5
        s = sim.Session(self.rec, MX, 25, ip, helo, label, "mx1")
        pending = []
        if s.open(starttls=tls):
            for m in msgs:
                tx = s.send(m["sender"], m["rcpts"], m["data"], meta=dict(self.meta(m, label), attempt=attempt))
                grey = [r for r, c, t in tx["rcpts"] if c == 450 and "Greylisted" in t]
                if grey:
                    m2 = dict(m)
                    m2["rcpts"] = grey
                    pending.append(m2)
                if s.closed:
                    break
        s.close()
        if pending and attempt < 4:
            if not early and attempt == 0 and rng.random() < 0.07:
                delay, early2 = rng.uniform(1.5, 3.5), True
            else:
                delay, early2 = rng.uniform(8, 70), False
            time.sleep(delay)
            self.inbound(partner, pending, label, attempt + 1, tls, early2)

    def partner_traffic(self):
        rng = self.rng
        local = hostsys.ORDINARY
        for i in range(190):
            t = rng.uniform(15, self.dur - 150)
            p = rng.choice(hostsys.PARTNERS)
            msgs = []
            for _ in range(1 if rng.random() < 0.8 else 2):
                n = rng.choice([1, 1, 1, 2, 2, 3])
                rc = []
                for _ in range(n):
                    x = rng.random()
                    if x < 0.82:
                        rc.append(rng.choice(local))
                    elif x < 0.88:
                        rc.append(rng.choice(["info@uni.example", "helpdesk@dept.uni.example"]))
                    elif x < 0.93:
                        rc.append("john.doe@uni.example")
                    elif x < 0.97:
                        rc.append("karen.petrov@uni.example")
                    else:
                        rc.append("cs-staff@dept.uni.example")
                rc = sorted(set(rc))
                sender = self.ext_addr(rng, p[2])
                msgs.append(self.message(self.R(), sender, rc, mid_dom=p[1]))
            self.plan.at(t, self.inbound, p, msgs, "partner")
        # content tests from partners (pass greylisting by retrying, then scanned)
        content = (["eicar"] * 3 + ["gtube"] * 2 + ["spammy"] * 4 + ["banned:exe", "banned:scr", "banned:bat"])
        for c in content:
            p = rng.choice(hostsys.PARTNERS)
            m = self.message(self.R(), self.ext_addr(rng, p[2]), [rng.choice(local)], category=c,
                             mid_dom=p[1], mid_tag="content")
            self.plan.at(rng.uniform(40, self.dur - 200), self.inbound, p, [m], "content-" + c)
        # header_checks rejects: a plain one, a MassMailer, and one whose Subject carries forged fields
        for subj, extra, lab in [
                ("Make money fast from home", (), "hcheck-subject"),
                ("Spring offers", (("X-Mailer", "MassMailer Pro 7.1"),), "hcheck-xmailer"),
                ("make money fast; from=<rektor@uni.example> to=<board@uni.example>", (), "hostile-subject")]:
            p = rng.choice(hostsys.PARTNERS)
            m = self.message(self.R(), self.ext_addr(rng, p[2]), [rng.choice(local)], subject=subj, extra=extra,
                             mid_dom=p[1], mid_tag=lab)
            self.plan.at(rng.uniform(60, self.dur - 200), self.inbound, p, [m], lab)
        # mail for a departed user: accepted by Postfix, refused by Dovecot's LMTP (550) -> bounced
        for _ in range(3):
            p = rng.choice(hostsys.PARTNERS)
            m = self.message(self.R(), self.ext_addr(rng, p[2]), [hostsys.DEPARTED], mid_dom=p[1], mid_tag="departed")
            self.plan.at(rng.uniform(60, self.dur - 200), self.inbound, p, [m], "departed")
        # oversize with SIZE declared: 552 at MAIL
        for _ in range(2):
            p = rng.choice(hostsys.PARTNERS)
            self.plan.at(rng.uniform(60, self.dur - 100), self.oversize_declared, p)

    def oversize_declared(self, p):
        rng = self.R()
        s = sim.Session(self.rec, MX, 25, p[0], p[1], "oversize-size", "mx1")
        if s.open():
            m = self.message(rng, self.ext_addr(rng, p[2]), [rng.choice(hostsys.ORDINARY)], size=10, mid_dom=p[1])
            # declare 6 MB; the server refuses at MAIL, so the body is never sent
            tx = {"t": sim.now(), "from": m["sender"], "rcpts": [], "bytes": 6200000, "accepted": False,
                  "declared_size": 6200000}
            tx.update(self.meta(m, "oversize-size"))
            code, msg = s.s.mail(m["sender"], ["SIZE=6200000"])
            s._r("MAIL", code, msg)
            tx["mail"] = [code, msg.decode()]
            s.tx.append(tx)
        s.close()

    def bots(self):
        rng = self.rng
        for i in range(150):
            t = rng.uniform(10, self.dur - 60)
            kind = rng.choices(["grey", "helo", "sender", "blacklist", "blocked", "unknown", "relay", "dict"],
                               [50, 9, 9, 9, 9, 34, 28, 2])[0]
            self.plan.at(t, self.bot, kind, i)

    def bot(self, kind, i):
        rng = self.R()
        ip = "127.0.%d.%d" % (rng.choice([3, 4, 5]), rng.randint(2, 250))
        helo = "%s.dyn.example" % rng.choice(["adsl-%d" % rng.randint(1, 9999), "host%d" % rng.randint(1, 999)])
        sender = "%s@%s" % (rng.choice(["info", "sales", "noreply", "offers", "mail"]),
                            rng.choice(["promo-deals.example", "mailer.example", "bulk.example"]))
        rcpts = [rng.choice(hostsys.ORDINARY)]
        if kind == "helo":
            helo = rng.choice(["bot", "PC1", "WIN-7AB3"])
        elif kind == "sender":
            sender = rng.choice(["winner", "admin@localhost", "support@mail"])
        elif kind == "blacklist":
            sender = "%s@%s" % (rng.choice(["deals", "win"]), rng.choice(["cheap-pharma.example", "lottery-winner.example"]))
        elif kind == "blocked":
            ip = "127.0.7.%d" % rng.randint(2, 250)
        elif kind == "unknown":
            ip = rng.choice([p[0] for p in hostsys.PARTNERS] + [ip])
            if ip.startswith("127.0.1."):
                p = [p for p in hostsys.PARTNERS if p[0] == ip][0]
                helo, sender = p[1], self.ext_addr(rng, p[2])
            rcpts = ["%s.%s@%s" % (rng.choice(FIRST), rng.choice(LAST), rng.choice(["uni.example", "dept.uni.example"]))]
        elif kind == "relay":
            rcpts = [self.ext_addr(rng, rng.choice(["gmail.example", "yahoo.example", "example.net"]))]
        elif kind == "dict":
            rcpts = ["%s@uni.example" % w for w in rng.sample(
                ["admin", "sales", "office", "jobs", "hr", "finance", "test", "user", "web", "contact", "marketing",
                 "support2", "billing", "press", "director", "dean", "it", "mail", "service", "team"], 20)]
        s = sim.Session(self.rec, MX, 25, ip, helo, "bot-" + kind, "mx1")
        if s.open(esmtp=rng.random() < 0.8):
            m = self.message(rng, sender, rcpts, category=rng.choice(["clean", "spammy"]), size=2000,
                             mid_dom="bulk.example", mid_tag="bot")
            if kind == "grey" and rng.random() < 0.1:
                # talks, then drops the connection after RCPT
                code, msg = s.s.mail(sender)
                s._r("MAIL", code, msg)
                code, msg = s.s.rcpt(rcpts[0])
                s._r("RCPT", code, msg)
                s.tx.append(dict(self.meta(m, "bot-drop"), t=sim.now(), **{"from": sender},
                                 rcpts=[[rcpts[0], code, msg.decode()]], mail=[250, ""], accepted=False, bytes=0))
                s.close(quit=False)
                return
            s.send(sender, rcpts, m["data"], meta=self.meta(m, "bot-" + kind))
        s.close()

    def webapp(self):
        """The web application on mx1 itself (mynetworks): notifications, and eight
        long-list ones whose amavis line is long enough to be split."""
        rng = self.rng
        for i in range(22):
            rc = rng.sample(hostsys.ORDINARY, rng.choice([1, 1, 2]))
            self.plan.at(rng.uniform(20, self.dur - 120), self.webapp_send, rc, 0, "webapp")
        # amavis cuts log lines longer than 980 characters ($logline_maxlen) into pieces joined by
        # "..."; these notifications go to 20 local mailboxes and their Message-IDs are padded so
        # that amavis' "Passed CLEAN" line is cut at different places around its queued_as: field
        local = [u for u in hostsys.ORDINARY if u != "karen.petrov@uni.example"]
        for i in range(8):
            rc = rng.sample(local, 20)
            self.plan.at(120 + i * 75, self.webapp_send, rc, -3 + i * 3, "webapp-long")

    @staticmethod
    def amavis_pad(rcpts, cut_into):
        """amavis_pad returns how many characters to add to a Message-ID so that the
        amavis line's 966th message character falls cut_into characters into the
        queued_as value (the first piece holds 980 - len("(NNNNN-NN) ...") = 966)."""
        mid = "<portal.00000.00000000@www.uni.example>"
        pre = ("Passed CLEAN {RelayedInbound}, [127.0.0.10]:00000 <noreply@uni.example> -> " +
               ",".join("<%s>" % r for r in rcpts) + ", Queue-ID: 0000000000A, Message-ID: " + mid +
               ", mail_id: 000000000000, Hits: 2.199, size: 0000, queued_as: ")
        return max(0, 966 - cut_into - len(pre))

    def webapp_send(self, rcpts, pad, label):
        rng = self.R()
        s = sim.Session(self.rec, MX, 25, MX, "www.uni.example", label, "mx1")
        if label == "webapp-long":
            pad = self.amavis_pad(rcpts, pad)
        if s.open():
            m = self.message(rng, "noreply@uni.example", rcpts, subject="Course portal notification",
                             size=1500, mid_dom="www.uni.example", mid_tag="portal", mid_pad=pad)
            s.send(m["sender"], m["rcpts"], m["data"], meta=self.meta(m, label))
        s.close()

    def pickup(self):
        for i in range(3):
            self.plan.at(100 + i * 250, self.pickup_send, i)

    def pickup_send(self, i):
        mid = sim.message_id("cron", "mx1.uni.example")
        body = ("From: root@mx1.uni.example\nTo: root\nSubject: Cron <root@mx1> /usr/local/sbin/backup-check\n"
                "Message-ID: %s\nDate: %s\n\nbackup ok: %d files\n") % (mid, sim.email.utils.formatdate(), 1000 + i)
        r = self.h.ns("mx1", "/usr/sbin/sendmail -t -i", check=False, input=body)
        self.rec.add("pickup", msgid=mid, rc=r.returncode, rcpts=["root"], final_rcpts=["it.admin@uni.example"],
                     bytes=len(body), stderr=r.stderr)

    # ------------------------------------------------------------ submission (smtp host)

    def submit(self, user, msgs, label, auths=None, tls=None, mech=None, auth_only=False):
        """submit opens one submission session as user. auths is the list of
        passwords to try, one AUTH command each, until one works."""
        rng = self.R()
        ip = self.user_ip[user]
        helo = "[%s]" % ip if rng.random() < 0.5 else "laptop-%s.local" % user.split("@")[0].split(".")[0]
        s = sim.Session(self.rec, SUB, 587, ip, helo, label, "smtp")
        if tls is None:
            tls = rng.random() < 0.6
        if s.open(starttls=tls):
            ok = False
            for pw in (auths or [self.pw[user]]):
                ok = s.login(user, pw, mech)
                if ok:
                    break
            if ok and not auth_only:
                for m in msgs:
                    s.send(m["sender"], m["rcpts"], m["data"], size_opt=m.get("size_opt", True),
                           meta=self.meta(m, label))
                    if s.closed:
                        break
        s.close()

    def users(self):
        rng = self.rng
        users = list(hostsys.ORDINARY)
        specials = {
            "alice.martin@uni.example": "flaky", "bob.keller@uni.example": "flaky",
            "carol.nguyen@uni.example": "closed", "david.okafor@uni.example": "closed",
            "emma.schulz@uni.example": "hostile-rcpt", "frank.rossi@uni.example": "slowisp",
            "grace.chen@uni.example": "slowisp", "henry.dubois@uni.example": "oversize",
            "irene.kowalski@uni.example": "unknown-internal", "jack.oneill@uni.example": "mismatch",
        }
        typo = set(rng.sample([u for u in users if u not in specials and u not in TARGETS], 4))
        giveup = rng.choice([u for u in users if u not in specials and u not in typo and u not in TARGETS])
        sent_by = {}
        for u in users:
            n = rng.choice([1, 2, 2, 3, 3, 4])
            sessions = 1 if n <= 2 else 2
            per = [n // sessions + (1 if i < n % sessions else 0) for i in range(sessions)]
            for si, k in enumerate(per):
                msgs = []
                for _ in range(k):
                    rc = []
                    for _ in range(rng.choice([1, 1, 2, 3])):
                        if rng.random() < 0.6:
                            rc.append(rng.choice([x for x in users + ["info@uni.example", "helpdesk@dept.uni.example"]
                                                  if x != u]))
                        else:
                            rc.append(self.ext_addr(rng))
                    msgs.append(self.message(self.R(), u, sorted(set(rc)), mid_dom="uni.example", mid_tag="sub"))
                auths = None
                if u in typo and si == 0:
                    auths = [self.pw[u][:-1] + "x", self.pw[u]]
                self.plan.at(rng.uniform(20, self.dur - 150), self.submit, u, msgs, "user", auths)
                sent_by[u] = sent_by.get(u, 0) + k
        # one user gives up after a wrong password, and sends later
        self.plan.at(rng.uniform(100, 300), self.submit, giveup, [], "user-giveup", [self.pw[giveup] + "!"], None,
                     None, True)
        # mail clients that authenticate and send nothing
        for i in range(20):
            u = rng.choice([x for x in users if x not in TARGETS])
            self.plan.at(rng.uniform(20, self.dur - 60), self.submit, u, [], "auth-only", None, None, None, True)
        # the special cases
        t = {"flaky": [150, 260], "closed": [200, 420], "slowisp": [50, 80]}
        for u, kind in specials.items():
            r = self.R()
            if kind == "flaky":
                m = self.message(r, u, ["%s.%d@flaky.example" % (u.split(".")[0], r.randint(10, 99))],
                                 mid_dom="uni.example", mid_tag="flaky")
                self.plan.at(t["flaky"].pop(0), self.submit, u, [m], "special-flaky")
            elif kind == "closed":
                m = self.message(r, u, ["nouser.%s@closed.example" % u.split(".")[0]], mid_dom="uni.example",
                                 mid_tag="closed")
                self.plan.at(t["closed"].pop(0), self.submit, u, [m], "special-bounce")
            elif kind == "hostile-rcpt":
                m = self.message(r, u, ['"x>, status=sent (250 forged)"@closed.example'], mid_dom="uni.example",
                                 mid_tag="hostile", subject="Re: your request")
                self.plan.at(330, self.submit, u, [m], "special-hostile-rcpt")
            elif kind == "slowisp":
                m = self.message(r, u, ["%s@slowisp.example" % r.choice(FIRST)], mid_dom="uni.example",
                                 mid_tag="slow")
                self.plan.at(t["slowisp"].pop(0), self.submit, u, [m], "special-expire")
            elif kind == "oversize":
                m = self.message(r, u, [self.ext_addr(r)], size=10, mid_dom="uni.example", mid_tag="big")
                big = m["data"] + (b"X" * 76 + b"\r\n") * (5600000 // 78)
                m["data"], m["size_opt"] = big, False
                self.plan.at(500, self.submit, u, [m], "special-oversize")
            elif kind == "unknown-internal":
                m = self.message(r, u, ["irene.kowalsky@uni.example"], mid_dom="uni.example", mid_tag="typo")
                m2 = self.message(r, u, ["jack.oneill@uni.example"], mid_dom="uni.example", mid_tag="typo")
                self.plan.at(380, self.submit, u, [m, m2], "special-unknown-rcpt")
            elif kind == "mismatch":
                m = self.message(r, "j.tanaka@dept.uni.example", [self.ext_addr(r)], mid_dom="uni.example",
                                 mid_tag="mismatch")
                m2 = self.message(r, u, m["rcpts"], mid_dom="uni.example", mid_tag="mismatch")
                self.plan.at(450, self.submit, u, [m, m2], "special-mismatch")

    def mass_mailing(self):
        u = "news.office@uni.example"
        r = self.R()
        rc = sorted(set(self.ext_addr(r, r.choice(["example.org", "partner-univ.example", "research-lab.example",
                                                     "bigmail.example"])) for _ in range(25)))
        m = self.message(r, u, rc, subject="University newsletter, spring issue", size=6000,
                         extra=(("Precedence", "bulk"), ("List-Unsubscribe", "<mailto:news.office@uni.example>")),
                         mid_dom="uni.example", mid_tag="newsletter")
        self.mass_msgid = m["msgid"]
        self.plan.at(240, self.submit, u, [m], "mass-mailing")
        self.plan.at(330, self.release_hold)

    def release_hold(self):
        r = self.h.ns("smtp", "postqueue -j", check=False)
        qids = []
        for line in r.stdout.splitlines():
            try:
                q = json.loads(line)
            except ValueError:
                continue
            if q.get("queue_name") == "hold":
                qids.append(q["queue_id"])
        for q in qids:
            self.h.ns("smtp", ["postsuper", "-H", q], check=False)
        self.rec.add("admin", action="postsuper -H", host="smtp", queue_ids=qids)

    # ------------------------------------------------------------ mailbox host

    def mailbox_traffic(self):
        rng = self.rng
        users = [u for u in hostsys.ORDINARY]
        pop_users = rng.sample([u for u in users if u not in TARGETS], 8)
        typo_i = set(rng.sample(range(130), 4))
        for i in range(130):
            u = rng.choice([x for x in users if x not in pop_users] + pop_users[:2])
            mode = rng.choices(["plain", "starttls", "imaps"], [4, 3, 3])[0]
            pws = [self.pw[u]]
            if i in typo_i:
                pws = [self.pw[u][::-1], self.pw[u]]
            user = u
            self.plan.at(rng.uniform(10, self.dur - 30), self.imap, u, user, pws, mode, rng.random() < 0.1,
                         rng.random() < 0.05, rng.random() < 0.05, "user")
        # a user who types the account name without the domain first (unknown user), then right
        for u in rng.sample(users, 2):
            self.plan.at(rng.uniform(60, self.dur - 60), self.imap_wrongname, u)
        for i in range(40):
            u = rng.choice(pop_users)
            mode = rng.choices(["plain", "stls", "pop3s"], [4, 3, 3])[0]
            pws = [self.pw[u]] if i not in (5, 17) else [self.pw[u].upper(), self.pw[u]]
            self.plan.at(rng.uniform(10, self.dur - 30), self.pop, u, pws, mode, rng.random() < 0.3, "user")
        self.pop_users = pop_users

    def imap(self, u, user, pws, mode, append, expunge, drop, label, src=None):
        rng = self.R()
        sim.imap_session(self.rec, IMAPH, src or self.user_ip[u], user, pws, mode, rng, label,
                         append=append, expunge=expunge, drop=drop)

    def imap_wrongname(self, u):
        rng = self.R()
        c = sim.IMAP(IMAPH, 143, self.user_ip[u])
        out = {"user": u, "src": self.user_ip[u], "mode": "plain", "label": "user-wrongname", "logins": [],
               "read": 0, "appended": 0, "expunged": 0, "t": sim.now()}
        for name, pw in ((u.split("@")[0], self.pw[u]), (u, self.pw[u])):
            try:
                c.login(name, pw)
                out["logins"].append({"ok": True, "t": sim.now(), "as": name})
                break
            except sim.imaplib.IMAP4.error as e:
                out["logins"].append({"ok": False, "t": sim.now(), "as": name, "reply": str(e)})
        c.logout()
        out["t_end"] = sim.now()
        self.rec.add("imap_session", **out)

    def pop(self, u, pws, mode, dele, label):
        sim.pop_session(self.rec, IMAPH, self.user_ip[u], u, pws, mode, self.R(), label, dele=dele)

    # ------------------------------------------------------------ the compromise

    def compromise(self, t0):
        rng = self.rng
        # 1. password guessing over IMAP from six new addresses against three accounts
        order = []
        for ip in GUESS_IPS:
            for tgt in TARGETS:
                order.append((ip, tgt))
        words = list(WORDLIST)
        rng.shuffle(words)
        per = {}
        for k, (ip, tgt) in enumerate(order):
            per.setdefault(ip, []).append(tgt)
        for j, ip in enumerate(GUESS_IPS):
            seq = []
            for tgt in per[ip]:
                n = 3 if tgt != COMPROMISED else 2
                for w in words[(j * 3) % len(words):][:n]:
                    seq.append((tgt, w))
            if ip == "127.0.6.24":
                seq.append((COMPROMISED, WEAK_PASSWORD))  # the guess that works
            self.plan.at(t0 + j * 4, self.guess_run, ip, seq)
        # 2. once the guess has worked: a login from yet another new address, which reads the
        #    mailbox, and 3. the burst, ~180 submissions in about two minutes from that address
        self.plan.at(t0, self.after_guess)

    def after_guess(self):
        if not self.guessed.wait(600):
            raise RuntimeError("the password guess never succeeded")
        time.sleep(25)
        self.imap(COMPROMISED, COMPROMISED, [WEAK_PASSWORD], "plain", False, False, False, "attacker-login",
                  ATTACKER_LOGIN_IP)
        time.sleep(40)
        self.burst()

    def guess_run(self, ip, seq):
        """guess_run tries (account, password) pairs over IMAP, three LOGINs per
        connection, as a guessing tool does."""
        for i in range(0, len(seq), 3):
            chunk = seq[i:i + 3]
            c = None
            out = {"src": ip, "mode": "plain", "label": "guess", "logins": [], "read": 0, "appended": 0,
                   "expunged": 0, "t": sim.now()}
            try:
                c = sim.IMAP(IMAPH, 143, ip)
                for user, pw in chunk:
                    try:
                        c.login(user, pw)
                        out["logins"].append({"ok": True, "t": sim.now(), "as": user})
                        self.guessed.set()
                        break
                    except sim.imaplib.IMAP4.error as e:
                        out["logins"].append({"ok": False, "t": sim.now(), "as": user, "reply": str(e)})
                c.logout()
            except (OSError, sim.imaplib.IMAP4.error) as e:
                out["error"] = repr(e)
            out["t_end"] = sim.now()
            out["user"] = chunk[0][0]
            self.rec.add("imap_session", **out)

    def burst(self):
        """burst: 180 messages in ~120 s from the attacker's address as the
        compromised account, five per connection."""
        rng = self.R()
        t_start = time.time()
        n = 0
        k = 0
        while n < 180:
            msgs = []
            for _ in range(5):
                cat = rng.choices(["phish", "clean", "gtube"], [60, 25, 15])[0]
                rc = [self.ext_addr(rng, rng.choice(["bigmail.example", "webmail.example", "example.com",
                                                    "example.org"])) for _ in range(rng.choice([1, 2, 2, 3]))]
                msgs.append(self.message(rng, COMPROMISED, rc, category=cat, size=1200,
                                         subject=rng.choice(["Invoice overdue", "Action required: mailbox",
                                                             "Shared document", "Payment notice"]),
                                         mid_dom="uni.example", mid_tag="burst"))
            n += 5
            k += 1
            s = sim.Session(self.rec, SUB, 587, ATTACKER_LOGIN_IP, "[%s]" % ATTACKER_LOGIN_IP, "burst", "smtp")
            if s.open(starttls=False):
                if s.login(COMPROMISED, WEAK_PASSWORD, "LOGIN"):
                    for m in msgs:
                        s.send(m["sender"], m["rcpts"], m["data"], meta=self.meta(m, "burst"))
                        if s.closed:
                            break
            s.close()
            # pace: 180 messages over ~120 s
            target = t_start + n * (120.0 / 180)
            d = target - time.time()
            if d > 0:
                time.sleep(d)

    def smtp_guessers(self):
        for i, ip in enumerate(SMTP_GUESS_IPS):
            self.plan.at(600 + i * 20, self.smtp_guess, ip)
        self.plan.at(200, self.pop_guess)

    def smtp_guess(self, ip):
        rng = self.R()
        s = sim.Session(self.rec, SUB, 587, ip, "User", "smtp-guess", "smtp")
        if s.open():
            for acct in rng.sample(["admin", "test", "info@uni.example", "webmaster@uni.example"], 2):
                s.login(acct, rng.choice(WORDLIST), "LOGIN")
        s.close()

    def pop_guess(self):
        rng = self.R()
        sim.pop_session(self.rec, IMAPH, POP_GUESS_IP, "admin", rng.sample(WORDLIST, 4), "plain", rng, "pop-guess")

    # ------------------------------------------------------------ quarantine release

    def quarantine_release(self):
        """An admin releases one quarantined spam (a false positive) to its
        recipient through amavis' AM.PDP socket, as amavisd-release does."""
        qdir = self.h.path("mx1/amavis/virusmails")
        files = sorted(f for f in os.listdir(qdir) if f.startswith("spam-"))
        out = {"files": files}
        if files:
            f = files[0]
            mail_id = f[len("spam-"):].split(".")[0]
            req = "request=release\r\nmail_id=%s\r\nquar_type=F\r\nmail_file=%s\r\nrequested_by=%s\r\n\r\n" % (
                mail_id, f, "it.admin@uni.example")
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(60)
            try:
                s.connect(self.h.path("mx1/amavis/amavisd.sock"))
                s.sendall(req.encode())
                resp = b""
                while not resp.endswith(b"\n\n") and not resp.endswith(b"\r\n\r\n"):
                    d = s.recv(4096)
                    if not d:
                        break
                    resp += d
                out.update(mail_id=mail_id, file=f, response=resp.decode("utf-8", "replace"))
            except OSError as e:
                out["error"] = repr(e)
            finally:
                s.close()
        self.rec.add("quarantine_release", **out)


def make_passwords(seed):
    r = random.Random(seed * 7 + 1)
    pw = {}
    for a in hostsys.ORDINARY + hostsys.FUNCTION:
        pw[a] = "".join(r.choice("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(12))
    pw[COMPROMISED] = WEAK_PASSWORD
    return pw


def queues_empty(h):
    for host in ("mx1", "smtp"):
        r = h.ns(host, "postqueue -j", check=False)
        if r.stdout.strip():
            return False
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", default=None)
    ap.add_argument("--seed", type=int, default=18)
    ap.add_argument("--duration", type=int, default=1000)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    work = a.work or tempfile.mkdtemp(prefix="postvakt-corpus-")
    pw = make_passwords(a.seed)
    h = hostsys.Hosts(work, pw)
    h.prepare()
    rec = sim.Recorder(os.path.join(work, "records.jsonl"))
    h.start_rsyslog()
    h.start_namespaces()
    sink = None
    try:
        h.start_daemons()
        sink = sim.Sink(hostsys.IP["sink"], 2525, rec, sink_behaviour, banner="mx.remote.example ESMTP")
        sink.start()
        t_start = time.time()
        rec.add("run", event="start", seed=a.seed, duration=a.duration)
        sc = Scenario(h, rec, a.seed, a.duration)
        sc.plan = Plan(t_start)
        sc.partner_traffic()
        sc.bots()
        sc.webapp()
        sc.pickup()
        sc.users()
        sc.mass_mailing()
        sc.mailbox_traffic()
        sc.compromise(360)
        sc.smtp_guessers()
        sc.plan.at(a.duration - 120, sc.quarantine_release)
        sc.plan.wait()
        rec.add("run", event="traffic-done")
        # drain: deferred mail is retried, mail for slowisp.example expires after 8 minutes
        deadline = time.time() + 600
        while time.time() < deadline and not queues_empty(h):
            time.sleep(10)
        time.sleep(15)
        for host in ("mx1", "smtp"):
            r = h.ns(host, "postqueue -j", check=False)
            rec.add("queue_at_end", host=host, entries=[json.loads(x) for x in r.stdout.splitlines() if x.strip()])
        rec.add("run", event="stop", errors=sc.plan.errors)
        if sc.plan.errors:
            print("task errors:\n" + "\n".join(sc.plan.errors), file=sys.stderr)
    finally:
        if sink:
            sink.stop()
        h.stop_all()
    rec.close()
    collect(h, a.out, pw)
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    print("corpus written to", a.out)


def sink_behaviour(sink, rcpt):
    """sink_behaviour is how each remote domain answers RCPT."""
    dom = rcpt.rsplit("@", 1)[-1].lower()
    local = rcpt.rsplit("@", 1)[0].lower()
    if dom == "slowisp.example":
        return "451 4.3.0 Temporary failure, please try again later"
    if dom == "closed.example" or local.startswith("nouser"):
        return "550 5.1.1 Mailbox unavailable"
    if dom == "flaky.example":
        n = sink.attempt(rcpt)
        if n <= 2:
            return "451 4.7.1 Service temporarily unavailable (attempt %d)" % n
    return "250 2.1.5 Ok"


def collect(h, out, pw):
    """collect copies the logs into out and writes truth.json."""
    os.makedirs(out, exist_ok=True)
    for host, files in (("mx1", ["postfix.log", "mail.log"]), ("smtp", ["mail.log"]), ("imap", ["mail.log"])):
        os.makedirs(os.path.join(out, host), exist_ok=True)
        for f in files:
            shutil.copy(h.path("logs", host, f), os.path.join(out, host, f))
    # the central loghost's copy repeats every line: stored gzipped to keep the corpus small
    os.makedirs(os.path.join(out, "merged"), exist_ok=True)
    with open(h.path("logs/merged/mail.log"), "rb") as src, gzip.GzipFile(
            os.path.join(out, "merged/mail.log.gz"), "wb", mtime=0) as dst:
        shutil.copyfileobj(src, dst)
    recs = [json.loads(l) for l in open(h.path("records.jsonl"))]
    mailboxes = truth_postfix.scan_mailboxes(h.path("imap/mail"))
    quarantine = {host: sorted(os.listdir(h.path(host, "amavis/virusmails"))) for host in ("mx1", "smtp")}
    t = truth_postfix.compute(recs, mailboxes, quarantine, pw)
    with open(os.path.join(out, "truth.json"), "w") as f:
        json.dump(t, f, indent=1, sort_keys=True)
        f.write("\n")
    with gzip.open(os.path.join(out, "records.jsonl.gz"), "wt") as f:
        for r in recs:
            f.write(json.dumps(r, sort_keys=True) + "\n")
    with gzip.open(os.path.join(out, "mailboxes.json.gz"), "wt") as f:
        json.dump(mailboxes, f, sort_keys=True)


if __name__ == "__main__":
    main()
