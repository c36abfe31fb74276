-- Tickets, SLA clocks and notices (issue 7).
-- +goose Up
-- sla_policies keeps every policy version a ticket was opened under, so a
-- ticket's clocks run on the policy frozen at open even after the
-- configuration changes.
CREATE TABLE sla_policies (
    version    TEXT   PRIMARY KEY,
    name       TEXT   NOT NULL,
    spec       TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE tickets (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title            TEXT    NOT NULL,
    service          TEXT    NOT NULL,
    severity         TEXT    NOT NULL,
    source           TEXT    NOT NULL,
    reporter         TEXT    NOT NULL DEFAULT '',
    reporter_email   TEXT    NOT NULL DEFAULT '',
    assignee         TEXT    NOT NULL DEFAULT '',
    state            TEXT    NOT NULL,
    symptoms         TEXT    NOT NULL DEFAULT '',
    handling_plan    TEXT    NOT NULL DEFAULT '',
    language         TEXT    NOT NULL DEFAULT 'en',
    policy           TEXT    NOT NULL,
    policy_version   TEXT    NOT NULL REFERENCES sla_policies (version),
    notified_at      BIGINT  NOT NULL,
    opened_at        BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    responded_at     BIGINT,
    resolved_at      BIGINT,
    closed_at        BIGINT,
    last_reminder_at BIGINT
);
CREATE INDEX tickets_state ON tickets (state);

CREATE TABLE ticket_events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id  BIGINT  NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    at         BIGINT  NOT NULL,
    actor      TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    from_state TEXT    NOT NULL DEFAULT '',
    to_state   TEXT    NOT NULL DEFAULT '',
    body       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, id);

CREATE TABLE ticket_links (
    ticket_id BIGINT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    kind      TEXT   NOT NULL,
    ref       TEXT   NOT NULL,
    title     TEXT   NOT NULL DEFAULT '',
    PRIMARY KEY (ticket_id, kind, ref)
);
CREATE INDEX ticket_links_ref ON ticket_links (kind, ref);

-- ticket_clocks stores each clock's raw (wall) and business durations as
-- of updated_at; durations are microseconds.
CREATE TABLE ticket_clocks (
    ticket_id    BIGINT  NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    kind         TEXT    NOT NULL,
    status       TEXT    NOT NULL,
    inside_hours INTEGER NOT NULL,
    target_us    BIGINT  NOT NULL,
    start_at     BIGINT  NOT NULL,
    due_at       BIGINT,
    stopped_at   BIGINT,
    raw_us       BIGINT  NOT NULL,
    business_us  BIGINT  NOT NULL,
    counted_us   BIGINT  NOT NULL,
    paused_us    BIGINT  NOT NULL,
    percent      DOUBLE PRECISION NOT NULL,
    warned_at    BIGINT,
    breached_at  BIGINT,
    updated_at   BIGINT  NOT NULL,
    PRIMARY KEY (ticket_id, kind)
);

-- ticket_messages maps e-mail Message-IDs (reports, replies,
-- acknowledgements) to tickets for threading.
CREATE TABLE ticket_messages (
    message_id TEXT   PRIMARY KEY,
    ticket_id  BIGINT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    at         BIGINT NOT NULL
);

CREATE TABLE notices (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind           TEXT    NOT NULL,
    title          TEXT    NOT NULL,
    services       TEXT    NOT NULL,
    state          TEXT    NOT NULL,
    public         INTEGER NOT NULL,
    symptoms       TEXT    NOT NULL DEFAULT '',
    impact         TEXT    NOT NULL DEFAULT '',
    handling_plan  TEXT    NOT NULL DEFAULT '',
    started_at     BIGINT  NOT NULL,
    planned_end    BIGINT,
    next_update_at BIGINT,
    ended_at       BIGINT,
    language       TEXT    NOT NULL,
    thread_id      TEXT    NOT NULL UNIQUE,
    ticket_id      TEXT    NOT NULL DEFAULT '',
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL,
    created_by     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX notices_ended ON notices (ended_at);

CREATE TABLE notice_updates (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    notice_id  BIGINT  NOT NULL REFERENCES notices (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    at         BIGINT  NOT NULL,
    actor      TEXT    NOT NULL DEFAULT '',
    kind       TEXT    NOT NULL,
    tag        TEXT    NOT NULL DEFAULT '',
    state      TEXT    NOT NULL,
    body       TEXT    NOT NULL DEFAULT '',
    announce   INTEGER NOT NULL,
    message_id TEXT    NOT NULL,
    sent_at    BIGINT,
    attempts   INTEGER NOT NULL DEFAULT 0,
    last_error TEXT    NOT NULL DEFAULT '',
    UNIQUE (notice_id, seq)
);

-- +goose Down
DROP TABLE notice_updates;
DROP TABLE notices;
DROP TABLE ticket_messages;
DROP TABLE ticket_clocks;
DROP TABLE ticket_links;
DROP TABLE ticket_events;
DROP TABLE tickets;
DROP TABLE sla_policies;
