#!/usr/bin/env python3
"""crosscheck.py DIR — count a few figures in the raw logs of a corpus with plain
pattern matching (as pflogsumm-style greps would) and print them beside
truth.json. It is a consistency check of the generator, not a source of truth:
truth.json never reads the logs.

    python3 crosscheck.py ../postfix
    python3 crosscheck.py ../exim
"""

import collections
import gzip
import json
import os
import re
import sys


def lines(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rt", encoding="utf-8", errors="replace") as f:
        for l in f:
            yield l.rstrip("\n")


def postfix(d, t):
    files = [os.path.join(d, "mx1/postfix.log"), os.path.join(d, "mx1/mail.log"), os.path.join(d, "smtp/mail.log"),
             os.path.join(d, "imap/mail.log")]
    c = collections.Counter()
    rej = collections.Counter()
    for f in files:
        for l in lines(f):
            if " postfix/" in l:
                m = re.search(r": (?:NOQUEUE|[0-9A-F]+): reject: (\w+) from .*?: (\d{3}) ", l)
                if m:
                    rej[(m.group(1), int(m.group(2)))] += 1
                st = re.findall(r", status=(\w+)", l)
                if "status=sent" in l:
                    c["status=sent"] += 1
                    if st and st[-1] != "sent":
                        c["forged status=sent"] += 1  # the address carries the text; the real status is last
                    elif re.search(r"relay=127\.0\.0\.1[01]\[127\.0\.0\.1[01]\]:1002[46]", l):
                        c["handoff"] += 1
                        if ", BOUNCE)" in l:
                            c["handoff BOUNCE"] += 1
                    elif " postfix/lmtp[" in l:
                        c["delivered lmtp"] += 1
                    else:
                        c["delivered smtp"] += 1
                if "status=deferred" in l:
                    c["deferred"] += 1
                if "status=bounced" in l:
                    c["bounced"] += 1
                if "status=expired" in l:
                    c["expired"] += 1
                if re.search(r"postfix/cleanup\[\d+\]: \w+: reject: ", l):
                    c["cleanup reject"] += 1
                if "SASL" in l and "authentication failed" in l:
                    c["SASL failed"] += 1
                if "rate limit exceeded" in l:
                    c["rate limit warning"] += 1
                if "queue file size limit exceeded" in l:
                    c["size limit exceeded"] += 1
                if ": hold: " in l:
                    c["hold"] += 1
            if " postgrey[" in l and "action=greylist" in l:
                c["postgrey greylist"] += 1
            m = re.search(r" amavis\[\d+\]: \([\w-]+\) (Passed|Blocked) (\w+)", l)
            if m:
                c["verdict %s %s" % (m.group(1), m.group(2))] += 1
            if " amavis[" in l and re.search(r"\.\.\.$", l):
                c["amavis line cut (ends ...)"] += 1
            if "dovecot: imap-login: Login:" in l:
                c["imap Login"] += 1
            if "dovecot: pop3-login: Login:" in l:
                c["pop3 Login"] += 1
            if "dovecot: auth: " in l and ("Password mismatch" in l or "unknown user" in l):
                if re.search(r",127\.0\.0\.1[01][,)]", l):
                    c["dovecot lmtp userdb unknown"] += 1  # LMTP's lookup from mx1/smtp, not a login
                else:
                    c["dovecot auth failures"] += 1
            m = re.search(r"dovecot: imap\(.*(?:Logged out|Disconnected).* body_count=(\d+)", l)
            if m:
                c["imap body_count"] += int(m.group(1))
            m = re.search(r"dovecot: pop3\(.*retr=(\d+)/", l)
            if m:
                c["pop3 retr"] += int(m.group(1))
    print("figure".ljust(34), "logs".rjust(8), "  truth")
    s = t["summary"]
    v = s["verdicts"]
    rows = [
        ("received (amavis result lines)", sum(c[k] for k in c if k.startswith("verdict ")), s["received"]),
        ("hand-offs to amavis", c["handoff"], s["filter_handoffs"]),
        ("status=sent lines (naive grep)", c["status=sent"], s["sent_lines"]),
        ("  of which the address forged it", c["forged status=sent"], "-"),
        ("delivered (status=sent, not hand-off)", c["delivered lmtp"] + c["delivered smtp"], s["delivered"]),
        ("  over LMTP", c["delivered lmtp"], s["delivered_local_lmtp"]),
        ("  to remote MXes", c["delivered smtp"], s["delivered_remote"]),
        ("deferred (lines)", c["deferred"], s["deferred"]),
        ("bounced", c["bounced"], s["bounced"]),
        ("expired", c["expired"], s["expired"]),
        ("cleanup rejects", c["cleanup reject"], s["cleanup_rejected"]),
        ("greylisted (postgrey)", c["postgrey greylist"], s["greylisted"]),
        ("SASL failures", c["SASL failed"], s["sasl_failures"]),
        ("rate-limit warnings", c["rate limit warning"], s["rate_limited_mail_450"]),
        ("size limit exceeded", c["size limit exceeded"], s["size_limit_exceeded_after_data"]),
        ("imap Login", c["imap Login"], [x["count"] for x in s["logins"] if x["protocol"] == "imap" and x["result"] == "ok"][0]),
        ("pop3 Login", c["pop3 Login"], [x["count"] for x in s["logins"] if x["protocol"] == "pop3" and x["result"] == "ok"][0]),
        ("dovecot passdb failures (all)", c["dovecot auth failures"],
         sum(x["count"] for x in s["logins"] if x["result"] == "failed")),
        ("hand-off BOUNCE replies", c["handoff BOUNCE"], s["filter_handoffs_bounce_reply"]),
        ("imap body_count (logout lines)", c["imap body_count"], t["mailbox_reads"]["imap_total"]),
        ("pop3 retr (logout lines)", c["pop3 retr"], t["mailbox_reads"]["pop3_total"]),
    ]
    for k in sorted(v):
        a, b = k.split()
        rows.append(("amavis " + k, c["verdict %s %s" % (a, b)], v[k]))
    for r in t["summary"]["rejected"]:
        rows.append(("reject %s %d" % (r["stage"], r["code"]), rej[(r["stage"], r["code"])], r["count"]))
    for k in sorted(set(rej) - {(r["stage"], r["code"]) for r in t["summary"]["rejected"]}):
        rows.append(("reject %s %d" % k, rej[k], 0))
    rows.append(("amavis lines cut with ...", c["amavis line cut (ends ...)"], "-"))
    rows.append(("dovecot LMTP userdb 'unknown user'", c["dovecot lmtp userdb unknown"], "-"))
    rows.append(("hold (header_checks)", c["hold"], 1))
    for name, a, b in rows:
        print(name.ljust(34), str(a).rjust(8), " ", b, "" if str(a) == str(b) or b == "-" else "  <-- differs")


def exim(d, t):
    c = collections.Counter()
    rej = collections.Counter()
    for l in lines(os.path.join(d, "mainlog")):
        m = re.match(r"\S+ \S+ (\S+) (<=|=>|->|==|\*\*) ", l)
        if m:
            c[m.group(2)] += 1
            if m.group(2) == "==" and "retry time not reached" in l:
                c["== retry time not reached"] += 1
            if m.group(2) == "<=" and " <= <> " in l:
                c["<= <> (bounce)"] += 1
            if m.group(2) in ("=>", "->") and "T=local_maildir" in l:
                c["local"] += 1
        if "authenticator failed" in l:
            c["auth failed"] += 1
        if " A=" in l and " <= " in l:
            c["<= with A="] += 1
        if "rejected connection" in l:
            rej["CONNECT"] += 1
        elif "temporarily rejected RCPT" in l:
            rej["RCPT 4xx"] += 1
        elif "rejected RCPT" in l:
            rej["RCPT 5xx"] += 1
        elif "rejected MAIL" in l:
            rej["MAIL"] += 1
        elif "rejected after DATA" in l:
            rej["DATA"] += 1
    s = t["summary"]
    rows = [("received (<= not from <>)", c["<="] - c["<= <> (bounce)"], s["received"]),
            ("delivered (=> and ->)", c["=>"] + c["->"], s["delivered"]),
            ("  local", c["local"], s["delivered_local"]),
            ("deferred (== lines)", c["=="], s["deferred"]),
            ("  == attempts (not 'retry time not reached')", c["=="] - c["== retry time not reached"], s["deferred"]),
            ("failed (**)", c["**"], s["failed"]),
            ("auth failures", c["auth failed"], [x["count"] for x in s["logins"] if x["result"] == "failed"][0])]
    tr = collections.Counter()
    for r in s["rejected"]:
        key = r["stage"] if r["stage"] in ("CONNECT", "MAIL", "DATA") else "RCPT %dxx" % (r["code"] // 100)
        tr[key] += r["count"]
    for k in sorted(set(rej) | set(tr)):
        rows.append(("reject " + k, rej[k], tr[k]))
    print("figure".ljust(34), "logs".rjust(8), "  truth")
    for name, a, b in rows:
        print(name.ljust(34), str(a).rjust(8), " ", b, "" if a == b else "  <-- differs")


def main():
    d = sys.argv[1]
    t = json.load(open(os.path.join(d, "truth.json")))
    if t["corpus"] == "postfix":
        postfix(d, t)
    else:
        exim(d, t)


if __name__ == "__main__":
    main()
