-- +goose Up
CREATE TABLE wellbeing_checkins (
    id              TEXT    NOT NULL PRIMARY KEY,
    user_id         TEXT    NOT NULL,
    organisation_id TEXT    NOT NULL,
    at              INTEGER NOT NULL,
    confidence      INTEGER NOT NULL,
    social          INTEGER NOT NULL,
    occupation      INTEGER NOT NULL
) STRICT;
CREATE INDEX wellbeing_by_user ON wellbeing_checkins (user_id, at DESC);
CREATE INDEX wellbeing_by_org ON wellbeing_checkins (organisation_id, at);

CREATE TABLE milestones (
    id              TEXT    NOT NULL PRIMARY KEY,
    participant_id  TEXT    NOT NULL,
    organisation_id TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    on_date         TEXT    NOT NULL,
    note            TEXT    NOT NULL DEFAULT '',
    recorded_by     TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX milestones_by_participant ON milestones (participant_id, on_date DESC);
CREATE INDEX milestones_by_org ON milestones (organisation_id, on_date);
CREATE INDEX milestones_by_recorder ON milestones (recorded_by);

CREATE TABLE volunteer_pulse (
    id               TEXT    NOT NULL PRIMARY KEY,
    user_id          TEXT    NOT NULL,
    organisation_id  TEXT    NOT NULL,
    at               INTEGER NOT NULL,
    secure_in_role   INTEGER NOT NULL,
    information_good INTEGER NOT NULL
) STRICT;
CREATE INDEX pulse_by_user ON volunteer_pulse (user_id);
CREATE INDEX pulse_by_org ON volunteer_pulse (organisation_id, at);

CREATE TABLE outcome_goals (
    organisation_id TEXT NOT NULL PRIMARY KEY,
    doc             TEXT NOT NULL
) STRICT;

-- asked_at is 0 when no ask is outstanding.
CREATE TABLE outcome_asks (
    kind            TEXT    NOT NULL,
    user_id         TEXT    NOT NULL,
    organisation_id TEXT    NOT NULL,
    last_answer_at  INTEGER NOT NULL,
    asked_at        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (kind, user_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX outcome_asks_due ON outcome_asks (kind, asked_at, last_answer_at);

CREATE TABLE outcome_tombstones (
    id              TEXT NOT NULL PRIMARY KEY,
    organisation_id TEXT NOT NULL,
    doc             TEXT NOT NULL
) STRICT;
CREATE INDEX outcome_tombstones_by_org ON outcome_tombstones (organisation_id);

-- +goose Down
DROP TABLE outcome_tombstones;
DROP TABLE outcome_asks;
DROP TABLE outcome_goals;
DROP TABLE volunteer_pulse;
DROP TABLE milestones;
DROP TABLE wellbeing_checkins;
