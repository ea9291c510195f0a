package auth

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clavis-app/clavis/internal/sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

type sqliteStore struct{ d *sqlite.DB }

// NewSQLiteStore applies auth's migrations to d and returns its store.
func NewSQLiteStore(ctx context.Context, d *sqlite.DB) (Store, error) {
	if err := d.MigrateEmbedded(ctx, migrations, "auth_schema"); err != nil {
		return nil, err
	}
	return &sqliteStore{d: d}, nil
}

// The hot queries, named so that TestSQLiteHotQueriesUseIndexes explains
// the very strings the engine runs.
const (
	userCols = `id, email, password_hash, name, role, org_id, status, language, created_at, updated_at,
		vetted_by, vetted_at, vetting_note, suspended_by, suspended_at, suspension_reason`
	qUserByID    = `SELECT ` + userCols + ` FROM users WHERE id = ?`
	qUserByEmail = `SELECT ` + userCols + ` FROM users WHERE email = ?`
	// Member pages: one statement per filter, each served by its own index
	// in id order (no sort).
	qMembers           = `SELECT ` + userCols + ` FROM users WHERE org_id = ? AND id > ? ORDER BY id LIMIT ?`
	qMembersRole       = `SELECT ` + userCols + ` FROM users WHERE org_id = ? AND role = ? AND id > ? ORDER BY id LIMIT ?`
	qMembersStatus     = `SELECT ` + userCols + ` FROM users WHERE org_id = ? AND status = ? AND id > ? ORDER BY id LIMIT ?`
	qMembersRoleStatus = `SELECT ` + userCols + ` FROM users INDEXED BY users_org_role WHERE org_id = ? AND role = ? AND status = ? AND id > ? ORDER BY id LIMIT ?`
	qInsertUser        = `INSERT INTO users (` + userCols + `) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`
	qChangeStatus      = `UPDATE users SET status = ?, updated_at = ?,
		vetted_by = coalesce(?, vetted_by), vetted_at = coalesce(?, vetted_at), vetting_note = coalesce(?, vetting_note),
		suspended_by = coalesce(?, suspended_by), suspended_at = coalesce(?, suspended_at), suspension_reason = coalesce(?, suspension_reason)
		WHERE id = ? AND org_id = ? AND status = ?`
	qUpdateNameLanguage = `UPDATE users SET name = coalesce(?, name), language = coalesce(?, language), updated_at = ? WHERE id = ?`

	qOrgByID = `SELECT id, name, time_zone, created_at FROM organisations WHERE id = ?`

	qRefreshByHash = `SELECT hash, family, user_id, created_at, expires_at FROM refresh_tokens WHERE hash = ?`
	qSpendRefresh  = `UPDATE refresh_tokens SET spent_at = ? WHERE hash = ? AND spent_at IS NULL`
	qInsertRefresh = `INSERT INTO refresh_tokens (hash, family, user_id, created_at, expires_at) VALUES (?,?,?,?,?)`
	qSignInByID    = `SELECT id, user_id, created_at, revoked, revoked_at, why, last_seen_at FROM sign_ins WHERE id = ?`
	qSignInsOf     = `SELECT id, user_id, created_at, revoked, revoked_at, why, last_seen_at FROM sign_ins WHERE user_id = ? ORDER BY created_at, id LIMIT ?`
	qTouchSignIn   = `UPDATE sign_ins SET last_seen_at = ? WHERE id = ? AND revoked = 0 AND (last_seen_at IS NULL OR last_seen_at < ?)`
	qRevokeSignIn  = `UPDATE sign_ins SET revoked = 1, revoked_at = ?, why = ? WHERE id = ? AND revoked = 0`
	qRevokeUser    = `UPDATE sign_ins SET revoked = 1, revoked_at = ?, why = ? WHERE user_id = ? AND revoked = 0`
	qSweepRefresh  = `DELETE FROM refresh_tokens WHERE expires_at <= ?`
	qSweepSignIns  = `DELETE FROM sign_ins WHERE revoked_at IS NOT NULL AND revoked_at <= ?`

	qFailureTimes  = `SELECT at FROM login_failures WHERE key = ? AND at > ? ORDER BY at DESC LIMIT ?`
	qClearFailures = `DELETE FROM login_failures WHERE key = ?`
	qSweepFailures = `DELETE FROM login_failures WHERE at <= ?`

	auditCols          = `id, actor, subject, action, at`
	qAuditBySubject    = `SELECT ` + auditCols + ` FROM audit WHERE subject = ? ORDER BY at DESC, id DESC LIMIT ?`
	qAuditBySubjectPg  = `SELECT ` + auditCols + ` FROM audit WHERE subject = ? AND (at, id) < (?, ?) ORDER BY at DESC, id DESC LIMIT ?`
	qAuditByActor      = `SELECT ` + auditCols + ` FROM audit WHERE actor = ? ORDER BY at DESC, id DESC LIMIT ?`
	qAuditByActorPg    = `SELECT ` + auditCols + ` FROM audit WHERE actor = ? AND (at, id) < (?, ?) ORDER BY at DESC, id DESC LIMIT ?`
	qCountAuditSubject = `SELECT count(*) FROM audit WHERE subject = ?`
	qCountAuditActor   = `SELECT count(*) FROM audit WHERE actor = ?`
	// In batches, so that a first sweep over years of entries does not hold
	// the write lock for long.
	qSweepAudit = `DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ? LIMIT 2000)`
)

