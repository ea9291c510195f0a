package matching

import (
	"context"

	"github.com/clavis-app/clavis/auth"
)

// VolunteerStatusHook keeps the status copy on a volunteer's profile (part
// of the candidate prefilter index) in step with the account; main.go
// registers it with auth.Service.OnStatusChange.
func (s *Service) VolunteerStatusHook(ctx context.Context, userID string, role auth.Role, status auth.Status) error {
	if role != auth.RoleVolunteer {
		return nil
	}
	return s.SetVolunteerStatus(ctx, userID, status)
}
