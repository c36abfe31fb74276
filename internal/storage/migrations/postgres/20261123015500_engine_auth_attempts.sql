-- [engine]: AUTH attempts counted per client network and per account in
-- fixed buckets (engine/authlimit), shared by every engine node so that N
-- nodes allow the configured guessing rate, not N times it; and the client
-- networks known to an account by a successful sign-in (kind 'known').
-- +goose Up
CREATE TABLE engine_auth_attempts (
    kind       TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    bucket     BIGINT  NOT NULL,
    count      INTEGER NOT NULL,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (kind, key, bucket)
);
CREATE INDEX engine_auth_attempts_updated ON engine_auth_attempts (kind, updated_at);
-- +goose Down
DROP TABLE engine_auth_attempts;
