-- +goose Up
-- A volunteer's expenses: their data export and erasure.
CREATE INDEX expenses_by_volunteer ON expenses (volunteer_id, outing_date, id);

-- +goose Down
DROP INDEX expenses_by_volunteer;
