package auth

import (
	"context"
	"time"

	"github.com/clavis-app/clavis/internal/fault"
)

// ResumeSignIn checks a refresh token that a server keeps for its client
// (the console's session cookie) without spending it, and ends the sign-in
// when it has been idle longer than idle. All of it is read from the store,
// so any replica, or the same one after a restart, gives the same answer.
// It returns the sign-in's user; the caller still checks the account.
func (s *Service) ResumeSignIn(ctx context.Context, token string, idle time.Duration) (string, error) {
	if !wellFormedRefresh(token) {
		return "", errRefresh("the session is not valid")
	}
	rd, err := s.store.RefreshToken(ctx, hashRefresh(token))
	if err != nil {
		return "", refreshErr(err, "read refresh token", "the session is not valid")
	}
	now := s.now()
	if !now.Before(rd.ExpiresAt) {
		return "", errRefresh("the session has expired; please sign in again")
	}
	fam, err := s.store.SignIn(ctx, rd.Family)
	if err != nil {
		return "", refreshErr(err, "read sign-in", "this sign-in has ended; please sign in again")
	}
	if fam.Revoked {
		return "", errRefresh("this sign-in has ended; please sign in again")
	}
	last := fam.CreatedAt
	if fam.LastSeenAt != nil {
		last = *fam.LastSeenAt
	}
	if now.Sub(last) > idle {
		if err := s.revokeFamily(ctx, fam.ID, "idle"); err != nil {
			return "", err
		}
		return "", errRefresh("the session was idle too long; please sign in again")
	}
	// Writing on every page view would cost a write per request; a
	// thirtieth of the timeout is as much as the deadline can come early.
	if now.Sub(last) >= idle/30 {
		if err := s.store.TouchSignIn(ctx, fam.ID, now); err != nil {
			return "", fault.Wrap(err, "touch sign-in")
		}
	}
	return rd.UserID, nil
}
