-- +goose Up
-- When a sign-in was last used, for idle timeouts that hold across
-- restarts and replicas (the console's sessions). NULL: not since created.
ALTER TABLE sign_ins ADD COLUMN last_seen_at INTEGER;

-- +goose Down
ALTER TABLE sign_ins DROP COLUMN last_seen_at;
