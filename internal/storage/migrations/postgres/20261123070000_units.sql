-- Units joining the central mail service (docs/units.md): the unit
-- records, their domains (each domain belongs to one unit), one-time
-- survey links (only the token's hash), the migration checklist's steps,
-- DNS check history, work orders, the unit's history, and the tickets and
-- notices scoped to a unit.
-- +goose Up
CREATE TABLE units (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    assignee     TEXT    NOT NULL DEFAULT '',
    migration_at BIGINT,
    leader       TEXT    NOT NULL DEFAULT '{}',
    net_admin    TEXT    NOT NULL DEFAULT '{}',
    contacts     TEXT    NOT NULL DEFAULT '[]',
    people       TEXT    NOT NULL DEFAULT '{}',
    quota        TEXT    NOT NULL DEFAULT '{}',
    services     TEXT    NOT NULL DEFAULT '[]',
    notes        TEXT    NOT NULL DEFAULT '',
    survey       TEXT,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);
CREATE INDEX units_status ON units (status);

CREATE TABLE unit_domains (
    domain  TEXT   NOT NULL PRIMARY KEY,
    unit_id BIGINT NOT NULL REFERENCES units (id) ON DELETE CASCADE,
    pos     INTEGER NOT NULL
);
CREATE INDEX unit_domains_unit ON unit_domains (unit_id);

CREATE TABLE unit_events (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    unit_id BIGINT  NOT NULL REFERENCES units (id) ON DELETE CASCADE,
    at      BIGINT  NOT NULL,
    actor   TEXT    NOT NULL,
    kind    TEXT    NOT NULL,
    step_id BIGINT  NOT NULL DEFAULT 0,
    text    TEXT    NOT NULL
);
CREATE INDEX unit_events_unit ON unit_events (unit_id, id);

CREATE TABLE unit_survey_links (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    unit_id    BIGINT  NOT NULL REFERENCES units (id) ON DELETE CASCADE,
    token_hash TEXT    NOT NULL UNIQUE,
    created_at BIGINT  NOT NULL,
    created_by TEXT    NOT NULL,
    expires_at BIGINT  NOT NULL,
    used_at    BIGINT
);

CREATE TABLE unit_steps (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    unit_id     BIGINT  NOT NULL REFERENCES units (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL,
    seq         INTEGER NOT NULL DEFAULT 0,
    label       TEXT    NOT NULL,
    due_at      BIGINT  NOT NULL,
    assignee    TEXT    NOT NULL DEFAULT '',
    state       TEXT    NOT NULL,
    reminded_at BIGINT,
    checked_at  BIGINT,
    done_at     BIGINT,
    done_by     TEXT    NOT NULL DEFAULT '',
    outcome     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX unit_steps_unit ON unit_steps (unit_id, due_at);
CREATE INDEX unit_steps_due ON unit_steps (state, due_at);

CREATE TABLE unit_checks (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    unit_id   BIGINT  NOT NULL REFERENCES units (id) ON DELETE CASCADE,
    step_id   BIGINT  NOT NULL DEFAULT 0,
    at        BIGINT  NOT NULL,
    actor     TEXT    NOT NULL,
    domain    TEXT    NOT NULL,
    ok        INTEGER NOT NULL,
    ttl       BIGINT,
    result    TEXT    NOT NULL,
    explained INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX unit_checks_unit ON unit_checks (unit_id, id);

CREATE TABLE unit_work_orders (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    unit_id   BIGINT  NOT NULL REFERENCES units (id) ON DELETE CASCADE,
    state     TEXT    NOT NULL,
    title     TEXT    NOT NULL,
    body      TEXT    NOT NULL DEFAULT '',
    opened_at BIGINT  NOT NULL,
    opened_by TEXT    NOT NULL,
    sent_to   TEXT    NOT NULL DEFAULT '',
    result    TEXT    NOT NULL DEFAULT '',
    result_at BIGINT,
    result_by TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX unit_work_orders_unit ON unit_work_orders (unit_id);

CREATE TABLE unit_refs (
    unit_id BIGINT NOT NULL REFERENCES units (id) ON DELETE CASCADE,
    kind    TEXT   NOT NULL,
    ref_id  BIGINT NOT NULL,
    at      BIGINT NOT NULL,
    actor   TEXT   NOT NULL,
    PRIMARY KEY (unit_id, kind, ref_id)
);
CREATE INDEX unit_refs_ref ON unit_refs (kind, ref_id);

-- +goose Down
DROP TABLE unit_refs;
DROP TABLE unit_work_orders;
DROP TABLE unit_checks;
DROP TABLE unit_steps;
DROP TABLE unit_survey_links;
DROP TABLE unit_events;
DROP TABLE unit_domains;
DROP TABLE units;
