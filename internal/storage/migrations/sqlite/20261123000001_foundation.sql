-- Foundation: API tokens, the audit log, and scheduled-job ticks.
-- +goose Up
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL,
    role         TEXT    NOT NULL,
    hash         TEXT    NOT NULL UNIQUE,
    prefix       TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    created_by   TEXT    NOT NULL DEFAULT '',
    expires_at   BIGINT,
    last_used_at BIGINT,
    revoked_at   BIGINT
);

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      BIGINT NOT NULL,
    actor   TEXT   NOT NULL,
    action  TEXT   NOT NULL,
    target  TEXT   NOT NULL DEFAULT '',
    detail  TEXT   NOT NULL DEFAULT '',
    remote  TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log (at);

-- job_runs claims one scheduled tick of one job; the primary key makes the
-- claim exactly-once across replicas sharing the database.
CREATE TABLE job_runs (
    job         TEXT   NOT NULL,
    tick        BIGINT NOT NULL,
    node        TEXT   NOT NULL,
    started_at  BIGINT NOT NULL,
    finished_at BIGINT,
    error       TEXT,
    PRIMARY KEY (job, tick)
);

-- +goose Down
DROP TABLE job_runs;
DROP TABLE audit_log;
DROP TABLE api_tokens;
