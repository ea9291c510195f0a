-- +goose Up
-- First answers of creating POSTs sent with an Idempotency-Key (api package).
CREATE TABLE idempotency_keys (
    id           TEXT PRIMARY KEY,   -- sha256(user, key)
    user_id      TEXT NOT NULL,
    claim        TEXT NOT NULL,      -- which claim owns it (takeovers get a new one)
    fingerprint  TEXT NOT NULL,
    done         INTEGER NOT NULL DEFAULT 0,
    status       INTEGER NOT NULL DEFAULT 0,
    content_type TEXT NOT NULL DEFAULT '',
    body         BLOB,
    created_at   INTEGER NOT NULL,   -- Unix ms UTC
    expires_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);

-- +goose Down
DROP TABLE idempotency_keys;
