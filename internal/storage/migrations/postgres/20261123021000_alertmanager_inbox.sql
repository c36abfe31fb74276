-- The Alertmanager receiver's durable inbox (docs/oncall.md, "Alertmanager
-- receiver"): each webhook group is stored here before the receiver
-- answers 2xx, and the inbox worker marks it done once handled, retrying
-- what fails (attempts, next_at, last_error).
-- +goose Up
CREATE TABLE oncall_alertmanager_inbox (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    group_key   TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    received_at BIGINT  NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     BIGINT  NOT NULL,
    last_error  TEXT    NOT NULL DEFAULT '',
    done_at     BIGINT
);
CREATE INDEX oncall_alertmanager_inbox_pending ON oncall_alertmanager_inbox (id) WHERE done_at IS NULL;
CREATE INDEX oncall_alertmanager_inbox_done ON oncall_alertmanager_inbox (done_at);

-- +goose Down
DROP TABLE oncall_alertmanager_inbox;
