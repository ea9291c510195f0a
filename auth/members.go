package auth

import (
	"context"
	"encoding/base64"
	"strings"

	"github.com/clavis-app/clavis/internal/fault"
)

// Page bounds: docs/api.md's lists take ?limit= 1..100, default 20.
const (
	DefaultPageSize = 20
	MaxPageSize     = 100
)

// MemberFilter narrows a member list; empty fields match all.
type MemberFilter struct {
	Role   Role
	Status Status
	Limit  int
	Cursor string
}

// MemberPage is one page of members; NextCursor is empty on the last page.
type MemberPage struct {
	Items      []User
	NextCursor string
}

// Audit actions this package writes.
const (
	AuditMemberList    = "member.list"
	AuditMemberApprove = "member.approve"
	AuditMemberSuspend = "member.suspend"
)

// coordinatorOf checks that actor coordinates orgID. Anyone else learns
// nothing about another organisation: it is a NotFound, as if it did not exist.
func (s *Service) coordinatorOf(ctx context.Context, actor Identity, orgID string) error {
	if actor.Role != RoleCoordinator || actor.OrgID == "" || actor.OrgID != orgID {
		return fault.NotFoundf("no such organisation")
	}
	_, err := s.Organisation(ctx, orgID)
	return err
}

// Members lists an organisation's accounts for its coordinators, oldest
// first. Every participant shown is written to the audit log.
func (s *Service) Members(ctx context.Context, actor Identity, orgID string, f MemberFilter) (MemberPage, error) {
	if err := s.coordinatorOf(ctx, actor, orgID); err != nil {
		return MemberPage{}, err
	}
	var fields []fault.FieldError
	if f.Role != "" && !ValidRole(f.Role) {
		fields = append(fields, fault.FieldError{Field: "role", Message: "must be one of: participant, volunteer, coordinator, admin"})
	}
	if f.Status != "" && !ValidStatus(f.Status) {
		fields = append(fields, fault.FieldError{Field: "status", Message: "must be one of: pending, active, suspended"})
	}
	if f.Limit == 0 {
		f.Limit = DefaultPageSize
	}
	if f.Limit < 1 || f.Limit > MaxPageSize {
		fields = append(fields, fault.FieldError{Field: "limit", Message: "must be a whole number from 1 to 100"})
	}
	after, ok := decodeCursor(f.Cursor)
	if !ok {
		fields = append(fields, fault.FieldError{Field: "cursor", Message: "is not a cursor this list returned"})
	}
	if len(fields) > 0 {
		return MemberPage{}, fault.Invalid(fields...)
	}
	docs, err := s.store.Members(ctx, orgID, MemberQuery{Role: f.Role, Status: f.Status, After: after, Limit: f.Limit + 1})
	if err != nil {
		return MemberPage{}, fault.Wrap(err, "list members")
	}
	var page MemberPage
	if len(docs) > f.Limit {
		docs = docs[:f.Limit]
		page.NextCursor = encodeCursor(docs[len(docs)-1].ID)
	}
	page.Items = make([]User, len(docs))
	var subjects []string
	for i, d := range docs {
		page.Items[i] = d.User
		if d.Role == RoleParticipant {
			subjects = append(subjects, d.ID)
		}
	}
	if err := s.auditMany(ctx, actor.UserID, subjects, AuditMemberList); err != nil {
		return MemberPage{}, err
	}
	return page, nil
}

func encodeCursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func decodeCursor(c string) (string, bool) {
	if c == "" {
		return "", true
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) == 0 || len(b) > 64 || strings.ContainsAny(string(b), "\x00$") {
		return "", false
	}
	return string(b), true
}

