-- Collectors: cheaper indexes for the import (docs/performance.md,
-- "Import into PostgreSQL: indexes").
--
-- 1. The identifier columns (addresses, queue IDs, Message-IDs, IPs, user
--    names, message keys) are only ever compared for equality: they get the
--    "C" collation, so their btrees compare bytes (memcmp) instead of calling
--    strcoll under the cluster's locale (en_US.UTF-8, C.UTF-8, …). Values are
--    unchanged; no row is rewritten, the indexes on them are rebuilt below.
-- 2. mail_tx rows that belong to a message (msg_key <> '') are found by
--    sender, Message-ID and client IP through mail_messages, which has the
--    same values one row per message (TraceSearch); only rows without a
--    message (NOQUEUE rejects, greylisting, amavis verdicts) keep their own
--    entries in those three indexes.
-- 3. Indexes skip the empty value where a search never asks for it
--    (message_id, queue_id, msg_key on mail_tx; message_id, auth_user on
--    mail_messages): about half of the rows have no queue ID or Message-ID.
--    Queries that use them say "col <> ''" so that generic plans can too.
-- 4. mail_tx (msg_key) becomes (msg_key, ts): a message's rows are looked
--    up by key and time span (TraceSearch, traceLoad); with the key alone a
--    generic plan ANDed it with a scan of the ts index (33 ms a key).
-- +goose Up
-- (dropped first: ALTER COLUMN TYPE rebuilds the indexes on the columns it
-- changes; those whose definition changes are created afresh below)
DROP INDEX mail_tx_from, mail_tx_msgid, mail_tx_queue, mail_tx_ip, mail_tx_key, mail_messages_msgid, mail_messages_user;
ALTER TABLE mail_tx
    ALTER COLUMN msg_key TYPE TEXT COLLATE "C",
    ALTER COLUMN queue_id TYPE TEXT COLLATE "C",
    ALTER COLUMN message_id TYPE TEXT COLLATE "C",
    ALTER COLUMN mail_from TYPE TEXT COLLATE "C",
    ALTER COLUMN rcpt TYPE TEXT COLLATE "C",
    ALTER COLUMN orig_rcpt TYPE TEXT COLLATE "C",
    ALTER COLUMN client_ip TYPE TEXT COLLATE "C";
ALTER TABLE mail_messages
    ALTER COLUMN msg_key TYPE TEXT COLLATE "C",
    ALTER COLUMN first_queue_id TYPE TEXT COLLATE "C",
    ALTER COLUMN message_id TYPE TEXT COLLATE "C",
    ALTER COLUMN mail_from TYPE TEXT COLLATE "C",
    ALTER COLUMN client_ip TYPE TEXT COLLATE "C",
    ALTER COLUMN auth_user TYPE TEXT COLLATE "C";
ALTER TABLE mail_logins
    ALTER COLUMN username TYPE TEXT COLLATE "C",
    ALTER COLUMN remote_ip TYPE TEXT COLLATE "C";

CREATE INDEX mail_tx_from ON mail_tx (mail_from, ts) WHERE msg_key = '';
CREATE INDEX mail_tx_msgid ON mail_tx (message_id, ts) WHERE msg_key = '' AND message_id <> '';
CREATE INDEX mail_tx_ip ON mail_tx (client_ip, ts) WHERE msg_key = '';
CREATE INDEX mail_tx_queue ON mail_tx (queue_id, ts) WHERE queue_id <> '';
CREATE INDEX mail_tx_key ON mail_tx (msg_key, ts) WHERE msg_key <> '';
CREATE INDEX mail_messages_msgid ON mail_messages (message_id, ts) WHERE message_id <> '';
CREATE INDEX mail_messages_user ON mail_messages (auth_user, ts) WHERE auth_user <> '';
-- the few messages that lasted more than a day (deferred, retried), for
-- searches whose window starts after their first line (TraceSearch)
CREATE INDEX mail_messages_long ON mail_messages (last_seen) WHERE last_seen - ts > 86400000000;

-- +goose Down
DROP INDEX mail_messages_long;
DROP INDEX mail_tx_from, mail_tx_msgid, mail_tx_queue, mail_tx_ip, mail_tx_key, mail_messages_msgid, mail_messages_user;
ALTER TABLE mail_tx
    ALTER COLUMN msg_key TYPE TEXT COLLATE "default",
    ALTER COLUMN queue_id TYPE TEXT COLLATE "default",
    ALTER COLUMN message_id TYPE TEXT COLLATE "default",
    ALTER COLUMN mail_from TYPE TEXT COLLATE "default",
    ALTER COLUMN rcpt TYPE TEXT COLLATE "default",
    ALTER COLUMN orig_rcpt TYPE TEXT COLLATE "default",
    ALTER COLUMN client_ip TYPE TEXT COLLATE "default";
ALTER TABLE mail_messages
    ALTER COLUMN msg_key TYPE TEXT COLLATE "default",
    ALTER COLUMN first_queue_id TYPE TEXT COLLATE "default",
    ALTER COLUMN message_id TYPE TEXT COLLATE "default",
    ALTER COLUMN mail_from TYPE TEXT COLLATE "default",
    ALTER COLUMN client_ip TYPE TEXT COLLATE "default",
    ALTER COLUMN auth_user TYPE TEXT COLLATE "default";
ALTER TABLE mail_logins
    ALTER COLUMN username TYPE TEXT COLLATE "default",
    ALTER COLUMN remote_ip TYPE TEXT COLLATE "default";
CREATE INDEX mail_tx_from ON mail_tx (mail_from, ts);
CREATE INDEX mail_tx_msgid ON mail_tx (message_id, ts);
CREATE INDEX mail_tx_queue ON mail_tx (queue_id, ts);
CREATE INDEX mail_tx_ip ON mail_tx (client_ip, ts);
CREATE INDEX mail_tx_key ON mail_tx (msg_key);
CREATE INDEX mail_messages_msgid ON mail_messages (message_id, ts);
CREATE INDEX mail_messages_user ON mail_messages (auth_user, ts);
