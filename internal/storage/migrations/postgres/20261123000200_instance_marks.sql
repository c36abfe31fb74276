-- Foundation: marks of what a database is for. postvakt serve --demo marks
-- its database "demo" and refuses any database without the mark; serve
-- without --demo refuses one with it (docs/demo.md).
-- +goose Up
CREATE TABLE instance_marks (
    name   TEXT   NOT NULL PRIMARY KEY,
    value  TEXT   NOT NULL DEFAULT '',
    set_at BIGINT NOT NULL
);

-- +goose Down
DROP TABLE instance_marks;
