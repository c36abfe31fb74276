-- [engine-content] (issue 4): the central quarantine of infected, suspect
-- and spam mail, kept until released, deleted or past retention.
-- +goose Up
CREATE TABLE engine_quarantine (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue_id    TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    reason      TEXT   NOT NULL,
    detail      TEXT   NOT NULL DEFAULT '',
    listener    TEXT   NOT NULL DEFAULT '',
    client_ip   TEXT   NOT NULL DEFAULT '',
    auth_user   TEXT   NOT NULL DEFAULT '',
    mail_from   TEXT   NOT NULL DEFAULT '',
    rcpts       TEXT   NOT NULL DEFAULT '',
    subject     TEXT   NOT NULL DEFAULT '',
    header_from TEXT   NOT NULL DEFAULT '',
    size        BIGINT NOT NULL DEFAULT 0,
    body        BYTEA  NOT NULL
);
CREATE INDEX engine_quarantine_created ON engine_quarantine (created_at);

-- +goose Down
DROP TABLE engine_quarantine;
