package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
)

// TestImportFerretDBFixtureIntoStores imports the data directory release
// a018ec1 wrote into the real SQLite stores: every document of every
// imported collection must be stored.
func TestImportFerretDBFixtureIntoStores(t *testing.T) {
	dir := oldDataDir(t)
	counts, err := importFerretDB(context.Background(), dir, importTargets(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for c, want := range fixtureImported {
		if counts[c] != want {
			t.Errorf("%s: stored %d, the fixture holds %d", c, counts[c], want)
		}
	}
	if err := checkFerretDBImported(context.Background(), dir); err != nil {
		t.Errorf("start check after the import: %v", err)
	}
}
