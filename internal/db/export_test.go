package db

import (
	"log/slog"

	"go.mongodb.org/mongo-driver/v2/mongo"
)

// IDLookupIndexName exposes the lookup index's name to the db_test package.
var IDLookupIndexName = idLookupIndexName

// RegisterEmbeddedAt points client's lookup index at dir, logging to log.
func RegisterEmbeddedAt(c *mongo.Client, dir string, log *slog.Logger) {
	registerEmbedded(c, embeddedStore{dir: dir, log: log})
}

// IsEmbeddedClient reports whether c was registered as embedded.
func IsEmbeddedClient(c *mongo.Client) bool {
	_, ok := embeddedStoreOf(c)
	return ok
}
