"""Shared parts of the corpus generators: the record of what the clients saw, the
loopback SMTP sink that plays every remote MX, and SMTP/IMAP/POP3 clients that
bind a chosen 127.x.y.z source address.

Everything here is Python 3 standard library. The records written here are the
generator's ground truth: replies the clients got, what the sink was offered and
answered. Nothing is read back from the mail servers' logs.
"""

import email.utils
import imaplib
import json
import poplib
import random
import re
import smtplib
import socket
import socketserver
import ssl
import threading
import time

# ---------------------------------------------------------------- the record


class Recorder:
    """Recorder keeps every client-side observation as one JSON object per line."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.f = open(path, "w")
        self.items = []

    def add(self, kind, **kw):
        kw = dict(kw)
        kw["kind"] = kind
        kw.setdefault("t", now())
        with self.lock:
            self.items.append(kw)
            self.f.write(json.dumps(kw, sort_keys=True) + "\n")
            self.f.flush()
        return kw

    def close(self):
        self.f.close()


def now():
    return round(time.time(), 6)


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)


_mid_lock = threading.Lock()
_mid_n = [0]


def message_id(tag, domain):
    with _mid_lock:
        _mid_n[0] += 1
        n = _mid_n[0]
    return "<%s.%05d.%d@%s>" % (tag, n, int(time.time() * 1000) % 100000000, domain)


# ---------------------------------------------------------------- messages

EICAR = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"

WORDS = ("meeting agenda report draft budget seminar thesis review lecture exam schedule "
         "project deadline committee minutes library course grant proposal lab results "
         "conference travel reimbursement paper revision data analysis teaching").split()


def text_body(rng, size):
    """text_body returns plain text of about size bytes with ordinary words."""
    lines = []
    n = 0
    while n < size:
        line = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 12))).capitalize() + "."
        lines.append(line)
        n += len(line) + 2
    return "\r\n".join(lines) + "\r\n"


def build(sender, to, subject, body, msgid, extra_headers=(), attachment=None, date=None):
    """build returns the message as bytes with CRLF line ends.

    attachment is (filename, content-type, bytes) or None; it is sent base64.
    """
    import base64
    hdr = [
        ("From", sender),
        ("To", ", ".join(to) if to else "undisclosed-recipients:;"),
        ("Subject", subject),
        ("Date", date or email.utils.formatdate(localtime=False)),
        ("Message-ID", msgid),
        ("MIME-Version", "1.0"),
    ]
    hdr.extend(extra_headers)
    if attachment is None:
        hdr.append(("Content-Type", "text/plain; charset=utf-8"))
        hdr.append(("Content-Transfer-Encoding", "8bit"))
        head = "".join("%s: %s\r\n" % kv for kv in hdr)
        return (head + "\r\n" + body).encode("utf-8")
    boundary = "=_b%08x" % random.getrandbits(32)
    hdr.append(("Content-Type", 'multipart/mixed; boundary="%s"' % boundary))
    head = "".join("%s: %s\r\n" % kv for kv in hdr)
    fn, ctype, data = attachment
    b64 = base64.encodebytes(data).decode().replace("\n", "\r\n")
    parts = ("--%s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n"
             "--%s\r\nContent-Type: %s; name=\"%s\"\r\nContent-Disposition: attachment; filename=\"%s\"\r\n"
             "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--%s--\r\n") % (
        boundary, body, boundary, ctype, fn, fn, b64, boundary)
    return (head + "\r\nThis is a multi-part message in MIME format.\r\n\r\n" + parts).encode("utf-8")


# ---------------------------------------------------------------- the sink


class Sink:
    """Sink is the loopback SMTP server that plays every remote MX.

    behaviour(rcpt) returns the RCPT reply for an address; DATA is answered
    "250 2.0.0 Ok: queued as S<n>". Every RCPT and every accepted delivery is
    recorded with the reply given, and the client address (which Postfix host).
    """

    def __init__(self, host, port, rec, behaviour, banner="mx.remote.example ESMTP sink"):
        self.rec = rec
        self.behaviour = behaviour
        self.banner = banner
        self.attempts = {}
        self.lock = threading.Lock()
        self.n = 0
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                sink._session(self)

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server((host, port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def attempt(self, rcpt):
        with self.lock:
            self.attempts[rcpt] = self.attempts.get(rcpt, 0) + 1
            return self.attempts[rcpt]

    def _session(self, h):
        peer = h.client_address[0]

        def send(s):
            h.wfile.write((s + "\r\n").encode())
            h.wfile.flush()

        send("220 " + self.banner)
        mail_from, rcpts, helo = None, [], ""
        while True:
            line = h.rfile.readline()
            if not line:
                return
            line = line.decode("utf-8", "replace").rstrip("\r\n")
            cmd = line[:4].upper()
            if cmd in ("EHLO", "HELO"):
                helo = line[5:].strip()
                if cmd == "EHLO":
                    send("250-" + self.banner.split()[0])
                    send("250-SIZE 52428800")
                    send("250-8BITMIME")
                    send("250 ENHANCEDSTATUSCODES")
                else:
                    send("250 " + self.banner.split()[0])
            elif cmd == "MAIL":
                mail_from = addr_of(line)
                rcpts = []
                send("250 2.1.0 Ok")
            elif cmd == "RCPT":
                rcpt = addr_of(line)
                reply = self.behaviour(self, rcpt)
                self.rec.add("sink_rcpt", peer=peer, helo=helo, mail_from=mail_from, rcpt=rcpt, reply=reply)
                if reply.startswith("250"):
                    rcpts.append(rcpt)
                send(reply)
            elif cmd == "DATA":
                if not rcpts:
                    send("554 5.5.1 Error: no valid recipients")
                    continue
                send("354 End data with <CR><LF>.<CR><LF>")
                data = []
                while True:
                    l = h.rfile.readline()
                    if not l:
                        return
                    if l in (b".\r\n", b".\n"):
                        break
                    if l.startswith(b".."):
                        l = l[1:]
                    data.append(l)
                raw = b"".join(data)
                with self.lock:
                    self.n += 1
                    qid = "S%06d" % self.n
                reply = "250 2.0.0 Ok: queued as " + qid
                self.rec.add("sink_delivery", peer=peer, helo=helo, mail_from=mail_from, rcpts=rcpts,
                             reply=reply, size=len(raw), message_id=header_of(raw, "Message-ID"),
                             subject=header_of(raw, "Subject"), auto=header_of(raw, "Auto-Submitted"),
                             content_type=header_of(raw, "Content-Type"))
                send(reply)
                rcpts = []
            elif cmd == "RSET":
                mail_from, rcpts = None, []
                send("250 2.0.0 Ok")
            elif cmd == "NOOP":
                send("250 2.0.0 Ok")
            elif cmd == "QUIT":
                send("221 2.0.0 Bye")
                return
            else:
                send("502 5.5.2 Error: command not recognized")


def addr_of(line):
    """addr_of returns the address between the first '<' and the last '>' of an
    SMTP MAIL/RCPT line, so quoted local parts with '>' survive."""
    i = line.find("<")
    j = line.rfind(">")
    if i < 0 or j < i:
        return line.split(":", 1)[-1].strip()
    return line[i + 1:j]


def header_of(raw, name):
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0].decode("utf-8", "replace")
    val = None
    for l in head.replace("\r\n", "\n").split("\n"):
        if val is not None and l[:1] in (" ", "\t"):
            val += " " + l.strip()
            continue
        if val is not None:
            break
        if l.lower().startswith(name.lower() + ":"):
            val = l.split(":", 1)[1].strip()
    return val


# ---------------------------------------------------------------- SMTP client


def insecure_ctx():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


class Session:
    """Session is one SMTP client connection whose every reply is recorded.

    Replies are kept as [stage, code, text]; stage is CONNECT, EHLO, HELO,
    STARTTLS, AUTH, MAIL, RCPT, DATA (the 354) or END-OF-DATA (after the dot).
    """

    def __init__(self, rec, server, port, src, helo, label, host, timeout=60):
        self.rec = rec
        self.server, self.port, self.src, self.helo = server, port, src, helo
        self.label, self.host = label, host
        self.replies = []
        self.tx = []
        self.auth = []
        self.tls = False
        self.t0 = now()
        self.s = None
        self.closed = False
        self.error = None
        self.timeout = timeout

    def _r(self, stage, code, msg):
        if isinstance(msg, bytes):
            msg = msg.decode("utf-8", "replace")
        self.replies.append([stage, code, msg])
        return code, msg

    def open(self, esmtp=True, starttls=False):
        try:
            self.s = smtplib.SMTP(timeout=self.timeout, source_address=(self.src, 0))
            self.s._host = self.server  # STARTTLS needs a server name
            code, msg = self.s.connect(self.server, self.port)
            self._r("CONNECT", code, msg)
            if code != 220:
                return False
            if esmtp:
                code, msg = self.s.ehlo(self.helo)
                self._r("EHLO", code, msg)
            else:
                code, msg = self.s.helo(self.helo)
                self._r("HELO", code, msg)
            if starttls and self.s.has_extn("starttls"):
                code, msg = self.s.starttls(context=insecure_ctx())
                self._r("STARTTLS", code, msg)
                self.tls = code == 220
                code, msg = self.s.ehlo(self.helo)
                self._r("EHLO", code, msg)
            return True
        except (OSError, smtplib.SMTPException) as e:
            self.error = repr(e)
            return False

    def login(self, user, password, mech=None):
        """login sends exactly one AUTH command (PLAIN or LOGIN) and records it."""
        mech = mech or random.choice(["PLAIN", "LOGIN"])
        self.s.user, self.s.password = user, password
        obj = self.s.auth_plain if mech == "PLAIN" else self.s.auth_login
        try:
            code, msg = self.s.auth(mech, obj, initial_response_ok=True)
        except smtplib.SMTPAuthenticationError as e:
            code, msg = e.smtp_code, e.smtp_error
        except smtplib.SMTPServerDisconnected as e:
            code, msg = -1, str(e)
        self._r("AUTH", code, msg)
        self.auth.append({"user": user, "mech": mech, "code": code, "ok": code == 235, "t": now()})
        return code == 235

    def send(self, mail_from, rcpts, data, size_opt=True, meta=None, body_too_big=False):
        """send runs one transaction; returns the record of it.

        size_opt=False leaves SIZE= off MAIL FROM (to make Postfix find an
        oversize message only while receiving it).
        """
        tx = {"t": now(), "from": mail_from, "rcpts": [], "bytes": len(data), "accepted": False}
        tx.update(meta or {})
        self.tx.append(tx)
        try:
            opts = []
            if size_opt and self.s.does_esmtp and self.s.has_extn("size"):
                opts.append("SIZE=%d" % len(data))
            code, msg = self.s.mail(mail_from, opts)
            self._r("MAIL", code, msg)
            tx["mail"] = [code, msg.decode("utf-8", "replace") if isinstance(msg, bytes) else msg]
            if code != 250:
                self.s.rset()
                return tx
            ok = 0
            for r in rcpts:
                code, msg = self.s.rcpt(r)
                self._r("RCPT", code, msg)
                tx["rcpts"].append([r, code, msg.decode("utf-8", "replace")])
                ok += code in (250, 251)
            if not ok:
                self.s.rset()
                return tx
            code, msg = self.s.docmd("DATA")
            self._r("DATA", code, msg)
            if code != 354:
                tx["data"] = [code, msg.decode("utf-8", "replace")]
                self.s.rset()
                return tx
            q = re.sub(rb"(?m)^\.", b"..", re.sub(rb"\r?\n", b"\r\n", data))
            if not q.endswith(b"\r\n"):
                q += b"\r\n"
            self.s.send(q + b".\r\n")
            code, msg = self.s.getreply()
            self._r("END-OF-DATA", code, msg)
            tx["data"] = [code, msg.decode("utf-8", "replace")]
            tx["accepted"] = code == 250
            tx["t_end"] = now()
        except smtplib.SMTPServerDisconnected as e:
            tx["error"] = "disconnected: %s" % e
            self.closed = True
        except (OSError, smtplib.SMTPException) as e:
            tx["error"] = repr(e)
            self.closed = True
        return tx

    def rset(self):
        if not self.closed:
            try:
                self.s.rset()
            except (OSError, smtplib.SMTPException):
                self.closed = True

    def close(self, quit=True):
        try:
            if self.s is not None and not self.closed:
                if quit:
                    self.s.quit()
                else:
                    self.s.sock.close()
        except (OSError, smtplib.SMTPException):
            pass
        self.closed = True
        return self.rec.add("smtp_session", t=self.t0, t_end=now(), label=self.label, host=self.host,
                            server=self.server, port=self.port, src=self.src, helo=self.helo, tls=self.tls,
                            auth=self.auth, tx=self.tx, replies=self.replies, error=self.error, quit=quit)


# ---------------------------------------------------------------- IMAP / POP3 clients


class IMAP(imaplib.IMAP4):
    def __init__(self, host, port, src, timeout=60):
        self._src = src
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout, source_address=(self._src, 0))


class IMAPS(imaplib.IMAP4_SSL):
    def __init__(self, host, port, src, timeout=60):
        self._src = src
        super().__init__(host, port, ssl_context=insecure_ctx(), timeout=timeout)

    def _create_socket(self, timeout):
        s = socket.create_connection((self.host, self.port), timeout, source_address=(self._src, 0))
        return self.ssl_context.wrap_socket(s, server_hostname=self.host)


class POP(poplib.POP3):
    def __init__(self, host, port, src, timeout=60):
        self._src = src
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout, source_address=(self._src, 0))


class POPS(poplib.POP3_SSL):
    def __init__(self, host, port, src, timeout=60):
        self._src = src
        super().__init__(host, port, context=insecure_ctx(), timeout=timeout)

    def _create_socket(self, timeout):
        s = socket.create_connection((self.host, self.port), timeout, source_address=(self._src, 0))
        return self.context.wrap_socket(s, server_hostname=self.host)


def imap_session(rec, server, src, user, passwords, mode, rng, label, read_max=3, append=False,
                 expunge=False, drop=False, sleep_between=0.0):
    """imap_session logs in (one LOGIN per password tried, in order, stopping at the
    first success) and, when in, reads up to read_max message bodies with
    FETCH n BODY[]. Records each LOGIN result and the number of bodies read."""
    out = {"user": user, "src": src, "mode": mode, "label": label, "logins": [], "read": 0,
           "appended": 0, "expunged": 0, "dropped": drop, "t": now()}
    c = None
    try:
        if mode == "imaps":
            c = IMAPS(server, 993, src)
        else:
            c = IMAP(server, 143, src)
            if mode == "starttls":
                c.starttls(ssl_context=insecure_ctx())
        ok = False
        for pw in passwords:
            try:
                c.login(user, pw)
                out["logins"].append({"ok": True, "t": now()})
                ok = True
                break
            except imaplib.IMAP4.error as e:
                out["logins"].append({"ok": False, "t": now(), "reply": str(e)})
                if sleep_between:
                    time.sleep(sleep_between)
        if ok:
            typ, data = c.select("INBOX")
            n = int(data[0]) if typ == "OK" else 0
            out["exists"] = n
            if n:
                lo = max(1, n - 9)
                c.fetch("%d:%d" % (lo, n), "(FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])")
                k = min(n, rng.randint(0, read_max))
                for i in rng.sample(range(1, n + 1), k):
                    typ, d = c.fetch(str(i), "(BODY[])")
                    if typ == "OK" and d and d[0] is not None:
                        out["read"] += 1
                if expunge and n > 1:
                    # note which message goes, so the truth can still count its delivery
                    typ, d = c.fetch("1", "(BODY.PEEK[HEADER])")
                    out["expunged_headers"] = [d[0][1].decode("utf-8", "replace")] if typ == "OK" else []
                    c.store("1", "+FLAGS", "\\Deleted")
                    typ, d = c.expunge()
                    out["expunged"] = len([x for x in d if x]) if typ == "OK" else 0
            if append:
                msg = build("%s" % user, ["someone@example.org"], "Sent copy", "copy\r\n",
                            message_id("sent", "uni.example"))
                typ, _ = c.append("Sent", "\\Seen", imaplib.Time2Internaldate(time.time()), msg)
                out["appended"] = 1 if typ == "OK" else 0
        if drop:
            c.shutdown()
        else:
            c.logout()
    except (OSError, imaplib.IMAP4.error, ssl.SSLError) as e:
        out["error"] = repr(e)
        try:
            if c is not None:
                c.shutdown()
        except Exception:
            pass
    out["t_end"] = now()
    return rec.add("imap_session", **out)


def pop_session(rec, server, src, user, passwords, mode, rng, label, read_max=3, dele=False):
    """pop_session logs in with USER/PASS (one PASS per password tried) and
    RETRs up to read_max messages; DELE of the first message when asked (counted
    only when QUIT committed it)."""
    out = {"user": user, "src": src, "mode": mode, "label": label, "logins": [], "read": 0,
           "deleted": 0, "t": now()}
    c = None
    try:
        if mode == "pop3s":
            c = POPS(server, 995, src)
        else:
            c = POP(server, 110, src)
            if mode == "stls":
                c.stls(context=insecure_ctx())
        ok = False
        for pw in passwords:
            try:
                c.user(user)
                c.pass_(pw)
                out["logins"].append({"ok": True, "t": now()})
                ok = True
                break
            except poplib.error_proto as e:
                out["logins"].append({"ok": False, "t": now(), "reply": str(e)})
        if ok:
            n, _ = c.stat()
            out["exists"] = n
            c.list()
            k = min(n, rng.randint(0, read_max))
            for i in rng.sample(range(1, n + 1), k):
                c.retr(i)
                out["read"] += 1
            if dele and n:
                _, lines, _ = c.top(1, 0)
                head = b"\n".join(lines).decode("utf-8", "replace")
                c.dele(1)
                out["deleted"] = 1
                out["deleted_headers"] = [head]
        c.quit()
    except (OSError, poplib.error_proto, ssl.SSLError) as e:
        out["error"] = repr(e)
        out["deleted"] = 0
        out["deleted_headers"] = []
        try:
            if c is not None:
                c.close()
        except Exception:
            pass
    out["t_end"] = now()
    return rec.add("pop_session", **out)
