package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"time"

	"github.com/clavis-app/clavis/internal/fault"
)

// RefreshTokenTTL is how long an unused refresh token stays valid; each
// refresh issues a new one, so an app used monthly stays signed in.
const RefreshTokenTTL = 30 * 24 * time.Hour

// Tokens are what a sign-in or a refresh returns.
type Tokens struct {
	AccessToken  string
	RefreshToken string
	// ExpiresIn is the access token's lifetime in seconds.
	ExpiresIn int
}

var errBadCredentials = fault.New(fault.Unauthenticated, "the email or the password is wrong")

func errRefresh(msg string) error { return fault.New(fault.Unauthenticated, "%s", msg) }

// Login checks a password and starts a new sign-in. Unknown email and wrong
// password cost one hash each and give the same error. addr is the client's
// network address, for the per-address limit.
func (s *Service) Login(ctx context.Context, email, password, addr string) (Tokens, error) {
	email = NormalizeEmail(email)
	// From here the attempt counts as a failure unless it succeeds.
	try, err := s.throttle.begin(ctx, email, addr)
	if err != nil {
		return Tokens{}, err
	}
	if len(password) > MaxPasswordLen || len(email) > MaxEmailLen {
		s.hasher.burn(ctx, "")
		return Tokens{}, errBadCredentials
	}
	d, err := s.store.UserByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		s.hasher.burn(ctx, password)
		return Tokens{}, errBadCredentials
	}
	if err != nil {
		return Tokens{}, fault.Wrap(err, "read user")
	}
	ok, stale, err := s.hasher.verify(ctx, password, d.PasswordHash)
	if err != nil {
		return Tokens{}, fault.Wrap(err, "verify password")
	}
	if !ok {
		return Tokens{}, errBadCredentials
	}
	if err := try.success(ctx); err != nil {
		return Tokens{}, err
	}
	if d.Status == StatusSuspended {
		// The password was right, so saying why costs no secrecy and spares
		// a vulnerable person from guessing what went wrong.
		return Tokens{}, fault.Forbiddenf("this account is suspended; please contact your coordinator")
	}
	if stale {
		s.rehash(ctx, d.ID, password)
	}
	now := s.now()
	fam := SignIn{ID: newID(), UserID: d.ID, CreatedAt: now}
	tok, rec, err := s.newPair(d, fam.ID)
	if err != nil {
		return Tokens{}, err
	}
	if err := s.store.StartSignIn(ctx, fam, rec); err != nil {
		return Tokens{}, fault.Wrap(err, "insert sign-in")
	}
	return tok, nil
}

// rehash upgrades a hash made with older parameters; a failure only means
// it is tried again at the next sign-in.
func (s *Service) rehash(ctx context.Context, userID, password string) {
	h, err := s.hasher.hash(ctx, password)
	if err != nil {
		return
	}
	if err := s.store.SetPasswordHash(ctx, userID, h); err != nil {
		s.log.Warn("password rehash failed", "user_id", userID, "error", err.Error())
	}
}

// newPair signs an access token and makes a refresh token of family; the
// caller stores the refresh token's record.
func (s *Service) newPair(d UserRecord, family string) (Tokens, RefreshRecord, error) {
	access, _, err := s.tokens.issue(d.ID, d.Role, d.OrgID)
	if err != nil {
		return Tokens{}, RefreshRecord{}, fault.Wrap(err, "sign access token")
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return Tokens{}, RefreshRecord{}, fault.Wrap(err, "random refresh token")
	}
	refresh := base64.RawURLEncoding.EncodeToString(raw)
	now := s.now()
	rec := RefreshRecord{Hash: hashRefresh(refresh), Family: family, UserID: d.ID, CreatedAt: now, ExpiresAt: now.Add(RefreshTokenTTL)}
	return Tokens{AccessToken: access, RefreshToken: refresh, ExpiresIn: int(AccessTokenTTL / time.Second)}, rec, nil
}

