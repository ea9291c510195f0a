package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/clavis-app/clavis/api"
	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/expenses"
	"github.com/clavis-app/clavis/groups"
	"github.com/clavis-app/clavis/internal/db"
	"github.com/clavis-app/clavis/internal/sqlite"
	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/notify"
	"github.com/clavis-app/clavis/outcomes"
	"github.com/clavis-app/clavis/seed"
)

// stores are the domain packages' stores on one engine: SQLite in the data
// directory by default, MongoDB when MONGODB_URI is set. Nothing else in
// the program knows which.
type stores struct {
	engine      string
	auth        auth.Store
	matching    matching.Store
	notify      notify.Store
	groups      groups.Store
	outcomes    outcomes.Store
	idempotency api.IdempotencyStore
	expenses    expenses.Store
	seedRuns    seed.Runs
	ping        func(context.Context) error
	close       func()
}

// Ping tells /readyz whether the database answers.
func (s *stores) Ping(ctx context.Context) error { return s.ping(ctx) }

func openStores(ctx context.Context, cfg config, log *slog.Logger) (*stores, error) {
	if cfg.MongoURI != "" {
		return openMongoStores(ctx, cfg, log)
	}
	d, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, sqlite.FileName))
	if err != nil {
		return nil, err
	}
	s := &stores{engine: "sqlite", ping: d.PingContext, close: func() { _ = d.Close() }}
	if err := s.build(ctx,
		func() (err error) { s.auth, err = auth.NewSQLiteStore(ctx, d); return },
		func() (err error) { s.matching, err = matching.NewSQLiteStore(ctx, d); return },
		func() (err error) { s.notify, err = notify.NewSQLiteStore(ctx, d); return },
		func() (err error) { s.groups, err = groups.NewSQLiteStore(ctx, d); return },
		func() (err error) { s.outcomes, err = outcomes.NewSQLiteStore(ctx, d); return },
		func() (err error) { s.idempotency, err = api.NewIdempotencySQLite(ctx, d); return },
		func() (err error) { s.seedRuns, err = seed.NewSQLiteRuns(ctx, d); return },
		func() (err error) { s.expenses, err = expenses.NewSQLiteStore(ctx, d); return },
	); err != nil {
		return nil, err
	}
	log.Info("database open", "engine", "sqlite", "file", d.Path)
	return s, nil
}

func openMongoStores(ctx context.Context, cfg config, log *slog.Logger) (*stores, error) {
	d, err := db.Open(ctx, db.Config{URI: cfg.MongoURI, Logger: log})
	if err != nil {
		return nil, err
	}
	s := &stores{engine: "mongodb", ping: d.Ping, close: func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = d.Close(closeCtx)
	}}
	if err := s.build(ctx,
		func() (err error) { s.auth, err = auth.NewMongoStore(ctx, d); return },
		func() (err error) { s.matching, err = matching.NewMongoStore(ctx, d); return },
		func() (err error) { s.notify, err = notify.NewMongoStore(ctx, d); return },
		func() (err error) { s.groups, err = groups.NewMongoStore(ctx, d); return },
		func() (err error) { s.outcomes, err = outcomes.NewMongoStore(ctx, d); return },
		func() (err error) { s.idempotency, err = api.NewIdempotencyMongo(ctx, d); return },
		func() error { s.seedRuns = seed.NewMongoRuns(d); return nil },
		func() (err error) { s.expenses, err = expenses.NewMongoStore(ctx, d); return },
	); err != nil {
		return nil, err
	}
	log.Info("database open", "engine", "mongodb")
	return s, nil
}

// build runs each store's constructor (migrations or indexes) and closes
// the database if one fails.
func (s *stores) build(_ context.Context, steps ...func() error) error {
	for _, step := range steps {
		if err := step(); err != nil {
			s.close()
			return fmt.Errorf("%s store: %w", s.engine, err)
		}
	}
	return nil
}
