package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/clavis-app/clavis/internal/sqlite"
)

// runBackup is `clavis backup FILE`: a consistent copy of the embedded
// store (VACUUM INTO), safe while the server runs; see docs/operations.md.
func runBackup(ctx context.Context, getenv func(string) string, args []string, out io.Writer) error {
	if len(args) != 1 || args[0] == "" {
		return errors.New("usage: clavis backup FILE (a new file; the same CLAVIS_DATA_DIR as the server)")
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	if cfg.MongoURI != "" {
		return errors.New("MONGODB_URI is set: back up MongoDB with mongodump (see docs/operations.md)")
	}
	src := filepath.Join(cfg.DataDir, sqlite.FileName)
	// sqlite.Open would create an empty store; a backup of nothing is a mistake.
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("no database to back up at %s (check CLAVIS_DATA_DIR): %w", src, err)
	}
	d, err := sqlite.Open(ctx, src)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Backup(ctx, args[0]); err != nil {
		return err
	}
	st, err := os.Stat(args[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "backed up %s to %s (%d bytes)\n", src, args[0], st.Size())
	return nil
}
