package db

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/mongo"
)

// EnsureIndexes creates indexes idempotently; each package calls it at start
// for the collections it owns. FerretDB v1 rejects TTL and partial indexes,
// so none are used: expiry is a periodic sweep.
//
// On the embedded store it also creates the collection (even with no
// models) and the SQLite index that lets FerretDB find a document by _id
// without scanning the table (idlookup.go). That index only buys speed: if it
// cannot be made, a warning is logged and nil is still returned.
//
// One createIndexes call per model: FerretDB v1.24.2 dropped the connection
// when one call held several indexes that all existed already, so a second
// start of the server failed (TestEnsureIndexesTwiceWithSeveralModels).
func EnsureIndexes(ctx context.Context, coll *mongo.Collection, models ...mongo.IndexModel) error {
	for _, m := range models {
		if _, err := coll.Indexes().CreateOne(ctx, m); err != nil {
			return fmt.Errorf("create index on %s: %w", coll.Name(), err)
		}
	}
	ensureIDLookupIndex(ctx, coll, len(models) > 0)
	return nil
}