type scanner interface{ Scan(dest ...any) error }

func scanUser(r scanner) (UserRecord, error) {
	var u UserRecord
	var created, updated int64
	var vettedAt, suspendedAt sql.NullInt64
	var vettedBy, note, suspendedBy, reason string
	err := r.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.Name, &u.Role, &u.OrgID, &u.Status, &u.Language, &created, &updated,
		&vettedBy, &vettedAt, &note, &suspendedBy, &suspendedAt, &reason)
	if errors.Is(err, sql.ErrNoRows) {
		return u, ErrNotFound
	}
	if err != nil {
		return u, err
	}
	u.CreatedAt, u.UpdatedAt = sqlite.Time(created), sqlite.Time(updated)
	if vettedAt.Valid {
		u.Vetting = &Vetting{By: vettedBy, At: sqlite.Time(vettedAt.Int64), Note: note}
	}
	if suspendedAt.Valid {
		u.Suspension = &Suspension{By: suspendedBy, At: sqlite.Time(suspendedAt.Int64), Reason: reason}
	}
	return u, nil
}

func (s *sqliteStore) users(ctx context.Context, q string, args ...any) ([]UserRecord, error) {
	rows, err := s.d.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []UserRecord
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// userArgs are qInsertUser's arguments for u.
func userArgs(u UserRecord) []any {
	var vBy, vNote, sBy, sReason string
	var vAt, sAt any
	if v := u.Vetting; v != nil {
		vBy, vNote, vAt = v.By, v.Note, sqlite.Millis(v.At)
	}
	if x := u.Suspension; x != nil {
		sBy, sReason, sAt = x.By, x.Reason, sqlite.Millis(x.At)
	}
	return []any{u.ID, NormalizeEmail(u.Email), u.PasswordHash, u.Name, string(u.Role), u.OrgID,
		string(u.Status), u.Language, sqlite.Millis(u.CreatedAt), sqlite.Millis(u.UpdatedAt), vBy, vAt, vNote, sBy, sAt, sReason}
}

func (s *sqliteStore) InsertUser(ctx context.Context, u UserRecord) error {
	_, err := s.d.ExecContext(ctx, qInsertUser, userArgs(u)...)
	if sqlite.IsUnique(err) {
		return ErrDuplicate
	}
	return err
}

func (s *sqliteStore) User(ctx context.Context, id string) (UserRecord, error) {
	return scanUser(s.d.QueryRowContext(ctx, qUserByID, id))
}

func (s *sqliteStore) UserByEmail(ctx context.Context, email string) (UserRecord, error) {
	return scanUser(s.d.QueryRowContext(ctx, qUserByEmail, NormalizeEmail(email)))
}

func (s *sqliteStore) UsersByID(ctx context.Context, ids []string) ([]UserRecord, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return s.users(ctx, `SELECT `+userCols+` FROM users WHERE id IN (?`+strings.Repeat(",?", len(ids)-1)+`)`, args...)
}

func (s *sqliteStore) Members(ctx context.Context, orgID string, q MemberQuery) ([]UserRecord, error) {
	switch {
	case q.Role != "" && q.Status != "":
		return s.users(ctx, qMembersRoleStatus, orgID, string(q.Role), string(q.Status), q.After, q.Limit)
	case q.Role != "":
		return s.users(ctx, qMembersRole, orgID, string(q.Role), q.After, q.Limit)
	case q.Status != "":
		return s.users(ctx, qMembersStatus, orgID, string(q.Status), q.After, q.Limit)
	}
	return s.users(ctx, qMembers, orgID, q.After, q.Limit)
}

func (s *sqliteStore) ChangeStatus(ctx context.Context, c StatusChange) (UserRecord, error) {
	var vBy, vAt, vNote, sBy, sAt, sReason any
	if v := c.Vetting; v != nil {
		vBy, vAt, vNote = v.By, sqlite.Millis(v.At), v.Note
	}
	if x := c.Suspension; x != nil {
		sBy, sAt, sReason = x.By, sqlite.Millis(x.At), x.Reason
	}
	var out UserRecord
	err := s.d.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, qChangeStatus, string(c.To), sqlite.Millis(c.At), vBy, vAt, vNote, sBy, sAt, sReason,
			c.UserID, c.OrgID, string(c.From))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmp(err, ErrConflict)
		}
		out, err = scanUser(tx.QueryRowContext(ctx, qUserByID, c.UserID))
		return err
	})
	return out, err
}

