-- The on-call rota, incidents, paging and heartbeats (issue 6).
-- +goose Up
-- Changes to a rota from config: overrides, swap requests, unavailability.
CREATE TABLE oncall_overrides (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    rota        TEXT   NOT NULL,
    member      TEXT   NOT NULL,
    start_at    BIGINT NOT NULL,
    end_at      BIGINT NOT NULL,
    reason      TEXT   NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    created_by  TEXT   NOT NULL DEFAULT '',
    deleted_at  BIGINT
);
CREATE INDEX oncall_overrides_rota ON oncall_overrides (rota, end_at);

CREATE TABLE oncall_swaps (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    rota        TEXT   NOT NULL,
    requester   TEXT   NOT NULL,
    counterpart TEXT   NOT NULL,
    turn_a      BIGINT NOT NULL,
    turn_b      BIGINT NOT NULL,
    state       TEXT   NOT NULL,
    note        TEXT   NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    created_by  TEXT   NOT NULL DEFAULT '',
    decided_at  BIGINT,
    decided_by  TEXT   NOT NULL DEFAULT '',
    reminded_at BIGINT
);
CREATE INDEX oncall_swaps_rota ON oncall_swaps (rota, state);

CREATE TABLE oncall_unavailability (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    member      TEXT   NOT NULL,
    start_at    BIGINT NOT NULL,
    end_at      BIGINT NOT NULL,
    reason      TEXT   NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    created_by  TEXT   NOT NULL DEFAULT '',
    deleted_at  BIGINT
);

-- Incidents: one per open (key); escalation timers live in next_at so they
-- survive restarts, and every state change is a conditional UPDATE.
CREATE TABLE oncall_incidents (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    ikey         TEXT   NOT NULL,
    source       TEXT   NOT NULL,
    title        TEXT   NOT NULL,
    summary      TEXT   NOT NULL DEFAULT '',
    severity     TEXT   NOT NULL,
    status       TEXT   NOT NULL,
    policy       TEXT   NOT NULL,
    round        INTEGER NOT NULL DEFAULT 0,
    step         INTEGER NOT NULL DEFAULT 0,
    round_start  BIGINT NOT NULL,
    next_at      BIGINT,
    opened_at    BIGINT NOT NULL,
    acked_at     BIGINT,
    acked_by     TEXT   NOT NULL DEFAULT '',
    resolved_at  BIGINT,
    resolved_by  TEXT   NOT NULL DEFAULT '',
    ticket_id    TEXT   NOT NULL DEFAULT '',
    labels       TEXT   NOT NULL DEFAULT '{}',
    external_url TEXT   NOT NULL DEFAULT '',
    updated_at   BIGINT NOT NULL
);
CREATE UNIQUE INDEX oncall_incidents_open_key ON oncall_incidents (ikey) WHERE status <> 'resolved';
CREATE INDEX oncall_incidents_due ON oncall_incidents (status, next_at);
CREATE INDEX oncall_incidents_opened ON oncall_incidents (opened_at);

CREATE TABLE oncall_incident_alerts (
    incident_id  BIGINT NOT NULL REFERENCES oncall_incidents (id) ON DELETE CASCADE,
    fingerprint  TEXT   NOT NULL,
    status       TEXT   NOT NULL,
    labels       TEXT   NOT NULL DEFAULT '{}',
    annotations  TEXT   NOT NULL DEFAULT '{}',
    starts_at    BIGINT NOT NULL,
    ends_at      BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (incident_id, fingerprint)
);

CREATE TABLE oncall_incident_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id  BIGINT NOT NULL REFERENCES oncall_incidents (id) ON DELETE CASCADE,
    at           BIGINT NOT NULL,
    kind         TEXT   NOT NULL,
    actor        TEXT   NOT NULL DEFAULT '',
    detail       TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX oncall_incident_events_incident ON oncall_incident_events (incident_id, at);

-- Pages: one row per (dedup key); the primary key makes a page go out once
-- across retries, restarts and replicas.
CREATE TABLE oncall_pages (
    pkey         TEXT   PRIMARY KEY,
    incident_id  BIGINT NOT NULL DEFAULT 0,
    member       TEXT   NOT NULL DEFAULT '',
    channel      TEXT   NOT NULL,
    kind         TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    finished_at  BIGINT,
    result       TEXT   NOT NULL DEFAULT 'pending',
    attempts     INTEGER NOT NULL DEFAULT 0,
    error        TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX oncall_pages_incident ON oncall_pages (incident_id);
CREATE INDEX oncall_pages_created ON oncall_pages (created_at);

CREATE TABLE oncall_heartbeats (
    name       TEXT   PRIMARY KEY,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    late       INTEGER NOT NULL DEFAULT 0
);

-- Handovers already announced: (rota, instant) claimed once.
CREATE TABLE oncall_handovers (
    rota    TEXT   NOT NULL,
    at      BIGINT NOT NULL,
    node    TEXT   NOT NULL DEFAULT '',
    sent_at BIGINT NOT NULL,
    PRIMARY KEY (rota, at)
);

-- +goose Down
DROP TABLE oncall_handovers;
DROP TABLE oncall_heartbeats;
DROP TABLE oncall_pages;
DROP TABLE oncall_incident_events;
DROP TABLE oncall_incident_alerts;
DROP TABLE oncall_incidents;
DROP TABLE oncall_unavailability;
DROP TABLE oncall_swaps;
DROP TABLE oncall_overrides;
