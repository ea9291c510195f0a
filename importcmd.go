package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clavis-app/clavis/internal/ferretdump"
	"github.com/clavis-app/clavis/internal/sqlite"
)

// Releases up to a018ec1 kept their data in an embedded FerretDB
// (CLAVIS_DATA_DIR/clavis.sqlite). `clavis import-ferretdb` copies it once
// into clavis.db; the server refuses to start on a data directory that has
// the old file and no clavis.db, so old data is never silently left behind.

// importFunc stores one collection's documents in a package's SQLite store
// and says how many it kept.
type importFunc func(ctx context.Context, collection string, docs []bson.Raw) (int, error)

// importTarget is one domain package: the old collections it takes, in the
// order they go in (parents first), and how to open its SQLite store.
type importTarget struct {
	pkg         string
	collections []string
	open        func(ctx context.Context, d *sqlite.DB) (importFunc, error)
}

// notImported are the old collections deliberately left behind, and why.
var notImported = map[string]string{
	"refresh_families": "sessions: people sign in again",
	"refresh_tokens":   "sessions: people sign in again",
	"refresh_used":     "sessions: people sign in again",
	"login_failures":   "a 15-minute throttling window",
	"push_claims":      "push workers' leases",
	"push_events":      "push delivery log",
	"push_done":        "pushes already sent",
	"idempotency_keys": "24-hour replay cache",
	"seed_runs":        "demo seed bookkeeping",
}

