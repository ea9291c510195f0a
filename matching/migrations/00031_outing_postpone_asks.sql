-- +goose Up
-- How many postponements were asked for an outing, whatever the answer, kept
-- beside the document for the outcome report. Existing rows count the asks
-- their history records, and their documents learn the count too.
ALTER TABLE outings ADD COLUMN postpone_asks INTEGER NOT NULL DEFAULT 0;
UPDATE outings SET postpone_asks = (
    SELECT count(*) FROM json_each(outings.doc, '$.History') AS h
    WHERE json_extract(h.value, '$.reason') LIKE 'postponement asked%');
UPDATE outings SET doc = json_set(doc, '$.PostponeAsks', postpone_asks) WHERE postpone_asks > 0;
-- The report still reads its columns from the index alone.
DROP INDEX outings_report;
CREATE INDEX outings_report ON outings (organisation_id, created_at, id, status, participant_id, volunteer_id, starts_at, ends_at, confirmed_at, postpone_asks);

-- +goose Down
DROP INDEX outings_report;
CREATE INDEX outings_report ON outings (organisation_id, created_at, id, status, participant_id, volunteer_id, starts_at, ends_at, confirmed_at);
ALTER TABLE outings DROP COLUMN postpone_asks;
