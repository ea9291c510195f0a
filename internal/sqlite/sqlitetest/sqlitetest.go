// Package sqlitetest gives tests a real SQLite database: a fresh file in the
// test's temporary directory, opened with the server's settings.
package sqlitetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/clavis-app/clavis/internal/sqlite"
)

// New opens a fresh database file for this test and closes it at the end.
func New(t testing.TB) *sqlite.DB {
	t.Helper()
	d, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), sqlite.FileName))
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// Opener makes a contract suite's open function from a package's store
// constructor: each call a new store on a new database file.
func Opener[S any](newStore func(context.Context, *sqlite.DB) (S, error)) func(t *testing.T) S {
	return func(t *testing.T) S {
		t.Helper()
		st, err := newStore(context.Background(), New(t))
		if err != nil {
			t.Fatalf("open store: %v", err)
		}
		return st
	}
}
