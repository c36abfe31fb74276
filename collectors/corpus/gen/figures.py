#!/usr/bin/env python3
"""figures.py CORPUS_DIR — print the headline figures of both corpora as the
Markdown table that README.md carries (from the truth.json files only)."""

import json
import os
import sys
import time


def ts(t):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))


def size(d):
    n = 0
    for root, _, files in os.walk(d):
        for f in files:
            n += os.path.getsize(os.path.join(root, f))
    return "%.1f MB" % (n / 1e6) if n > 1e6 else "%d KB" % (n / 1e3)


def main():
    base = sys.argv[1]
    p = json.load(open(os.path.join(base, "postfix/truth.json")))
    e = json.load(open(os.path.join(base, "exim/truth.json")))
    s, x = p["summary"], e["summary"]
    lg = {(l["protocol"], l["result"]): l["count"] for l in s["logins"]}
    xl = {(l["protocol"], l["result"]): l["count"] for l in x["logins"]}
    c = p["compromise"]
    rej = ", ".join("%s %d: %d" % (r["stage"], r["code"], r["count"]) for r in s["rejected"])
    xrej = ", ".join("%s %d: %d" % (r["stage"], r["code"], r["count"]) for r in x["rejected"])
    v = s["verdicts"]
    rows = [
        ("period (UTC, traffic start → queues drained)",
         "%s → %s" % (ts(p["period"]["traffic_start"]), ts(p["period"]["drained"])),
         "%s → %s" % (ts(e["period"]["traffic_start"]), ts(e["period"]["drained"]))),
        ("size on disk", size(os.path.join(base, "postfix")), size(os.path.join(base, "exim"))),
        ("received", "%d (mx1 %d, smtp %d)" % (s["received"], s["received_by_host"].get("mx1", 0),
                                                s["received_by_host"].get("smtp", 0)),
         "%d (port 25: %d, 587: %d)" % (x["received"], x["received_by_port"].get("25", 0),
                                        x["received_by_port"].get("587", 0))),
        ("delivered (local + remote)", "%d (%d + %d)" % (s["delivered"], s["delivered_local_lmtp"], s["delivered_remote"]),
         "%d (%d + %d)" % (x["delivered"], x["delivered_local"], x["delivered_remote"])),
        ("deferred attempts / messages", "%d / %d" % (s["deferred"], s["deferred_messages"]),
         "%d / %d" % (x["deferred"], x["deferred_messages"])),
        ("bounced / expired", "%d / %d" % (s["bounced"], s["expired"]), "%d failed (`**`) / –" % x["failed"]),
        ("rejected (stage code: count)", "%s; total %d" % (rej, s["rejected_total"]),
         "%s; total %d" % (xrej, x["rejected_total"])),
        ("header_checks rejects / rate-limited MAIL", "%d / %d" % (s["cleanup_rejected"], s["rate_limited_mail_450"]), "–"),
        ("greylisted", str(s["greylisted"]), "–"),
        ("IMAP logins ok / failed", "%d / %d" % (lg[("imap", "ok")], lg[("imap", "failed")]), "–"),
        ("POP3 logins ok / failed", "%d / %d" % (lg[("pop3", "ok")], lg[("pop3", "failed")]), "–"),
        ("SMTP AUTH ok / failed (sessions sending nothing)",
         "%d / %d (%d)" % (lg[("smtp", "ok")], lg[("smtp", "failed")], s["smtp_auth_sessions_without_mail"]),
         "%d / %d (%d)" % (xl[("smtp", "ok")], xl[("smtp", "failed")], x["smtp_auth_sessions_without_mail"])),
        ("amavis verdicts", ", ".join("%s %d" % (k, v[k]) for k in sorted(v)), "–"),
        ("messages read (IMAP / POP3)", "%d / %d" % (p["mailbox_reads"]["imap_total"], p["mailbox_reads"]["pop3_total"]), "–"),
        ("active users (IMAP / POP3 / SMTP AUTH)", "%d / %d / %d" % (s["unique_users"]["imap"], s["unique_users"]["pop3"],
                                                                     s["unique_users"]["smtp"]),
         "– / – / %d" % x["unique_users"]["smtp"]),
        ("compromised account", "`%s`: %d IMAP guesses from %s, success from %s, login from %s, burst %d MAIL "
         "(%d accepted, %d rate-limited) in %.0f s" % (
             c["account"], sum(c["guess_failures_by_ip"].values()), ", ".join(c["guess_ips"]),
             c["guess_success"][0]["ip"] if c["guess_success"] else "-", c["login_ip"], c["burst"]["mail_commands"],
             c["burst"]["accepted"], c["burst"]["rate_limited"], c["burst"]["last_t"] - c["burst"]["first_t"]), "–"),
    ]
    print("| figure (from truth.json) | Postfix corpus | Exim corpus |")
    print("|---|---|---|")
    for r in rows:
        print("| %s | %s | %s |" % r)


if __name__ == "__main__":
    main()
