-- +goose Up
CREATE TABLE group_defs (
    id TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL,
    starts_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL,
    decided INTEGER NOT NULL DEFAULT 0,
    seq INTEGER NOT NULL DEFAULT 0,
    doc TEXT NOT NULL
) STRICT;
CREATE INDEX group_defs_org ON group_defs (organisation_id, id);

CREATE TABLE group_sessions (
    id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL,
    organisation_id TEXT NOT NULL,
    starts_at INTEGER NOT NULL,
    ends_at INTEGER NOT NULL,
    status TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX group_sessions_group ON group_sessions (group_id, starts_at);

CREATE TABLE group_enrolments (
    id TEXT PRIMARY KEY,
    group_id TEXT NOT NULL,
    participant_id TEXT NOT NULL,
    status TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL
) STRICT;
CREATE INDEX group_enrolments_group ON group_enrolments (group_id, seq);
CREATE INDEX group_enrolments_group_status ON group_enrolments (group_id, status, seq);
CREATE INDEX group_enrolments_participant ON group_enrolments (participant_id, group_id);
-- One place (enrolled or waiting) per participant and group.
CREATE UNIQUE INDEX group_enrolments_active ON group_enrolments (group_id, participant_id)
    WHERE status IN ('enrolled', 'waiting');

CREATE TABLE group_marks (
    session_id TEXT NOT NULL,
    participant_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    mark TEXT NOT NULL,
    PRIMARY KEY (session_id, participant_id)
) STRICT;
CREATE INDEX group_marks_group ON group_marks (group_id);
CREATE INDEX group_marks_participant ON group_marks (participant_id);

CREATE TABLE group_escorts (
    session_id TEXT NOT NULL,
    participant_id TEXT NOT NULL,
    outing_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    PRIMARY KEY (session_id, participant_id, outing_id)
) STRICT;
CREATE INDEX group_escorts_participant ON group_escorts (participant_id, group_id);

-- +goose Down
DROP TABLE group_escorts;
DROP TABLE group_marks;
DROP TABLE group_enrolments;
DROP TABLE group_sessions;
DROP TABLE group_defs;
