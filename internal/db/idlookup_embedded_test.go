package db_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/clavis-app/clavis/internal/db"
	"github.com/clavis-app/clavis/internal/db/ferret"
	"github.com/clavis-app/clavis/internal/logtest"
)

// The lookup index only buys speed: when it cannot be made, EnsureIndexes
// still succeeds, says so in a warning, and leaves no file behind (an empty
// <db>.sqlite would stop FerretDB from starting next time).
func TestLookupIndexFailureOnlyWarns(t *testing.T) {
	ctx := context.Background()
	d, err := ferret.Open(ctx, ferret.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close(ctx) })
	var logs logtest.Buffer
	wrong := t.TempDir()
	db.RegisterEmbeddedAt(d.Client, wrong, slog.New(slog.NewTextHandler(&logs, nil)))

	coll := d.Collection("jobs")
	if err := db.EnsureIndexes(ctx, coll, mongo.IndexModel{Keys: bson.D{{Key: "at", Value: 1}}}); err != nil {
		t.Fatalf("EnsureIndexes must not fail for the lookup index: %v", err)
	}
	if _, err := coll.InsertOne(ctx, bson.M{"_id": "j1"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "collection=jobs") {
		t.Fatalf("want a warning naming the collection, got %q", logs.String())
	}
	if files, _ := filepath.Glob(filepath.Join(wrong, "*")); len(files) != 0 {
		t.Fatalf("a failed attempt created %v", files)
	}
	if _, err := os.Stat(filepath.Join(wrong, "clavis.sqlite")); !os.IsNotExist(err) {
		t.Fatalf("stray database file: %v", err)
	}
}

// Against MongoDB, or any client Open did not start, nothing is attempted.
func TestLookupIndexOnlyForEmbeddedClients(t *testing.T) {
	if db.IsEmbeddedClient(nil) {
		t.Fatal("a nil client must not count as embedded")
	}
	ctx := context.Background()
	d, err := ferret.Open(ctx, ferret.Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if !db.IsEmbeddedClient(d.Client) {
		t.Fatal("Open in embedded mode must register its client")
	}
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if db.IsEmbeddedClient(d.Client) {
		t.Fatal("Close must forget the client")
	}
}
