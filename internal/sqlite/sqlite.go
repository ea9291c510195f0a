// Package sqlite opens the embedded SQLite database Clavis uses by default
// (one file, CLAVIS_DATA_DIR/clavis.db) and gives the domain packages' SQLite
// stores what they share: the connection settings, versioned migrations per
// package, write transactions, error classification, query plans and online
// backups. It knows no domain: each package owns its tables and migrations.
//
// Settings, and why:
//   - journal_mode=WAL: readers never wait for the writer, and a second
//     server process on the same file reads while the first writes.
//   - synchronous=NORMAL: in WAL mode a commit is durable against a crash or
//     kill -9 of the process (the WAL is written before the commit returns);
//     only a power cut or kernel crash can lose the last few commits, never
//     corrupt the file. FULL would add an fsync to every commit; the outing
//     flow recovers from a lost last commit (clients retry with
//     Idempotency-Key, the reminder reconciler rebuilds jobs from outings).
//   - busy_timeout=10s: a writer waits for another writer's lock (in this
//     process or another) instead of failing at once.
//   - foreign_keys=ON: a package's child rows cannot outlive their parent.
//   - _txlock=immediate: every transaction takes the write lock at BEGIN,
//     so two read-modify-write transactions never deadlock on a lock upgrade;
//     they queue on busy_timeout instead.
//
// Never put the file on a network file system: SQLite's locks are only
// reliable on a local disk.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// FileName is the database file's name inside the data directory.
const FileName = "clavis.db"

// DB is an open SQLite database: a pool of connections for reads (and
// single-statement writes), and one connection for the write transactions
// of Write.
type DB struct {
	*sql.DB
	// Path is the database file's absolute path.
	Path string
	// writer runs every Write transaction, one at a time. In the shared
	// pool, writers queued on busy_timeout held every connection, and a
	// transaction that read through the pool (another store's method)
	// waited for one of them to give up: a 10 s stall and a failed write.
	// Now queued writers wait in Go for the writer, and reads inside a
	// transaction always find a reader.
	writer *sql.DB
}

// Open opens (creating it 0600 if needed) the database file at path, applies
// the settings above and checks that it is a readable SQLite database. Errors
// name the file and say what to do.
func Open(ctx context.Context, path string) (*DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("cannot create the data directory %s: %w (check its permissions or set CLAVIS_DATA_DIR)", filepath.Dir(abs), err)
	}
	// Create the file ourselves so that it is 0600 whatever the umask; SQLite
	// gives its -wal and -shm files the database file's permissions.
	f, err := os.OpenFile(abs, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cannot open the database file %s for writing: %w (check that the data directory is writable by this user)", abs, err)
	}
	_ = f.Close()
	dsn := "file:" + abs + "?_txlock=immediate" +
		"&_pragma=busy_timeout(10000)" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(NORMAL)" +
		"&_pragma=foreign_keys(1)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database file %s: %w", abs, err)
	}
	// Readers run in parallel under WAL; writers queue on the file lock.
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	db.SetConnMaxIdleTime(5 * time.Minute)
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
		_ = db.Close()
		return nil, describeOpenError(abs, err)
	}
	writer, err := sql.Open("sqlite", dsn)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open database file %s: %w", abs, err)
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxIdleTime(5 * time.Minute)
	return &DB{DB: db, Path: abs, writer: writer}, nil
}

// Close closes both pools.
func (d *DB) Close() error {
	return errors.Join(d.writer.Close(), d.DB.Close())
}

func describeOpenError(path string, err error) error {
	switch Code(err) & 0xff {
	case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
		return fmt.Errorf("the database file %s is not a readable SQLite database (%v): restore it from a backup (see docs/operations.md) or move it away to start empty", path, err)
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM:
		return fmt.Errorf("the database file %s cannot be opened for writing (%v): check that the file and its directory are writable by this user", path, err)
	}
	return fmt.Errorf("open database file %s: %w", path, err)
}

// Ping checks that the database answers (for /readyz).
func (d *DB) Ping(ctx context.Context) error { return d.PingContext(ctx) }

