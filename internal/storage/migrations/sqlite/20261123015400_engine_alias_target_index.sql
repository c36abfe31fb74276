-- [engine]: the mailbox page asks which aliases, lists and function
-- addresses forward to a mailbox (DirAliasesTargeting); the primary key
-- (address, target) cannot serve a lookup by target.
-- +goose Up
CREATE INDEX engine_alias_targets_target ON engine_alias_targets (target);
-- +goose Down
DROP INDEX engine_alias_targets_target;
