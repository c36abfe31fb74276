-- Web interface: local users (argon2id password hashes, login throttling
-- state) and server-side sessions (the cookie secret stored only as its
-- SHA-256 hash, with the session's CSRF token).
-- +goose Up
CREATE TABLE web_users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    display_name  TEXT    NOT NULL DEFAULT '',
    role          TEXT    NOT NULL,
    password_hash TEXT    NOT NULL DEFAULT '',
    disabled      INTEGER NOT NULL DEFAULT 0,
    failed_count  INTEGER NOT NULL DEFAULT 0,
    failed_since  BIGINT,
    locked_until  BIGINT,
    created_at    BIGINT  NOT NULL,
    last_login_at BIGINT
);

CREATE TABLE web_sessions (
    hash         TEXT   NOT NULL PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES web_users (id) ON DELETE CASCADE,
    csrf         TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    remote       TEXT   NOT NULL DEFAULT '',
    via          TEXT   NOT NULL DEFAULT 'password'
);
CREATE INDEX web_sessions_user ON web_sessions (user_id);
CREATE INDEX web_sessions_expires ON web_sessions (expires_at);

-- +goose Down
DROP TABLE web_sessions;
DROP TABLE web_users;
