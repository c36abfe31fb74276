-- Probes: every run (kept for the retention period), each probe's current
-- state, and its state changes (kept for years: availability is computed
-- from them).
-- +goose Up
CREATE TABLE probe_results (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    probe            TEXT    NOT NULL,
    service          TEXT    NOT NULL,
    node             TEXT    NOT NULL DEFAULT '',
    kind             TEXT    NOT NULL,
    at               BIGINT  NOT NULL,
    duration_us      BIGINT  NOT NULL,
    ok               INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 1,
    error            TEXT    NOT NULL DEFAULT '',
    warning          TEXT    NOT NULL DEFAULT '',
    steps            TEXT    NOT NULL DEFAULT '[]',
    cert_expiry      BIGINT,
    loop_delivery_us BIGINT,
    replica          TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX probe_results_probe_at ON probe_results (probe, at);
CREATE INDEX probe_results_at ON probe_results (at);

CREATE TABLE probe_states (
    probe            TEXT    NOT NULL PRIMARY KEY,
    service          TEXT    NOT NULL,
    node             TEXT    NOT NULL DEFAULT '',
    kind             TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    since            BIGINT  NOT NULL,
    last_at          BIGINT  NOT NULL,
    last_ok          INTEGER NOT NULL,
    last_error       TEXT    NOT NULL DEFAULT '',
    last_duration_us BIGINT  NOT NULL DEFAULT 0,
    warning          TEXT    NOT NULL DEFAULT '',
    cert_expiry      BIGINT,
    replica          TEXT    NOT NULL DEFAULT ''
);

CREATE TABLE probe_changes (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    probe   TEXT   NOT NULL,
    service TEXT   NOT NULL,
    node    TEXT   NOT NULL DEFAULT '',
    kind    TEXT   NOT NULL,
    status  TEXT   NOT NULL,
    at      BIGINT NOT NULL,
    error   TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX probe_changes_probe_at ON probe_changes (probe, at);
CREATE INDEX probe_changes_service_at ON probe_changes (service, at);

-- +goose Down
DROP TABLE probe_changes;
DROP TABLE probe_states;
DROP TABLE probe_results;