// Code returns the SQLite result code inside err (extended codes included),
// or 0.
func Code(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}

// IsUnique reports a UNIQUE or PRIMARY KEY constraint violation: the arbiter
// for "exactly once" decisions (an insert that lost to another).
func IsUnique(err error) bool {
	c := Code(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// IsBusy reports that the write lock could not be had within busy_timeout.
func IsBusy(err error) bool { return Code(err)&0xff == sqlite3.SQLITE_BUSY }

// Write runs fn in one write transaction (BEGIN IMMEDIATE): everything fn
// does commits together or not at all, and no other writer, in this process
// or another, runs in between. fn's error rolls back and is returned as is.
func (d *DB) Write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := d.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin write: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// ErrNewerSchema is returned by Migrate when the database was written by a
// newer Clavis than this binary.
var ErrNewerSchema = errors.New("database schema is newer than this binary")

// Migrate applies the package's embedded migrations (numbered .sql files in
// fsys, goose format) and records them in its own version table, so that
// every package versions its tables on its own. A database already at a
// version this binary does not know is refused, and nothing is changed.
func (d *DB) Migrate(ctx context.Context, fsys fs.FS, versionTable string) error {
	store, err := database.NewStore(database.DialectSQLite3, versionTable)
	if err != nil {
		return err
	}
	p, err := goose.NewProvider("", d.DB, fsys, goose.WithStore(store), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrations for %s: %w", versionTable, err)
	}
	current, target, err := p.GetVersions(ctx)
	if err != nil && !errors.Is(err, goose.ErrVersionNotFound) {
		return fmt.Errorf("read schema version of %s in %s: %w", versionTable, d.Path, err)
	}
	if current > target {
		return fmt.Errorf("%w: %s in %s is at version %d, this binary knows up to %d; run the newer Clavis or restore a backup made by this version", ErrNewerSchema, versionTable, d.Path, current, target)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate %s in %s: %w", versionTable, d.Path, err)
	}
	return nil
}

// MigrateEmbedded is Migrate for a package's embedded `migrations/*.sql`
// (the folder every package keeps its migrations in).
func (d *DB) MigrateEmbedded(ctx context.Context, embedded fs.FS, versionTable string) error {
	sub, err := fs.Sub(embedded, "migrations")
	if err != nil {
		return err
	}
	return d.Migrate(ctx, sub, versionTable)
}

// QueryPlan returns the detail lines of EXPLAIN QUERY PLAN for query, for
// tests that prove each hot query uses an index.
func (d *DB) QueryPlan(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := d.QueryContext(ctx, "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			return nil, err
		}
		out = append(out, detail)
	}
	return out, rows.Err()
}

// FullScans returns the plan lines that read every row of one of tables
// ("SCAN t" without an index). An index scan ("SCAN t USING INDEX …") is not
// reported: with ORDER BY … LIMIT it stops after the page.
func FullScans(plan []string, tables ...string) []string {
	var bad []string
	for _, line := range plan {
		for _, t := range tables {
			if line == "SCAN "+t || strings.HasPrefix(line, "SCAN "+t+" ") && !strings.Contains(line, "USING") {
				bad = append(bad, line)
			}
		}
	}
	return bad
}

// Backup writes a consistent copy of the whole database to dest (which must
// not exist) while the server keeps running: VACUUM INTO reads one snapshot,
// so writes that commit meanwhile are either wholly in the copy or not.
func (d *DB) Backup(ctx context.Context, dest string) error {
	abs, err := filepath.Abs(dest)
	if err != nil {
		return err
	}
	if _, err := os.Stat(abs); err == nil {
		return fmt.Errorf("backup target %s exists already: choose a new file name", abs)
	}
	if _, err := d.ExecContext(ctx, "VACUUM INTO ?", abs); err != nil {
		return fmt.Errorf("backup to %s: %w", abs, err)
	}
	return os.Chmod(abs, 0o600)
}

// Millis is a time as stored: Unix milliseconds, UTC. The domain keeps times
// at millisecond precision, so what is read back equals what was written.
func Millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// Time turns stored Unix milliseconds back into a UTC time (0 → zero time).
func Time(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
