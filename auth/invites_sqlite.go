package auth

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/clavis-app/clavis/internal/sqlite"
)

const (
	inviteCols    = `code, org_id, role, expires_at, max_uses, uses, created_by, created_at`
	qInviteByCode = `SELECT ` + inviteCols + ` FROM invites WHERE code = ?`
	qInvitesOfOrg = `SELECT ` + inviteCols + ` FROM invites WHERE org_id = ? AND code > ? ORDER BY code LIMIT ?`
	qInsertInvite = `INSERT INTO invites (` + inviteCols + `) VALUES (?,?,?,?,?,?,?,?)`
	// The conditional increment inside BEGIN IMMEDIATE is the arbiter of
	// the last use, across goroutines and processes.
	qUseInvite = `UPDATE invites SET uses = uses + 1 WHERE code = ? AND role = ? AND expires_at > ? AND uses < max_uses`
)

func scanInvite(r scanner) (Invite, error) {
	var inv Invite
	var expires, created int64
	err := r.Scan(&inv.Code, &inv.OrgID, &inv.Role, &expires, &inv.MaxUses, &inv.Uses, &inv.CreatedBy, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return inv, ErrNotFound
	}
	inv.ExpiresAt, inv.CreatedAt = sqlite.Time(expires), sqlite.Time(created)
	return inv, err
}

func (s *sqliteStore) InsertInvite(ctx context.Context, inv Invite) error {
	_, err := s.d.ExecContext(ctx, qInsertInvite, inv.Code, inv.OrgID, string(inv.Role), sqlite.Millis(inv.ExpiresAt),
		inv.MaxUses, inv.Uses, inv.CreatedBy, sqlite.Millis(inv.CreatedAt))
	if sqlite.IsUnique(err) {
		return ErrDuplicate
	}
	return err
}

func (s *sqliteStore) Invite(ctx context.Context, code string) (Invite, error) {
	return scanInvite(s.d.QueryRowContext(ctx, qInviteByCode, code))
}

func (s *sqliteStore) Invites(ctx context.Context, orgID, after string, limit int) ([]Invite, error) {
	rows, err := s.d.QueryContext(ctx, qInvitesOfOrg, orgID, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Invite
	for rows.Next() {
		inv, err := scanInvite(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, inv)
	}
	return out, rows.Err()
}

func (s *sqliteStore) DeleteInvite(ctx context.Context, orgID, code string) error {
	res, err := s.d.ExecContext(ctx, `DELETE FROM invites WHERE code = ? AND org_id = ?`, code, orgID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return cmp(err, ErrNotFound)
	}
	return nil
}

func (s *sqliteStore) RegisterWithInvite(ctx context.Context, code string, u UserRecord, at time.Time) error {
	return s.d.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, qUseInvite, code, string(u.Role), sqlite.Millis(at))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err != nil {
				return err
			}
			if _, err := scanInvite(tx.QueryRowContext(ctx, qInviteByCode, code)); err != nil {
				return err
			}
			return ErrConflict
		}
		_, err = tx.ExecContext(ctx, qInsertUser, userArgs(u)...)
		if sqlite.IsUnique(err) {
			return ErrDuplicate // the transaction rolls the use back
		}
		return err
	})
}
