package auth

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// ImportMongoDocuments writes documents of one of auth's MongoDB/FerretDB
// collections, as the Mongo engine stores them, into dst (any engine),
// keeping ids, password hashes, statuses, vetting, suspension and times.
// It returns how many it wrote.
//
//   - "users", "organisations": one by one; a document whose id dst holds
//     already is skipped (not counted), so an import can be run again. An
//     email taken by another id is an error.
//   - "audit": in batches; entries already present are skipped by dst but
//     counted.
//   - "refresh_families", "refresh_tokens", "refresh_used",
//     "login_failures": skipped on purpose (0, nil). Sign-ins simply end:
//     everyone signs in again once after the move, and failure counts start
//     afresh.
//
// Any other collection is an error, so that a caller cannot silently drop
// data it meant to move.
func ImportMongoDocuments(ctx context.Context, dst Store, collection string, docs []bson.Raw) (int, error) {
	switch collection {
	case collUsers:
		return importEach(ctx, docs, func(d userDoc) error { return dst.InsertUser(ctx, d.record()) },
			func(d userDoc) (bool, error) { return exists(dst.User(ctx, d.ID)) })
	case collOrgs:
		return importEach(ctx, docs, func(d orgDoc) error {
			d.CreatedAt = d.CreatedAt.UTC()
			return dst.InsertOrganisation(ctx, Organisation(d))
		}, func(d orgDoc) (bool, error) { return exists(dst.Organisation(ctx, d.ID)) })
	case collAudit:
		const batch = 500
		n := 0
		for from := 0; from < len(docs); from += batch {
			part := docs[from:min(len(docs), from+batch)]
			es := make([]AuditEntry, len(part))
			for i, raw := range part {
				var d auditDoc
				if err := bson.Unmarshal(raw, &d); err != nil {
					return n, fmt.Errorf("audit document %d: %w", from+i, err)
				}
				d.At = d.At.UTC()
				es[i] = AuditEntry(d)
			}
			if err := dst.AppendAudit(ctx, es); err != nil {
				return n, fmt.Errorf("audit documents %d-%d: %w", from, from+len(part)-1, err)
			}
			n += len(part)
		}
		return n, nil
	case collFamilies, collRefresh, collUsed, collFailures:
		return 0, nil
	}
	return 0, fmt.Errorf("auth: no import for collection %q", collection)
}

func exists[T any](_ T, err error) (bool, error) {
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func importEach[T any](ctx context.Context, docs []bson.Raw, insert func(T) error, present func(T) (bool, error)) (int, error) {
	n := 0
	for i, raw := range docs {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		var d T
		if err := bson.Unmarshal(raw, &d); err != nil {
			return n, fmt.Errorf("document %d: %w", i, err)
		}
		err := insert(d)
		if errors.Is(err, ErrDuplicate) {
			ok, perr := present(d)
			if perr != nil {
				return n, fmt.Errorf("document %d: %w", i, perr)
			}
			if ok {
				continue
			}
			return n, fmt.Errorf("document %d: its email belongs to another account already: %w", i, err)
		}
		if err != nil {
			return n, fmt.Errorf("document %d: %w", i, err)
		}
		n++
	}
	return n, nil
}
