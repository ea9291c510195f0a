package notify

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/clavis-app/clavis/internal/sqlite"
)

//go:embed migrations/*.sql
var migrations embed.FS

// sqliteStore is the Store on the embedded SQLite file. Every decision is
// one conditional statement or one write transaction (BEGIN IMMEDIATE), so
// it holds across goroutines and across processes sharing the file.
type sqliteStore struct {
	d *sqlite.DB
}

// NewSQLiteStore applies notify's migrations to d and returns its Store.
func NewSQLiteStore(ctx context.Context, d *sqlite.DB) (Store, error) {
	if err := d.MigrateEmbedded(ctx, migrations, "notify_schema"); err != nil {
		return nil, err
	}
	return &sqliteStore{d: d}, nil
}

// The hot queries, named so that TestSQLiteHotQueriesUseIndexes plans the
// very strings the engine runs.
const (
	qDeviceByToken = `SELECT user_id, registered_at FROM devices WHERE token = ?`
	qTrimDevices   = `DELETE FROM devices WHERE token IN
		(SELECT token FROM devices WHERE user_id = ? ORDER BY updated_at DESC, token LIMIT -1 OFFSET ?)`
	qDevicesOfUsers = `SELECT token, user_id, platform, registered_at, updated_at FROM devices
		WHERE user_id IN (SELECT value FROM json_each(?)) LIMIT ?`

	jobColumns = `id, dedup_key, kind, type, outing_id, org_id, audience, recipient, starts_at, deadline,
		due_at, run_at, attempt, failures, last_error, delivered, created_at, lease_owner, lease_token, lease_until`
	qInsertJob = `INSERT INTO push_jobs (id, dedup_key, kind, type, outing_id, org_id, audience, recipient, starts_at,
		deadline, due_at, run_at, next_at, attempt, failures, last_error, delivered, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`
	// The claim: the earliest due jobs nobody holds, leased in one
	// statement; next_at moves to the lease's end, so the job is claimable
	// again only when the lease runs out.
	qClaimDue = `UPDATE push_jobs SET attempt = attempt + 1, lease_owner = ?, lease_token = ?, lease_until = ?, next_at = ?
		WHERE id IN (SELECT id FROM push_jobs WHERE outcome = '' AND next_at <= ? ORDER BY next_at LIMIT ?)
		RETURNING ` + jobColumns
	// qAnyDue lets an idle worker find nothing due without taking the write lock.
	qAnyDue  = `SELECT 1 FROM push_jobs WHERE outcome = '' AND next_at <= ? LIMIT 1`
	qNextDue = `SELECT min(next_at) FROM push_jobs WHERE outcome = '' AND next_at > ?`
	qFinish  = `UPDATE push_jobs SET outcome = ?, last_error = ?, finished_at = ?, lease_until = 0, next_at = 0
		WHERE id = ? AND outcome = '' AND lease_token = ?`
	qRetry = `UPDATE push_jobs SET run_at = ?, next_at = ?, failures = ?, last_error = ?, delivered = ?, lease_token = '', lease_until = 0
		WHERE id = ? AND outcome = '' AND lease_token = ?`
	qRelease = `UPDATE push_jobs SET next_at = run_at, attempt = attempt - 1, lease_owner = '', lease_token = '', lease_until = 0
		WHERE id = ? AND outcome = '' AND lease_token = ?`
	qOutingJobs    = `SELECT ` + jobColumns + ` FROM push_jobs WHERE outing_id = ? AND outcome = ''`
	qDeleteJob     = `DELETE FROM push_jobs WHERE id = ? AND outcome = ''`
	qFinishedJob   = `SELECT outcome, last_error, attempt, lease_owner, finished_at FROM push_jobs WHERE id = ? AND outcome <> ''`
	qPendingOf     = `SELECT ` + jobColumns + ` FROM push_jobs WHERE recipient = ? AND outcome = '' LIMIT 1000`
	qEventSeen     = `SELECT 1 FROM push_events WHERE id = ?`
	qSweepJobs     = `DELETE FROM push_jobs WHERE outcome <> '' AND finished_at < ?`
	qSweepEvents   = `DELETE FROM push_events WHERE seen_at < ?`
	qRecordEvent   = `INSERT INTO push_events (id, seen_at) VALUES (?, ?) ON CONFLICT DO NOTHING`
	qEraseJobs     = `DELETE FROM push_jobs WHERE recipient = ?`
	qEraseDevices  = `DELETE FROM devices WHERE user_id = ?`
	qPruneToken    = `DELETE FROM devices WHERE token = ?`
	qDeleteDevice  = `DELETE FROM devices WHERE token = ? AND user_id = ?`
	qInsertDevice  = `INSERT INTO devices (token, user_id, platform, registered_at, updated_at) VALUES (?, ?, ?, ?, ?)`
	qUpdateDevice  = `UPDATE devices SET user_id = ?, platform = ?, registered_at = ?, updated_at = ? WHERE token = ?`
	qRefreshDevice = `UPDATE devices SET platform = ?, updated_at = ? WHERE token = ?`
)

