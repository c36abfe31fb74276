-- The monthly report's questions and tips (docs/reports.md): the entries
-- written for a period, in their order, before or after its report is
-- generated.
-- +goose Up
CREATE TABLE report_tips (
    period     TEXT    NOT NULL,
    pos        INTEGER NOT NULL,
    question   TEXT    NOT NULL,
    answer     TEXT    NOT NULL,
    updated_at BIGINT  NOT NULL,
    updated_by TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (period, pos)
);

-- +goose Down
DROP TABLE report_tips;
