package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clavis-app/clavis/internal/db"
)

// mongoStore is the Store on MongoDB or the embedded FerretDB.
//
// FerretDB applies a filtered update atomically only inside one process,
// and every update or filtered delete reads the whole collection, so jobs
// are claimed by unique inserts (push_claims, keyed by job id # attempt):
// exactly one worker in any number of processes gets attempt n of a job.
// A finished job is an insert into push_done (keyed by the job id: the
// first result is final) followed by a delete of the job by _id. Claims
// outlive their jobs until the sweep, so that a worker holding a stale copy
// of a finished job meets the claim instead of sending it again.
type mongoStore struct {
	d       *db.DB
	devices *mongo.Collection
	jobs    *mongo.Collection
	claims  *mongo.Collection
	done    *mongo.Collection
	events  *mongo.Collection

	// held remembers jobs found under someone else's live lease, until it
	// ends: they stay in the scan's first rows, and without skipping them a
	// worker would see only jobs it cannot have.
	// held remembers jobs under a live lease (this process's or found
	// elsewhere), until it ends: a claimed job stays in push_jobs, in the
	// scan's first rows, and without skipping them a worker would spend its
	// claim on jobs it cannot have.
	mu      sync.Mutex
	held    map[string]time.Time
	claimMu sync.Mutex
}

