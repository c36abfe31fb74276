-- Collectors: the addresses each account was seen from (abuse detection's
-- "an address new for the account", collectors/abusedetect; bounded per
-- account, forgotten after collectors.abuse.known_address_ttl), and the
-- warning lines of Postfix (pflogsumm's "Warnings", kept like the logs).
-- +goose Up
CREATE TABLE abuse_known_addresses (
    account    TEXT   NOT NULL,
    address    TEXT   NOT NULL,
    first_seen BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    PRIMARY KEY (account, address)
);
CREATE INDEX abuse_known_addresses_last ON abuse_known_addresses (last_seen);

CREATE TABLE mail_warnings (
    ts       BIGINT NOT NULL,
    node     TEXT   NOT NULL DEFAULT '',
    program  TEXT   NOT NULL DEFAULT '',
    severity TEXT   NOT NULL,
    text     TEXT   NOT NULL DEFAULT '',
    text_key TEXT   NOT NULL DEFAULT ''
);
CREATE INDEX mail_warnings_ts ON mail_warnings (ts);

-- +goose Down
DROP TABLE mail_warnings;
DROP TABLE abuse_known_addresses;
