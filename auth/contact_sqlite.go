package auth

import (
	"context"
	"database/sql"
	"errors"

	"github.com/clavis-app/clavis/internal/sqlite"
)

func (s *sqliteStore) SetOrgContact(ctx context.Context, c OrgContact) error {
	return s.d.Write(ctx, func(tx *sql.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM organisations WHERE id = ?`, c.OrgID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO org_contacts (org_id, name, phone, updated_by, updated_at) VALUES (?,?,?,?,?)
			ON CONFLICT (org_id) DO UPDATE SET name = excluded.name, phone = excluded.phone,
			updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
			c.OrgID, c.Name, c.Phone, c.UpdatedBy, sqlite.Millis(c.UpdatedAt))
		return err
	})
}

func (s *sqliteStore) OrgContact(ctx context.Context, orgID string) (OrgContact, error) {
	c := OrgContact{OrgID: orgID}
	var at int64
	err := s.d.QueryRowContext(ctx, `SELECT name, phone, updated_by, updated_at FROM org_contacts WHERE org_id = ?`, orgID).
		Scan(&c.Name, &c.Phone, &c.UpdatedBy, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return c, ErrNotFound
	}
	c.UpdatedAt = sqlite.Time(at)
	return c, err
}
