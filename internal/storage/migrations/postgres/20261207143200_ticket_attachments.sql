-- Files that came with mail to the fault address, kept with their ticket
-- (docs/tickets.md, "Attachments"), size-limited per file and per ticket.
-- +goose Up
CREATE TABLE ticket_attachments (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id    BIGINT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    name         TEXT   NOT NULL,
    content_type TEXT   NOT NULL,
    size         BIGINT NOT NULL,
    sha256       TEXT   NOT NULL,
    at           BIGINT NOT NULL,
    sender       TEXT   NOT NULL DEFAULT '',
    scan         TEXT   NOT NULL,
    data         BYTEA  NOT NULL
);
CREATE INDEX ticket_attachments_ticket ON ticket_attachments (ticket_id);

-- +goose Down
DROP TABLE ticket_attachments;
