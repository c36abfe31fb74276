-- Collectors: the transaction log (one row per recipient outcome), one row
-- per message, the login log, tail checkpoints, rollups, directory snapshots.
-- +goose Up
-- On PostgreSQL the three logs are partitioned by day on ts (microseconds);
-- the collectors create partitions ahead and retention drops them.
CREATE TABLE mail_tx (
    ts          BIGINT  NOT NULL,
    node        TEXT    NOT NULL DEFAULT '',
    source      TEXT    NOT NULL DEFAULT '',
    direction   TEXT    NOT NULL DEFAULT '',
    msg_key     TEXT    NOT NULL DEFAULT '',
    queue_id    TEXT    NOT NULL DEFAULT '',
    message_id  TEXT    NOT NULL DEFAULT '',
    mail_from   TEXT    NOT NULL DEFAULT '',
    rcpt        TEXT    NOT NULL DEFAULT '',
    orig_rcpt   TEXT    NOT NULL DEFAULT '',
    header_from TEXT    NOT NULL DEFAULT '',
    subject     TEXT    NOT NULL DEFAULT '',
    header_date TEXT    NOT NULL DEFAULT '',
    size        BIGINT  NOT NULL DEFAULT 0,
    client_ip   TEXT    NOT NULL DEFAULT '',
    client_name TEXT    NOT NULL DEFAULT '',
    helo        TEXT    NOT NULL DEFAULT '',
    auth_user   TEXT    NOT NULL DEFAULT '',
    spam_score  TEXT    NOT NULL DEFAULT '',
    av_verdict  TEXT    NOT NULL DEFAULT '',
    status      TEXT    NOT NULL,
    stage       TEXT    NOT NULL DEFAULT '',
    code        INTEGER NOT NULL DEFAULT 0,
    dsn         TEXT    NOT NULL DEFAULT '',
    reply       TEXT    NOT NULL DEFAULT '',
    relay       TEXT    NOT NULL DEFAULT '',
    agent       TEXT    NOT NULL DEFAULT '',
    handoff     SMALLINT NOT NULL DEFAULT 0,
    delay       DOUBLE PRECISION NOT NULL DEFAULT 0,
    delays      TEXT    NOT NULL DEFAULT ''
) PARTITION BY RANGE (ts);

CREATE TABLE mail_messages (
    ts          BIGINT  NOT NULL,
    last_seen   BIGINT  NOT NULL,
    node        TEXT    NOT NULL DEFAULT '',
    source      TEXT    NOT NULL DEFAULT '',
    direction   TEXT    NOT NULL DEFAULT '',
    msg_key     TEXT    NOT NULL,
    origin      TEXT    NOT NULL DEFAULT '',
    service     TEXT    NOT NULL DEFAULT '',
    state       TEXT    NOT NULL DEFAULT '',
    queue_ids   TEXT    NOT NULL DEFAULT '',
    first_queue_id TEXT NOT NULL DEFAULT '',
    message_id  TEXT    NOT NULL DEFAULT '',
    mail_from   TEXT    NOT NULL DEFAULT '',
    header_from TEXT    NOT NULL DEFAULT '',
    subject     TEXT    NOT NULL DEFAULT '',
    header_date TEXT    NOT NULL DEFAULT '',
    size        BIGINT  NOT NULL DEFAULT 0,
    nrcpt       INTEGER NOT NULL DEFAULT 0,
    client_ip   TEXT    NOT NULL DEFAULT '',
    client_name TEXT    NOT NULL DEFAULT '',
    helo        TEXT    NOT NULL DEFAULT '',
    auth_user   TEXT    NOT NULL DEFAULT '',
    spam_score  TEXT    NOT NULL DEFAULT '',
    av_verdict  TEXT    NOT NULL DEFAULT '',
    received    INTEGER NOT NULL DEFAULT 0
) PARTITION BY RANGE (ts);

CREATE TABLE mail_logins (
    ts          BIGINT  NOT NULL,
    node        TEXT    NOT NULL DEFAULT '',
    source      TEXT    NOT NULL DEFAULT '',
    service     TEXT    NOT NULL DEFAULT '',
    username    TEXT    NOT NULL DEFAULT '',
    remote_ip   TEXT    NOT NULL DEFAULT '',
    method      TEXT    NOT NULL DEFAULT '',
    session     TEXT    NOT NULL DEFAULT '',
    tls         SMALLINT NOT NULL DEFAULT 0,
    ok          SMALLINT NOT NULL DEFAULT 0,
    reason      TEXT    NOT NULL DEFAULT ''
) PARTITION BY RANGE (ts);

CREATE INDEX mail_tx_ts ON mail_tx (ts);
CREATE INDEX mail_tx_rcpt ON mail_tx (rcpt, ts);
CREATE INDEX mail_tx_orig ON mail_tx (orig_rcpt, ts) WHERE orig_rcpt <> '';
CREATE INDEX mail_tx_from ON mail_tx (mail_from, ts);
CREATE INDEX mail_tx_msgid ON mail_tx (message_id, ts);
CREATE INDEX mail_tx_queue ON mail_tx (queue_id, ts);
CREATE INDEX mail_tx_ip ON mail_tx (client_ip, ts);
CREATE INDEX mail_tx_key ON mail_tx (msg_key);
CREATE INDEX mail_messages_ts ON mail_messages (ts);
CREATE INDEX mail_messages_from ON mail_messages (mail_from, ts);
CREATE INDEX mail_messages_msgid ON mail_messages (message_id, ts);
CREATE INDEX mail_messages_queue ON mail_messages (first_queue_id, ts);
CREATE INDEX mail_messages_ip ON mail_messages (client_ip, ts);
CREATE INDEX mail_messages_user ON mail_messages (auth_user, ts);
CREATE INDEX mail_messages_key ON mail_messages (msg_key);
CREATE INDEX mail_logins_ts ON mail_logins (ts);
CREATE INDEX mail_logins_user ON mail_logins (username, ts);
CREATE INDEX mail_logins_ip ON mail_logins (remote_ip, ts);

-- collector_checkpoints holds the reading position of each tailed file,
-- written in the same transaction as the records its lines produced.
CREATE TABLE collector_checkpoints (
    source    TEXT   PRIMARY KEY,
    inode     BIGINT NOT NULL DEFAULT 0,
    head_hash TEXT   NOT NULL DEFAULT '',
    off       BIGINT NOT NULL DEFAULT 0,
    replay    BIGINT NOT NULL DEFAULT 0,
    open_keys TEXT   NOT NULL DEFAULT '',
    updated   BIGINT NOT NULL
);

-- mail_rollups: counts and bytes per hour and per day, computed in the
-- database from the logs above and kept for years (reports read these).
CREATE TABLE mail_rollups (
    period TEXT   NOT NULL,
    bucket BIGINT NOT NULL,
    metric TEXT   NOT NULL,
    dim    TEXT   NOT NULL DEFAULT '',
    n      BIGINT NOT NULL DEFAULT 0,
    bytes  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (period, bucket, metric, dim)
);

-- directory_snapshots: one row per day, kept for years.
CREATE TABLE directory_snapshots (
    day            BIGINT PRIMARY KEY,
    domains        BIGINT NOT NULL,
    mailboxes      BIGINT NOT NULL,
    allotted_bytes BIGINT NOT NULL,
    used_bytes     BIGINT NOT NULL,
    taken_at       BIGINT NOT NULL
);

-- +goose Down
DROP TABLE directory_snapshots;
DROP TABLE mail_rollups;
DROP TABLE collector_checkpoints;
DROP TABLE mail_logins;
DROP TABLE mail_messages;
DROP TABLE mail_tx;
