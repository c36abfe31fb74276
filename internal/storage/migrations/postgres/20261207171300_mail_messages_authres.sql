-- The MX's SPF, DKIM and DMARC results of an accepted message
-- ("spf=pass dkim=none dmarc=pass", RFC 8601 methods) and the sender as
-- submitted when the engine rewrote it to the permanent address
-- (docs/configuration.md, smtp.dmarc and smtp.directory.rewrite_from),
-- kept with the message so the trace shows them.
-- +goose Up
ALTER TABLE mail_messages ADD COLUMN auth_results TEXT NOT NULL DEFAULT '';
ALTER TABLE mail_messages ADD COLUMN original_from TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE mail_messages DROP COLUMN original_from;
ALTER TABLE mail_messages DROP COLUMN auth_results;
