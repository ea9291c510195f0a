package api

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/clavis-app/clavis/internal/sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

// The engine's statements, named so that the query-plan test checks the
// very strings used here.
const (
	sqlIdemSelect = `SELECT user_id, claim, fingerprint, done, status, content_type, body, created_at, expires_at
		FROM idempotency_keys WHERE id = ?`
	sqlIdemUpsert = `INSERT INTO idempotency_keys (id, user_id, claim, fingerprint, done, status, content_type, body, created_at, expires_at)
		VALUES (?, ?, ?, ?, 0, 0, '', NULL, ?, ?)
		ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, claim = excluded.claim,
			fingerprint = excluded.fingerprint, done = 0, status = 0, content_type = '', body = NULL,
			created_at = excluded.created_at, expires_at = excluded.expires_at`
	sqlIdemRecord = `UPDATE idempotency_keys SET done = 1, status = ?, content_type = ?, body = ?
		WHERE id = ? AND claim = ? AND done = 0`
	sqlIdemRelease = `DELETE FROM idempotency_keys WHERE id = ? AND claim = ?`
	sqlIdemSweep   = `DELETE FROM idempotency_keys WHERE expires_at <= ?`
)

type idemSQLite struct{ d *sqlite.DB }

// NewIdempotencySQLite keeps keys in the embedded SQLite database (table
// idempotency_keys, versioned in api_schema).
func NewIdempotencySQLite(ctx context.Context, d *sqlite.DB) (IdempotencyStore, error) {
	if err := d.MigrateEmbedded(ctx, migrations, "api_schema"); err != nil {
		return nil, err
	}
	return &idemSQLite{d: d}, nil
}

// Claim reads and, if free, takes the key in one write transaction, so
// that exactly one of any number of racing requests (in any process on the
// file) owns it.
func (st *idemSQLite) Claim(ctx context.Context, rec IdempotencyRecord, abandonedBefore time.Time) (IdempotencyRecord, bool, error) {
	var out IdempotencyRecord
	owned := false
	err := st.d.Write(ctx, func(tx *sql.Tx) error {
		existing, err := scanIdem(tx.QueryRowContext(ctx, sqlIdemSelect, rec.ID), rec.ID)
		switch {
		case err == nil && !idemFree(existing, rec.CreatedAt, abandonedBefore):
			out = existing
			return nil
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if _, err := tx.ExecContext(ctx, sqlIdemUpsert, rec.ID, rec.UserID, rec.Claim, rec.Fingerprint,
			sqlite.Millis(rec.CreatedAt), sqlite.Millis(rec.ExpiresAt)); err != nil {
			return fmt.Errorf("claim idempotency key: %w", err)
		}
		out, owned = rec, true
		return nil
	})
	if err != nil {
		return IdempotencyRecord{}, false, err
	}
	return out, owned, nil
}

// idemFree says whether a stored record may be taken over at now.
func idemFree(r IdempotencyRecord, now, abandonedBefore time.Time) bool {
	return !now.Before(r.ExpiresAt) || (!r.Done && r.CreatedAt.Before(abandonedBefore))
}

func scanIdem(row *sql.Row, id string) (IdempotencyRecord, error) {
	r := IdempotencyRecord{ID: id}
	var created, expires int64
	if err := row.Scan(&r.UserID, &r.Claim, &r.Fingerprint, &r.Done, &r.Answer.Status, &r.Answer.ContentType,
		&r.Answer.Body, &created, &expires); err != nil {
		return r, err
	}
	r.CreatedAt, r.ExpiresAt = sqlite.Time(created), sqlite.Time(expires)
	return r, nil
}

func (st *idemSQLite) Record(ctx context.Context, id, claim string, a IdempotencyAnswer) error {
	body := a.Body
	if body == nil {
		body = []byte{}
	}
	res, err := st.d.ExecContext(ctx, sqlIdemRecord, a.Status, a.ContentType, body, id, claim)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrIdempotencyLost
	}
	return nil
}

func (st *idemSQLite) Release(ctx context.Context, id, claim string) error {
	_, err := st.d.ExecContext(ctx, sqlIdemRelease, id, claim)
	return err
}

func (st *idemSQLite) Sweep(ctx context.Context, now time.Time) (int64, error) {
	res, err := st.d.ExecContext(ctx, sqlIdemSweep, sqlite.Millis(now))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
