package matching

import (
	"context"

	"github.com/clavis-app/clavis/auth"
)

// AccountsDirectory adapts the accounts service to Directory and Auditor.
func AccountsDirectory(a *auth.Service) Directory { return accountsDirectory{a} }

type accountsDirectory struct{ a *auth.Service }

func (d accountsDirectory) Member(ctx context.Context, userID string) (Member, error) {
	u, err := d.a.User(ctx, userID)
	if err != nil {
		return Member{}, err
	}
	return Member{ID: u.ID, Name: u.Name, OrgID: u.OrgID, Role: u.Role, Status: u.Status, Language: u.Language}, nil
}

func (d accountsDirectory) OrgTimeZone(ctx context.Context, orgID string) (string, error) {
	o, err := d.a.Organisation(ctx, orgID)
	if err != nil {
		return "", err
	}
	return o.TimeZone, nil
}

func (d accountsDirectory) Audit(ctx context.Context, actorID, subjectID, action string) error {
	return d.a.Audit(ctx, actorID, subjectID, action)
}

func (d accountsDirectory) AuditMany(ctx context.Context, actorID string, subjectIDs []string, action string) error {
	return d.a.AuditMany(ctx, actorID, subjectIDs, action)
}
