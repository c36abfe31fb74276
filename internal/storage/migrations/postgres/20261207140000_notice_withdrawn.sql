-- A notice withdrawn because it was made by mistake (docs/tickets.md,
-- "Withdrawing a notice"): when and by whom. A withdrawn notice leaves the
-- status page and its feed, plans no maintenance window and is no outage
-- of the monthly report; its record and updates are kept.
-- +goose Up
ALTER TABLE notices ADD COLUMN withdrawn_at BIGINT;
ALTER TABLE notices ADD COLUMN withdrawn_by TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE notices DROP COLUMN withdrawn_by;
ALTER TABLE notices DROP COLUMN withdrawn_at;
