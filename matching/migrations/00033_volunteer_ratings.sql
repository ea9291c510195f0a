-- +goose Up
-- What ranking needs of the ratings participants gave each volunteer (how
-- many from 1 to 5, and their sum), kept by triggers whoever writes
-- feedback: a candidate set reads one row per volunteer instead of every
-- rating (some 3 700 rows at 10 000 volunteers). Erasure moves a rating to
-- the 'erased' volunteer through the update trigger.
CREATE TABLE volunteer_ratings (
    volunteer_id TEXT    NOT NULL PRIMARY KEY,
    ratings      INTEGER NOT NULL,
    total        INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO volunteer_ratings (volunteer_id, ratings, total)
    SELECT volunteer_id, count(*), sum(rating) FROM feedback
    WHERE author_role = 'participant' AND rating BETWEEN 1 AND 5 GROUP BY volunteer_id;
-- +goose StatementBegin
CREATE TRIGGER feedback_ratings_insert AFTER INSERT ON feedback
WHEN NEW.author_role = 'participant' AND NEW.rating BETWEEN 1 AND 5 BEGIN
    INSERT INTO volunteer_ratings (volunteer_id, ratings, total) VALUES (NEW.volunteer_id, 1, NEW.rating)
    ON CONFLICT (volunteer_id) DO UPDATE SET ratings = ratings + 1, total = total + excluded.total;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER feedback_ratings_delete AFTER DELETE ON feedback
WHEN OLD.author_role = 'participant' AND OLD.rating BETWEEN 1 AND 5 BEGIN
    UPDATE volunteer_ratings SET ratings = ratings - 1, total = total - OLD.rating WHERE volunteer_id = OLD.volunteer_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER feedback_ratings_update AFTER UPDATE OF volunteer_id, author_role, rating ON feedback BEGIN
    UPDATE volunteer_ratings SET ratings = ratings - 1, total = total - OLD.rating
    WHERE volunteer_id = OLD.volunteer_id AND OLD.author_role = 'participant' AND OLD.rating BETWEEN 1 AND 5;
    INSERT INTO volunteer_ratings (volunteer_id, ratings, total)
    SELECT NEW.volunteer_id, 1, NEW.rating WHERE NEW.author_role = 'participant' AND NEW.rating BETWEEN 1 AND 5
    ON CONFLICT (volunteer_id) DO UPDATE SET ratings = ratings + 1, total = total + excluded.total;
END;
-- +goose StatementEnd
-- The ratings one participant gave, from the index alone; its prefix
-- serves what feedback_by_participant did (erasure).
CREATE INDEX feedback_participant_ratings ON feedback (participant_id, author_role, volunteer_id, rating);
DROP INDEX feedback_by_participant;

-- +goose Down
CREATE INDEX feedback_by_participant ON feedback (participant_id);
DROP INDEX feedback_participant_ratings;
DROP TRIGGER feedback_ratings_update;
DROP TRIGGER feedback_ratings_delete;
DROP TRIGGER feedback_ratings_insert;
DROP TABLE volunteer_ratings;
