-- [engine-content] (issue 4): the outbound relay queue's delivery state
-- (leases so several nodes share the queue, held reasons, the abuse check)
-- on the engine's engine_relay_queue, and the mass-mailing approved list.
-- +goose Up
ALTER TABLE engine_relay_queue ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE engine_relay_queue ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE engine_relay_queue ADD COLUMN last_attempt_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE engine_relay_queue ADD COLUMN held_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE engine_relay_queue ADD COLUMN checked BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX engine_relay_queue_sender ON engine_relay_queue (mail_from);
CREATE INDEX engine_relay_queue_queue_id ON engine_relay_queue (queue_id);

-- +goose Down
DROP INDEX engine_relay_queue_queue_id;
DROP INDEX engine_relay_queue_sender;
ALTER TABLE engine_relay_queue DROP COLUMN checked;
ALTER TABLE engine_relay_queue DROP COLUMN held_reason;
ALTER TABLE engine_relay_queue DROP COLUMN last_attempt_at;
ALTER TABLE engine_relay_queue DROP COLUMN lease_until;
ALTER TABLE engine_relay_queue DROP COLUMN lease_owner;
