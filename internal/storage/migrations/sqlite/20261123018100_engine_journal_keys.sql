-- The engine's records in the transaction log (docs/collectors.md, "The
-- engine"): a relay-queue entry and a quarantined message carry the node
-- that accepted the message, so the steps the queue and the quarantine
-- write later are keyed as the message is (node/queue ID); a quarantined
-- message keeps its Message-ID for the log.
-- +goose Up
ALTER TABLE engine_relay_queue ADD COLUMN node TEXT NOT NULL DEFAULT '';
ALTER TABLE engine_quarantine ADD COLUMN node TEXT NOT NULL DEFAULT '';
ALTER TABLE engine_quarantine ADD COLUMN message_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE engine_quarantine DROP COLUMN message_id;
ALTER TABLE engine_quarantine DROP COLUMN node;
ALTER TABLE engine_relay_queue DROP COLUMN node;
