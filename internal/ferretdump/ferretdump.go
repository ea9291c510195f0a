// Package ferretdump reads the files that Clavis' embedded FerretDB v1.24
// (SQLite backend) left in a data directory, without FerretDB: releases up
// to a018ec1 kept their data there, and `clavis import-ferretdb` moves it
// into clavis.db. The files are opened read-only and never changed.
//
// FerretDB's layout: one SQLite file per database, "<database>.sqlite"; a
// table _ferretdb_collections (name, table_name, settings) lists the
// collections; each collection's table holds one document per row in the
// _ferretdb_sjson column (see sjson.go).
package ferretdump

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"

	"go.mongodb.org/mongo-driver/v2/bson"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// FileName is the file the embedded FerretDB kept database "clavis" in.
const FileName = "clavis.sqlite"

// Path is where a data directory keeps the old embedded database.
func Path(dataDir string) string { return filepath.Join(dataDir, FileName) }

// Exists reports whether dataDir holds an old embedded FerretDB database.
func Exists(dataDir string) (bool, error) {
	st, err := os.Stat(Path(dataDir))
	switch {
	case err == nil:
		return st.Mode().IsRegular(), nil
	case errors.Is(err, os.ErrNotExist):
		return false, nil
	default:
		return false, err
	}
}

// Reader reads one FerretDB database file.
type Reader struct {
	path   string
	db     *sql.DB
	tables map[string]string // collection name → SQLite table
}

// Open opens a FerretDB database file read-only.
func Open(ctx context.Context, path string) (*Reader, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, err
	}
	// FerretDB runs the file in WAL mode. After a clean stop there is no
	// -wal and the file alone holds everything: immutable=1 reads it without
	// creating -wal/-shm files beside it. With a -wal (an old server still
	// running, or killed) the WAL holds committed data, so read through it
	// (mode=ro: still no write to the database itself).
	query := "immutable=1"
	if _, err := os.Stat(abs + "-wal"); err == nil {
		query = "mode=ro&_pragma=busy_timeout(10000)"
	}
	dsn := (&url.URL{Scheme: "file", Path: abs, RawQuery: query}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	r := &Reader{path: abs, db: db, tables: map[string]string{}}
	rows, err := db.QueryContext(ctx, `SELECT name, table_name FROM _ferretdb_collections`)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("%s is not a FerretDB database file: %w", abs, err)
	}
	defer rows.Close()
	for rows.Next() {
		var name, table string
		if err := rows.Scan(&name, &table); err != nil {
			_ = db.Close()
			return nil, err
		}
		r.tables[name] = table
	}
	if err := rows.Err(); err != nil {
		_ = db.Close()
		return nil, err
	}
	return r, nil
}

// Path is the file's absolute path.
func (r *Reader) Path() string { return r.path }

// Close closes the file.
func (r *Reader) Close() error { return r.db.Close() }

// Collections returns the database's collection names, sorted.
func (r *Reader) Collections() []string {
	names := make([]string, 0, len(r.tables))
	for n := range r.tables {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Documents returns every document of a collection, in insertion order. A
// collection that does not exist has none.
func (r *Reader) Documents(ctx context.Context, collection string) ([]bson.Raw, error) {
	table, ok := r.tables[collection]
	if !ok {
		return nil, nil
	}
	rows, err := r.db.QueryContext(ctx, fmt.Sprintf(`SELECT _ferretdb_sjson FROM %q ORDER BY rowid`, table))
	if err != nil {
		return nil, fmt.Errorf("read collection %s: %w", collection, err)
	}
	defer rows.Close()
	var docs []bson.Raw
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		doc, err := Decode([]byte(s))
		if err != nil {
			return nil, fmt.Errorf("collection %s, document %d: %w", collection, len(docs)+1, err)
		}
		docs = append(docs, doc)
	}
	return docs, rows.Err()
}
