package seed

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"

	"github.com/clavis-app/clavis/internal/sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

type sqliteRuns struct{ d *sqlite.DB }

// NewSQLiteRuns keeps seed records in the SQLite file.
func NewSQLiteRuns(ctx context.Context, d *sqlite.DB) (Runs, error) {
	if err := d.MigrateEmbedded(ctx, migrations, "seed_schema"); err != nil {
		return nil, err
	}
	return &sqliteRuns{d: d}, nil
}

func (s *sqliteRuns) Run(ctx context.Context, id string) (*run, error) {
	r := &run{ID: id}
	var doc string
	err := s.d.QueryRowContext(ctx, `SELECT doc FROM seed_runs WHERE id = ?`, id).Scan(&doc)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return r.fill(), nil
	case err != nil:
		return nil, err
	}
	if err := json.Unmarshal([]byte(doc), r); err != nil {
		return nil, err
	}
	return r.fill(), nil
}

func (s *sqliteRuns) SaveRun(ctx context.Context, r *run) error {
	doc, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = s.d.ExecContext(ctx, `INSERT INTO seed_runs (id, doc) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc`, r.ID, string(doc))
	return err
}
