-- +goose Up
-- The candidates' shared history (a participant's completed outings, with
-- whom) from the index alone: the bookings query no longer reads every
-- outing of every candidate to find them.
CREATE INDEX outings_participant_history ON outings (participant_id, status, volunteer_id, starts_at, ends_at, id);

-- +goose Down
DROP INDEX outings_participant_history;
