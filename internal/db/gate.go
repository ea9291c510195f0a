package db

import (
	"context"
	"sync"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Gate makes filter-dependent writes atomic on the embedded store.
//
// FerretDB v1 runs update, findAndModify and delete as "query, then write by
// _id" with no re-check of the filter, so two concurrent
// updateOne({_id, version: 1}) calls can both match. Measured on this code
// (TestGateMakesConditionalUpdatesAtomic with NewGate(false), 5 runs): 20
// goroutines racing updateOne({_id, version: 1}) reported 1, 1, 2, 1 and 3
// matches, where exactly one may; a lost race is rare but real. In embedded mode this process is the database's only
// client, so holding a per-collection mutex around each filtered write is
// enough; against MongoDB, whose single-document writes are atomic, the gate
// is a no-op. Decisions shared by several processes on one FerretDB (job
// claims, refresh rotation, idempotency keys) must use a unique insert as the
// arbiter instead: the gate only serialises inside one process.
type Gate struct {
	enabled bool
	mu      sync.Mutex
	locks   map[string]*sync.Mutex
}

// NewGate returns a gate that serialises when enabled (embedded mode).
func NewGate(enabled bool) *Gate {
	return &Gate{enabled: enabled, locks: map[string]*sync.Mutex{}}
}

// Do runs fn while no other gated write to the same collection runs.
func (g *Gate) Do(coll *mongo.Collection, fn func() error) error {
	if g == nil || !g.enabled {
		return fn()
	}
	g.mu.Lock()
	l, ok := g.locks[coll.Name()]
	if !ok {
		l = &sync.Mutex{}
		g.locks[coll.Name()] = l
	}
	g.mu.Unlock()
	l.Lock()
	defer l.Unlock()
	return fn()
}

// UpdateOne is coll.UpdateOne through the gate.
func (g *Gate) UpdateOne(ctx context.Context, coll *mongo.Collection, filter, update any, opts ...options.Lister[options.UpdateOneOptions]) (*mongo.UpdateResult, error) {
	var res *mongo.UpdateResult
	err := g.Do(coll, func() (err error) {
		res, err = coll.UpdateOne(ctx, filter, update, opts...)
		return err
	})
	return res, err
}

// UpdateMany is coll.UpdateMany through the gate.
func (g *Gate) UpdateMany(ctx context.Context, coll *mongo.Collection, filter, update any, opts ...options.Lister[options.UpdateManyOptions]) (*mongo.UpdateResult, error) {
	var res *mongo.UpdateResult
	err := g.Do(coll, func() (err error) {
		res, err = coll.UpdateMany(ctx, filter, update, opts...)
		return err
	})
	return res, err
}

// FindOneAndUpdate is coll.FindOneAndUpdate through the gate; it decodes into out
// and returns mongo.ErrNoDocuments when nothing matched.
func (g *Gate) FindOneAndUpdate(ctx context.Context, coll *mongo.Collection, filter, update, out any, opts ...options.Lister[options.FindOneAndUpdateOptions]) error {
	return g.Do(coll, func() error {
		return coll.FindOneAndUpdate(ctx, filter, update, opts...).Decode(out)
	})
}

// DeleteOne is coll.DeleteOne through the gate.
func (g *Gate) DeleteOne(ctx context.Context, coll *mongo.Collection, filter any) (*mongo.DeleteResult, error) {
	var res *mongo.DeleteResult
	err := g.Do(coll, func() (err error) {
		res, err = coll.DeleteOne(ctx, filter)
		return err
	})
	return res, err
}

// DeleteMany is coll.DeleteMany through the gate.
func (g *Gate) DeleteMany(ctx context.Context, coll *mongo.Collection, filter any) (*mongo.DeleteResult, error) {
	var res *mongo.DeleteResult
	err := g.Do(coll, func() (err error) {
		res, err = coll.DeleteMany(ctx, filter)
		return err
	})
	return res, err
}