// NewMongoStore creates notify's indexes in d and returns its Store.
func NewMongoStore(ctx context.Context, d *db.DB) (Store, error) {
	s := &mongoStore{d: d, devices: d.Collection("devices"), jobs: d.Collection("push_jobs"), claims: d.Collection("push_claims"),
		done: d.Collection("push_done"), events: d.Collection("push_events"), held: map[string]time.Time{}}
	idx := []struct {
		c      *mongo.Collection
		models []mongo.IndexModel
	}{
		{s.devices, []mongo.IndexModel{{Keys: bson.D{{Key: "user_id", Value: 1}}}}},
		{s.jobs, []mongo.IndexModel{
			{Keys: bson.D{{Key: "dedup_key", Value: 1}}, Options: options.Index().SetUnique(true)},
			{Keys: bson.D{{Key: "state", Value: 1}, {Key: "run_at", Value: 1}}},
			{Keys: bson.D{{Key: "outing_id", Value: 1}}},
			{Keys: bson.D{{Key: "recipient", Value: 1}}},
		}},
		{s.claims, []mongo.IndexModel{{Keys: bson.D{{Key: "lease_until", Value: 1}}}}},
		{s.events, []mongo.IndexModel{{Keys: bson.D{{Key: "at", Value: 1}}}}},
		{s.done, []mongo.IndexModel{{Keys: bson.D{{Key: "finished_at", Value: 1}}}, {Keys: bson.D{{Key: "recipient", Value: 1}}}}},
	}
	for _, x := range idx {
		// One call each: FerretDB v1.24.2 panics (and drops the connection)
		// on a createIndexes naming two or more indexes that already exist.
		for _, m := range x.models {
			if err := db.EnsureIndexes(ctx, x.c, m); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}

// deviceDoc is a device; the token is the _id, the unique index, which
// FerretDB answers without decoding the whole collection.
type deviceDoc struct {
	Token        string    `bson:"_id"`
	UserID       string    `bson:"user_id"`
	Platform     string    `bson:"platform"`
	RegisteredAt time.Time `bson:"registered_at"`
	UpdatedAt    time.Time `bson:"updated_at"`
}

func (d deviceDoc) device() Device {
	return Device{Token: d.Token, UserID: d.UserID, Platform: d.Platform, RegisteredAt: d.RegisteredAt.UTC(), UpdatedAt: d.UpdatedAt.UTC()}
}

func (s *mongoStore) RegisterDevice(ctx context.Context, userID, token, platform string, now time.Time, keep int) (Device, bool, error) {
	doc := deviceDoc{Token: token, UserID: userID, Platform: platform, RegisteredAt: now, UpdatedAt: now}
	for range 3 {
		// The insert is the arbiter: of two registrations racing for a new
		// token exactly one creates it, the other moves it below.
		_, err := s.devices.InsertOne(ctx, doc)
		if err == nil {
			return doc.device(), true, s.trim(ctx, userID, keep)
		}
		if !db.IsDuplicateKey(err) {
			return Device{}, false, err
		}
		var before deviceDoc
		err = s.d.Gate().FindOneAndUpdate(ctx, s.devices, bson.M{"_id": token},
			bson.M{"$set": bson.M{"user_id": userID, "platform": platform, "updated_at": now}}, &before,
			options.FindOneAndUpdate().SetReturnDocument(options.Before))
		if db.IsNotFound(err) {
			continue // deleted in between: insert again
		}
		if err != nil {
			return Device{}, false, err
		}
		if before.UserID == userID {
			before.Platform, before.UpdatedAt = platform, now
			return before.device(), false, nil
		}
		if _, err := s.d.Gate().UpdateOne(ctx, s.devices, bson.M{"_id": token, "user_id": userID},
			bson.M{"$set": bson.M{"registered_at": now}}); err != nil {
			return Device{}, false, err
		}
		return doc.device(), true, s.trim(ctx, userID, keep)
	}
	return Device{}, false, errors.New("token keeps changing")
}

// trim forgets a user's least recently registered devices beyond keep.
func (s *mongoStore) trim(ctx context.Context, userID string, keep int) error {
	devs, err := s.DevicesOfUsers(ctx, []string{userID}, keep+5)
	if err != nil || len(devs) <= keep {
		return err
	}
	slices.SortFunc(devs, func(a, b Device) int { return b.UpdatedAt.Compare(a.UpdatedAt) }) // newest first
	var old []string
	for _, d := range devs[keep:] {
		old = append(old, d.Token)
	}
	_, err = s.d.Gate().DeleteMany(ctx, s.devices, bson.M{"_id": bson.M{"$in": old}, "user_id": userID})
	return err
}

func (s *mongoStore) DeleteDevice(ctx context.Context, userID, token string) error {
	res, err := s.d.Gate().DeleteOne(ctx, s.devices, bson.M{"_id": token, "user_id": userID})
	if err != nil {
		return err
	}
	if res.DeletedCount == 0 {
		return ErrNotFound
	}
	return nil
}

func (s *mongoStore) DevicesOfUsers(ctx context.Context, userIDs []string, limit int) ([]Device, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	cur, err := s.devices.Find(ctx, bson.M{"user_id": bson.M{"$in": userIDs}}, options.Find().SetLimit(int64(limit)))
	if err != nil {
		return nil, err
	}
	var docs []deviceDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	out := make([]Device, len(docs))
	for i, d := range docs {
		out[i] = d.device()
	}
	return out, nil
}

func (s *mongoStore) PruneToken(ctx context.Context, token string) error {
	_, err := s.d.Gate().DeleteOne(ctx, s.devices, bson.M{"_id": token})
	return err
}

func (s *mongoStore) EraseUserDevices(ctx context.Context, userID string) error {
	_, err := s.d.Gate().DeleteMany(ctx, s.devices, bson.M{"user_id": userID})
	return err
}

func (s *mongoStore) EventSeen(ctx context.Context, eventID string) (bool, error) {
	err := s.events.FindOne(ctx, bson.M{"_id": eventID}).Err()
	if db.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

func (s *mongoStore) RecordEvent(ctx context.Context, eventID string, at time.Time) error {
	_, err := s.events.InsertOne(ctx, bson.M{"_id": eventID, "at": at})
	if db.IsDuplicateKey(err) {
		return nil
	}
	return err
}

func (s *mongoStore) EraseRecipient(ctx context.Context, userID string) error {
	if userID == "" {
		return nil
	}
	if _, err := s.d.Gate().DeleteMany(ctx, s.jobs, bson.M{"recipient": userID}); err != nil {
		return err
	}
	_, err := s.d.Gate().DeleteMany(ctx, s.done, bson.M{"recipient": userID})
	return err
}

// duplicateIndexes returns the positions of an unordered insert that failed
// on a unique key; any other failure comes back as an error.
func duplicateIndexes(err error) (map[int]bool, error) {
	out := map[int]bool{}
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) {
		if db.IsDuplicateKey(err) {
			return nil, fmt.Errorf("unexpected duplicate without positions: %w", err)
		}
		return nil, err
	}
	for _, we := range bwe.WriteErrors {
		if !db.IsDuplicateKey(we) && we.Code != 11000 {
			return out, err
		}
		out[we.Index] = true
	}
	if bwe.WriteConcernError != nil {
		return out, err
	}
	return out, nil
}
