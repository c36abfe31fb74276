-- The monthly report (issue 8): the archive, one row per period, and the
-- free-text comments written for a period before its report goes out.
-- +goose Up
CREATE TABLE report_archive (
    period          TEXT    PRIMARY KEY,
    period_start    BIGINT  NOT NULL,
    period_end      BIGINT  NOT NULL,
    lang            TEXT    NOT NULL,
    generated_at    BIGINT  NOT NULL,
    generated_by    TEXT    NOT NULL DEFAULT '',
    comment         TEXT    NOT NULL DEFAULT '',
    pdf_engine      TEXT    NOT NULL DEFAULT '',
    html            BLOB    NOT NULL,
    pdf             BLOB    NOT NULL,
    csv             BLOB    NOT NULL,
    model           BLOB    NOT NULL,
    send_claimed_at BIGINT,
    send_claimed_by TEXT    NOT NULL DEFAULT '',
    sent_at         BIGINT,
    sent_to         TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX report_archive_start ON report_archive (period_start);

CREATE TABLE report_comments (
    period     TEXT   PRIMARY KEY,
    comment    TEXT   NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT   NOT NULL DEFAULT ''
);

-- +goose Down
DROP TABLE report_comments;
DROP TABLE report_archive;
