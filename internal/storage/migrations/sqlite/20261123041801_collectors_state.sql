-- Collectors: the live pipeline's state (docs/collectors.md, "Restarts
-- without loss or double counting"), committed with the records and the
-- reading positions: its global part (clocks, counters, the detector's
-- windows) in the row of the pseudo-source "state:live", and one row per
-- message and session the correlator holds in collector_state_items, so
-- that a commit writes what changed, not everything held. The replay
-- offsets and open keys of the earlier design are no longer written.
-- +goose Up
ALTER TABLE collector_checkpoints ADD COLUMN state BLOB NOT NULL DEFAULT x'';

CREATE TABLE collector_state_items (
    source TEXT NOT NULL,
    item   TEXT NOT NULL,
    data   BLOB NOT NULL,
    PRIMARY KEY (source, item)
);

-- +goose Down
DROP TABLE collector_state_items;
ALTER TABLE collector_checkpoints DROP COLUMN state;
