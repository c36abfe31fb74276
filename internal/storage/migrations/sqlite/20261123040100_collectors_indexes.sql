-- Collectors: cheaper indexes for the import (docs/performance.md,
-- "Import into PostgreSQL: indexes"). The same indexes as on PostgreSQL,
-- where the identifier columns also get the "C" collation (SQLite's
-- default, BINARY, already compares bytes).
--
-- mail_tx rows that belong to a message (msg_key <> '') are found by
-- sender, Message-ID and client IP through mail_messages (TraceSearch);
-- only rows without a message keep their own entries in those indexes.
-- Indexes skip the empty value where a search never asks for it; queries
-- that use them say "col <> ''" (SQLite uses a partial index only then).
-- mail_tx (msg_key) becomes (msg_key, ts): rows are looked up by key and
-- time span.
-- +goose Up
DROP INDEX mail_tx_from;
DROP INDEX mail_tx_msgid;
DROP INDEX mail_tx_queue;
DROP INDEX mail_tx_ip;
DROP INDEX mail_tx_key;
DROP INDEX mail_messages_msgid;
DROP INDEX mail_messages_user;
CREATE INDEX mail_tx_from ON mail_tx (mail_from, ts) WHERE msg_key = '';
CREATE INDEX mail_tx_msgid ON mail_tx (message_id, ts) WHERE msg_key = '' AND message_id <> '';
CREATE INDEX mail_tx_ip ON mail_tx (client_ip, ts) WHERE msg_key = '';
CREATE INDEX mail_tx_queue ON mail_tx (queue_id, ts) WHERE queue_id <> '';
CREATE INDEX mail_tx_key ON mail_tx (msg_key, ts) WHERE msg_key <> '';
CREATE INDEX mail_messages_msgid ON mail_messages (message_id, ts) WHERE message_id <> '';
CREATE INDEX mail_messages_user ON mail_messages (auth_user, ts) WHERE auth_user <> '';

-- +goose Down
DROP INDEX mail_tx_from;
DROP INDEX mail_tx_msgid;
DROP INDEX mail_tx_queue;
DROP INDEX mail_tx_ip;
DROP INDEX mail_tx_key;
DROP INDEX mail_messages_msgid;
DROP INDEX mail_messages_user;
CREATE INDEX mail_tx_from ON mail_tx (mail_from, ts);
CREATE INDEX mail_tx_msgid ON mail_tx (message_id, ts);
CREATE INDEX mail_tx_queue ON mail_tx (queue_id, ts);
CREATE INDEX mail_tx_ip ON mail_tx (client_ip, ts);
CREATE INDEX mail_tx_key ON mail_tx (msg_key);
CREATE INDEX mail_messages_msgid ON mail_messages (message_id, ts);
CREATE INDEX mail_messages_user ON mail_messages (auth_user, ts);
