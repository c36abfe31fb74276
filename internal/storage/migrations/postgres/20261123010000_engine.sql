-- The mail engine (issue 3): directory, greylisting, the mailbox store with
-- content-addressed bodies, the transaction record and the relay queue.
-- +goose Up
CREATE TABLE engine_domains (
    name       TEXT   PRIMARY KEY,
    created_at BIGINT NOT NULL
);

CREATE TABLE engine_mailboxes (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    address          TEXT    NOT NULL UNIQUE,
    nickname         TEXT    NOT NULL DEFAULT '',
    display_name     TEXT    NOT NULL DEFAULT '',
    quota_bytes      BIGINT  NOT NULL DEFAULT 0,
    used_bytes       BIGINT  NOT NULL DEFAULT 0,
    forward_to       TEXT    NOT NULL DEFAULT '',
    keep_copy        BOOLEAN NOT NULL DEFAULT FALSE,
    external_forward BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash    TEXT    NOT NULL DEFAULT '',
    locked           BOOLEAN NOT NULL DEFAULT FALSE,
    locked_reason    TEXT    NOT NULL DEFAULT '',
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL
);

-- Every deliverable (or quarantined) address: permanent addresses,
-- nicknames, released nicknames, aliases, lists, function addresses.
CREATE TABLE engine_addresses (
    address     TEXT   PRIMARY KEY,
    kind        TEXT   NOT NULL,
    mailbox_id  BIGINT REFERENCES engine_mailboxes (id),
    released_at BIGINT
);
CREATE INDEX engine_addresses_mailbox ON engine_addresses (mailbox_id);

CREATE TABLE engine_alias_targets (
    address TEXT NOT NULL REFERENCES engine_addresses (address) ON DELETE CASCADE,
    target  TEXT NOT NULL,
    PRIMARY KEY (address, target)
);

CREATE TABLE engine_greylist (
    net        TEXT    NOT NULL,
    sender     TEXT    NOT NULL,
    rcpt       TEXT    NOT NULL,
    first_seen BIGINT  NOT NULL,
    last_seen  BIGINT  NOT NULL,
    passed_at  BIGINT  NOT NULL DEFAULT 0,
    attempts   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (net, sender, rcpt)
);
CREATE INDEX engine_greylist_last_seen ON engine_greylist (last_seen);

CREATE TABLE engine_greylist_clients (
    net        TEXT    PRIMARY KEY,
    passes     INTEGER NOT NULL,
    updated_at BIGINT  NOT NULL
);

CREATE TABLE engine_bodies (
    hash       TEXT   PRIMARY KEY,
    size       BIGINT NOT NULL,
    data       BYTEA  NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE engine_transactions (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue_id    TEXT   NOT NULL UNIQUE,
    received_at BIGINT NOT NULL,
    node        TEXT   NOT NULL,
    listener    TEXT   NOT NULL,
    client_ip   TEXT   NOT NULL,
    helo        TEXT   NOT NULL,
    auth_user   TEXT   NOT NULL,
    mail_from   TEXT   NOT NULL,
    rcpts       TEXT   NOT NULL,
    message_id  TEXT   NOT NULL,
    subject     TEXT   NOT NULL,
    header_from TEXT   NOT NULL,
    size        BIGINT NOT NULL,
    body_hash   TEXT   NOT NULL REFERENCES engine_bodies (hash)
);
CREATE INDEX engine_transactions_message_id ON engine_transactions (message_id);
CREATE INDEX engine_transactions_received_at ON engine_transactions (received_at);

CREATE TABLE engine_messages (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mailbox_id  BIGINT  NOT NULL REFERENCES engine_mailboxes (id),
    queue_id    TEXT    NOT NULL,
    body_hash   TEXT    NOT NULL REFERENCES engine_bodies (hash),
    size        BIGINT  NOT NULL,
    received_at BIGINT  NOT NULL,
    truncated   BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX engine_messages_mailbox ON engine_messages (mailbox_id, id);
CREATE INDEX engine_messages_body ON engine_messages (body_hash);

-- Remote recipients and external forwards, for the outbound relay queue
-- ([engine-content], issue 4).
CREATE TABLE engine_relay_queue (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue_id        TEXT    NOT NULL,
    rcpt            TEXT    NOT NULL,
    target          TEXT    NOT NULL,
    mail_from       TEXT    NOT NULL,
    body_hash       TEXT    NOT NULL REFERENCES engine_bodies (hash),
    state           TEXT    NOT NULL DEFAULT 'queued',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    created_at      BIGINT  NOT NULL,
    last_error      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX engine_relay_queue_state ON engine_relay_queue (state, next_attempt_at);

-- +goose Down
DROP TABLE engine_relay_queue;
DROP TABLE engine_messages;
DROP TABLE engine_transactions;
DROP TABLE engine_bodies;
DROP TABLE engine_greylist_clients;
DROP TABLE engine_greylist;
DROP TABLE engine_alias_targets;
DROP TABLE engine_addresses;
DROP TABLE engine_mailboxes;
DROP TABLE engine_domains;
