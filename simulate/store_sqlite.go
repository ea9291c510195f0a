package simulate

import (
	"context"
	"path/filepath"

	"github.com/clavis-app/clavis/internal/sqlite"
	"github.com/clavis-app/clavis/matching"
)

// openStore opens a fresh matching store in dir, as the server does in its
// data directory.
func openStore(ctx context.Context, dir string) (matching.Store, func(), error) {
	d, err := sqlite.Open(ctx, filepath.Join(dir, sqlite.FileName))
	if err != nil {
		return nil, nil, err
	}
	st, err := matching.NewSQLiteStore(ctx, d)
	if err != nil {
		_ = d.Close()
		return nil, nil, err
	}
	return st, func() { _ = d.Close() }, nil
}
