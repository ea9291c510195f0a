-- +goose Up
CREATE TABLE seed_runs (
    id  TEXT PRIMARY KEY,
    doc TEXT NOT NULL
) STRICT;

-- +goose Down
DROP TABLE seed_runs;
