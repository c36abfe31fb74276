-- Storage: indexes dropped for a bulk load and built again after it
-- (storage.DB.DeferIndexes, RestoreIndexes; `postvakt import` into empty
-- logs, docs/collectors.md "Backfill"). A row left here means a bulk load
-- did not finish: the next open by any command but import builds the
-- index again; import starts the load over.
-- +goose Up
CREATE TABLE storage_deferred_indexes (
    name     TEXT   NOT NULL PRIMARY KEY,
    tbl      TEXT   NOT NULL,
    ddl      TEXT   NOT NULL,
    owner    TEXT   NOT NULL DEFAULT '',
    deferred BIGINT NOT NULL
);

-- +goose Down
DROP TABLE storage_deferred_indexes;
