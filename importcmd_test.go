package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clavis-app/clavis/internal/ferretdump"
	"github.com/clavis-app/clavis/internal/logtest"
	"github.com/clavis-app/clavis/internal/sqlite"
)

// fixtureImported is, per collection the packages import, how many
// documents internal/ferretdump/testdata/release-a018ec1 holds (its README).
var fixtureImported = map[string]int{
	"organisations": 1, "users": 8, "audit": 4,
	"volunteer_profiles": 3, "participant_profiles": 3, "outings": 6, "feedback": 2, "volunteer_preferences": 0,
	"devices": 2, "push_jobs": 14,
}

// oldDataDir returns a data directory holding a copy of the fixture.
func oldDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(filepath.Join("internal", "ferretdump", "testdata", "release-a018ec1", ferretdump.FileName))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ferretdump.Path(dir), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// fakeTargets stand in for the domain packages: one table keeps every
// document's collection and _id. failOn makes that collection's import fail.
func fakeTargets(failOn string) []importTarget {
	open := func(ctx context.Context, d *sqlite.DB) (importFunc, error) {
		for _, q := range []string{
			`CREATE TABLE IF NOT EXISTS fake_schema (version INTEGER NOT NULL)`,
			`INSERT INTO fake_schema VALUES (1)`,
			`CREATE TABLE IF NOT EXISTS docs (coll TEXT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (coll, id)) STRICT`,
		} {
			if _, err := d.ExecContext(ctx, q); err != nil {
				return nil, err
			}
		}
		return func(ctx context.Context, c string, docs []bson.Raw) (int, error) {
			if c == failOn {
				return 0, errors.New("refused by the test")
			}
			err := d.Write(ctx, func(tx *sql.Tx) error {
				for _, doc := range docs {
					if _, err := tx.ExecContext(ctx, `INSERT INTO docs VALUES (?, ?)`, c, doc.Lookup("_id").String()); err != nil {
						return err
					}
				}
				return nil
			})
			return len(docs), err
		}, nil
	}
	return []importTarget{
		{pkg: "auth", collections: []string{"organisations", "users", "audit"}, open: open},
		{pkg: "matching", collections: []string{"volunteer_profiles", "participant_profiles", "outings", "feedback", "volunteer_preferences"}, open: open},
		{pkg: "notify", collections: []string{"devices", "push_jobs"}, open: open},
	}
}

func TestImportFerretDBMovesEveryCollectionOnce(t *testing.T) {
	ctx := context.Background()
	dir := oldDataDir(t)
	before := fileSum(t, ferretdump.Path(dir))
	if err := checkFerretDBImported(ctx, dir); err == nil || !strings.Contains(err.Error(), "clavis import-ferretdb") {
		t.Fatalf("start check before the import: %v", err)
	}

	var logs logtest.Buffer
	counts, err := importFerretDB(ctx, dir, fakeTargets(""), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + logs.String())
	for c, want := range fixtureImported {
		if counts[c] != want {
			t.Errorf("%s: imported %d, want %d", c, counts[c], want)
		}
	}
	if len(counts) != len(fixtureImported) {
		t.Errorf("imported collections %v", counts)
	}
	d, err := sqlite.Open(ctx, filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	var stored int
	if err := d.QueryRowContext(ctx, `SELECT count(*) FROM docs`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	_ = d.Close()
	if stored != 43 {
		t.Errorf("clavis.db holds %d documents, want 43", stored)
	}
	for _, line := range []string{"collection=outings read=6 stored=6", "collection=seed_runs read=1", "collection=refresh_tokens read=5", "import done"} {
		if !strings.Contains(logs.String(), line) {
			t.Errorf("log lacks %q", line)
		}
	}
	if fileSum(t, ferretdump.Path(dir)) != before {
		t.Error("the old file changed")
	}
	if _, err := os.Stat(filepath.Join(dir, sqlite.FileName+".import")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temporary file left: %v", err)
	}
	if err := checkFerretDBImported(ctx, dir); err != nil {
		t.Errorf("start check after the import: %v", err)
	}

	_, err = importFerretDB(ctx, dir, fakeTargets(""), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "already holds data") || !strings.Contains(err.Error(), "docs") {
		t.Errorf("second import: %v, want a refusal naming the table", err)
	}
}

func TestImportFerretDBFailureKeepsNothing(t *testing.T) {
	ctx := context.Background()
	dir := oldDataDir(t)
	_, err := importFerretDB(context.Background(), dir, fakeTargets("outings"), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "matching.outings: refused by the test") {
		t.Fatalf("err = %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("data dir holds %v, want only the old file", names)
	}
	if err := checkFerretDBImported(ctx, dir); err == nil {
		t.Error("the server would start after a failed import")
	}
}

func TestImportFerretDBReplacesAnEmptyStore(t *testing.T) {
	ctx := context.Background()
	dir := oldDataDir(t)
	d, err := sqlite.Open(ctx, filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	// A store a new server created before the import: the start check
	// still refuses, since nothing was imported into it.
	if err := checkFerretDBImported(ctx, dir); err == nil || !strings.Contains(err.Error(), "never imported") {
		t.Errorf("start check on an empty clavis.db beside the old file: %v", err)
	}
	for _, q := range []string{`CREATE TABLE auth_schema (v INTEGER)`, `INSERT INTO auth_schema VALUES (1)`, `CREATE TABLE users (id TEXT)`} {
		if _, err := d.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	_ = d.Close()
	counts, err := importFerretDB(ctx, dir, fakeTargets(""), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil || counts["users"] != 8 {
		t.Fatalf("import over a store with only migrations: %v, %v", counts, err)
	}
	if err := checkFerretDBImported(ctx, dir); err != nil {
		t.Errorf("start check after the import: %v", err)
	}
}

func TestImportFerretDBNeedsTheOldFile(t *testing.T) {
	_, err := importFerretDB(context.Background(), t.TempDir(), fakeTargets(""), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "nothing to import") {
		t.Errorf("err = %v", err)
	}
	if err := checkFerretDBImported(context.Background(), t.TempDir()); err != nil {
		t.Errorf("start check on a new data dir: %v", err)
	}
	var out bytes.Buffer
	err = runImportFerretDB(context.Background(), env(map[string]string{"MONGODB_URI": "mongodb://db:27017"}), &out)
	if err == nil || !strings.Contains(err.Error(), "MONGODB_URI") {
		t.Errorf("with MONGODB_URI: %v", err)
	}
}