// cmp returns err if set, else fallback.
func cmp(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}

func (s *sqliteStore) UpdateNameLanguage(ctx context.Context, id string, name, language *string, at time.Time) (UserRecord, error) {
	var out UserRecord
	err := s.d.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, qUpdateNameLanguage, nullable(name), nullable(language), sqlite.Millis(at), id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmp(err, ErrNotFound)
		}
		out, err = scanUser(tx.QueryRowContext(ctx, qUserByID, id))
		return err
	})
	return out, err
}

func nullable(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

func (s *sqliteStore) SetPasswordHash(ctx context.Context, id, hash string) error {
	_, err := s.d.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, hash, id)
	return err
}

func (s *sqliteStore) EraseUser(ctx context.Context, id string) error {
	return s.d.Write(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`DELETE FROM refresh_tokens WHERE user_id = ?`,
			`DELETE FROM sign_ins WHERE user_id = ?`,
			`DELETE FROM users WHERE id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *sqliteStore) InsertOrganisation(ctx context.Context, o Organisation) error {
	_, err := s.d.ExecContext(ctx, `INSERT INTO organisations (id, name, time_zone, created_at) VALUES (?,?,?,?)`,
		o.ID, o.Name, o.TimeZone, sqlite.Millis(o.CreatedAt))
	if sqlite.IsUnique(err) {
		return ErrDuplicate
	}
	return err
}

func (s *sqliteStore) Organisation(ctx context.Context, id string) (Organisation, error) {
	var o Organisation
	var created int64
	err := s.d.QueryRowContext(ctx, qOrgByID, id).Scan(&o.ID, &o.Name, &o.TimeZone, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return o, ErrNotFound
	}
	o.CreatedAt = sqlite.Time(created)
	return o, err
}

func (s *sqliteStore) StartSignIn(ctx context.Context, si SignIn, first RefreshRecord) error {
	return s.d.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO sign_ins (id, user_id, created_at) VALUES (?,?,?)`,
			si.ID, si.UserID, sqlite.Millis(si.CreatedAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, qInsertRefresh, first.Hash, first.Family, first.UserID,
			sqlite.Millis(first.CreatedAt), sqlite.Millis(first.ExpiresAt))
		return err
	})
}

func (s *sqliteStore) RefreshToken(ctx context.Context, hash string) (RefreshRecord, error) {
	var r RefreshRecord
	var created, expires int64
	err := s.d.QueryRowContext(ctx, qRefreshByHash, hash).Scan(&r.Hash, &r.Family, &r.UserID, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	r.CreatedAt, r.ExpiresAt = sqlite.Time(created), sqlite.Time(expires)
	return r, err
}

func scanSignIn(r scanner) (SignIn, error) {
	var si SignIn
	var created int64
	var revoked int
	var revokedAt, lastSeen sql.NullInt64
	err := r.Scan(&si.ID, &si.UserID, &created, &revoked, &revokedAt, &si.Why, &lastSeen)
	if errors.Is(err, sql.ErrNoRows) {
		return si, ErrNotFound
	}
	si.CreatedAt, si.Revoked = sqlite.Time(created), revoked != 0
	if revokedAt.Valid {
		t := sqlite.Time(revokedAt.Int64)
		si.RevokedAt = &t
	}
	if lastSeen.Valid {
		t := sqlite.Time(lastSeen.Int64)
		si.LastSeenAt = &t
	}
	return si, err
}

func (s *sqliteStore) SignIn(ctx context.Context, id string) (SignIn, error) {
	return scanSignIn(s.d.QueryRowContext(ctx, qSignInByID, id))
}

// RotateRefreshToken: the conditional UPDATE inside BEGIN IMMEDIATE is the
// arbiter; the write lock is the database file's, so it holds across
// processes too.
func (s *sqliteStore) RotateRefreshToken(ctx context.Context, spent string, next RefreshRecord, at time.Time) error {
	return s.d.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, qSpendRefresh, sqlite.Millis(at), spent)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return cmp(err, ErrConflict)
		}
		_, err = tx.ExecContext(ctx, qInsertRefresh, next.Hash, next.Family, next.UserID,
			sqlite.Millis(next.CreatedAt), sqlite.Millis(next.ExpiresAt))
		return err
	})
}

