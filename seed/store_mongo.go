package seed

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clavis-app/clavis/internal/db"
)

// CollRuns records what the seed created, so that a second run reuses it.
const CollRuns = "seed_runs"

type mongoRuns struct {
	d    *db.DB
	runs *mongo.Collection
}

// NewMongoRuns keeps seed records in MongoDB.
func NewMongoRuns(d *db.DB) Runs { return &mongoRuns{d: d, runs: d.Collection(CollRuns)} }

func (s *mongoRuns) Run(ctx context.Context, id string) (*run, error) {
	r := &run{ID: id}
	err := s.runs.FindOne(ctx, bson.M{"_id": id}).Decode(r)
	if err != nil && !db.IsNotFound(err) {
		return nil, err
	}
	return r.fill(), nil
}

func (s *mongoRuns) SaveRun(ctx context.Context, r *run) error {
	_, err := s.d.Gate().UpdateOne(ctx, s.runs, bson.M{"_id": r.ID},
		bson.M{"$set": bson.M{"org_id": r.OrgID, "users": r.Users, "outings": r.Outings}}, options.UpdateOne().SetUpsert(true))
	return err
}
