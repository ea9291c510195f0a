// Package auth owns accounts, passwords, tokens, roles and organisations.
package auth

// Role is what a user is in Clavis.
type Role string

// The four roles of docs/api.md.
const (
	RoleParticipant Role = "participant"
	RoleVolunteer   Role = "volunteer"
	RoleCoordinator Role = "coordinator"
	RoleAdmin       Role = "admin"
)

// Status is an account's standing.
type Status string

// Account statuses.
const (
	StatusPending   Status = "pending"
	StatusActive    Status = "active"
	StatusSuspended Status = "suspended"
)

// Identity is the verified caller of a request.
type Identity struct {
	UserID string
	Role   Role
	OrgID  string
	Status Status
}
