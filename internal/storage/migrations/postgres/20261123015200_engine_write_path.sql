-- [engine] (issue 3): indexes no query reads, taken off the write path of
-- every accepted message. Both keys are random (a SHA-256 and a
-- Message-ID), so each message dirtied one more index page per index in
-- every group commit (one more WAL frame on SQLite). Message trace by
-- Message-ID reads the collectors' mail_tx/mail_messages, not
-- engine_transactions.
-- +goose Up
DROP INDEX engine_transactions_message_id;
DROP INDEX engine_messages_body;
-- +goose Down
CREATE INDEX engine_transactions_message_id ON engine_transactions (message_id);
CREATE INDEX engine_messages_body ON engine_messages (body_hash);
