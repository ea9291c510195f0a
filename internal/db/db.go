// Package db connects to MongoDB, the engine Clavis uses when MONGODB_URI is
// set (a replica set, for several servers). The default engine is SQLite
// (internal/sqlite). In tests the MongoDB stores run against an embedded
// FerretDB (internal/db/ferret), which needs the write gate below.
package db

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
)

// Config says which database to use.
type Config struct {
	// URI of a MongoDB deployment.
	URI string
	// Database is the database name; "clavis" when empty.
	Database string
	// Logger receives Clavis' own lines.
	Logger *slog.Logger
}

// DB is an open database with the write gate that makes filtered writes atomic.
type DB struct {
	*mongo.Database
	Client *mongo.Client
	// Embedded reports a FerretDB run by this process (tests): filtered
	// writes must go through the gate.
	Embedded bool
	// URI is the address clients connect to.
	URI string

	gate   *Gate
	stopDB func()
}

// Open connects to the MongoDB deployment at cfg.URI.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.URI == "" {
		return nil, errors.New("db.Open needs a MongoDB URI (the embedded store is SQLite; FerretDB runs only in tests, see internal/db/ferret)")
	}
	return connect(ctx, cfg, "", func() {})
}

// OpenEmbedded connects to a FerretDB that this process runs on the SQLite
// files in dir (tests only, through internal/db/ferret): filtered writes are
// serialised by the gate, because FerretDB v1 does not apply them atomically,
// and collections get the SQLite index that finds a document by _id.
// stop is called by Close after the driver has disconnected.
func OpenEmbedded(ctx context.Context, cfg Config, dir string, stop func()) (*DB, error) {
	return connect(ctx, cfg, dir, stop)
}

func connect(ctx context.Context, cfg Config, embeddedDir string, stop func()) (*DB, error) {
	if cfg.Database == "" {
		cfg.Database = "clavis"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	d := &DB{URI: cfg.URI, stopDB: stop, Embedded: embeddedDir != ""}
	client, err := mongo.Connect(options.Client().ApplyURI(d.URI).SetTimeout(30 * time.Second))
	if err != nil {
		d.stopDB()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := client.Ping(pingCtx, readpref.Primary()); err != nil {
		_ = client.Disconnect(context.Background())
		d.stopDB()
		return nil, fmt.Errorf("database does not answer at %s: %w", redact(d.URI), err)
	}
	d.Client = client
	d.Database = client.Database(cfg.Database)
	d.gate = NewGate(d.Embedded)
	if d.Embedded {
		registerEmbedded(client, embeddedStore{dir: embeddedDir, log: cfg.Logger})
	}
	return d, nil
}

// Gate returns the write gate every package uses for filter-dependent writes.
func (d *DB) Gate() *Gate { return d.gate }

// Ping checks the database answers within the context's deadline.
func (d *DB) Ping(ctx context.Context) error {
	return d.Client.Ping(ctx, readpref.Primary())
}

// Close disconnects the driver, then stops the embedded database if there is one.
func (d *DB) Close(ctx context.Context) error {
	unregisterEmbedded(d.Client)
	err := d.Client.Disconnect(ctx)
	d.stopDB()
	return err
}

// redact hides a password in a MongoDB URI before it reaches a log or an error.
func redact(uri string) string {
	at := strings.LastIndex(uri, "@")
	scheme := strings.Index(uri, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return uri
	}
	return uri[:scheme+3] + "***" + uri[at:]
}

// SetGate replaces the write gate; tests that share one server between
// several handles use it.
func (d *DB) SetGate(g *Gate) { d.gate = g }
