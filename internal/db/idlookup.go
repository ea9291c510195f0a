package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/v2/mongo"
	// The embedded FerretDB registers the same driver; naming it here keeps
	// this file working if FerretDB ever stops importing it.
	_ "modernc.org/sqlite"
)

// FerretDB v1.24.2 (SQLite backend) pushes exactly one filter down to SQL, an
// {_id: string|ObjectID} equality, and compares IDColumn
// (`_ferretdb_sjson->'$._id'`) in that query, in every update (which writes
// back by _id) and in every delete. Its own unique _id index is on
// `_ferretdb_sjson->"_id"`, a different expression, so SQLite never uses it
// and each of those statements scans the table. An index on the exact query
// expression makes them index lookups (see BenchmarkFindByID).
//
// FerretDB does not know about this index: listIndexes, dropIndexes and
// collStats read its cached metadata (the settings column of
// _ferretdb_collections), never sqlite_master, so the index is invisible to
// them; dropping the collection drops the table and the index with it; a
// rename keeps the table name and so the index.
const (
	// idLookupExpr must stay the expression of metadata.IDColumn in
	// FerretDB's SQLite backend, or the planner will not match it
	// (TestEnsureIndexesMakesIDLookupUseAnIndex fails if it drifts).
	idLookupExpr = `_ferretdb_sjson->'$._id'`
	// idLookupPrefix is not of FerretDB's "<table>_<index>" form (tables are
	// "<collection>_<8 hex digits>"), so an index made through createIndexes
	// cannot take the same name and make that createIndexes fail.
	idLookupPrefix = "clavis_idlookup_"
	// ferretMetadataTable maps collection names to table names in each
	// database file.
	ferretMetadataTable = "_ferretdb_collections"
)

// embeddedStore is where an embedded database keeps its SQLite files.
type embeddedStore struct {
	dir string
	log *slog.Logger
}

// EnsureIndexes only receives a collection, so the embedded store behind it
// is found through its client; dbtest's per-test handles share the client of
// the DB that Open registered.
var (
	embeddedMu      sync.RWMutex
	embeddedClients = map[*mongo.Client]embeddedStore{}
)

func registerEmbedded(c *mongo.Client, s embeddedStore) {
	embeddedMu.Lock()
	defer embeddedMu.Unlock()
	embeddedClients[c] = s
}

func unregisterEmbedded(c *mongo.Client) {
	embeddedMu.Lock()
	defer embeddedMu.Unlock()
	delete(embeddedClients, c)
}

func embeddedStoreOf(c *mongo.Client) (embeddedStore, bool) {
	embeddedMu.RLock()
	defer embeddedMu.RUnlock()
	s, ok := embeddedClients[c]
	return s, ok
}

// ensureIDLookupIndex makes the _id lookup index for coll when it lives on an
// embedded FerretDB. It only ever costs speed, so a failure is logged and
// not returned: startup must not depend on it.
func ensureIDLookupIndex(ctx context.Context, coll *mongo.Collection, hadModels bool) {
	store, ok := embeddedStoreOf(coll.Database().Client())
	if !ok {
		return
	}
	if !hadModels {
		// createIndexes creates the collection; without a model nothing has.
		err := coll.Database().CreateCollection(ctx, coll.Name())
		if err != nil && !isNamespaceExists(err) {
			store.log.Warn("embedded database: collection not created; lookups by _id will scan it",
				"collection", coll.Name(), "err", err)
			return
		}
	}
	if _, err := createIDLookupIndex(ctx, store.dir, coll.Database().Name(), coll.Name()); err != nil {
		store.log.Warn("embedded database: _id lookup index not created; lookups by _id will scan the collection",
			"collection", coll.Name(), "err", err)
	}
}

func isNamespaceExists(err error) bool {
	var se mongo.ServerError
	return errors.As(err, &se) && se.HasErrorCode(48)
}

// createIDLookupIndex creates the index in <dir>/<database>.sqlite, FerretDB's
// file for that database, and returns the index name.
func createIDLookupIndex(ctx context.Context, dir, database, collection string) (string, error) {
	conn, err := openEmbeddedFile(ctx, dir, database)
	if err != nil {
		return "", err
	}
	defer func() { _ = conn.Close() }()
	var table string
	err = conn.QueryRowContext(ctx,
		"SELECT table_name FROM "+quoteIdent(ferretMetadataTable)+" WHERE name = ?", collection).Scan(&table)
	if err != nil {
		return "", fmt.Errorf("find table of %s.%s: %w", database, collection, err)
	}
	name := idLookupIndexName(table)
	q := fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s)", quoteIdent(name), quoteIdent(table), idLookupExpr)
	if _, err := conn.ExecContext(ctx, q); err != nil {
		return "", fmt.Errorf("create %s: %w", name, err)
	}
	return name, nil
}

func idLookupIndexName(table string) string { return idLookupPrefix + table }

// openEmbeddedFile opens an existing database file of the embedded store
// beside FerretDB's own connections, with FerretDB's busy timeout so that a
// write lock held by FerretDB is waited for rather than failed on.
// mode=rw never creates a file: an empty <db>.sqlite without FerretDB's
// metadata table would stop FerretDB from starting next time.
func openEmbeddedFile(ctx context.Context, dir, database string) (*sql.DB, error) {
	file := filepath.Join(dir, database+".sqlite")
	q := url.Values{}
	q.Set("mode", "rw")
	// Busy handler before WAL, as FerretDB does; WAL is already on for
	// FerretDB's files, so the second pragma changes nothing.
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(wal)")
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(file), RawQuery: q.Encode()}
	conn, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", file, err)
	}
	conn.SetMaxOpenConns(1)
	if err := conn.PingContext(ctx); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("open %s: %w", file, err)
	}
	return conn, nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