func (s *sqliteStore) TouchSignIn(ctx context.Context, id string, at time.Time) error {
	_, err := s.d.ExecContext(ctx, qTouchSignIn, sqlite.Millis(at), id, sqlite.Millis(at))
	return err
}

func (s *sqliteStore) RevokeSignIn(ctx context.Context, id, why string, at time.Time) error {
	_, err := s.d.ExecContext(ctx, qRevokeSignIn, sqlite.Millis(at), why, id)
	return err
}

func (s *sqliteStore) RevokeUserSignIns(ctx context.Context, userID, why string, at time.Time) error {
	_, err := s.d.ExecContext(ctx, qRevokeUser, sqlite.Millis(at), why, userID)
	return err
}

func (s *sqliteStore) SignInsOf(ctx context.Context, userID string, limit int) ([]SignIn, error) {
	rows, err := s.d.QueryContext(ctx, qSignInsOf, userID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SignIn
	for rows.Next() {
		si, err := scanSignIn(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, si)
	}
	return out, rows.Err()
}

func (s *sqliteStore) SweepSignIns(ctx context.Context, now, revokedBefore time.Time) error {
	return s.d.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, qSweepRefresh, sqlite.Millis(now)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, qSweepSignIns, sqlite.Millis(revokedBefore))
		return err
	})
}

func (s *sqliteStore) RecordFailures(ctx context.Context, fs []Failure) error {
	return s.d.Write(ctx, func(tx *sql.Tx) error {
		for _, f := range fs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO login_failures (id, key, at) VALUES (?,?,?)`, f.ID, f.Key, sqlite.Millis(f.At)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *sqliteStore) FailureTimes(ctx context.Context, key string, since time.Time, limit int) ([]time.Time, error) {
	rows, err := s.d.QueryContext(ctx, qFailureTimes, key, sqlite.Millis(since), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var at int64
		if err := rows.Scan(&at); err != nil {
			return nil, err
		}
		out = append(out, sqlite.Time(at))
	}
	return out, rows.Err()
}

func (s *sqliteStore) ForgetFailure(ctx context.Context, id string) error {
	_, err := s.d.ExecContext(ctx, `DELETE FROM login_failures WHERE id = ?`, id)
	return err
}

func (s *sqliteStore) ClearFailures(ctx context.Context, key string) error {
	_, err := s.d.ExecContext(ctx, qClearFailures, key)
	return err
}

func (s *sqliteStore) DeleteFailuresBefore(ctx context.Context, t time.Time) error {
	_, err := s.d.ExecContext(ctx, qSweepFailures, sqlite.Millis(t))
	return err
}

func (s *sqliteStore) AppendAudit(ctx context.Context, es []AuditEntry) error {
	if len(es) == 0 {
		return nil
	}
	return s.d.Write(ctx, func(tx *sql.Tx) error {
		ins, err := tx.PrepareContext(ctx, `INSERT INTO audit (`+auditCols+`) VALUES (?,?,?,?,?) ON CONFLICT (id) DO NOTHING`)
		if err != nil {
			return err
		}
		defer ins.Close()
		for _, e := range es {
			if _, err := ins.ExecContext(ctx, e.ID, e.Actor, e.Subject, e.Action, sqlite.Millis(e.At)); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *sqliteStore) AuditEntries(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	key, first, next := q.Subject, qAuditBySubject, qAuditBySubjectPg
	if key == "" {
		key, first, next = q.Actor, qAuditByActor, qAuditByActorPg
	}
	var rows *sql.Rows
	var err error
	if q.Before != nil {
		rows, err = s.d.QueryContext(ctx, next, key, sqlite.Millis(q.Before.At), q.Before.ID, q.Limit)
	} else {
		rows, err = s.d.QueryContext(ctx, first, key, q.Limit)
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &e.Actor, &e.Subject, &e.Action, &at); err != nil {
			return nil, err
		}
		e.At = sqlite.Time(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

func (s *sqliteStore) CountAudit(ctx context.Context, q AuditQuery) (int, error) {
	query, key := qCountAuditSubject, q.Subject
	if key == "" {
		query, key = qCountAuditActor, q.Actor
	}
	var n int
	err := s.d.QueryRowContext(ctx, query, key).Scan(&n)
	return n, err
}

func (s *sqliteStore) DeleteAuditBefore(ctx context.Context, t time.Time) (int, error) {
	total := 0
	for {
		res, err := s.d.ExecContext(ctx, qSweepAudit, sqlite.Millis(t))
		if err != nil {
			return total, fmt.Errorf("sweep audit: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += int(n)
		if n < 2000 {
			return total, nil
		}
	}
}
