package matching

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func (s *mongoStore) PostponementsDue(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return s.outingIDs(ctx, bson.M{"status": StatusConfirmed, "postponement.answer_by_ms": bson.M{"$lte": now.UnixMilli()}}, limit)
}
