"""truth_postfix computes truth.json of the Postfix corpus from the generator's
own records (records.jsonl: the replies its clients got, what the sink was
offered and answered), the mailboxes on the mailbox host and amavis' quarantine
directories. It never reads the mail servers' logs. Definitions: ../README.md."""

import collections
import email.parser
import os
import re

import hostsys

COMPROMISED = "rita.haddad@uni.example"

VERDICT = {"clean": "Passed CLEAN", "spammy": "Passed SPAMMY", "phish": "Passed SPAMMY",
           "gtube": "Blocked SPAM", "eicar": "Blocked INFECTED"}


def verdict_of(category):
    if category.startswith("banned"):
        return "Blocked BANNED"
    return VERDICT[category]


def parse_headers(text):
    return email.parser.HeaderParser().parsestr(text, headersonly=True)


def header_summary(text):
    h = parse_headers(text)
    rec = h.get_all("Received") or []
    lmtp = None
    for r in rec:
        m = re.search(r"from (\S+) .*by imap\.uni\.example.*with LMTP", " ".join(r.split()))
        if m:
            lmtp = m.group(1).split(".")[0]
            break
    return {"message_id": (h.get("Message-ID") or "").strip(), "return_path": (h.get("Return-Path") or "").strip(),
            "from": (h.get("From") or "").strip(), "subject": " ".join((h.get("Subject") or "").split()),
            "x_spam_flag": (h.get("X-Spam-Flag") or "").strip(), "delivered_to": (h.get("Delivered-To") or "").strip(),
            "auto_submitted": (h.get("Auto-Submitted") or "").strip(),
            "content_type": " ".join((h.get("Content-Type") or "").split()), "lmtp_client": lmtp}


def scan_mailboxes(root):
    """scan_mailboxes lists every message file of every mailbox: INBOX and
    other folders, with the headers the truth needs."""
    out = {}
    for user in sorted(os.listdir(root)):
        md = os.path.join(root, user, "Maildir")
        if not os.path.isdir(md):
            continue
        box = {"INBOX": [], "other": []}
        for folder, key in ((md, "INBOX"),) + tuple(
                (os.path.join(md, d), "other") for d in os.listdir(md) if d.startswith(".")):
            for sub in ("new", "cur"):
                d = os.path.join(folder, sub)
                if not os.path.isdir(d):
                    continue
                for f in sorted(os.listdir(d)):
                    with open(os.path.join(d, f), "rb") as fh:
                        raw = fh.read()
                    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0].decode("utf-8", "replace")
                    e = header_summary(head)
                    e["size"] = len(raw)
                    box[key].append(e)
        out[user] = box
    return out


def is_notification(e):
    return e["return_path"] in ("<>", "") and ("MAILER-DAEMON" in e["from"] or "delivery-status" in e["content_type"])


