-- [engine] (issue 3): bodies are collected when no mailbox message and no
-- relay-queue entry refers to them any more (MailPrune). On SQLite the
-- foreign keys to engine_bodies stay declared (dropping them would copy
-- three tables); MailPrune deletes bodies on a connection with
-- foreign_keys off, after the same check done by hand, and a transaction
-- row may outlive its body.
-- +goose Up
SELECT 1;
-- +goose Down
SELECT 1;
