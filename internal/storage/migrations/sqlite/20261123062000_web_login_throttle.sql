-- Web sign-in throttling kept in the database so that it holds under
-- parallel requests and across replicas (docs/web.md, "Sign-in
-- throttling"): each attempt is counted by a conditional UPDATE before its
-- password is hashed. login_pending counts a user's attempts still being
-- checked (login_pending_at: the latest one began then); web_login_addresses
-- counts the attempts of each client address within the window.
-- +goose Up
ALTER TABLE web_users ADD COLUMN login_pending INTEGER NOT NULL DEFAULT 0;
ALTER TABLE web_users ADD COLUMN login_pending_at BIGINT;

CREATE TABLE web_login_addresses (
    addr         TEXT    NOT NULL PRIMARY KEY,
    window_start BIGINT  NOT NULL,
    attempts     INTEGER NOT NULL
);
CREATE INDEX web_login_addresses_window ON web_login_addresses (window_start);

-- +goose Down
DROP TABLE web_login_addresses;
ALTER TABLE web_users DROP COLUMN login_pending_at;
ALTER TABLE web_users DROP COLUMN login_pending;
