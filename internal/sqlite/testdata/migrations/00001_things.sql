-- +goose Up
CREATE TABLE things (
    id      TEXT PRIMARY KEY,
    owner   TEXT NOT NULL,
    version INTEGER NOT NULL
) STRICT;
CREATE INDEX things_owner ON things (owner);

-- +goose Down
DROP TABLE things;
