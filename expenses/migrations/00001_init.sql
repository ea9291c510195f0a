-- +goose Up
CREATE TABLE expenses (
    id              TEXT PRIMARY KEY,
    organisation_id TEXT NOT NULL,
    outing_id       TEXT NOT NULL,
    volunteer_id    TEXT NOT NULL,
    kind            TEXT NOT NULL,
    amount_ore      INTEGER NOT NULL CHECK (amount_ore > 0),
    note            TEXT NOT NULL,
    status          TEXT NOT NULL,
    reason          TEXT NOT NULL DEFAULT '',
    outing_date     INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    decided_by      TEXT NOT NULL DEFAULT '',
    decided_at      INTEGER NOT NULL DEFAULT 0
) STRICT;
-- The list and the export: an organisation's, by status, over a period.
CREATE INDEX expenses_by_org ON expenses (organisation_id, status, outing_date, id);
CREATE INDEX expenses_by_org_date ON expenses (organisation_id, outing_date, id);
-- The cap: an outing's expenses.
CREATE INDEX expenses_by_outing ON expenses (outing_id);

-- +goose Down
DROP TABLE expenses;
