package main

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/sqlite"
	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/notify"
)

// importTargets lists what `clavis import-ferretdb` moves, per package.
// Each package's ImportMongoDocuments decodes its own old documents, so the
// Mongo layout stays known only to the package that wrote it.
func importTargets() []importTarget {
	return []importTarget{
		{pkg: "auth", collections: []string{"organisations", "users", "audit"},
			open: func(ctx context.Context, d *sqlite.DB) (importFunc, error) {
				st, err := auth.NewSQLiteStore(ctx, d)
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context, c string, docs []bson.Raw) (int, error) {
					return auth.ImportMongoDocuments(ctx, st, c, docs)
				}, nil
			}},
		{pkg: "matching", collections: []string{"volunteer_profiles", "participant_profiles", "outings", "feedback", "volunteer_preferences"},
			open: func(ctx context.Context, d *sqlite.DB) (importFunc, error) {
				st, err := matching.NewSQLiteStore(ctx, d)
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context, c string, docs []bson.Raw) (int, error) {
					return matching.ImportMongoDocuments(ctx, st, c, docs)
				}, nil
			}},
		{pkg: "notify", collections: []string{"devices", "push_jobs"},
			open: func(ctx context.Context, d *sqlite.DB) (importFunc, error) {
				st, err := notify.NewSQLiteStore(ctx, d)
				if err != nil {
					return nil, err
				}
				return func(ctx context.Context, c string, docs []bson.Raw) (int, error) {
					return notify.ImportMongoDocuments(ctx, st, c, docs)
				}, nil
			}},
	}
}
