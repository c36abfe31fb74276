-- [engine] (issue 3): bodies are collected when no mailbox message and no
-- relay-queue entry refers to them any more (MailPrune); a transaction row
-- may outlive its body. The foreign keys to engine_bodies go: deleting a
-- body checked every referring table by a scan (no index on body_hash, by
-- design: a random key on the write path of every message). MailCommit
-- still inserts the body in the same transaction as its references.
-- +goose Up
ALTER TABLE engine_transactions DROP CONSTRAINT IF EXISTS engine_transactions_body_hash_fkey;
ALTER TABLE engine_messages DROP CONSTRAINT IF EXISTS engine_messages_body_hash_fkey;
ALTER TABLE engine_relay_queue DROP CONSTRAINT IF EXISTS engine_relay_queue_body_hash_fkey;
-- +goose Down
ALTER TABLE engine_transactions ADD CONSTRAINT engine_transactions_body_hash_fkey FOREIGN KEY (body_hash) REFERENCES engine_bodies (hash) NOT VALID;
ALTER TABLE engine_messages ADD CONSTRAINT engine_messages_body_hash_fkey FOREIGN KEY (body_hash) REFERENCES engine_bodies (hash) NOT VALID;
ALTER TABLE engine_relay_queue ADD CONSTRAINT engine_relay_queue_body_hash_fkey FOREIGN KEY (body_hash) REFERENCES engine_bodies (hash) NOT VALID;
