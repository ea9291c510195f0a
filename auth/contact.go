package auth

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clavis-app/clavis/internal/fault"
)

// OrgContact is whom a participant calls about an outing: a name and a
// phone number the organisation's coordinators set (the what-to-expect card).
type OrgContact struct {
	OrgID     string    `json:"organisation_id"`
	Name      string    `json:"name"`
	Phone     string    `json:"phone"`
	UpdatedBy string    `json:"updated_by"`
	UpdatedAt time.Time `json:"updated_at"`
}

// SetOrgContact sets an organisation's contact (its coordinators only;
// another organisation's is NotFound).
func (s *Service) SetOrgContact(ctx context.Context, who Identity, orgID, name, phone string) (OrgContact, error) {
	if who.Role != RoleCoordinator {
		return OrgContact{}, fault.Forbiddenf("only coordinators set the organisation's contact")
	}
	if who.OrgID != orgID {
		return OrgContact{}, fault.NotFoundf("no such organisation")
	}
	name, phone = strings.TrimSpace(name), strings.TrimSpace(phone)
	var errs []fault.FieldError
	if n := utf8.RuneCountInString(name); n == 0 || n > 100 {
		errs = append(errs, fault.FieldError{Field: "name", Message: "must be 1 to 100 characters"})
	}
	if !validPhone(phone) {
		errs = append(errs, fault.FieldError{Field: "phone", Message: "must be a phone number: 6 to 20 digits, with an optional leading +, spaces and dashes"})
	}
	if len(errs) > 0 {
		return OrgContact{}, fault.Invalid(errs...)
	}
	c := OrgContact{OrgID: orgID, Name: name, Phone: phone, UpdatedBy: who.UserID, UpdatedAt: s.clock.Now().UTC().Truncate(time.Millisecond)}
	if err := s.store.SetOrgContact(ctx, c); err != nil {
		return OrgContact{}, storeErr(err, "store organisation contact", "no such organisation")
	}
	return c, nil
}

// OrgContactOf returns an organisation's contact; an organisation that set
// none has an empty one.
func (s *Service) OrgContactOf(ctx context.Context, orgID string) (OrgContact, error) {
	c, err := s.store.OrgContact(ctx, orgID)
	if err == ErrNotFound {
		return OrgContact{OrgID: orgID}, nil
	}
	return c, storeErr(err, "read organisation contact", "no such organisation")
}

func validPhone(p string) bool {
	digits := 0
	for i, r := range p {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '+' && i == 0, r == ' ', r == '-':
		default:
			return false
		}
	}
	return digits >= 6 && digits <= 20
}
