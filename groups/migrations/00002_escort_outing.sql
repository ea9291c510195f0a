-- +goose Up
-- An outing event (its companion confirmed) finds the escort link it belongs to.
CREATE INDEX group_escorts_outing ON group_escorts (outing_id);

-- +goose Down
DROP INDEX group_escorts_outing;
