-- Collectors: what the monthly report counts beyond the logs
-- (docs/reports.md, "Definitions").
--
-- mail_sessions: one row per ended IMAP or POP3 session with the messages
-- it read (Dovecot's logout counters), a raw log kept as long as the
-- others (collectors.retention_days).
--
-- login_user_days: one row per account, login service and day (a
-- calendar day in the report's time zone, identified by its local
-- midnight in µs) with a successful login, so that the distinct active
-- users of any run of days can be counted; kept for years, like the
-- rollups. Rows are only ever added.
--
-- directory_snapshots.extra_bytes: capacity granted above the default
-- quota, the sum over mailboxes of max(0, quota − default); NULL for
-- snapshots taken before it was recorded.
--
-- directory_members: which domains and mailboxes each daily snapshot saw,
-- as intervals of snapshot days [since_day, until_day); until_day is NULL
-- while the name is present. Kept for years.
-- +goose Up
CREATE TABLE mail_sessions (
    ts          BIGINT  NOT NULL,
    node        TEXT    NOT NULL DEFAULT '',
    source      TEXT    NOT NULL DEFAULT '',
    service     TEXT    NOT NULL DEFAULT '',
    username    TEXT    NOT NULL DEFAULT '',
    session     TEXT    NOT NULL DEFAULT '',
    remote_ip   TEXT    NOT NULL DEFAULT '',
    reads       BIGINT  NOT NULL DEFAULT 0,
    read_bytes  BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX mail_sessions_ts ON mail_sessions (ts);

CREATE TABLE login_user_days (
    day      BIGINT NOT NULL,
    service  TEXT   NOT NULL,
    username TEXT   NOT NULL,
    PRIMARY KEY (day, service, username)
);

ALTER TABLE directory_snapshots ADD COLUMN extra_bytes BIGINT;

CREATE TABLE directory_members (
    kind      TEXT   NOT NULL,
    name      TEXT   NOT NULL,
    since_day BIGINT NOT NULL,
    until_day BIGINT,
    PRIMARY KEY (kind, name, since_day)
);
CREATE INDEX directory_members_open ON directory_members (kind, until_day);

-- +goose Down
DROP TABLE directory_members;
ALTER TABLE directory_snapshots DROP COLUMN extra_bytes;
DROP TABLE login_user_days;
DROP TABLE mail_sessions;
