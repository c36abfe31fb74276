-- The member who owns an incident after a reassignment by hand
-- (docs/oncall.md, "Working an incident"); empty while nobody was named.
-- The page log (oncall_pages) gets an index for an incident's messages in
-- order, read by the incident page.
-- +goose Up
ALTER TABLE oncall_incidents ADD COLUMN assignee TEXT NOT NULL DEFAULT '';
CREATE INDEX oncall_pages_incident_created ON oncall_pages (incident_id, created_at);

-- +goose Down
DROP INDEX oncall_pages_incident_created;
ALTER TABLE oncall_incidents DROP COLUMN assignee;
