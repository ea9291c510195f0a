package api

import (
	"context"
	"errors"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/clavis-app/clavis/internal/db"
)

// CollIdempotency is the MongoDB collection of idempotency keys.
const CollIdempotency = "idempotency_keys"

// idemMongo keeps keys in MongoDB. The unique _id insert decides which
// request owns a key, so two servers on one database agree; FerretDB has no
// TTL index, so Sweep deletes expired keys.
type idemMongo struct {
	d    *db.DB
	coll *mongo.Collection
}

type idemDoc struct {
	ID          string    `bson:"_id"`
	UserID      string    `bson:"user_id"`
	Claim       string    `bson:"claim"`
	Fingerprint string    `bson:"fingerprint"`
	Done        bool      `bson:"done"`
	Status      int       `bson:"status,omitempty"`
	ContentType string    `bson:"content_type,omitempty"`
	Body        []byte    `bson:"body,omitempty"`
	CreatedAt   time.Time `bson:"created_at"`
	ExpiresAt   time.Time `bson:"expires_at"`
}

func (d idemDoc) record() IdempotencyRecord {
	return IdempotencyRecord{ID: d.ID, UserID: d.UserID, Claim: d.Claim, Fingerprint: d.Fingerprint, Done: d.Done,
		Answer:    IdempotencyAnswer{Status: d.Status, ContentType: d.ContentType, Body: d.Body},
		CreatedAt: d.CreatedAt.UTC(), ExpiresAt: d.ExpiresAt.UTC()}
}

// NewIdempotencyMongo keeps keys in the collection idempotency_keys.
func NewIdempotencyMongo(ctx context.Context, d *db.DB) (IdempotencyStore, error) {
	st := &idemMongo{d: d, coll: d.Collection(CollIdempotency)}
	if err := db.EnsureIndexes(ctx, st.coll, mongo.IndexModel{Keys: bson.D{{Key: "expires_at", Value: 1}}}); err != nil {
		return nil, err
	}
	return st, nil
}

func (st *idemMongo) Claim(ctx context.Context, rec IdempotencyRecord, abandonedBefore time.Time) (IdempotencyRecord, bool, error) {
	doc := idemDoc{ID: rec.ID, UserID: rec.UserID, Claim: rec.Claim, Fingerprint: rec.Fingerprint,
		CreatedAt: rec.CreatedAt, ExpiresAt: rec.ExpiresAt}
	for attempt := 0; attempt < 3; attempt++ {
		_, err := st.coll.InsertOne(ctx, doc)
		if err == nil {
			return rec, true, nil
		}
		if !db.IsDuplicateKey(err) {
			return IdempotencyRecord{}, false, err
		}
		var existing idemDoc
		stale := false
		err = st.d.Gate().Do(st.coll, func() error {
			if err := st.coll.FindOne(ctx, bson.M{"_id": rec.ID}).Decode(&existing); err != nil {
				return err
			}
			stale = idemFree(existing.record(), rec.CreatedAt, abandonedBefore)
			if stale {
				// Only the claim we read: a racer that took it first keeps it.
				filter := bson.M{"_id": rec.ID, "claim": existing.Claim}
				if existing.Claim == "" { // written before claims had tokens
					filter["claim"] = bson.M{"$exists": false}
				}
				_, err := st.coll.DeleteOne(ctx, filter)
				return err
			}
			return nil
		})
		if db.IsNotFound(err) || (err == nil && stale) {
			continue // gone or expired: claim it afresh
		}
		if err != nil {
			return IdempotencyRecord{}, false, err
		}
		return existing.record(), false, nil
	}
	return IdempotencyRecord{}, false, errors.New("idempotency key kept changing")
}

func (st *idemMongo) Record(ctx context.Context, id, claim string, a IdempotencyAnswer) error {
	res, err := st.d.Gate().UpdateOne(ctx, st.coll, bson.M{"_id": id, "claim": claim, "done": false}, bson.M{"$set": bson.M{
		"done": true, "status": a.Status, "content_type": a.ContentType, "body": a.Body,
	}})
	if err != nil {
		return err
	}
	if res.MatchedCount == 0 {
		return ErrIdempotencyLost
	}
	return nil
}

func (st *idemMongo) Release(ctx context.Context, id, claim string) error {
	_, err := st.d.Gate().DeleteOne(ctx, st.coll, bson.M{"_id": id, "claim": claim})
	return err
}

func (st *idemMongo) Sweep(ctx context.Context, now time.Time) (int64, error) {
	res, err := st.d.Gate().DeleteMany(ctx, st.coll, bson.M{"expires_at": bson.M{"$lte": now.UTC()}})
	if err != nil {
		return 0, err
	}
	return res.DeletedCount, nil
}