func hashRefresh(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// wellFormedRefresh rejects anything that cannot be one of our tokens
// before it reaches the database.
func wellFormedRefresh(tok string) bool {
	if len(tok) != 43 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	return err == nil && len(b) == 32
}

// Refresh spends a refresh token and returns a new pair in the same family.
// A token that was already spent revokes its whole family (RFC 9700 reuse
// detection): either the app or a thief holds a copy, and we cannot tell
// which. Two concurrent refreshes of one token are such a reuse: one wins,
// the other fails and ends the sign-in, so apps must serialise refreshes.
func (s *Service) Refresh(ctx context.Context, token string) (Tokens, error) {
	if !wellFormedRefresh(token) {
		return Tokens{}, errRefresh("the refresh token is not valid")
	}
	h := hashRefresh(token)
	rd, err := s.store.RefreshToken(ctx, h)
	if err != nil {
		return Tokens{}, refreshErr(err, "read refresh token", "the refresh token is not valid")
	}
	now := s.now()
	if !now.Before(rd.ExpiresAt) {
		return Tokens{}, errRefresh("the refresh token has expired; please sign in again")
	}
	fam, err := s.store.SignIn(ctx, rd.Family)
	if err != nil {
		return Tokens{}, refreshErr(err, "read sign-in", "this sign-in has ended; please sign in again")
	}
	if fam.Revoked {
		return Tokens{}, errRefresh("this sign-in has ended; please sign in again")
	}
	d, err := s.userRecord(ctx, rd.UserID)
	if fault.KindOf(err) == fault.NotFound || (err == nil && d.Status == StatusSuspended) {
		_ = s.revokeFamily(ctx, rd.Family, "account")
		return Tokens{}, errRefresh("this sign-in has ended; please sign in again")
	}
	if err != nil {
		return Tokens{}, err
	}
	tok, next, err := s.newPair(d, rd.Family)
	if err != nil {
		return Tokens{}, err
	}
	// The arbiter: the store lets exactly one rotation of this token
	// succeed, in any process.
	err = s.store.RotateRefreshToken(ctx, h, next, now)
	if errors.Is(err, ErrConflict) {
		if err := s.revokeFamily(ctx, rd.Family, "reuse"); err != nil {
			return Tokens{}, err
		}
		s.log.Warn("refresh token reused; sign-in revoked", "user_id", rd.UserID, "family", rd.Family)
		return Tokens{}, errRefresh("this refresh token was already used; please sign in again")
	}
	if err != nil {
		return Tokens{}, fault.Wrap(err, "spend refresh token")
	}
	return tok, nil
}

func refreshErr(err error, what, notFound string) error {
	if errors.Is(err, ErrNotFound) {
		return errRefresh(notFound)
	}
	return fault.Wrap(err, what)
}

// Logout ends the sign-in the refresh token belongs to, if it is the
// caller's. Unknown tokens are ignored: logging out twice is not an error.
func (s *Service) Logout(ctx context.Context, callerID, token string) error {
	if !wellFormedRefresh(token) {
		return nil
	}
	rd, err := s.store.RefreshToken(ctx, hashRefresh(token))
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return fault.Wrap(err, "read refresh token")
	}
	if rd.UserID != callerID {
		return nil
	}
	return s.revokeFamily(ctx, rd.Family, "logout")
}

func (s *Service) revokeFamily(ctx context.Context, family, why string) error {
	return fault.Wrap(s.store.RevokeSignIn(ctx, family, why, s.now()), "revoke sign-in")
}

// RevokeAllSessions ends every sign-in of a user (suspension, erasure).
// Access tokens already issued stop working too, because Authenticate reads
// the account's status on every request.
func (s *Service) RevokeAllSessions(ctx context.Context, userID, why string) error {
	return fault.Wrap(s.store.RevokeUserSignIns(ctx, userID, why, s.now()), "revoke sign-ins")
}

// SweepExpired deletes refresh tokens past their expiry (FerretDB has no
// TTL indexes) and revoked sign-ins left with no live token.
func (s *Service) SweepExpired(ctx context.Context) error {
	now := s.now()
	// Revoked sign-ins older than the refresh lifetime can have no live token.
	return fault.Wrap(s.store.SweepSignIns(ctx, now, now.Add(-RefreshTokenTTL)), "sweep sign-ins")
}

// RunSweeper runs SweepExpired now and then every interval until ctx ends,
// and SweepAudit at the first run and then once a day. Several servers may
// each run it: the sweeps are idempotent deletes.
func (s *Service) RunSweeper(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := s.SweepExpired(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("sweeping expired refresh tokens failed", "error", err.Error())
		}
		if now := s.clock.Now(); now.Sub(s.lastAuditSweep) >= 24*time.Hour {
			n, err := s.SweepAudit(ctx)
			switch {
			case err != nil && ctx.Err() == nil:
				s.log.Warn("sweeping old audit entries failed", "error", err.Error())
			case err == nil:
				s.lastAuditSweep = now
				if n > 0 {
					s.log.Info("deleted audit entries past their retention", "count", n)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
