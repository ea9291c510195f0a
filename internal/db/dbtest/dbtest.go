// Package dbtest gives tests a real database: one embedded FerretDB per test
// binary, and a fresh database name per test so tests stay independent.
// With CLAVIS_TEST_MONGODB_URI set, tests use that MongoDB instead.
package dbtest

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clavis-app/clavis/internal/db"
	"github.com/clavis-app/clavis/internal/db/ferret"
)

var (
	once    sync.Once
	shared  *db.DB
	dir     string
	openErr error
	counter atomic.Int64
)

// Main runs a package's tests and removes the embedded database afterwards.
// Use it from TestMain: func TestMain(m *testing.M) { dbtest.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if shared != nil {
		_ = shared.Close(context.Background())
	}
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
	os.Exit(code)
}

// URI returns the address of the shared test database server, starting it if needed.
func URI(t testing.TB) string {
	t.Helper()
	start(t)
	return shared.URI
}

func start(t testing.TB) {
	once.Do(func() {
		uri := os.Getenv("CLAVIS_TEST_MONGODB_URI")
		if uri == "" {
			dir, openErr = os.MkdirTemp("", "clavis-test-db-")
			if openErr != nil {
				return
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if uri != "" {
			shared, openErr = db.Open(ctx, db.Config{URI: uri})
			return
		}
		shared, openErr = ferret.Open(ctx, ferret.Config{DataDir: dir})
	})
	if openErr != nil {
		t.Fatalf("start test database: %v", openErr)
	}
}

var unsafe = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// New returns a handle on a fresh, empty database for this test, sharing the
// binary's database server and the write gate semantics of its mode.
func New(t testing.TB) *db.DB {
	t.Helper()
	start(t)
	name := unsafe.ReplaceAllString(t.Name(), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	name = fmt.Sprintf("t%d_%s", counter.Add(1), name)
	d := &db.DB{
		Database: shared.Client.Database(name),
		Client:   shared.Client,
		Embedded: shared.Embedded,
		URI:      shared.URI,
	}
	d.SetGate(db.NewGate(shared.Embedded))
	t.Cleanup(func() {
		_ = d.Drop(context.Background())
	})
	return d
}

// Opener makes a contract suite's open function from a package's store
// constructor: each call a new store on a new, empty database.
func Opener[S any](newStore func(context.Context, *db.DB) (S, error)) func(t *testing.T) S {
	return func(t *testing.T) S {
		t.Helper()
		st, err := newStore(context.Background(), New(t))
		if err != nil {
			t.Fatalf("open store: %v", err)
		}
		return st
	}
}
