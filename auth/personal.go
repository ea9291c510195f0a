package auth

import (
	"context"
	"slices"
	"time"

	"github.com/clavis-app/clavis/internal/fault"
)

// AuditEntry is one read of a person's record by someone else.
type AuditEntry struct {
	ID      string    `json:"id"`
	Actor   string    `json:"actor"`
	Subject string    `json:"subject"`
	Action  string    `json:"action"`
	At      time.Time `json:"at"`
}

// Audit records that actorID read (or acted on) subjectID's record. Call it
// from every handler that shows a participant's record to someone other
// than that participant; coordinators' and admins' reads included. A read
// of one's own record is not logged. action is a short constant such as
// "outing.read".
func (s *Service) Audit(ctx context.Context, actorID, subjectID, action string) error {
	return s.auditMany(ctx, actorID, []string{subjectID}, action)
}

// AuditMany is Audit for several subjects in one write: a list that shows
// many participants records them all at once.
func (s *Service) AuditMany(ctx context.Context, actorID string, subjectIDs []string, action string) error {
	return s.auditMany(ctx, actorID, subjectIDs, action)
}

func (s *Service) auditMany(ctx context.Context, actorID string, subjects []string, action string) error {
	now := s.now()
	docs := make([]AuditEntry, 0, len(subjects))
	for _, sub := range subjects {
		if sub == "" || sub == actorID {
			continue
		}
		docs = append(docs, AuditEntry{ID: newID(), Actor: actorID, Subject: sub, Action: action, At: now})
	}
	if len(docs) == 0 {
		return nil
	}
	if err := s.store.AppendAudit(ctx, docs); err != nil {
		return fault.Wrap(err, "write audit log")
	}
	return nil
}

// SweepAudit deletes audit entries older than the retention
// (Config.AuditRetention) and says how many. RunSweeper runs it daily.
func (s *Service) SweepAudit(ctx context.Context) (int, error) {
	n, err := s.store.DeleteAuditBefore(ctx, s.now().Add(-s.auditRetention))
	return n, fault.Wrap(err, "sweep audit log")
}

// ExportAuditLimit caps each audit section of a data export (the newest
// entries); the count of the rest is given beside it.
const ExportAuditLimit = 1000

// AuditTrail returns who read subjectID's record, oldest first (at most 1000).
func (s *Service) AuditTrail(ctx context.Context, subjectID string) ([]AuditEntry, error) {
	return s.auditWhere(ctx, AuditQuery{Subject: subjectID, Limit: 1000})
}

// auditWhere returns the newest q.Limit entries, oldest first.
func (s *Service) auditWhere(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	out, err := s.store.AuditEntries(ctx, q)
	if err != nil {
		return nil, fault.Wrap(err, "read audit log")
	}
	if out == nil {
		out = []AuditEntry{}
	}
	slices.Reverse(out)
	return out, nil
}

// Export returns everything every package stores about userID (GET /v1/me/export).
func (s *Service) Export(ctx context.Context, userID string) (map[string]any, error) {
	if _, err := s.userRecord(ctx, userID); err != nil {
		return nil, err
	}
	out, err := s.personal.Export(ctx, userID)
	if err != nil {
		return nil, fault.Wrap(err, "export personal data")
	}
	return out, nil
}

// Erase removes userID's personal data in every package, then the account
// itself (DELETE /v1/me). Each hook is idempotent, so a failed erase can be
// run again.
func (s *Service) Erase(ctx context.Context, userID string) error {
	if _, err := s.userRecord(ctx, userID); err != nil {
		return err
	}
	// End sign-ins first, so nothing new is written while the hooks run.
	if err := s.RevokeAllSessions(ctx, userID, "erased"); err != nil {
		return err
	}
	if err := s.personal.Erase(ctx, userID); err != nil {
		return fault.Wrap(err, "erase personal data")
	}
	return nil
}

