package matching

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

func (s *mongoStore) OutingsStarting(ctx context.Context, orgID string, statuses []OutingStatus, from, to time.Time, limit int) ([]Outing, error) {
	out := []Outing{}
	err := s.find(ctx, s.outings, bson.M{
		"organisation_id": orgID,
		"status":          bson.M{"$in": statuses},
		"starts_at":       bson.M{"$gte": from, "$lt": to},
	}, options.Find().SetSort(bson.D{{Key: "starts_at", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(limit)), &out)
	return out, err
}