// member loads a participant or volunteer of orgID for a coordinator of it.
func (s *Service) member(ctx context.Context, actor Identity, orgID, userID string) (UserRecord, error) {
	if err := s.coordinatorOf(ctx, actor, orgID); err != nil {
		return UserRecord{}, err
	}
	d, err := s.userRecord(ctx, userID)
	if fault.KindOf(err) == fault.NotFound || (err == nil && d.OrgID != orgID) {
		return UserRecord{}, fault.NotFoundf("no such member")
	}
	if err != nil {
		return UserRecord{}, err
	}
	if d.Role != RoleParticipant && d.Role != RoleVolunteer {
		return UserRecord{}, fault.Forbiddenf("coordinators are managed by the administrator")
	}
	return d, nil
}

// Approve makes a pending (or suspended) member active and records the
// vetting: who approved, when, and their note.
func (s *Service) Approve(ctx context.Context, actor Identity, orgID, userID, note string) (User, error) {
	note = strings.TrimSpace(note)
	if len([]rune(note)) > MaxNoteLen {
		return User{}, fault.InvalidField("note", "must be at most 1000 characters")
	}
	d, err := s.member(ctx, actor, orgID, userID)
	if err != nil {
		return User{}, err
	}
	if d.Status == StatusActive {
		return User{}, fault.StateConflictf("the account is already active")
	}
	now := s.now()
	// The status condition makes two coordinators acting at once produce
	// one change and one 409, not two vetting records.
	out, err := s.store.ChangeStatus(ctx, StatusChange{UserID: d.ID, OrgID: orgID, From: d.Status, To: StatusActive,
		Vetting: &Vetting{By: actor.UserID, At: now, Note: note}, At: now})
	if err != nil {
		return User{}, storeErr(err, "approve member", "no such member")
	}
	s.statusChanged(ctx, out)
	if out.Role == RoleParticipant {
		if err := s.Audit(ctx, actor.UserID, out.ID, AuditMemberApprove); err != nil {
			return User{}, err
		}
	}
	return out.User, nil
}

// Suspend stops a member: their sign-ins end now and their access tokens
// stop working at their next request.
func (s *Service) Suspend(ctx context.Context, actor Identity, orgID, userID, reason string) (User, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return User{}, fault.InvalidField("reason", "is required")
	}
	if len([]rune(reason)) > MaxNoteLen {
		return User{}, fault.InvalidField("reason", "must be at most 1000 characters")
	}
	d, err := s.member(ctx, actor, orgID, userID)
	if err != nil {
		return User{}, err
	}
	if d.Status == StatusSuspended {
		return User{}, fault.StateConflictf("the account is already suspended")
	}
	now := s.now()
	out, err := s.store.ChangeStatus(ctx, StatusChange{UserID: d.ID, OrgID: orgID, From: d.Status, To: StatusSuspended,
		Suspension: &Suspension{By: actor.UserID, At: now, Reason: reason}, At: now})
	if err != nil {
		return User{}, storeErr(err, "suspend member", "no such member")
	}
	s.statusChanged(ctx, out)
	if err := s.RevokeAllSessions(ctx, out.ID, "suspended"); err != nil {
		return User{}, err
	}
	if out.Role == RoleParticipant {
		if err := s.Audit(ctx, actor.UserID, out.ID, AuditMemberSuspend); err != nil {
			return User{}, err
		}
	}
	return out.User, nil
}

// AuditVolunteerRead is written when a coordinator opens a volunteer's record.
const AuditVolunteerRead = "volunteer.read"

// Volunteer returns a volunteer of orgID for a coordinator of it, and
// writes the read to the audit log. Another organisation's volunteer, or a
// member who is no volunteer, is a NotFound.
func (s *Service) Volunteer(ctx context.Context, actor Identity, orgID, userID string) (User, error) {
	if err := s.coordinatorOf(ctx, actor, orgID); err != nil {
		return User{}, err
	}
	d, err := s.userRecord(ctx, userID)
	if fault.KindOf(err) == fault.NotFound || (err == nil && (d.OrgID != orgID || d.Role != RoleVolunteer)) {
		return User{}, fault.NotFoundf("no such volunteer")
	}
	if err != nil {
		return User{}, err
	}
	if err := s.Audit(ctx, actor.UserID, userID, AuditVolunteerRead); err != nil {
		return User{}, err
	}
	return d.User, nil
}
