package notify

import (
	"context"
	"errors"
	"time"
)

// Store keeps notify's devices, push jobs and consumed events. Two engines
// implement it: SQLite (store_sqlite.go) and MongoDB/FerretDB
// (store_mongo.go); store_contract_test.go holds both to the same rules.
type Store interface {
	// RegisterDevice records that token belongs to userID now: a token is
	// unique, moves to the latest user who registers it, and a user keeps at
	// most keep devices (the least recently registered are forgotten).
	// created is false only when the user had the token already.
	RegisterDevice(ctx context.Context, userID, token, platform string, now time.Time, keep int) (dev Device, created bool, err error)
	// DeleteDevice removes userID's own token; another user's or an unknown
	// token is ErrNotFound.
	DeleteDevice(ctx context.Context, userID, token string) error
	// DevicesOfUsers returns the devices of the given users, at most limit.
	DevicesOfUsers(ctx context.Context, userIDs []string, limit int) ([]Device, error)
	// PruneToken forgets a token FCM called dead, whoever has it.
	PruneToken(ctx context.Context, token string) error
	// EraseUserDevices forgets all of a user's devices.
	EraseUserDevices(ctx context.Context, userID string) error

	// EnqueueJobs adds the jobs whose dedup keys are new and returns how
	// many were. A key already pending, or finished and not yet swept, is a
	// no-op: making jobs is idempotent.
	EnqueueJobs(ctx context.Context, jobs []Job) (int, error)
	// ClaimDueJobs leases up to n pending jobs due at now (earliest first)
	// to owner until now+lease. No job is held by two owners while a lease
	// runs; once it ends, the next claim takes the job at Attempt+1.
	ClaimDueJobs(ctx context.Context, owner string, now time.Time, lease time.Duration, n int) ([]Job, error)
	// NextClaimableAt is the earliest time after now at which a pending job
	// falls due (zero: none known); workers sleep until then.
	NextClaimableAt(ctx context.Context, now time.Time) (time.Time, error)
	// FinishJob records a claimed job's outcome; it is then never claimed
	// again. A claim that was taken over, released, dropped or finished
	// already gets ErrLeaseLost and changes nothing.
	FinishJob(ctx context.Context, c Claim, f Finish) error
	// RetryJobAt puts a claimed job back for another attempt at runAt
	// (backoff, quiet hours), with what the attempt left. ErrLeaseLost as
	// for FinishJob.
	RetryJobAt(ctx context.Context, c Claim, runAt time.Time, r Attempt) error
	// ReleaseJob hands back an unused claim so that the job need not wait
	// for the lease to end; an outdated claim is ignored.
	ReleaseJob(ctx context.Context, c Claim) error
	// OutingJobs returns an outing's pending reminder and check-in jobs.
	OutingJobs(ctx context.Context, outingID string) ([]Job, error)
	// DropOutingJobs deletes an outing's pending jobs that d selects (the
	// outing was cancelled, moved or checked in) and returns how many.
	DropOutingJobs(ctx context.Context, outingID string, d Drop) (int, error)
	// FinishedJob tells how a job ended; ErrNotFound while it is pending or
	// after it was swept.
	FinishedJob(ctx context.Context, jobID string) (Finished, error)
	// PendingJobsOf returns the pending pushes to a user (data export).
	PendingJobsOf(ctx context.Context, userID string) ([]Job, error)
	// EraseRecipient forgets every push, pending or finished, to a user.
	EraseRecipient(ctx context.Context, userID string) error

	// EventSeen reports whether an outing event was consumed before.
	EventSeen(ctx context.Context, eventID string) (bool, error)
	// RecordEvent notes that an event was consumed (recording twice is fine).
	RecordEvent(ctx context.Context, eventID string, at time.Time) error
	// Sweep forgets finished jobs and consumed events older than before.
	Sweep(ctx context.Context, before time.Time) error
}

// Store errors.
var (
	ErrNotFound = errors.New("notify: not found")
	// ErrLeaseLost: the claim is no longer this worker's (taken over after
	// its lease, released, dropped or finished); nothing was written.
	ErrLeaseLost = errors.New("notify: push lease lost")
)

// Job is one push to one recipient (or one organisation's coordinators).
type Job struct {
	ID        string
	DedupKey  string
	Kind      string
	Type      string
	OutingID  string
	OrgID     string
	Audience  string
	Recipient string
	StartsAt  time.Time
	// Deadline is when the push stops being useful (FCM TTL ends there).
	Deadline time.Time
	// DueAt is when the push was first meant to go; RunAt moves with retries
	// and quiet hours.
	DueAt time.Time
	RunAt time.Time
	// Attempt counts claims (the current one included); Failures counts
	// failed sends.
	Attempt   int
	Failures  int
	LastError string
	// Delivered holds hashes of the tokens already reached, so that a retry
	// of a partly failed job does not repeat a push.
	Delivered []string
	CreatedAt time.Time
	// Claim is set on jobs returned by ClaimDueJobs.
	Claim Claim
}

// Claim is a lease on one attempt of a job.
type Claim struct {
	JobID   string
	Owner   string
	Token   string
	Attempt int
	Until   time.Time
}

// Finish is a finished job's result.
type Finish struct {
	Outcome   string
	LastError string
	At        time.Time
}

// Finished is how a job ended.
type Finished struct {
	Outcome   string
	LastError string
	Attempt   int
	Owner     string
	At        time.Time
}

// Attempt is what a failed or deferred attempt leaves for the next one.
type Attempt struct {
	Failures  int
	LastError string
	Delivered []string
}

// Drop selects an outing's pending jobs to delete: those of Kinds (except,
// with KeepStart, those for that start time) and event pushes of EventTypes.
type Drop struct {
	Kinds      []string
	EventTypes []string
	KeepStart  *time.Time
	// Recipient, when set, keeps the drop to that user's jobs.
	Recipient string
}

// SelectsJob reports whether d selects pending job j.
func (d Drop) SelectsJob(j Job) bool {
	return (d.Recipient == "" || j.Recipient == d.Recipient) && d.Selects(j.Kind, j.Type, j.StartsAt)
}

// Selects reports whether d selects j.
func (d Drop) Selects(kind, pushType string, startsAt time.Time) bool {
	for _, k := range d.Kinds {
		if k == kind && (d.KeepStart == nil || !startsAt.Equal(*d.KeepStart)) {
			return true
		}
	}
	if kind == kindEvent {
		for _, t := range d.EventTypes {
			if t == pushType {
				return true
			}
		}
	}
	return false
}