def compute(recs, mailboxes, quarantine, passwords):
    sessions = [r for r in recs if r["kind"] == "smtp_session"]
    imaps = [r for r in recs if r["kind"] == "imap_session"]
    pops = [r for r in recs if r["kind"] == "pop_session"]
    sink_rcpt = [r for r in recs if r["kind"] == "sink_rcpt"]
    sink_del = [r for r in recs if r["kind"] == "sink_delivery"]
    pickups = [r for r in recs if r["kind"] == "pickup"]
    runs = {r["event"]: r for r in recs if r["kind"] == "run"}
    admin = [r for r in recs if r["kind"] == "admin"]
    qrel = [r for r in recs if r["kind"] == "quarantine_release"]
    qend = [r for r in recs if r["kind"] == "queue_at_end"]

    # ---------------------------------------------------------------- SMTP replies the clients got
    received = []  # one per accepted transaction
    rejects = collections.Counter()
    cleanup_rejected = []
    size_exceeded = []
    rate_limited = 0
    greylisted = 0
    auth = collections.Counter()
    auth_sessions_nothing_sent = 0
    smtp_auth_users = collections.Counter()
    per_user_sub = collections.Counter()
    per_user_fail = collections.Counter()
    other_replies = collections.Counter()
    for s in sessions:
        for a in s["auth"]:
            if a["code"] == 235:
                auth["ok"] += 1
                smtp_auth_users[a["user"]] += 1
            elif a["code"] == 535:
                auth["failed"] += 1
                per_user_fail[a["user"]] += 1
            else:
                auth["other:%s" % a["code"]] += 1
        if any(a["ok"] for a in s["auth"]) and not any("mail" in t for t in s["tx"]):
            auth_sessions_nothing_sent += 1
        for tx in s["tx"]:
            mail = tx.get("mail")
            if mail:
                code, text = mail
                if code == 450 and "too much mail" in text:
                    rate_limited += 1
                elif code >= 400 and code != 250:
                    rejects[("MAIL", code)] += 1
            for r, code, text in tx["rcpts"]:
                if code == 450 and "Greylisted" in text:
                    greylisted += 1
                if code >= 400:
                    rejects[("RCPT", code)] += 1
            d = tx.get("data")
            if d and d[0] >= 400:
                code, text = d
                if "header_checks" in text or "Bulk mailer" in text:
                    cleanup_rejected.append({"message_id": tx["msgid"], "from": tx["from"], "code": code,
                                             "reply": text, "label": tx.get("label"), "subject": tx.get("subject")})
                elif code == 552:
                    size_exceeded.append({"message_id": tx["msgid"], "from": tx["from"], "reply": text})
                else:
                    other_replies[("END-OF-DATA", code, text)] += 1
            if tx.get("accepted"):
                acc = [r for r, c, t in tx["rcpts"] if c in (250, 251)]
                received.append({"host": s["host"], "port": s["port"], "label": tx.get("label") or s["label"],
                                 "src": s["src"], "message_id": tx["msgid"], "from": tx["from"], "rcpts": acc,
                                 "bytes": tx["bytes"], "category": tx.get("category", "clean"), "t": tx["t"],
                                 "sasl_username": next((a["user"] for a in s["auth"] if a["ok"]), None)})
                if s["port"] == 587:
                    per_user_sub[tx["from"]] += 1
    for p in pickups:
        if p["rc"] == 0:
            received.append({"host": "mx1", "port": None, "label": "pickup", "src": "local", "message_id": p["msgid"],
                             "from": "root@uni.example", "rcpts": p["final_rcpts"], "bytes": p["bytes"],
                             "category": "clean", "t": p["t"], "sasl_username": None})

    by_entry = collections.Counter()
    for m in received:
        if m["label"] == "pickup":
            by_entry["mx1 pickup (sendmail)"] += 1
        elif m["port"] == 587:
            by_entry["smtp submission (587, SASL)"] += 1
        elif m["src"] == hostsys.IP["mx1"]:
            by_entry["mx1 port 25 from mynetworks (web application)"] += 1
        else:
            by_entry["mx1 port 25 from the internet"] += 1

    # ---------------------------------------------------------------- hand-offs to amavis
    # Postfix logs one "status=sent" hand-off line per recipient after virtual alias expansion
    # (the generator never sends an alias together with one of its members)
    def expand(r):
        if r == "root":
            return ["it.admin@uni.example"]
        return hostsys.ALIASES.get(r, [r])

    handoffs = sum(len(expand(r)) for m in received for r in m["rcpts"])
    handoffs_bounce = sum(len(m["rcpts"]) for m in received if m["host"] == "smtp" and m["category"] == "gtube")

    # ---------------------------------------------------------------- verdicts (amavis), by design
    verdicts = collections.Counter()
    verdicts_by_host = {"mx1": collections.Counter(), "smtp": collections.Counter()}
    for m in received:
        v = verdict_of(m["category"])
        verdicts[v] += 1
        verdicts_by_host[m["host"]][v] += 1

    # ---------------------------------------------------------------- deliveries
    local = collections.Counter()  # by LMTP client host
    local_msgs = []
    for user, box in mailboxes.items():
        for e in box["INBOX"]:
            local[e["lmtp_client"] or "?"] += 1
            local_msgs.append(dict(e, mailbox=user))
    deleted = []
    for r in imaps:
        for hd in r.get("expunged_headers", []) if r.get("expunged") else []:
            deleted.append(dict(header_summary(hd), mailbox=r["user"]))
    for r in pops:
        for hd in r.get("deleted_headers", []) if r.get("deleted") else []:
            deleted.append(dict(header_summary(hd), mailbox=r["user"]))
    for e in deleted:
        local[e["lmtp_client"] or "?"] += 1
        local_msgs.append(dict(e, deleted_by_client=True))
    remote = collections.Counter()
    remote_rcpts = 0
    for d in sink_del:
        host = {hostsys.IP["mx1"]: "mx1", hostsys.IP["smtp"]: "smtp"}.get(d["peer"], d["peer"])
        remote[host] += len(d["rcpts"])
        remote_rcpts += len(d["rcpts"])
    notifications = {"local": sum(1 for e in local_msgs if is_notification(e)),
                     "remote": sum(len(d["rcpts"]) for d in sink_del if d["mail_from"] == "")}
    released_msgs = [q for q in qrel if q.get("response", "").find("250") >= 0]

    # ---------------------------------------------------------------- deferrals, bounces, expiry
    rcpt_msg = {}
    for m in received:
        for r in m["rcpts"]:
            rcpt_msg.setdefault(r.lower(), m["message_id"])
    deferred_rows = [r for r in sink_rcpt if r["reply"][:1] == "4"]
    bounced_remote = [r for r in sink_rcpt if r["reply"][:1] == "5"]
    deferred_msgs = sorted({rcpt_msg.get(r["rcpt"].lower(), "?rcpt:" + r["rcpt"]) for r in deferred_rows})
    departed = [m for m in received if hostsys.DEPARTED in m["rcpts"]]
    expired = [m for m in received if any(r.endswith("@slowisp.example") for r in m["rcpts"])]

    # ---------------------------------------------------------------- logins
    def login_counts(rs):
        ok = sum(1 for r in rs for l in r["logins"] if l["ok"])
        bad = sum(1 for r in rs for l in r["logins"] if not l["ok"])
        return ok, bad

    imap_ok, imap_bad = login_counts(imaps)
    pop_ok, pop_bad = login_counts(pops)
    read = {"imap": collections.Counter(), "pop3": collections.Counter()}
    users = {"imap": set(), "pop3": set(), "smtp": set(smtp_auth_users)}
    for r in imaps:
        for l in r["logins"]:
            if l["ok"]:
                users["imap"].add(l.get("as", r["user"]))
        if any(l["ok"] for l in r["logins"]):
            read["imap"][r["user"]] += r["read"]
    for r in pops:
        if any(l["ok"] for l in r["logins"]):
            users["pop3"].add(r["user"])
            read["pop3"][r["user"]] += r["read"]

    # ---------------------------------------------------------------- the compromise
    guess = [r for r in imaps if r["label"] == "guess"]
    guess_fail_by_account = collections.Counter()
    guess_fail_by_ip = collections.Counter()
    guess_success = []
    for r in guess:
        for l in r["logins"]:
            if l["ok"]:
                guess_success.append({"ip": r["src"], "account": l["as"], "t": l["t"]})
            else:
                guess_fail_by_account[l["as"]] += 1
                guess_fail_by_ip[r["src"]] += 1
    att_login = [r for r in imaps if r["label"] == "attacker-login"]
    burst = [s for s in sessions if s["label"] == "burst"]
    b_tx = [tx for s in burst for tx in s["tx"]]
    b_acc = [tx for tx in b_tx if tx.get("accepted")]
    b_rl = [tx for tx in b_tx if tx.get("mail") and tx["mail"][0] == 450]
    b_verd = collections.Counter(verdict_of(tx["category"]) for tx in b_acc)
    all_fail_by_ip = collections.Counter()
    for r in imaps + pops:
        for l in r["logins"]:
            if not l["ok"]:
                all_fail_by_ip[r["src"]] += 1
    for s in sessions:
        for a in s["auth"]:
            if a["code"] == 535:
                all_fail_by_ip[s["src"]] += 1

    ordinary = list(hostsys.ORDINARY)
    ordinary_stats = {}
    for u in ordinary:
        f_imap = sum(1 for r in imaps if r["label"] != "guess" for l in r["logins"]
                     if not l["ok"] and l.get("as", r["user"]) in (u, u.split("@")[0]))
        f_pop = sum(1 for r in pops if r["user"] == u for l in r["logins"] if not l["ok"])
        ordinary_stats[u] = {"submitted_messages": per_user_sub.get(u, 0) if u != COMPROMISED else
                             per_user_sub.get(u, 0) - len(b_acc),
                             "failed_logins": f_imap + f_pop + per_user_fail.get(u, 0)}

    # ---------------------------------------------------------------- traced messages
    traces = trace_messages(received, sessions, sink_rcpt, sink_del, local_msgs, admin, qrel, quarantine)

    summary = {
        "received": len(received),
        "received_by_host": dict(collections.Counter(m["host"] for m in received)),
        "received_by_entry": dict(by_entry),
        "delivered": sum(local.values()) + remote_rcpts,
        "delivered_local_lmtp": sum(local.values()),
        "delivered_local_by_host": dict(local),
        "delivered_remote": remote_rcpts,
        "delivered_remote_by_host": dict(remote),
        "delivered_notifications": notifications,
        "delivered_remote_forwarded_by_mx1": sum(len(d["rcpts"]) for d in sink_del
                                                 if d["peer"] == hostsys.IP["mx1"] and d["mail_from"] != ""),
        "filter_handoffs": handoffs,
        "filter_handoffs_bounce_reply": handoffs_bounce,
        "sent_lines": handoffs + sum(local.values()) + remote_rcpts,
        "deferred": len(deferred_rows),
        "deferred_messages": len(deferred_msgs),
        "bounced": len(bounced_remote) + len(departed),
        "bounced_remote": len(bounced_remote),
        "bounced_lmtp": len(departed),
        "expired": len(expired),
        "rejected": [{"stage": k[0], "code": k[1], "count": v} for k, v in sorted(rejects.items())],
        "rejected_total": sum(rejects.values()),
        "cleanup_rejected": len(cleanup_rejected),
        "size_limit_exceeded_after_data": len(size_exceeded),
        "rate_limited_mail_450": rate_limited,
        "greylisted": greylisted,
        "logins": [
            {"protocol": "imap", "result": "ok", "count": imap_ok},
            {"protocol": "imap", "result": "failed", "count": imap_bad},
            {"protocol": "pop3", "result": "ok", "count": pop_ok},
            {"protocol": "pop3", "result": "failed", "count": pop_bad},
            {"protocol": "smtp", "result": "ok", "count": auth["ok"]},
            {"protocol": "smtp", "result": "failed", "count": auth["failed"]},
        ],
        "smtp_auth_other_replies": {k: v for k, v in auth.items() if k.startswith("other")},
        "smtp_auth_sessions_without_mail": auth_sessions_nothing_sent,
        "sasl_failures": auth["failed"],
        "verdicts": dict(verdicts),
        "verdicts_by_host": {k: dict(v) for k, v in verdicts_by_host.items()},
        "spam": verdicts["Passed SPAMMY"] + verdicts["Blocked SPAM"],
        "virus": verdicts["Blocked INFECTED"],
        "banned": verdicts["Blocked BANNED"],
        "bytes_received_client": sum(m["bytes"] for m in received),
        "unique_users": {k: len(v) for k, v in users.items()},
    }
    return {
        "corpus": "postfix",
        "generator": "collectors/corpus/gen/postfix_corpus.py",
        "period": {"traffic_start": runs.get("start", {}).get("t"), "traffic_end": runs.get("traffic-done", {}).get("t"),
                   "drained": runs.get("stop", {}).get("t")},
        "hosts": {"mx1": {"ip": hostsys.IP["mx1"], "files": ["mx1/postfix.log", "mx1/mail.log"]},
                  "smtp": {"ip": hostsys.IP["smtp"], "files": ["smtp/mail.log"]},
                  "imap": {"ip": hostsys.IP["imap"], "files": ["imap/mail.log"]},
                  "merged": {"files": ["merged/mail.log"]}},
        "summary": summary,
        "summary_notes": {
            "verdicts": "one amavis result line per client message, by its designed content; Postfix's own "
                        "notifications are not content-filtered (internal mail) and quarantine releases are "
                        "re-injected without a new scan",
            "quarantine_releases": len(released_msgs),
        },
        "not_exact": {
            "bytes_received": "Postfix's size= adds its own headers (Received:, and Message-ID/Date where missing): "
                              "bytes_received_client <= size sum <= bytes_received_client + 600 per received message",
        },
        "compromise": {
            "account": COMPROMISED,
            "guess_ips": sorted(guess_fail_by_ip),
            "guess_failures_by_account": dict(guess_fail_by_account),
            "guess_failures_by_ip": dict(guess_fail_by_ip),
            "guess_success": guess_success,
            "login_ip": att_login[0]["src"] if att_login else None,
            "login_t": att_login[0]["logins"][-1]["t"] if att_login and att_login[0]["logins"] else None,
            "attacker_ips": sorted(set(guess_fail_by_ip) | {r["src"] for r in att_login}),
            "burst": {"src": burst[0]["src"] if burst else None, "sessions": len(burst),
                      "smtp_auth_ok": sum(1 for s in burst for a in s["auth"] if a["ok"]),
                      "mail_commands": len(b_tx), "accepted": len(b_acc), "rate_limited": len(b_rl),
                      "recipients_accepted": sum(len(tx["rcpts"]) for tx in b_acc),
                      "first_t": min((tx["t"] for tx in b_tx), default=None),
                      "last_t": max((tx["t"] for tx in b_tx), default=None),
                      "verdicts": dict(b_verd)},
            "failed_logins_by_ip_all_protocols": dict(all_fail_by_ip),
        },
        "ordinary_accounts": ordinary,
        "function_accounts": {"news.office@uni.example": "sends the held mass mailing (25 recipients)"},
        "ordinary_account_activity": ordinary_stats,
        "other_attackers": {
            "smtp_auth_guessers": sorted({s["src"] for s in sessions if s["label"] == "smtp-guess"}),
            "pop3_guesser": sorted({r["src"] for r in pops if r["label"] == "pop-guess"}),
        },
        "mailbox_reads": {"imap": dict(read["imap"]), "pop3": dict(read["pop3"]),
                          "imap_total": sum(read["imap"].values()), "pop3_total": sum(read["pop3"].values())},
        "active_users": {k: sorted(v) for k, v in users.items()},
        "cleanup_rejected": cleanup_rejected,
        "size_exceeded": size_exceeded,
        "expired_messages": [m["message_id"] for m in expired],
        "deferred_message_ids": deferred_msgs,
        "quarantine_files": quarantine,
        "queue_at_end": {q["host"]: len(q["entries"]) for q in qend},
        "traces": traces,
        "unexpected_replies": {"%s %s %s" % k: v for k, v in other_replies.items()},
    }


