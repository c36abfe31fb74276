-- Spam complaints to the abuse address and the filter rules they propose
-- (docs/configuration.md, "Rules from spam complaints"): each complaint with
-- what was read from it, each rule (sender, domain, header, body) with its
-- state, and which complaints are behind which rule.
-- +goose Up
CREATE TABLE spam_complaints (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at BIGINT NOT NULL,
    reporter    TEXT   NOT NULL DEFAULT '',
    subject     TEXT   NOT NULL DEFAULT '',
    parsed      TEXT   NOT NULL
);
CREATE INDEX spam_complaints_received ON spam_complaints (received_at);

CREATE TABLE spam_rules (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT   NOT NULL,
    header      TEXT   NOT NULL DEFAULT '',
    value       TEXT   NOT NULL,
    score       DOUBLE PRECISION NOT NULL,
    state       TEXT   NOT NULL,
    proposed_at BIGINT NOT NULL,
    decided_at  BIGINT,
    decided_by  TEXT   NOT NULL DEFAULT '',
    UNIQUE (kind, header, value)
);
CREATE INDEX spam_rules_state ON spam_rules (state);

CREATE TABLE spam_rule_complaints (
    rule_id      BIGINT NOT NULL REFERENCES spam_rules (id) ON DELETE CASCADE,
    complaint_id BIGINT NOT NULL REFERENCES spam_complaints (id) ON DELETE CASCADE,
    PRIMARY KEY (rule_id, complaint_id)
);
CREATE INDEX spam_rule_complaints_complaint ON spam_rule_complaints (complaint_id);

-- +goose Down
DROP TABLE spam_rule_complaints;
DROP TABLE spam_rules;
DROP TABLE spam_complaints;
