package auth

import (
	"context"
	"errors"
	"time"
)

// Errors every Store engine returns; the domain maps them to fault kinds.
var (
	// ErrNotFound: no such user, organisation, sign-in or refresh token.
	ErrNotFound = errors.New("auth: not found")
	// ErrDuplicate: the email (in any case) or the id is taken.
	ErrDuplicate = errors.New("auth: duplicate")
	// ErrConflict: a conditional write lost (the account's status changed
	// meanwhile, or the refresh token was spent already).
	ErrConflict = errors.New("auth: conflict")
)

// Store is what the accounts domain asks of its database. Engines:
// NewSQLiteStore and NewMongoStore. Emails are kept in NormalizeEmail form
// by the engine, so uniqueness and lookups ignore case on both engines.
type Store interface {
	// InsertUser adds an account; ErrDuplicate if its email or id is taken.
	InsertUser(ctx context.Context, u UserRecord) error
	// User returns one account; ErrNotFound if there is none.
	User(ctx context.Context, id string) (UserRecord, error)
	// UserByEmail returns the account with this email (any case); ErrNotFound.
	UserByEmail(ctx context.Context, email string) (UserRecord, error)
	// UsersByID returns the accounts with these ids, missing ones left out.
	UsersByID(ctx context.Context, ids []string) ([]UserRecord, error)
	// Members lists an organisation's accounts in id order, after q.After.
	Members(ctx context.Context, orgID string, q MemberQuery) ([]UserRecord, error)
	// ChangeStatus moves a member of c.OrgID from c.From to c.To, recording
	// the vetting or suspension; ErrConflict if the account is not (or no
	// longer) in c.From, so two coordinators at once make one change.
	ChangeStatus(ctx context.Context, c StatusChange) (UserRecord, error)
	// UpdateNameLanguage changes the fields that are not nil; ErrNotFound.
	UpdateNameLanguage(ctx context.Context, id string, name, language *string, at time.Time) (UserRecord, error)
	// SetPasswordHash replaces an account's hash (re-hash with new costs).
	SetPasswordHash(ctx context.Context, id, hash string) error
	// EraseUser deletes the account, its sign-ins and refresh tokens. Audit
	// entries stay (ids only). Erasing a missing account is no error.
	EraseUser(ctx context.Context, id string) error

	// InsertOrganisation adds an organisation; ErrDuplicate if the id is taken.
	InsertOrganisation(ctx context.Context, o Organisation) error
	// Organisation returns one organisation; ErrNotFound.
	Organisation(ctx context.Context, id string) (Organisation, error)
	// SetOrgContact sets an organisation's contact (ErrNotFound without the
	// organisation); OrgContact reads it (ErrNotFound when none is set).
	SetOrgContact(ctx context.Context, c OrgContact) error
	OrgContact(ctx context.Context, orgID string) (OrgContact, error)

	// InsertInvite stores a new invite; ErrDuplicate if its code is taken.
	InsertInvite(ctx context.Context, inv Invite) error
	// Invite returns the invite with this code; ErrNotFound.
	Invite(ctx context.Context, code string) (Invite, error)
	// Invites lists an organisation's invites by code, after the code after.
	Invites(ctx context.Context, orgID, after string, limit int) ([]Invite, error)
	// DeleteInvite removes orgID's invite with this code; ErrNotFound.
	DeleteInvite(ctx context.Context, orgID, code string) error
	// RegisterWithInvite counts one use of the invite code and inserts u,
	// both or neither: ErrNotFound if there is no such code; ErrConflict if
	// it is not for u.Role, has expired at at or is used up (the use is the
	// arbiter: of any number of concurrent calls, in one process or
	// several, at most the remaining uses succeed); ErrDuplicate if u's
	// email or id is taken (no use is spent).
	RegisterWithInvite(ctx context.Context, code string, u UserRecord, at time.Time) error

	// StartSignIn records a new sign-in (refresh-token family) and its first token.
	StartSignIn(ctx context.Context, s SignIn, first RefreshRecord) error
	// RefreshToken returns a refresh token by its hash; ErrNotFound.
	RefreshToken(ctx context.Context, hash string) (RefreshRecord, error)
	// SignIn returns a sign-in; ErrNotFound.
	SignIn(ctx context.Context, id string) (SignIn, error)
	// RotateRefreshToken spends the token with hash spent and stores next.
	// Exactly one of any number of concurrent calls for one token succeeds,
	// in one process or several; the others get ErrConflict.
	RotateRefreshToken(ctx context.Context, spent string, next RefreshRecord, at time.Time) error
	// RevokeSignIn ends one sign-in (no-op if it is revoked or gone).
	RevokeSignIn(ctx context.Context, id, why string, at time.Time) error
	// RevokeUserSignIns ends every sign-in of a user.
	RevokeUserSignIns(ctx context.Context, userID, why string, at time.Time) error
	// TouchSignIn records at as the sign-in's last use. An earlier time
	// never replaces a later one (replicas touch concurrently); a missing
	// or revoked sign-in is left alone, without an error.
	TouchSignIn(ctx context.Context, id string, at time.Time) error
	// SignInsOf returns a user's sign-ins, oldest first, at most limit.
	SignInsOf(ctx context.Context, userID string, limit int) ([]SignIn, error)
	// SweepSignIns deletes refresh tokens expired at now and sign-ins
	// revoked before revokedBefore.
	SweepSignIns(ctx context.Context, now, revokedBefore time.Time) error

	// RecordFailures stores failed (or not yet successful) sign-in attempts.
	RecordFailures(ctx context.Context, fs []Failure) error
	// FailureTimes returns the times of key's failures after since, newest
	// first, at most limit.
	FailureTimes(ctx context.Context, key string, since time.Time, limit int) ([]time.Time, error)
	// ForgetFailure deletes one failure by id.
	ForgetFailure(ctx context.Context, id string) error
	// ClearFailures deletes every failure of key.
	ClearFailures(ctx context.Context, key string) error
	// DeleteFailuresBefore deletes failures at or before t.
	DeleteFailuresBefore(ctx context.Context, t time.Time) error

	// AppendAudit stores entries; ids already stored are skipped, so an
	// import can be run again.
	AppendAudit(ctx context.Context, es []AuditEntry) error
	// AuditEntries returns the entries about q.Subject (or by q.Actor),
	// newest first, strictly before q.Before when it is set.
	AuditEntries(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
	// CountAudit counts the entries q selects (Before and Limit ignored).
	CountAudit(ctx context.Context, q AuditQuery) (int, error)
	// DeleteAuditBefore deletes entries older than t and says how many.
	DeleteAuditBefore(ctx context.Context, t time.Time) (int, error)
}

// UserRecord is an account as stored: the User and its password hash.
type UserRecord struct {
	User
	PasswordHash string
	UpdatedAt    time.Time
}

// MemberQuery narrows Members: empty Role/Status match all; After is the
// last id of the previous page.
type MemberQuery struct {
	Role   Role
	Status Status
	After  string
	Limit  int
}

// StatusChange is an approval (Vetting set) or a suspension (Suspension set).
type StatusChange struct {
	UserID, OrgID string
	From, To      Status
	Vetting       *Vetting
	Suspension    *Suspension
	At            time.Time
}

// SignIn is one sign-in (RFC 9700 "token family"): every refresh token
// rotated from it shares it, and revoking it ends them all.
type SignIn struct {
	ID        string
	UserID    string
	CreatedAt time.Time
	Revoked   bool
	RevokedAt *time.Time
	Why       string
	// LastSeenAt is the last TouchSignIn, nil if none.
	LastSeenAt *time.Time
}

// RefreshRecord is a refresh token, known only by its SHA-256.
type RefreshRecord struct {
	Hash      string
	Family    string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Failure is one counted sign-in attempt under a throttle key (a digest:
// no email or address in clear).
type Failure struct {
	ID  string
	Key string
	At  time.Time
}

// AuditQuery selects audit entries by Subject or, if empty, by Actor.
type AuditQuery struct {
	Subject string
	Actor   string
	// Before is the last entry of the previous page (newest-first order).
	Before *AuditEntry
	Limit  int
}