// AccountExport is the "account" section of a data export.
type AccountExport struct {
	ID             string         `json:"id"`
	Email          string         `json:"email"`
	Name           string         `json:"name"`
	Role           Role           `json:"role"`
	OrganisationID string         `json:"organisation_id,omitempty"`
	Status         Status         `json:"status"`
	Language       string         `json:"language"`
	CreatedAt      time.Time      `json:"created_at"`
	UpdatedAt      time.Time      `json:"updated_at"`
	VettedBy       string         `json:"vetted_by,omitempty"`
	VettedAt       *time.Time     `json:"vetted_at,omitempty"`
	VettingNote    string         `json:"vetting_note,omitempty"`
	SuspendedBy    string         `json:"suspended_by,omitempty"`
	SuspendedAt    *time.Time     `json:"suspended_at,omitempty"`
	Suspension     string         `json:"suspension_reason,omitempty"`
	SignIns        []SignInExport `json:"sign_ins"`
	// ReadsOfMyRecord is the audit log about this person, ReadsByMe what
	// they read: the newest ExportAuditLimit entries each, newest first;
	// the Omitted counts say how many older ones the log holds besides.
	ReadsOfMyRecord        []AuditEntry `json:"reads_of_my_record"`
	ReadsOfMyRecordOmitted int          `json:"reads_of_my_record_omitted"`
	ReadsByMe              []AuditEntry `json:"reads_by_me"`
	ReadsByMeOmitted       int          `json:"reads_by_me_omitted"`
}

// SignInExport is one sign-in (refresh-token family), without token material.
type SignInExport struct {
	ID        string     `json:"id"`
	CreatedAt time.Time  `json:"created_at"`
	Revoked   bool       `json:"revoked"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

func (s *Service) exportAccount(ctx context.Context, userID string) (any, error) {
	d, err := s.userRecord(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := AccountExport{ID: d.ID, Email: d.Email, Name: d.Name, Role: d.Role, OrganisationID: d.OrgID,
		Status: d.Status, Language: d.Language, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
		SignIns: []SignInExport{}}
	if v := d.Vetting; v != nil {
		out.VettedBy, out.VettedAt, out.VettingNote = v.By, &v.At, v.Note
	}
	if x := d.Suspension; x != nil {
		out.SuspendedBy, out.SuspendedAt, out.Suspension = x.By, &x.At, x.Reason
	}
	fams, err := s.store.SignInsOf(ctx, userID, 1000)
	if err != nil {
		return nil, fault.Wrap(err, "read sign-ins")
	}
	for _, f := range fams {
		out.SignIns = append(out.SignIns, SignInExport{ID: f.ID, CreatedAt: f.CreatedAt, Revoked: f.Revoked, RevokedAt: f.RevokedAt})
	}
	if out.ReadsOfMyRecord, out.ReadsOfMyRecordOmitted, err = s.auditSection(ctx, AuditQuery{Subject: userID}); err != nil {
		return nil, err
	}
	if out.ReadsByMe, out.ReadsByMeOmitted, err = s.auditSection(ctx, AuditQuery{Actor: userID}); err != nil {
		return nil, err
	}
	return out, nil
}

// auditSection is one bounded audit section of an export: the newest
// entries and how many older ones were left out.
func (s *Service) auditSection(ctx context.Context, q AuditQuery) ([]AuditEntry, int, error) {
	q.Limit = ExportAuditLimit
	es, err := s.store.AuditEntries(ctx, q)
	if err != nil {
		return nil, 0, fault.Wrap(err, "read audit log")
	}
	if es == nil {
		es = []AuditEntry{}
	}
	if len(es) < ExportAuditLimit {
		return es, 0, nil
	}
	total, err := s.store.CountAudit(ctx, q)
	if err != nil {
		return nil, 0, fault.Wrap(err, "count audit log")
	}
	return es, max(0, total-len(es)), nil
}

// eraseAccount deletes the account and its sign-ins and refresh tokens.
// Audit entries stay: they hold only ids and record who accessed whose
// data, which the organisation must be able to show; the ids no longer lead
// to a person.
func (s *Service) eraseAccount(ctx context.Context, userID string) error {
	return fault.Wrap(s.store.EraseUser(ctx, userID), "erase account")
}
