package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/clavis-app/clavis/internal/sqlite"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
)

var migrations = os.DirFS("testdata/migrations")

func TestOpenCreatesPrivateFileAndMigrates(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "data", sqlite.FileName)
	d, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Migrate(ctx, migrations, "test_schema"); err != nil {
		t.Fatal(err)
	}
	// Twice is a no-op.
	if err := d.Migrate(ctx, migrations, "test_schema"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(`INSERT INTO things (id, owner, version) VALUES ('a', 'x', 1)`); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal"} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	var mode string
	if err := d.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk int
	if err := d.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d, %v; want 1", fk, err)
	}
}

func TestNewerSchemaIsRefusedAndUntouched(t *testing.T) {
	ctx := context.Background()
	d := sqlitetest.New(t)
	newer := fstest.MapFS{
		"00001_things.sql": {Data: mustRead(t, "testdata/migrations/00001_things.sql")},
		"00002_more.sql":   {Data: []byte("-- +goose Up\nCREATE TABLE more (id TEXT PRIMARY KEY);\n-- +goose Down\nDROP TABLE more;\n")},
	}
	if err := d.Migrate(ctx, newer, "test_schema"); err != nil {
		t.Fatal(err)
	}
	err := d.Migrate(ctx, migrations, "test_schema")
	if !errors.Is(err, sqlite.ErrNewerSchema) {
		t.Fatalf("older binary on a newer schema: %v, want ErrNewerSchema", err)
	}
	if !strings.Contains(err.Error(), d.Path) || !strings.Contains(err.Error(), "version 2") {
		t.Errorf("error should name the file and the version: %v", err)
	}
	var n int
	if err := d.QueryRow("SELECT count(*) FROM more").Scan(&n); err != nil {
		t.Errorf("the newer table is gone: %v", err)
	}
}

func TestCorruptAndUnwritableFilesGiveClearErrors(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	corrupt := filepath.Join(dir, sqlite.FileName)
	junk := []byte(strings.Repeat("this is not a database ", 400))
	if err := os.WriteFile(corrupt, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := sqlite.Open(ctx, corrupt)
	if err == nil || !strings.Contains(err.Error(), corrupt) || !strings.Contains(err.Error(), "not a readable SQLite database") {
		t.Fatalf("corrupt file: %v", err)
	}
	if got, _ := os.ReadFile(corrupt); string(got) != string(junk) {
		t.Error("the corrupt file was overwritten")
	}
	if os.Geteuid() == 0 {
		// root writes through permission bits; a read-only directory cannot be simulated.
		return
	}
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o500); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.Open(ctx, filepath.Join(ro, sqlite.FileName)); err == nil || !strings.Contains(err.Error(), "writable") {
		t.Fatalf("read-only dir: %v", err)
	}
}

func TestWriteIsAtomicAndSerialised(t *testing.T) {
	ctx := context.Background()
	d := sqlitetest.New(t)
	if err := d.Migrate(ctx, migrations, "test_schema"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(`INSERT INTO things (id, owner, version) VALUES ('a', 'x', 1)`); err != nil {
		t.Fatal(err)
	}
	// A failing fn rolls everything back.
	boom := errors.New("boom")
	err := d.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.Exec(`UPDATE things SET version = 99`); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	// 20 read-modify-writes of one version: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := d.ExecContext(ctx, `UPDATE things SET version = version + 1 WHERE id = 'a' AND version = 1`)
			if err != nil {
				t.Error(err)
				return
			}
			if n, _ := res.RowsAffected(); n == 1 {
				mu.Lock()
				won++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d conditional updates won, want 1", won)
	}
	_, err = d.Exec(`INSERT INTO things (id, owner, version) VALUES ('a', 'y', 1)`)
	if !sqlite.IsUnique(err) {
		t.Fatalf("duplicate id: %v, want a unique violation", err)
	}
}

func TestFullScansFindsTableScans(t *testing.T) {
	ctx := context.Background()
	d := sqlitetest.New(t)
	if err := d.Migrate(ctx, migrations, "test_schema"); err != nil {
		t.Fatal(err)
	}
	plan, err := d.QueryPlan(ctx, `SELECT id FROM things WHERE owner = ?`, "x")
	if err != nil {
		t.Fatal(err)
	}
	if bad := sqlite.FullScans(plan, "things"); len(bad) != 0 {
		t.Errorf("indexed query reported as a scan: %v", plan)
	}
	plan, err = d.QueryPlan(ctx, `SELECT id FROM things WHERE version = ?`, 1)
	if err != nil {
		t.Fatal(err)
	}
	if bad := sqlite.FullScans(plan, "things"); len(bad) != 1 {
		t.Errorf("unindexed query not reported: %v", plan)
	}
}

func TestBackupWhileWriting(t *testing.T) {
	ctx := context.Background()
	d := sqlitetest.New(t)
	if err := d.Migrate(ctx, migrations, "test_schema"); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				done <- n
				return
			default:
			}
			if _, err := d.Exec(`INSERT INTO things (id, owner, version) VALUES (?, 'w', 1)`, fmt.Sprint("w", n)); err == nil {
				n++
			}
		}
	}()
	dest := filepath.Join(t.TempDir(), "backup.db")
	if err := d.Backup(ctx, dest); err != nil {
		t.Fatal(err)
	}
	close(stop)
	<-done
	if err := d.Backup(ctx, dest); err == nil {
		t.Error("backup over an existing file should fail")
	}
	b, err := sqlite.Open(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Migrate(ctx, migrations, "test_schema"); err != nil {
		t.Fatalf("backup is not at the schema version: %v", err)
	}
	var n int
	if err := b.QueryRow(`SELECT count(*) FROM things`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(dest)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600", st.Mode().Perm())
	}
	t.Logf("backup holds %d rows", n)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Write transactions that read through the pool (another store's method
// called inside a decision) while more writers queue than the pool has
// connections: each read finds a reader, so all finish at once. With one
// pool for both, the queued writers held every connection waiting for the
// lock, and the transaction holding it waited for busy_timeout (10 s) to
// free one: a stall and failed writes.
func TestWritesThatReadDoNotStarveOnThePool(t *testing.T) {
	ctx := context.Background()
	d := sqlitetest.New(t)
	if err := d.Migrate(ctx, migrations, "test_schema"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(`INSERT INTO things (id, owner, version) VALUES ('a', 'x', 1)`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- d.Write(ctx, func(tx *sql.Tx) error {
				var owner string
				if err := d.QueryRowContext(ctx, `SELECT owner FROM things WHERE id = 'a'`).Scan(&owner); err != nil {
					return err
				}
				time.Sleep(time.Millisecond)
				_, err := tx.ExecContext(ctx, `UPDATE things SET version = version + 1 WHERE id = 'a'`)
				return err
			})
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a write failed: %v", err)
		}
	}
	var v int
	if err := d.QueryRow(`SELECT version FROM things WHERE id = 'a'`).Scan(&v); err != nil || v != 41 {
		t.Fatalf("version %d (%v), want 41", v, err)
	}
}
