-- +goose Up
CREATE TABLE devices (
    token         TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL,
    platform      TEXT NOT NULL,
    registered_at INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX devices_user ON devices (user_id, updated_at);

-- A job stays here after it finished (outcome set) until the sweep, so that
-- its dedup key keeps a re-delivered event from sending it again.
-- next_at is when a pending job can next be claimed: its run_at, or the end
-- of the lease someone holds on it.
CREATE TABLE push_jobs (
    id          TEXT PRIMARY KEY,
    dedup_key   TEXT NOT NULL UNIQUE,
    kind        TEXT NOT NULL,
    type        TEXT NOT NULL,
    outing_id   TEXT NOT NULL,
    org_id      TEXT NOT NULL,
    audience    TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    starts_at   INTEGER NOT NULL,
    deadline    INTEGER NOT NULL,
    due_at      INTEGER NOT NULL,
    run_at      INTEGER NOT NULL,
    next_at     INTEGER NOT NULL,
    attempt     INTEGER NOT NULL DEFAULT 0,
    failures    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT NOT NULL DEFAULT '',
    delivered   TEXT NOT NULL DEFAULT '[]',
    created_at  INTEGER NOT NULL,
    lease_owner TEXT NOT NULL DEFAULT '',
    lease_token TEXT NOT NULL DEFAULT '',
    lease_until INTEGER NOT NULL DEFAULT 0,
    outcome     TEXT NOT NULL DEFAULT '',
    finished_at INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX push_jobs_due ON push_jobs (next_at) WHERE outcome = '';
CREATE INDEX push_jobs_outing ON push_jobs (outing_id);
CREATE INDEX push_jobs_recipient ON push_jobs (recipient);
CREATE INDEX push_jobs_finished ON push_jobs (finished_at) WHERE outcome <> '';

CREATE TABLE push_events (
    id      TEXT PRIMARY KEY,
    seen_at INTEGER NOT NULL
) STRICT;
CREATE INDEX push_events_seen ON push_events (seen_at);

-- +goose Down
DROP TABLE push_events;
DROP TABLE push_jobs;
DROP TABLE devices;
