package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clavis-app/clavis/internal/sqlite"
)

// TestBackupWhileWriting backs up a store that another connection keeps
// writing to: the copy opens, passes SQLite's integrity check and holds
// whole transactions only (each adds two rows, so the count is even).
func TestBackupWhileWriting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d, err := sqlite.Open(ctx, filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.ExecContext(ctx, `CREATE TABLE rows (n INTEGER NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	var written atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			err := d.Write(ctx, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, `INSERT INTO rows VALUES (?), (?)`, i, i)
				return err
			})
			if err != nil {
				t.Error(err)
				return
			}
			written.Add(2)
		}
	}()
	for written.Load() < 200 {
		time.Sleep(time.Millisecond)
	}
	getenv := env(map[string]string{"CLAVIS_DATA_DIR": dir})
	backup := filepath.Join(t.TempDir(), "clavis-backup.db")
	var out bytes.Buffer
	err = runBackup(ctx, getenv, []string{backup}, &out)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "backed up") {
		t.Errorf("output %q", out.String())
	}
	if st, err := os.Stat(backup); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("backup file: %v, %v", st, err)
	}
	b, err := sqlite.Open(ctx, backup)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var check string
	var n int64
	if err := b.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check = %q, %v", check, err)
	}
	if err := b.QueryRowContext(ctx, `SELECT count(*) FROM rows`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	t.Logf("backup holds %d rows; %d were written by the end", n, written.Load())
	if n < 200 || n%2 != 0 || n > written.Load() {
		t.Errorf("backup holds %d rows: want an even number from 200 to %d", n, written.Load())
	}

	if err := runBackup(ctx, getenv, []string{backup}, &out); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("backup over an existing file: %v", err)
	}
}

func TestBackupRefusals(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var out bytes.Buffer
	if err := runBackup(ctx, env(map[string]string{"CLAVIS_DATA_DIR": dir}), nil, &out); err == nil || !strings.Contains(err.Error(), "usage") {
		t.Errorf("no file: %v", err)
	}
	err := runBackup(ctx, env(map[string]string{"CLAVIS_DATA_DIR": dir}), []string{filepath.Join(dir, "b.db")}, &out)
	if err == nil || !strings.Contains(err.Error(), "no database to back up") {
		t.Errorf("empty data dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, sqlite.FileName)); !errors.Is(err, os.ErrNotExist) {
		t.Error("backup created an empty store")
	}
	err = runBackup(ctx, env(map[string]string{"MONGODB_URI": "mongodb://db:27017"}), []string{"b.db"}, &out)
	if err == nil || !strings.Contains(err.Error(), "mongodump") {
		t.Errorf("with MONGODB_URI: %v", err)
	}
}