def trace_messages(received, sessions, sink_rcpt, sink_del, local_msgs, admin, qrel, quarantine):
    """trace_messages picks messages of each kind and writes what happened to each
    recipient, in order, as the generator saw it."""
    out = []
    by_label = collections.defaultdict(list)
    for m in received:
        by_label[m["label"]].append(m)

    def sink_attempts(rcpt, sender=None, after=0):
        """the sink's answers for rcpt in transactions from sender (the generated
        addresses may repeat across messages, so sender and time narrow it down)"""
        at = [{"t": r["t"], "remote_reply": r["reply"], "from_host": r["peer"]} for r in sink_rcpt
              if r["rcpt"].lower() == rcpt.lower() and r["t"] >= after
              and (sender is None or r["mail_from"] == sender)]
        for d in sink_del:
            if rcpt in d["rcpts"] and d["t"] >= after and (sender is None or d["mail_from"] == sender):
                for a in at:
                    if a["remote_reply"].startswith("250") and abs(a["t"] - d["t"]) < 30:
                        a["remote_reply"] = d["reply"]
                        a["data_accepted"] = True
        return at

    def in_mailbox(mid):
        return sorted({e["mailbox"] for e in local_msgs if e["message_id"] == mid})

    def client_attempts(mid):
        at = []
        for s in sessions:
            for tx in s["tx"]:
                if tx.get("msgid") == mid:
                    at.append({"t": tx["t"], "host": s["host"], "src": s["src"],
                               "rcpt_replies": tx["rcpts"], "data_reply": tx.get("data"), "mail_reply": tx.get("mail")})
        return at

    for label, kind in (("special-flaky", "deferred twice, then delivered"),
                        ("special-bounce", "bounced by the remote MX"),
                        ("special-hostile-rcpt", "quoted local part with '>' and status=sent; bounced"),
                        ("special-expire", "deferred until expiry; delay warning and non-delivery notice to sender")):
        for m in by_label.get(label, []):
            rc = []
            for r in m["rcpts"]:
                at = sink_attempts(r, m["from"], m["t"])
                final = "delivered" if any(a.get("data_accepted") for a in at) else (
                    "bounced" if any(a["remote_reply"].startswith("5") for a in at) else "expired")
                rc.append({"rcpt": r, "final": final, "attempts": at})
            out.append({"kind": kind, "message_id": m["message_id"], "from": m["from"], "host": m["host"],
                        "accepted_t": m["t"], "recipients": rc,
                        "sender_notified_in_mailbox": in_mailbox_notifications(local_msgs, m["from"], m["message_id"])})
    for m in by_label.get("mass-mailing", []):
        rel = [a for a in admin if a["action"] == "postsuper -H"]
        out.append({"kind": "mass mailing held by header_checks (HOLD), released by postsuper -H, delivered",
                    "message_id": m["message_id"], "from": m["from"], "host": m["host"], "accepted_t": m["t"],
                    "held": True, "released_t": rel[0]["t"] if rel else None,
                    "recipients": [{"rcpt": r, "final": "delivered" if any(
                        a.get("data_accepted") for a in sink_attempts(r, m["from"], m["t"])) else "?",
                        "attempts": sink_attempts(r, m["from"], m["t"])} for r in m["rcpts"]]})
    for label in ("content-eicar", "content-gtube", "content-banned:exe"):
        for m in by_label.get(label, [])[:2]:
            found = in_mailbox(m["message_id"])
            out.append({"kind": "quarantined by amavis (%s), discarded" % verdict_of(m["category"]) +
                                ("; released from the quarantine and delivered" if found else ""),
                        "message_id": m["message_id"], "from": m["from"], "host": m["host"], "accepted_t": m["t"],
                        "recipients": [{"rcpt": r, "final": "released, delivered" if r in found else "quarantined"}
                                       for r in m["rcpts"]],
                        "client_attempts": client_attempts(m["message_id"]),
                        "found_in_mailbox": found})
    for q in qrel:
        if q.get("mail_id"):
            out.append({"kind": "quarantine release (AM.PDP request=release) of %s" % q.get("file"),
                        "mail_id": q["mail_id"], "released_t": q["t"], "response": q.get("response"),
                        "note": "the released copy is the GTUBE message quarantined on mx1 whose amavis mail_id "
                                "this is; found in mailboxes: see found_in_mailbox of the quarantined entries"})
    for m in by_label.get("departed", [])[:2]:
        out.append({"kind": "accepted for a user Dovecot does not know: LMTP 550, bounced",
                    "message_id": m["message_id"], "from": m["from"], "host": m["host"], "accepted_t": m["t"],
                    "recipients": [{"rcpt": r, "final": "bounced"} for r in m["rcpts"]],
                    "client_attempts": client_attempts(m["message_id"])})
    grey = [m for m in by_label.get("partner", []) if len(client_attempts(m["message_id"])) >= 2][:3]
    for m in grey:
        out.append({"kind": "greylisted, retried by the partner, delivered",
                    "message_id": m["message_id"], "from": m["from"], "host": m["host"], "accepted_t": m["t"],
                    "client_attempts": client_attempts(m["message_id"]),
                    "found_in_mailbox": in_mailbox(m["message_id"]),
                    "remote_copies": [{"rcpt": r, "attempts": sink_attempts(r, m["from"], m["t"])} for r in m["rcpts"]
                                      if not r.endswith("uni.example")]})
    for m in [m for m in by_label.get("burst", []) if m["category"] == "gtube"][:2]:
        out.append({"kind": "compromised-account spam, Blocked SPAM in the ORIGINATING bank: "
                            "the hand-off reply is '250 2.5.0 Ok, id=..., BOUNCE'; not delivered",
                    "message_id": m["message_id"], "from": m["from"], "host": m["host"], "accepted_t": m["t"],
                    "recipients": [{"rcpt": r, "final": "bounced by content filter",
                                    "attempts": sink_attempts(r, m["from"], m["t"])} for r in m["rcpts"]]})
    return out


def in_mailbox_notifications(local_msgs, sender, mid):
    n = [e for e in local_msgs if e["mailbox"] == sender and is_notification(e)]
    return [{"subject": e["subject"]} for e in n]
