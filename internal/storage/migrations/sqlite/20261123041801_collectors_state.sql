-- Collectors: the live pipeline's state (docs/collectors.md, "Restarts
-- without loss or double counting"): the correlator's open messages and
-- the detector's windows, committed with the records and the reading
-- positions in the row of the pseudo-source "state:live". The replay
-- offsets and open keys of the earlier design are no longer written.
-- +goose Up
ALTER TABLE collector_checkpoints ADD COLUMN state BLOB NOT NULL DEFAULT x'';

-- +goose Down
ALTER TABLE collector_checkpoints DROP COLUMN state;
