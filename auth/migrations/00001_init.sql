-- +goose Up
CREATE TABLE users (
    id                TEXT PRIMARY KEY,
    -- NormalizeEmail form (trimmed, lower case): UNIQUE is case-insensitive.
    email             TEXT NOT NULL UNIQUE,
    password_hash     TEXT NOT NULL,
    name              TEXT NOT NULL,
    role              TEXT NOT NULL,
    org_id            TEXT NOT NULL DEFAULT '',
    status            TEXT NOT NULL,
    language          TEXT NOT NULL,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    vetted_by         TEXT NOT NULL DEFAULT '',
    vetted_at         INTEGER,
    vetting_note      TEXT NOT NULL DEFAULT '',
    suspended_by      TEXT NOT NULL DEFAULT '',
    suspended_at      INTEGER,
    suspension_reason TEXT NOT NULL DEFAULT ''
) STRICT;
-- Member lists page by id within an organisation, optionally by role or status.
CREATE INDEX users_org ON users (org_id, id);
CREATE INDEX users_org_role ON users (org_id, role, id);
CREATE INDEX users_org_status ON users (org_id, status, id);

CREATE TABLE organisations (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    time_zone  TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE sign_ins (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked    INTEGER NOT NULL DEFAULT 0,
    revoked_at INTEGER,
    why        TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX sign_ins_user ON sign_ins (user_id, created_at, id);
CREATE INDEX sign_ins_revoked ON sign_ins (revoked_at) WHERE revoked_at IS NOT NULL;

-- A refresh token is spent by setting spent_at where it is NULL, inside a
-- write transaction: one winner across goroutines and processes.
CREATE TABLE refresh_tokens (
    hash       TEXT PRIMARY KEY,
    family     TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    spent_at   INTEGER
) STRICT;
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);

CREATE TABLE login_failures (
    id  TEXT PRIMARY KEY,
    key TEXT NOT NULL,
    at  INTEGER NOT NULL
) STRICT;
CREATE INDEX login_failures_key ON login_failures (key, at);
CREATE INDEX login_failures_at ON login_failures (at);

CREATE TABLE audit (
    id      TEXT PRIMARY KEY,
    actor   TEXT NOT NULL,
    subject TEXT NOT NULL,
    action  TEXT NOT NULL,
    at      INTEGER NOT NULL
) STRICT;
CREATE INDEX audit_subject ON audit (subject, at, id);
CREATE INDEX audit_actor ON audit (actor, at, id);
CREATE INDEX audit_at ON audit (at);

-- +goose Down
DROP TABLE audit;
DROP TABLE login_failures;
DROP TABLE refresh_tokens;
DROP TABLE sign_ins;
DROP TABLE organisations;
DROP TABLE users;
