package db

import (
	"errors"
	"strings"

	"go.mongodb.org/mongo-driver/v2/mongo"
)

// IsDuplicateKey reports a unique-index clash from MongoDB or FerretDB.
// FerretDB v1 reports one from update, findAndModify or an upsert as an
// internal error mentioning SQLite's "UNIQUE constraint failed", which
// mongo.IsDuplicateKeyError does not recognise.
func IsDuplicateKey(err error) bool {
	if err == nil {
		return false
	}
	if mongo.IsDuplicateKeyError(err) {
		return true
	}
	return strings.Contains(err.Error(), "UNIQUE constraint failed") ||
		strings.Contains(err.Error(), "duplicate key")
}

// IsNotFound reports the driver's "no documents" error.
func IsNotFound(err error) bool { return errors.Is(err, mongo.ErrNoDocuments) }
