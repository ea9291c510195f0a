-- +goose Up
-- Whom a participant calls about an outing (the what-to-expect card).
CREATE TABLE org_contacts (
    org_id     TEXT PRIMARY KEY REFERENCES organisations (id),
    name       TEXT NOT NULL,
    phone      TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE org_contacts;
