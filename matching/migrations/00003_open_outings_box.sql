-- +goose Up
-- The offers' query (open outings of an organisation from now on, in a
-- box around the volunteer) tests the box on the index: rows are read only
-- for outings in the box, not for every open outing of the organisation.
CREATE INDEX outings_open_in_box ON outings (organisation_id, status, starts_at, lat, lon);
-- Its prefix.
DROP INDEX outings_open_by_org;

-- +goose Down
CREATE INDEX outings_open_by_org ON outings (organisation_id, status, starts_at);
DROP INDEX outings_open_in_box;
