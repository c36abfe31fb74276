-- The on-call team as data (docs/oncall.md, "The rota as data"): members,
-- rotas and their versions, each in force from a stated moment, and the
-- record of the shifts as they were held.
-- +goose Up
CREATE TABLE oncall_team_members (
    id          TEXT   PRIMARY KEY,
    name        TEXT   NOT NULL DEFAULT '',
    email       TEXT   NOT NULL DEFAULT '',
    slack_id    TEXT   NOT NULL DEFAULT '',
    phone       TEXT   NOT NULL DEFAULT '',
    time_zone   TEXT   NOT NULL DEFAULT '',
    -- hash of the configured member last applied; '' when added at run time
    config_hash TEXT   NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    created_by  TEXT   NOT NULL DEFAULT '',
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT   NOT NULL DEFAULT '',
    removed_at  BIGINT,
    removed_by  TEXT   NOT NULL DEFAULT ''
);

CREATE TABLE oncall_rotas (
    name        TEXT   PRIMARY KEY,
    -- hash of the configured rota (oncall.rotas) last applied
    config_hash TEXT   NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    created_by  TEXT   NOT NULL DEFAULT ''
);

-- A version is the rota from from_at on (0: the first, since ever); a
-- version is never changed, only cancelled before it takes effect.
CREATE TABLE oncall_rota_versions (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rota             TEXT   NOT NULL REFERENCES oncall_rotas (name),
    from_at          BIGINT NOT NULL,
    members          TEXT   NOT NULL, -- JSON array of member IDs in duty order
    first_member     TEXT   NOT NULL,
    start_date       TEXT   NOT NULL,
    every            TEXT   NOT NULL,
    handover_weekday TEXT   NOT NULL,
    handover_time    TEXT   NOT NULL,
    time_zone        TEXT   NOT NULL,
    cover            TEXT   NOT NULL DEFAULT '',
    reason           TEXT   NOT NULL DEFAULT '',
    created_at       BIGINT NOT NULL,
    created_by       TEXT   NOT NULL DEFAULT '',
    cancelled_at     BIGINT,
    cancelled_by     TEXT   NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX oncall_rota_versions_live ON oncall_rota_versions (rota, from_at) WHERE cancelled_at IS NULL;

-- One row: moves on with every write of the team, so that every process
-- sees a change with one cheap read.
CREATE TABLE oncall_team_revision (
    id INTEGER PRIMARY KEY,
    n  BIGINT  NOT NULL
);
INSERT INTO oncall_team_revision (id, n) VALUES (1, 0);

-- The shifts as they were held, written by the on-call loop as they start
-- (end_at NULL) and end; late: recorded only after it ended.
CREATE TABLE oncall_shift_log (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rota        TEXT   NOT NULL,
    member      TEXT   NOT NULL,
    start_at    BIGINT NOT NULL,
    end_at      BIGINT,
    source      TEXT   NOT NULL,
    turn        BIGINT NOT NULL,
    ref         TEXT   NOT NULL DEFAULT '',
    recorded_at BIGINT NOT NULL,
    late        INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX oncall_shift_log_start ON oncall_shift_log (rota, start_at);

-- +goose Down
DROP TABLE oncall_shift_log;
DROP TABLE oncall_team_revision;
DROP TABLE oncall_rota_versions;
DROP TABLE oncall_rotas;
DROP TABLE oncall_team_members;
