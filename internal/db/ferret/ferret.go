// Package ferret starts an embedded FerretDB v1 (SQLite backend) for the
// tests of the MongoDB stores. It is imported by tests only, so FerretDB is
// not linked into the clavis binary (go list -deps . | grep -i ferretdb is
// empty): production uses SQLite or a real MongoDB.
package ferret

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

	"github.com/FerretDB/FerretDB/ferretdb"

	"github.com/clavis-app/clavis/internal/db"
)

// Config says where FerretDB keeps its files and listens.
type Config struct {
	// DataDir holds FerretDB's SQLite files (required).
	DataDir string
	// Addr is the listener address; "127.0.0.1:0" (a free port) when empty.
	Addr string
	// Database is the database name; "clavis" when empty.
	Database string
	// Logger receives FerretDB's own lines (nil: discarded).
	Logger *slog.Logger
}

// Open starts FerretDB on cfg.DataDir and connects to it; Close on the
// returned DB disconnects and then stops FerretDB.
func Open(ctx context.Context, cfg Config) (*db.DB, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("ferret: a data directory is required")
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	addr := cfg.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	// FerretDB only learns its port inside Run; probing a fixed port first
	// turns "address in use" into a clear error instead of a hang.
	if !strings.HasSuffix(addr, ":0") {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("embedded database cannot listen on %s: %w", addr, err)
		}
		_ = l.Close()
	}
	logger := cfg.Logger
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
		return nil, fmt.Errorf("start embedded database: %w", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = f.Run(runCtx)
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
	return db.OpenEmbedded(ctx, db.Config{URI: f.MongoDBURI(), Database: cfg.Database}, dir, stop)
}
