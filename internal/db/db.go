// Package db opens the MongoDB database Clavis runs on: a real MongoDB when a
// URI is given, otherwise an embedded FerretDB (SQLite backend) started in
// process, so that `go run .` needs no setup.
package db

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"
)

// Config says which database to use.
type Config struct {
	// URI of a MongoDB deployment; empty starts the embedded FerretDB.
	URI string
	// DataDir holds the embedded database's SQLite files.
	DataDir string
	// Database is the database name; "clavis" when empty.
	Database string
	// EmbeddedAddr is the embedded listener address; "127.0.0.1:0" (a free port) when empty.
	// A fixed port lets a second Clavis process share the embedded store in tests.
	EmbeddedAddr string
	// Logger receives Clavis' own lines; EmbeddedLogger receives FerretDB's (nil: discarded).
	Logger         *slog.Logger
	EmbeddedLogger *slog.Logger
}

// DB is an open database with the write gate that makes filtered writes atomic.
type DB struct {
	*mongo.Database
	Client *mongo.Client
	// Embedded reports whether this process runs the database itself.
	Embedded bool
	// URI is the address clients connect to (the embedded listener's, for embedded mode).
	URI string

	gate   *Gate
	stopDB func()
}

// Open connects to cfg.URI, or starts the embedded FerretDB and connects to it.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	if cfg.Database == "" {
		cfg.Database = "clavis"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	d := &DB{URI: cfg.URI, stopDB: func() {}}
	var dataDir string
	if cfg.URI == "" {
		uri, dir, stop, err := startEmbedded(cfg)
		if err != nil {
			return nil, err
		}
		d.URI, d.stopDB, d.Embedded, dataDir = uri, stop, true, dir
		cfg.Logger.Info("embedded database started", "engine", "ferretdb-sqlite", "dir", dir, "uri", uri)
	}
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
		registerEmbedded(client, embeddedStore{dir: dataDir, log: cfg.Logger})
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

// startEmbedded returns the listener's URI, the absolute data directory and
// a stop function.
func startEmbedded(cfg Config) (string, string, func(), error) {
	if cfg.DataDir == "" {
		return "", "", nil, errors.New("embedded database needs a data directory")
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return "", "", nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", nil, fmt.Errorf("create data directory: %w", err)
	}
	addr := cfg.EmbeddedAddr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	// FerretDB only learns its port inside Run; probing a fixed port first turns
	// "address in use" into a clear error instead of a hang.
	if !strings.HasSuffix(addr, ":0") {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return "", "", nil, fmt.Errorf("embedded database cannot listen on %s: %w", addr, err)
		}
		_ = l.Close()
	}
	logger := cfg.EmbeddedLogger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: addr},
		Handler:   "sqlite",
		SQLiteURL: "file:" + dir + "/",
		Logger:    logger,
	})
	if err != nil {
		return "", "", nil, fmt.Errorf("start embedded database: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(ctx)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	return f.MongoDBURI(), dir, stop, nil
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
