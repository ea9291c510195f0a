-- +goose Up
-- Invite codes are stored as issued: coordinators list them to hand them
-- out again, and a code only opens a pending account (approval still
-- needed), for one role, until it expires or is used up.
CREATE TABLE invites (
    code       TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL,
    role       TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    max_uses   INTEGER NOT NULL,
    uses       INTEGER NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX invites_org ON invites (org_id, code);

-- +goose Down
DROP TABLE invites;
