-- +goose Up
-- A stamp per doc, new at every write of the doc (random, set by triggers
-- so that every writer, in any process, renews it): the SQLite engine keeps
-- decoded docs in memory and reads a doc again only when its stamp moved.
-- The prefilter's and the offers' indexes carry key and stamp, so the hot
-- queries learn which docs they need from the index alone.
ALTER TABLE volunteer_profiles ADD COLUMN doc_stamp INTEGER NOT NULL DEFAULT 0;
UPDATE volunteer_profiles SET doc_stamp = random();
-- +goose StatementBegin
CREATE TRIGGER volunteer_profiles_stamp_insert AFTER INSERT ON volunteer_profiles BEGIN
    UPDATE volunteer_profiles SET doc_stamp = random() WHERE rowid = NEW.rowid;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER volunteer_profiles_stamp_update AFTER UPDATE OF doc ON volunteer_profiles BEGIN
    UPDATE volunteer_profiles SET doc_stamp = random() WHERE rowid = NEW.rowid;
END;
-- +goose StatementEnd
DROP INDEX volunteer_profiles_reach;
CREATE INDEX volunteer_profiles_reach ON volunteer_profiles
    (organisation_id, status, home_cell, has_profile, home_lat, home_lon, travel_radius_km, user_id, doc_stamp);

ALTER TABLE outings ADD COLUMN doc_stamp INTEGER NOT NULL DEFAULT 0;
UPDATE outings SET doc_stamp = random();
-- +goose StatementBegin
CREATE TRIGGER outings_stamp_insert AFTER INSERT ON outings BEGIN
    UPDATE outings SET doc_stamp = random() WHERE rowid = NEW.rowid;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER outings_stamp_update AFTER UPDATE OF doc ON outings BEGIN
    UPDATE outings SET doc_stamp = random() WHERE rowid = NEW.rowid;
END;
-- +goose StatementEnd
DROP INDEX outings_open_in_box;
CREATE INDEX outings_open_in_box ON outings (organisation_id, status, starts_at, lat, lon, id, doc_stamp);

-- The candidates' two other reads (bookings and ratings of a candidate
-- set) from their indexes alone: one row read per outing or rating was
-- most of their time.
DROP INDEX outings_volunteer_bookings;
CREATE INDEX outings_volunteer_bookings ON outings (volunteer_id, starts_at, status, ends_at, participant_id, id);
DROP INDEX feedback_by_volunteer;
CREATE INDEX feedback_by_volunteer ON feedback (volunteer_id, author_role, participant_id, rating);

-- +goose Down
DROP INDEX feedback_by_volunteer;
CREATE INDEX feedback_by_volunteer ON feedback (volunteer_id);
DROP INDEX outings_volunteer_bookings;
CREATE INDEX outings_volunteer_bookings ON outings (volunteer_id, starts_at);
DROP INDEX outings_open_in_box;
CREATE INDEX outings_open_in_box ON outings (organisation_id, status, starts_at, lat, lon);
DROP TRIGGER outings_stamp_update;
DROP TRIGGER outings_stamp_insert;
ALTER TABLE outings DROP COLUMN doc_stamp;
DROP INDEX volunteer_profiles_reach;
CREATE INDEX volunteer_profiles_reach ON volunteer_profiles
    (organisation_id, status, home_cell, has_profile, home_lat, home_lon, travel_radius_km);
DROP TRIGGER volunteer_profiles_stamp_update;
DROP TRIGGER volunteer_profiles_stamp_insert;
ALTER TABLE volunteer_profiles DROP COLUMN doc_stamp;
