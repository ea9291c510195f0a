-- +goose Up
-- When an outing was first confirmed (Unix ms; 0: never), kept beside the
-- document so that the outcome report reads it without parsing 10 000
-- documents. Existing rows take it from their history.
ALTER TABLE outings ADD COLUMN confirmed_at INTEGER NOT NULL DEFAULT 0;
UPDATE outings SET confirmed_at = coalesce((
    SELECT CAST(round((julianday(json_extract(h.value, '$.at')) - 2440587.5) * 86400000) AS INTEGER)
    FROM json_each(outings.doc, '$.History') AS h
    WHERE json_extract(h.value, '$.to') = 'confirmed' LIMIT 1), 0);
-- The report reads its columns from the index alone: the rows hold the
-- documents, and confirmed_at sits after them.
CREATE INDEX outings_report ON outings (organisation_id, created_at, id, status, participant_id, volunteer_id, starts_at, ends_at, confirmed_at);
-- The participant's comfort answers, without visiting the feedback rows.
CREATE INDEX feedback_comfort ON feedback (outing_id, author_role, comfort_before, comfort_after);

-- +goose Down
DROP INDEX feedback_comfort;
DROP INDEX outings_report;
ALTER TABLE outings DROP COLUMN confirmed_at;
