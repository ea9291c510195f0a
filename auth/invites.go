package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"time"

	"github.com/clavis-app/clavis/internal/fault"
)

// Invite codes: 10 characters from a 32-letter alphabet without 0/O and
// 1/I (50 bits), so they can be read aloud or typed from paper, and cannot
// be guessed within the registration limit. They are stored as issued, not
// hashed: coordinators list them to hand them out again, and a code only
// opens a pending account that a coordinator still has to approve, for one
// role, until it expires or its uses run out.
const (
	InviteAlphabet  = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
	InviteCodeLen   = 10
	MaxInviteUses   = 500
	MaxInviteExpiry = 90 * 24 * time.Hour
)

// Invite is a code a coordinator hands out to join their organisation.
type Invite struct {
	Code      string
	OrgID     string
	Role      Role
	ExpiresAt time.Time
	MaxUses   int
	Uses      int
	CreatedBy string
	CreatedAt time.Time
}

// InviteInput is what a coordinator sends to create an invite.
type InviteInput struct {
	Role      Role
	ExpiresAt time.Time
	MaxUses   int
}

// InvitePage is one page of an organisation's invites, by code.
type InvitePage struct {
	Items      []Invite
	NextCursor string
}

// NormalizeInviteCode is the form codes are stored and compared in: upper
// case, without the spaces and dashes people type to group them.
func NormalizeInviteCode(code string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-':
			return -1
		}
		return r
	}, strings.ToUpper(strings.TrimSpace(code)))
}

func newInviteCode() (string, error) {
	b := make([]byte, InviteCodeLen)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	for i := range b {
		b[i] = InviteAlphabet[int(b[i])%len(InviteAlphabet)] // 256 is a multiple of 32: no bias
	}
	return string(b), nil
}

// CreateInvite issues a code for orgID (its coordinators only).
func (s *Service) CreateInvite(ctx context.Context, actor Identity, orgID string, in InviteInput) (Invite, error) {
	if err := s.coordinatorOf(ctx, actor, orgID); err != nil {
		return Invite{}, err
	}
	now := s.now()
	var fields []fault.FieldError
	if in.Role != RoleParticipant && in.Role != RoleVolunteer {
		fields = append(fields, fault.FieldError{Field: "role", Message: "must be one of: participant, volunteer"})
	}
	switch {
	case !in.ExpiresAt.After(now):
		fields = append(fields, fault.FieldError{Field: "expires_at", Message: "must be in the future"})
	case in.ExpiresAt.Sub(now) > MaxInviteExpiry:
		fields = append(fields, fault.FieldError{Field: "expires_at", Message: "must be within 90 days"})
	}
	if in.MaxUses < 1 || in.MaxUses > MaxInviteUses {
		fields = append(fields, fault.FieldError{Field: "max_uses", Message: "must be from 1 to 500"})
	}
	if len(fields) > 0 {
		return Invite{}, fault.Invalid(fields...)
	}
	inv := Invite{OrgID: orgID, Role: in.Role, ExpiresAt: in.ExpiresAt.UTC().Truncate(time.Millisecond), MaxUses: in.MaxUses,
		CreatedBy: actor.UserID, CreatedAt: now}
	for range 3 { // a clash of 50-bit codes is all but impossible; retry anyway
		code, err := newInviteCode()
		if err != nil {
			return Invite{}, fault.Wrap(err, "make invite code")
		}
		inv.Code = code
		err = s.store.InsertInvite(ctx, inv)
		if !errors.Is(err, ErrDuplicate) {
			return inv, fault.Wrap(err, "store invite")
		}
	}
	return Invite{}, fault.Wrap(errors.New("invite code clashes"), "store invite")
}

// Invites lists orgID's invites by code (its coordinators only).
func (s *Service) Invites(ctx context.Context, actor Identity, orgID string, limit int, cursor string) (InvitePage, error) {
	if err := s.coordinatorOf(ctx, actor, orgID); err != nil {
		return InvitePage{}, err
	}
	if limit == 0 {
		limit = DefaultPageSize
	}
	var fields []fault.FieldError
	if limit < 1 || limit > MaxPageSize {
		fields = append(fields, fault.FieldError{Field: "limit", Message: "must be a whole number from 1 to 100"})
	}
	after, ok := decodeCursor(cursor)
	if !ok {
		fields = append(fields, fault.FieldError{Field: "cursor", Message: "is not a cursor this list returned"})
	}
	if len(fields) > 0 {
		return InvitePage{}, fault.Invalid(fields...)
	}
	items, err := s.store.Invites(ctx, orgID, after, limit+1)
	if err != nil {
		return InvitePage{}, fault.Wrap(err, "list invites")
	}
	page := InvitePage{Items: items}
	if len(items) > limit {
		page.Items = items[:limit]
		page.NextCursor = encodeCursor(page.Items[limit-1].Code)
	}
	if page.Items == nil {
		page.Items = []Invite{}
	}
	return page, nil
}

// DeleteInvite withdraws a code; another organisation's is a NotFound.
func (s *Service) DeleteInvite(ctx context.Context, actor Identity, orgID, code string) error {
	if err := s.coordinatorOf(ctx, actor, orgID); err != nil {
		return err
	}
	err := s.store.DeleteInvite(ctx, orgID, NormalizeInviteCode(code))
	return storeErr(err, "delete invite", "no such invite")
}

// checkInvite says why code cannot register role at now, naming the field.
func checkInvite(inv Invite, role Role, now time.Time) *fault.FieldError {
	switch {
	case inv.Role != role:
		return &fault.FieldError{Field: "invite_code", Message: "is for " + string(inv.Role) + "s, not " + string(role) + "s"}
	case !inv.ExpiresAt.After(now):
		return &fault.FieldError{Field: "invite_code", Message: "has expired"}
	case inv.Uses >= inv.MaxUses:
		return &fault.FieldError{Field: "invite_code", Message: "has been used up"}
	}
	return nil
}

// registerWithInvite creates the pending account an invite code allows.
// The use is counted in the same step as the account is written, so of
// any number of registrations at once no more succeed than the code has
// uses, and a refused one (a taken email) spends none.
func (s *Service) registerWithInvite(ctx context.Context, r Registration) (User, error) {
	code := NormalizeInviteCode(r.InviteCode)
	inv, err := s.store.Invite(ctx, code)
	if errors.Is(err, ErrNotFound) {
		return User{}, fault.InvalidField("invite_code", "no such invite code")
	}
	if err != nil {
		return User{}, fault.Wrap(err, "read invite")
	}
	if r.OrgID != "" && r.OrgID != inv.OrgID {
		return User{}, fault.InvalidField("organisation_id", "does not match the invite code's organisation")
	}
	if fe := checkInvite(inv, r.Role, s.now()); fe != nil {
		return User{}, fault.Invalid(*fe)
	}
	rec, err := s.prepareUser(ctx, NewUser{Email: r.Email, Password: r.Password, Name: r.Name, Role: r.Role,
		OrgID: inv.OrgID, Language: r.Language, Status: StatusPending})
	if err != nil {
		return User{}, err
	}
	switch err := s.store.RegisterWithInvite(ctx, code, rec, s.now()); {
	case err == nil:
		return rec.User, nil
	case errors.Is(err, ErrDuplicate):
		return User{}, errEmailTaken()
	case errors.Is(err, ErrNotFound):
		return User{}, fault.InvalidField("invite_code", "no such invite code")
	case errors.Is(err, ErrConflict):
		return User{}, fault.InvalidField("invite_code", "has been used up")
	default:
		return User{}, fault.Wrap(err, "register with invite")
	}
}
