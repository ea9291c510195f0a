package notify

import (
	"context"
	"sync"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
)

// AccountsDirectory answers Directory from the accounts service: language
// from the account, time zone from its organisation, quiet hours for
// participants. Suspended accounts get no pushes.
func AccountsDirectory(a *auth.Service) Directory {
	return &accountsDirectory{a: a, zones: map[string]zoneEntry{}}
}

type accountsDirectory struct {
	a     *auth.Service
	mu    sync.Mutex
	zones map[string]zoneEntry
}

type zoneEntry struct {
	tz string
	at time.Time
}

func (d *accountsDirectory) CoordinatorsOf(ctx context.Context, orgID string) ([]string, error) {
	us, err := d.a.ActiveCoordinatorsOf(ctx, orgID)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(us))
	for i, u := range us {
		ids[i] = u.ID
	}
	return ids, nil
}

func (d *accountsDirectory) Recipient(ctx context.Context, userID string) (Recipient, error) {
	u, err := d.a.User(ctx, userID)
	if err != nil {
		return Recipient{}, err
	}
	if u.Status == auth.StatusSuspended {
		return Recipient{}, fault.NotFoundf("user is suspended")
	}
	r := Recipient{Language: u.Language, QuietHours: u.Role == auth.RoleParticipant}
	if u.OrgID != "" {
		r.TimeZone, err = d.orgZone(ctx, u.OrgID)
		if err != nil && fault.KindOf(err) != fault.NotFound {
			return Recipient{}, err
		}
	}
	return r, nil
}

// orgZone keeps organisations' time zones for an hour: they hardly change.
func (d *accountsDirectory) orgZone(ctx context.Context, orgID string) (string, error) {
	d.mu.Lock()
	e, ok := d.zones[orgID]
	d.mu.Unlock()
	if ok && time.Since(e.at) < time.Hour {
		return e.tz, nil
	}
	o, err := d.a.Organisation(ctx, orgID)
	if err != nil {
		return "", err
	}
	d.mu.Lock()
	if len(d.zones) > 10_000 {
		d.zones = map[string]zoneEntry{}
	}
	d.zones[orgID] = zoneEntry{tz: o.TimeZone, at: time.Now()}
	d.mu.Unlock()
	return o.TimeZone, nil
}
