-- +goose Up
CREATE TABLE unit_requirements (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    unit_id     BIGINT NOT NULL REFERENCES units (id) ON DELETE CASCADE,
    kind        TEXT   NOT NULL,
    title       TEXT   NOT NULL,
    body        TEXT   NOT NULL DEFAULT '',
    state       TEXT   NOT NULL,
    opened_at   BIGINT NOT NULL,
    opened_by   TEXT   NOT NULL,
    answer      TEXT   NOT NULL DEFAULT '',
    answered_at BIGINT,
    answered_by TEXT   NOT NULL DEFAULT '',
    updated_at  BIGINT NOT NULL
);
CREATE INDEX unit_requirements_unit ON unit_requirements (unit_id);
CREATE INDEX unit_requirements_opened ON unit_requirements (opened_at);

-- +goose Down
DROP TABLE unit_requirements;