// checkFerretDBImported is the server's start check (embedded mode only),
// to run before anything opens clavis.db: a data directory with the old
// FerretDB file has data the new store would not see unless clavis.db
// records that the import ran.
func checkFerretDBImported(ctx context.Context, dataDir string) error {
	old, err := ferretdump.Exists(dataDir)
	if err != nil {
		return fmt.Errorf("check %s: %w", ferretdump.Path(dataDir), err)
	}
	if !old {
		return nil
	}
	path := filepath.Join(dataDir, sqlite.FileName)
	if _, err := os.Stat(path); err == nil {
		d, err := sqlite.Open(ctx, path)
		if err != nil {
			return err
		}
		var n int
		err = d.QueryRowContext(ctx, `SELECT count(*) FROM `+importTable).Scan(&n)
		_ = d.Close()
		if err == nil && n > 0 {
			return nil
		}
		if err != nil && !strings.Contains(err.Error(), "no such table") {
			return fmt.Errorf("check %s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return fmt.Errorf("%s holds the database of an earlier release (%s) that was never imported: run `clavis import-ferretdb` once with the same CLAVIS_DATA_DIR to move its data (the old file is kept), or move %s away if its data is not wanted",
		dataDir, ferretdump.FileName, ferretdump.FileName)
}

// importTable records in clavis.db that the old file was imported.
const importTable = "ferretdb_import"

// runImportFerretDB is `clavis import-ferretdb`.
func runImportFerretDB(ctx context.Context, getenv func(string) string, out io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	if cfg.MongoURI != "" {
		return errors.New("MONGODB_URI is set: the import fills the embedded store in CLAVIS_DATA_DIR; unset MONGODB_URI (to move FerretDB data into MongoDB use mongodump/mongorestore against a running old release)")
	}
	targets := importTargets()
	if len(targets) == 0 {
		return errors.New("this build has no SQLite stores to import into")
	}
	log := slog.New(slog.NewTextHandler(out, nil))
	_, err = importFerretDB(ctx, cfg.DataDir, targets, log)
	return err
}

// importFerretDB copies the old file's collections into a new clavis.db in
// dataDir and returns the documents stored per collection. It builds the
// new file under a temporary name and renames it into place only when
// every collection is in, so a failed or interrupted import leaves no
// clavis.db (and the server keeps refusing to start). The old file is only
// read.
func importFerretDB(ctx context.Context, dataDir string, targets []importTarget, log *slog.Logger) (map[string]int, error) {
	oldPath := ferretdump.Path(dataDir)
	if ok, err := ferretdump.Exists(dataDir); err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("no %s in %s: nothing to import", ferretdump.FileName, dataDir)
	}
	newPath := filepath.Join(dataDir, sqlite.FileName)
	if err := refuseIfHoldsData(ctx, newPath); err != nil {
		return nil, err
	}
	old, err := ferretdump.Open(ctx, oldPath)
	if err != nil {
		return nil, err
	}
	defer old.Close()

	tmpPath := newPath + ".import"
	removeDB(tmpPath) // a previous interrupted run
	counts, err := fill(ctx, old, tmpPath, targets, log)
	if err != nil {
		removeDB(tmpPath)
		return nil, fmt.Errorf("import stopped, nothing was kept (%s is untouched): %w", oldPath, err)
	}
	// Rename only when SQLite left nothing beside either file: a stale -wal
	// would be replayed into the new one (and beside an existing empty
	// clavis.db it means a process has it open).
	for _, p := range []string{tmpPath + "-wal", tmpPath + "-journal", newPath + "-wal", newPath + "-journal"} {
		if _, err := os.Stat(p); err == nil {
			removeDB(tmpPath)
			return nil, fmt.Errorf("%s exists (is a server running on this data directory?): import not kept", p)
		}
	}
	_ = os.Remove(newPath + "-shm")
	if err := os.Rename(tmpPath, newPath); err != nil {
		removeDB(tmpPath)
		return nil, err
	}
	var total int
	for _, n := range counts {
		total += n
	}
	log.Info("import done: start the server as usual; the old file is kept and no longer read",
		"database", newPath, "documents", total, "old_file", oldPath)
	return counts, nil
}

// fill creates the file at path with every package's tables and imports
// the old collections into it.
func fill(ctx context.Context, old *ferretdump.Reader, path string, targets []importTarget, log *slog.Logger) (map[string]int, error) {
	d, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	taken := map[string]bool{}
	for _, t := range targets {
		imp, err := t.open(ctx, d)
		if err != nil {
			_ = d.Close()
			return nil, fmt.Errorf("%s store: %w", t.pkg, err)
		}
		for _, c := range t.collections {
			taken[c] = true
			docs, err := old.Documents(ctx, c)
			if err != nil {
				_ = d.Close()
				return nil, err
			}
			n, err := imp(ctx, c, docs)
			if err != nil {
				_ = d.Close()
				return nil, fmt.Errorf("%s.%s: %w", t.pkg, c, err)
			}
			counts[c] = n
			log.Info("imported", "package", t.pkg, "collection", c, "read", len(docs), "stored", n)
		}
	}
	var total int
	for _, n := range counts {
		total += n
	}
	if _, err := d.ExecContext(ctx, `CREATE TABLE `+importTable+` (source TEXT NOT NULL, imported_at INTEGER NOT NULL, documents INTEGER NOT NULL) STRICT`); err != nil {
		_ = d.Close()
		return nil, err
	}
	if _, err := d.ExecContext(ctx, `INSERT INTO `+importTable+` VALUES (?, ?, ?)`, old.Path(), sqlite.Millis(time.Now()), total); err != nil {
		_ = d.Close()
		return nil, err
	}
	for _, c := range old.Collections() {
		if taken[c] {
			continue
		}
		docs, err := old.Documents(ctx, c)
		if err != nil {
			_ = d.Close()
			return nil, err
		}
		why, known := notImported[c]
		if !known {
			why = "no package owns it"
			if len(docs) > 0 {
				log.Warn("not imported", "collection", c, "read", len(docs), "why", why)
				continue
			}
		}
		log.Info("not imported", "collection", c, "read", len(docs), "why", why)
	}
	return counts, d.Close()
}

// refuseIfHoldsData fails when clavis.db has any row outside the migration
// version tables; an empty one (from a first start that stopped at the
// check) is replaced.
func refuseIfHoldsData(ctx context.Context, path string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	d, err := sqlite.Open(ctx, path)
	if err != nil {
		return err
	}
	var tables []string
	rows, err := d.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	if err == nil {
		for rows.Next() {
			var name string
			if err = rows.Scan(&name); err != nil {
				break
			}
			if !strings.HasSuffix(name, "_schema") {
				tables = append(tables, name)
			}
		}
		_ = rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	var full []string
	for _, t := range tables {
		if err != nil {
			break
		}
		var has bool
		err = d.QueryRowContext(ctx, fmt.Sprintf(`SELECT EXISTS (SELECT 1 FROM %q)`, t)).Scan(&has)
		if has {
			full = append(full, t)
		}
	}
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("check %s: %w", path, err)
	}
	if len(full) > 0 {
		return fmt.Errorf("%s already holds data (tables %s): the import only fills a new store; move that file away first if you mean to redo it",
			path, strings.Join(full, ", "))
	}
	return nil
}

// removeDB deletes a database file and its SQLite side files.
func removeDB(path string) {
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		_ = os.Remove(p)
	}
}
