-- +goose Up
-- Outings: typed columns for what queries filter or sort on, the rest as
-- JSON (doc: the Outing; offers: the matcher's offer state). Times are Unix
-- milliseconds UTC. volunteer_id is '' when there is no companion.
CREATE TABLE outings (
    id                 TEXT    NOT NULL PRIMARY KEY,
    organisation_id    TEXT    NOT NULL,
    participant_id     TEXT    NOT NULL,
    volunteer_id       TEXT    NOT NULL DEFAULT '',
    status             TEXT    NOT NULL,
    starts_at          INTEGER NOT NULL,
    ends_at            INTEGER NOT NULL,
    created_at         INTEGER NOT NULL,
    version            INTEGER NOT NULL,
    has_pending_events INTEGER NOT NULL DEFAULT 0,
    lat                REAL    NOT NULL,
    lon                REAL    NOT NULL,
    -- 0: no offer check set yet (due at once).
    offer_check_at     INTEGER NOT NULL DEFAULT 0,
    offer_rev          INTEGER NOT NULL DEFAULT 0,
    doc                TEXT    NOT NULL,
    offers             TEXT    NOT NULL DEFAULT '{}'
) STRICT;
CREATE INDEX outings_by_participant ON outings (participant_id, created_at DESC, id DESC);
CREATE INDEX outings_by_volunteer ON outings (volunteer_id, created_at DESC, id DESC);
CREATE INDEX outings_by_org ON outings (organisation_id, created_at DESC, id DESC);
CREATE INDEX outings_pending_events ON outings (has_pending_events) WHERE has_pending_events = 1;
CREATE INDEX outings_by_status_start ON outings (status, starts_at);
CREATE INDEX outings_volunteer_bookings ON outings (volunteer_id, starts_at);
CREATE INDEX outings_offer_checks ON outings (status, offer_check_at);
CREATE INDEX outings_open_by_org ON outings (organisation_id, status, starts_at);

-- Every user id an outing names (participant, companion, creator, declined,
-- excluded, history actors): export and erasure find a user's outings here.
CREATE TABLE outing_people (
    user_id   TEXT NOT NULL,
    outing_id TEXT NOT NULL REFERENCES outings (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, outing_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX outing_people_by_outing ON outing_people (outing_id);

-- The offers that reached a volunteer (mirrors offers.OfferedTo).
CREATE TABLE outing_offers (
    volunteer_id TEXT    NOT NULL,
    outing_id    TEXT    NOT NULL REFERENCES outings (id) ON DELETE CASCADE,
    wave         INTEGER NOT NULL,
    at           INTEGER NOT NULL,
    PRIMARY KEY (volunteer_id, outing_id, wave)
) STRICT, WITHOUT ROWID;
CREATE INDEX outing_offers_by_outing ON outing_offers (outing_id);

CREATE TABLE volunteer_profiles (
    user_id         TEXT    NOT NULL PRIMARY KEY,
    organisation_id TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    has_profile     INTEGER NOT NULL,
    home_cell       TEXT    NOT NULL,
    rev             INTEGER NOT NULL,
    doc             TEXT    NOT NULL
) STRICT;
CREATE INDEX volunteer_profiles_in_cells ON volunteer_profiles (organisation_id, status, home_cell);

CREATE TABLE participant_profiles (
    user_id         TEXT    NOT NULL PRIMARY KEY,
    organisation_id TEXT    NOT NULL,
    rev             INTEGER NOT NULL,
    doc             TEXT    NOT NULL
) STRICT;

-- id is outing id + ':' + author id: once per person is the primary key.
CREATE TABLE feedback (
    id              TEXT    NOT NULL PRIMARY KEY,
    outing_id       TEXT    NOT NULL,
    organisation_id TEXT    NOT NULL,
    author_id       TEXT    NOT NULL,
    author_role     TEXT    NOT NULL,
    participant_id  TEXT    NOT NULL,
    volunteer_id    TEXT    NOT NULL,
    rating          INTEGER NOT NULL,
    comment         TEXT    NOT NULL DEFAULT '',
    comfort_before  INTEGER,
    comfort_after   INTEGER,
    created_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX feedback_by_outing ON feedback (outing_id);
CREATE INDEX feedback_by_author ON feedback (author_id);
CREATE INDEX feedback_by_participant ON feedback (participant_id);
CREATE INDEX feedback_by_volunteer ON feedback (volunteer_id);

CREATE TABLE preferences (
    participant_id  TEXT    NOT NULL PRIMARY KEY,
    organisation_id TEXT    NOT NULL,
    rev             INTEGER NOT NULL,
    doc             TEXT    NOT NULL
) STRICT;

-- Which participants' lists name a volunteer (erasure of the volunteer).
CREATE TABLE preference_volunteers (
    volunteer_id   TEXT NOT NULL,
    participant_id TEXT NOT NULL REFERENCES preferences (participant_id) ON DELETE CASCADE,
    PRIMARY KEY (volunteer_id, participant_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX preference_volunteers_by_participant ON preference_volunteers (participant_id);

-- +goose Down
DROP TABLE preference_volunteers;
DROP TABLE preferences;
DROP TABLE feedback;
DROP TABLE participant_profiles;
DROP TABLE volunteer_profiles;
DROP TABLE outing_offers;
DROP TABLE outing_people;
DROP TABLE outings;