func (s *sqliteStore) RegisterDevice(ctx context.Context, userID, token, platform string, now time.Time, keep int) (Device, bool, error) {
	dev := Device{Token: token, UserID: userID, Platform: platform, RegisteredAt: now, UpdatedAt: now}
	created := true
	err := s.d.Write(ctx, func(tx *sql.Tx) error {
		var owner string
		var registered int64
		err := tx.QueryRowContext(ctx, qDeviceByToken, token).Scan(&owner, &registered)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			_, err = tx.ExecContext(ctx, qInsertDevice, token, userID, platform, sqlite.Millis(now), sqlite.Millis(now))
		case err != nil:
		case owner == userID:
			created = false
			dev.RegisteredAt = sqlite.Time(registered)
			_, err = tx.ExecContext(ctx, qRefreshDevice, platform, sqlite.Millis(now), token)
			return err
		default:
			_, err = tx.ExecContext(ctx, qUpdateDevice, userID, platform, sqlite.Millis(now), sqlite.Millis(now), token)
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, qTrimDevices, userID, keep)
		return err
	})
	if err != nil {
		return Device{}, false, fmt.Errorf("register device: %w", err)
	}
	return dev, created, nil
}

func (s *sqliteStore) DeleteDevice(ctx context.Context, userID, token string) error {
	res, err := s.d.ExecContext(ctx, qDeleteDevice, token, userID)
	if err != nil {
		return fmt.Errorf("unregister device: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

func (s *sqliteStore) DevicesOfUsers(ctx context.Context, userIDs []string, limit int) ([]Device, error) {
	ids, _ := json.Marshal(userIDs)
	rows, err := s.d.QueryContext(ctx, qDevicesOfUsers, string(ids), limit)
	if err != nil {
		return nil, fmt.Errorf("find devices: %w", err)
	}
	defer rows.Close()
	var out []Device
	for rows.Next() {
		var d Device
		var reg, upd int64
		if err := rows.Scan(&d.Token, &d.UserID, &d.Platform, &reg, &upd); err != nil {
			return nil, err
		}
		d.RegisteredAt, d.UpdatedAt = sqlite.Time(reg), sqlite.Time(upd)
		out = append(out, d)
	}
	return out, rows.Err()
}

func (s *sqliteStore) PruneToken(ctx context.Context, token string) error {
	_, err := s.d.ExecContext(ctx, qPruneToken, token)
	return err
}

func (s *sqliteStore) EraseUserDevices(ctx context.Context, userID string) error {
	_, err := s.d.ExecContext(ctx, qEraseDevices, userID)
	return err
}

func (s *sqliteStore) EnqueueJobs(ctx context.Context, jobs []Job) (int, error) {
	if len(jobs) == 0 {
		return 0, nil
	}
	n := 0
	err := s.d.Write(ctx, func(tx *sql.Tx) error {
		n = 0
		stmt, err := tx.PrepareContext(ctx, qInsertJob)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, j := range jobs {
			delivered, _ := json.Marshal(nonNil(j.Delivered))
			res, err := stmt.ExecContext(ctx, j.ID, j.DedupKey, j.Kind, j.Type, j.OutingID, j.OrgID, j.Audience, j.Recipient,
				sqlite.Millis(j.StartsAt), sqlite.Millis(j.Deadline), sqlite.Millis(j.DueAt), sqlite.Millis(j.RunAt),
				sqlite.Millis(j.RunAt), j.Attempt, j.Failures, j.LastError, string(delivered), sqlite.Millis(j.CreatedAt))
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("insert push jobs: %w", err)
	}
	return n, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (s *sqliteStore) ClaimDueJobs(ctx context.Context, owner string, now time.Time, lease time.Duration, n int) ([]Job, error) {
	var one int
	err := s.d.QueryRowContext(ctx, qAnyDue, sqlite.Millis(now)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find due push jobs: %w", err)
	}
	until := sqlite.Millis(now.Add(lease))
	token := randomID(12)
	var out []Job
	err = s.d.Write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, qClaimDue, owner, token, until, until, sqlite.Millis(now), n)
		if err != nil {
			return err
		}
		out, err = scanJobs(rows)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("claim push jobs: %w", err)
	}
	slices.SortFunc(out, func(a, b Job) int { return a.RunAt.Compare(b.RunAt) })
	return out, nil
}

func (s *sqliteStore) NextClaimableAt(ctx context.Context, now time.Time) (time.Time, error) {
	var next sql.NullInt64
	if err := s.d.QueryRowContext(ctx, qNextDue, sqlite.Millis(now)).Scan(&next); err != nil {
		return time.Time{}, err
	}
	return sqlite.Time(next.Int64), nil
}

func (s *sqliteStore) FinishJob(ctx context.Context, c Claim, f Finish) error {
	return s.leased(ctx, "record push outcome", qFinish, f.Outcome, f.LastError, sqlite.Millis(f.At), c.JobID, c.Token)
}

func (s *sqliteStore) RetryJobAt(ctx context.Context, c Claim, runAt time.Time, r Attempt) error {
	delivered, _ := json.Marshal(nonNil(r.Delivered))
	return s.leased(ctx, "reschedule push job", qRetry, sqlite.Millis(runAt), sqlite.Millis(runAt), r.Failures, r.LastError,
		string(delivered), c.JobID, c.Token)
}

func (s *sqliteStore) ReleaseJob(ctx context.Context, c Claim) error {
	err := s.leased(ctx, "release push job", qRelease, c.JobID, c.Token)
	if errors.Is(err, ErrLeaseLost) {
		return nil
	}
	return err
}

// leased runs a write conditional on the claim's token still being the
// job's: one statement, so no check-then-write gap.
func (s *sqliteStore) leased(ctx context.Context, what, query string, args ...any) error {
	res, err := s.d.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrLeaseLost
	}
	return nil
}

func (s *sqliteStore) OutingJobs(ctx context.Context, outingID string) ([]Job, error) {
	rows, err := s.d.QueryContext(ctx, qOutingJobs, outingID)
	if err != nil {
		return nil, fmt.Errorf("find outing push jobs: %w", err)
	}
	js, err := scanJobs(rows)
	return slices.DeleteFunc(js, func(j Job) bool { return j.Kind != kindReminder && j.Kind != kindCheckin }), err
}

func (s *sqliteStore) DropOutingJobs(ctx context.Context, outingID string, d Drop) (int, error) {
	n := 0
	err := s.d.Write(ctx, func(tx *sql.Tx) error {
		n = 0
		rows, err := tx.QueryContext(ctx, qOutingJobs, outingID)
		if err != nil {
			return err
		}
		js, err := scanJobs(rows)
		if err != nil {
			return err
		}
		for _, j := range js {
			if !d.SelectsJob(j) {
				continue
			}
			if _, err := tx.ExecContext(ctx, qDeleteJob, j.ID); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("drop push jobs: %w", err)
	}
	return n, nil
}

func (s *sqliteStore) FinishedJob(ctx context.Context, jobID string) (Finished, error) {
	var f Finished
	var at int64
	err := s.d.QueryRowContext(ctx, qFinishedJob, jobID).Scan(&f.Outcome, &f.LastError, &f.Attempt, &f.Owner, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return Finished{}, ErrNotFound
	}
	f.At = sqlite.Time(at)
	return f, err
}

func (s *sqliteStore) PendingJobsOf(ctx context.Context, userID string) ([]Job, error) {
	rows, err := s.d.QueryContext(ctx, qPendingOf, userID)
	if err != nil {
		return nil, fmt.Errorf("export push jobs: %w", err)
	}
	return scanJobs(rows)
}

func (s *sqliteStore) EraseRecipient(ctx context.Context, userID string) error {
	if userID == "" {
		return nil // coordinator pushes have no recipient of their own
	}
	_, err := s.d.ExecContext(ctx, qEraseJobs, userID)
	return err
}

func (s *sqliteStore) EventSeen(ctx context.Context, eventID string) (bool, error) {
	var one int
	err := s.d.QueryRowContext(ctx, qEventSeen, eventID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

func (s *sqliteStore) RecordEvent(ctx context.Context, eventID string, at time.Time) error {
	_, err := s.d.ExecContext(ctx, qRecordEvent, eventID, sqlite.Millis(at))
	return err
}

func (s *sqliteStore) Sweep(ctx context.Context, before time.Time) error {
	if _, err := s.d.ExecContext(ctx, qSweepJobs, sqlite.Millis(before)); err != nil {
		return err
	}
	_, err := s.d.ExecContext(ctx, qSweepEvents, sqlite.Millis(before))
	return err
}

func scanJobs(rows *sql.Rows) ([]Job, error) {
	defer rows.Close()
	var out []Job
	for rows.Next() {
		var j Job
		var starts, deadline, due, run, created, until int64
		var delivered string
		if err := rows.Scan(&j.ID, &j.DedupKey, &j.Kind, &j.Type, &j.OutingID, &j.OrgID, &j.Audience, &j.Recipient,
			&starts, &deadline, &due, &run, &j.Attempt, &j.Failures, &j.LastError, &delivered, &created,
			&j.Claim.Owner, &j.Claim.Token, &until); err != nil {
			return nil, err
		}
		j.StartsAt, j.Deadline, j.DueAt, j.RunAt, j.CreatedAt = sqlite.Time(starts), sqlite.Time(deadline), sqlite.Time(due), sqlite.Time(run), sqlite.Time(created)
		if err := json.Unmarshal([]byte(delivered), &j.Delivered); err != nil {
			return nil, fmt.Errorf("push job %s: delivered: %w", j.ID, err)
		}
		if len(j.Delivered) == 0 {
			j.Delivered = nil
		}
		if j.Claim.Token != "" {
			j.Claim.JobID, j.Claim.Attempt, j.Claim.Until = j.ID, j.Attempt, sqlite.Time(until)
		} else {
			j.Claim = Claim{}
		}
		out = append(out, j)
	}
	return out, rows.Err()
}
