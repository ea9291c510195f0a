package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clavis-app/clavis/internal/db"
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

// familyDoc is one sign-in (RFC 9700 "token family"): every refresh token
// rotated from it shares it, and revoking it ends them all.
type familyDoc struct {
	ID        string     `bson:"_id"`
	UserID    string     `bson:"user_id"`
	CreatedAt time.Time  `bson:"created_at"`
	Revoked   bool       `bson:"revoked"`
	RevokedAt *time.Time `bson:"revoked_at,omitempty"`
	Why       string     `bson:"why,omitempty"`
}

// refreshDoc is a refresh token, known only by its SHA-256.
type refreshDoc struct {
	ID        string    `bson:"_id"`
	Family    string    `bson:"family"`
	UserID    string    `bson:"user_id"`
	CreatedAt time.Time `bson:"created_at"`
	ExpiresAt time.Time `bson:"expires_at"`
}

// usedDoc marks a refresh token as spent. Its _id is the token's hash, so
// the unique _id index lets exactly one of several concurrent refreshes
// (even from several processes on one FerretDB) spend the token.
type usedDoc struct {
	ID        string    `bson:"_id"`
	Family    string    `bson:"family"`
	UserID    string    `bson:"user_id"`
	UsedAt    time.Time `bson:"used_at"`
	ExpiresAt time.Time `bson:"expires_at"`
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
	var d userDoc
	err = s.users.FindOne(ctx, bson.M{"email": email}).Decode(&d)
	if db.IsNotFound(err) {
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
	fam := familyDoc{ID: newID(), UserID: d.ID, CreatedAt: now}
	if _, err := s.families.InsertOne(ctx, fam); err != nil {
		return Tokens{}, fault.Wrap(err, "insert sign-in")
	}
	return s.issuePair(ctx, d, fam.ID)
}

// rehash upgrades a hash made with older parameters; a failure only means
// it is tried again at the next sign-in.
func (s *Service) rehash(ctx context.Context, userID, password string) {
	h, err := s.hasher.hash(ctx, password)
	if err != nil {
		return
	}
	if _, err := s.db.Gate().UpdateOne(ctx, s.users, bson.M{"_id": userID}, bson.M{"$set": bson.M{"password_hash": h}}); err != nil {
		s.log.Warn("password rehash failed", "user_id", userID, "error", err.Error())
	}
}

func (s *Service) issuePair(ctx context.Context, d userDoc, family string) (Tokens, error) {
	access, _, err := s.tokens.issue(d.ID, d.Role, d.OrgID)
	if err != nil {
		return Tokens{}, fault.Wrap(err, "sign access token")
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return Tokens{}, fault.Wrap(err, "random refresh token")
	}
	refresh := base64.RawURLEncoding.EncodeToString(raw)
	now := s.now()
	rd := refreshDoc{ID: hashRefresh(refresh), Family: family, UserID: d.ID, CreatedAt: now, ExpiresAt: now.Add(RefreshTokenTTL)}
	if _, err := s.refresh.InsertOne(ctx, rd); err != nil {
		return Tokens{}, fault.Wrap(err, "insert refresh token")
	}
	return Tokens{AccessToken: access, RefreshToken: refresh, ExpiresIn: int(AccessTokenTTL / time.Second)}, nil
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
	var rd refreshDoc
	if err := s.refresh.FindOne(ctx, bson.M{"_id": h}).Decode(&rd); err != nil {
		if db.IsNotFound(err) {
			return Tokens{}, errRefresh("the refresh token is not valid")
		}
		return Tokens{}, fault.Wrap(err, "read refresh token")
	}
	now := s.now()
	if !now.Before(rd.ExpiresAt) {
		return Tokens{}, errRefresh("the refresh token has expired; please sign in again")
	}
	var fam familyDoc
	if err := s.families.FindOne(ctx, bson.M{"_id": rd.Family}).Decode(&fam); err != nil {
		if db.IsNotFound(err) {
			return Tokens{}, errRefresh("this sign-in has ended; please sign in again")
		}
		return Tokens{}, fault.Wrap(err, "read sign-in")
	}
	if fam.Revoked {
		return Tokens{}, errRefresh("this sign-in has ended; please sign in again")
	}
	// The arbiter: only one insert of this _id can succeed, in any process.
	_, err := s.used.InsertOne(ctx, usedDoc{ID: h, Family: rd.Family, UserID: rd.UserID, UsedAt: now, ExpiresAt: rd.ExpiresAt})
	if db.IsDuplicateKey(err) {
		if err := s.revokeFamily(ctx, rd.Family, "reuse"); err != nil {
			return Tokens{}, err
		}
		s.log.Warn("refresh token reused; sign-in revoked", "user_id", rd.UserID, "family", rd.Family)
		return Tokens{}, errRefresh("this refresh token was already used; please sign in again")
	}
	if err != nil {
		return Tokens{}, fault.Wrap(err, "spend refresh token")
	}
	d, err := s.userDoc(ctx, rd.UserID)
	if fault.KindOf(err) == fault.NotFound || (err == nil && d.Status == StatusSuspended) {
		_ = s.revokeFamily(ctx, rd.Family, "account")
		return Tokens{}, errRefresh("this sign-in has ended; please sign in again")
	}
	if err != nil {
		return Tokens{}, err
	}
	return s.issuePair(ctx, d, rd.Family)
}

// Logout ends the sign-in the refresh token belongs to, if it is the
// caller's. Unknown tokens are ignored: logging out twice is not an error.
func (s *Service) Logout(ctx context.Context, callerID, token string) error {
	if !wellFormedRefresh(token) {
		return nil
	}
	var rd refreshDoc
	if err := s.refresh.FindOne(ctx, bson.M{"_id": hashRefresh(token)}).Decode(&rd); err != nil {
		if db.IsNotFound(err) {
			return nil
		}
		return fault.Wrap(err, "read refresh token")
	}
	if rd.UserID != callerID {
		return nil
	}
	return s.revokeFamily(ctx, rd.Family, "logout")
}

func (s *Service) revokeFamily(ctx context.Context, family, why string) error {
	now := s.now()
	_, err := s.db.Gate().UpdateOne(ctx, s.families, bson.M{"_id": family, "revoked": false},
		bson.M{"$set": bson.M{"revoked": true, "revoked_at": now, "why": why}})
	return fault.Wrap(err, "revoke sign-in")
}

// RevokeAllSessions ends every sign-in of a user (suspension, erasure).
// Access tokens already issued stop working too, because Authenticate reads
// the account's status on every request.
func (s *Service) RevokeAllSessions(ctx context.Context, userID, why string) error {
	now := s.now()
	_, err := s.db.Gate().UpdateMany(ctx, s.families, bson.M{"user_id": userID, "revoked": false},
		bson.M{"$set": bson.M{"revoked": true, "revoked_at": now, "why": why}})
	return fault.Wrap(err, "revoke sign-ins")
}

// SweepExpired deletes refresh tokens and spent-token marks past their
// expiry (FerretDB has no TTL indexes) and sign-ins left with no token.
func (s *Service) SweepExpired(ctx context.Context) error {
	now := s.now()
	if _, err := s.db.Gate().DeleteMany(ctx, s.refresh, bson.M{"expires_at": bson.M{"$lte": now}}); err != nil {
		return fault.Wrap(err, "sweep refresh tokens")
	}
	if _, err := s.db.Gate().DeleteMany(ctx, s.used, bson.M{"expires_at": bson.M{"$lte": now}}); err != nil {
		return fault.Wrap(err, "sweep spent refresh tokens")
	}
	// Revoked sign-ins older than the refresh lifetime can have no live token.
	_, err := s.db.Gate().DeleteMany(ctx, s.families, bson.M{"revoked": true, "revoked_at": bson.M{"$lte": now.Add(-RefreshTokenTTL)}})
	return fault.Wrap(err, "sweep sign-ins")
}

// RunSweeper runs SweepExpired now and then every interval until ctx ends.
func (s *Service) RunSweeper(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := s.SweepExpired(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("sweeping expired refresh tokens failed", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
