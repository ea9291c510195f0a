-- +goose Up
-- The postponement sweep finds confirmed outings whose companion has not
-- answered in time; the deadline lives in the JSON document and is indexed
-- through a virtual column (no write path changes).
ALTER TABLE outings ADD COLUMN postpone_answer_by INTEGER GENERATED ALWAYS AS (json_extract(doc, '$.Postponement.AnswerByMs')) VIRTUAL;
CREATE INDEX outings_postpone_due ON outings (postpone_answer_by) WHERE postpone_answer_by IS NOT NULL;

-- +goose Down
DROP INDEX outings_postpone_due;
ALTER TABLE outings DROP COLUMN postpone_answer_by;
