package notify

import (
	"context"
	"errors"
	"time"

	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/internal/personal"
)

// Platforms a device may have.
var Platforms = []string{"android", "ios", "web"}

// MaxDevicesPerUser bounds one user's devices; registering one more forgets
// the least recently registered.
const MaxDevicesPerUser = 10

// Device is one app installation that can receive pushes.
type Device struct {
	Token        string    `json:"token"`
	UserID       string    `json:"-"`
	Platform     string    `json:"platform"`
	RegisteredAt time.Time `json:"registered_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Devices is the device registry the HTTP handlers use.
type Devices struct {
	st    Store
	clock clock.Clock
}

// NewDevices opens the device registry alone, for callers that need no
// pushes (HTTP tests); a running server uses Service.Devices.
func NewDevices(st Store, c clock.Clock) *Devices {
	if c == nil {
		c = clock.Real{}
	}
	return &Devices{st: st, clock: c}
}

// PersonalHook exports and erases a user's devices only; Service.PersonalHook
// also covers their pending pushes.
func (s *Devices) PersonalHook() personal.Hook {
	return personal.Hook{
		Name:   "devices",
		Export: func(ctx context.Context, userID string) (any, error) { return s.export(ctx, userID) },
		Erase:  s.eraseUser,
	}
}

// Register records that token belongs to userID now. created is true when
// the token is new for this user (first seen, or moved from another user:
// a phone changes hands, or a user logs in as someone else) and false when
// the user had it already.
func (s *Devices) Register(ctx context.Context, userID, token, platform string) (Device, bool, error) {
	now := s.clock.Now().UTC().Truncate(time.Millisecond)
	dev, created, err := s.st.RegisterDevice(ctx, userID, token, platform, now, MaxDevicesPerUser)
	return dev, created, fault.Wrap(err, "register device")
}

// Unregister removes the caller's own device. Another user's token, or an
// unknown one, is NotFound: the caller learns nothing about it.
func (s *Devices) Unregister(ctx context.Context, userID, token string) error {
	err := s.st.DeleteDevice(ctx, userID, token)
	if errors.Is(err, ErrNotFound) {
		return fault.NotFoundf("no such device")
	}
	return fault.Wrap(err, "unregister device")
}

// ofUsers returns the devices of the given users (at most limit).
func (s *Devices) ofUsers(ctx context.Context, userIDs []string, limit int) ([]Device, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	devs, err := s.st.DevicesOfUsers(ctx, userIDs, limit)
	return devs, fault.Wrap(err, "find devices")
}

// prune forgets a token FCM called unregistered or invalid, whoever has it.
func (s *Devices) prune(ctx context.Context, token string) error {
	return s.st.PruneToken(ctx, token)
}

func (s *Devices) eraseUser(ctx context.Context, userID string) error {
	return fault.Wrap(s.st.EraseUserDevices(ctx, userID), "erase devices")
}

// ExportedDevice is a device in a data export; the token is shortened
// because it is a credential for pushing to the phone.
type ExportedDevice struct {
	TokenEnd     string    `json:"token_end"`
	Platform     string    `json:"platform"`
	RegisteredAt time.Time `json:"registered_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

func (s *Devices) export(ctx context.Context, userID string) ([]ExportedDevice, error) {
	devs, err := s.ofUsers(ctx, []string{userID}, MaxDevicesPerUser*2)
	if err != nil {
		return nil, err
	}
	out := make([]ExportedDevice, 0, len(devs))
	for _, d := range devs {
		end := d.Token
		if len(end) > 6 {
			end = "…" + end[len(end)-6:]
		}
		out = append(out, ExportedDevice{TokenEnd: end, Platform: d.Platform, RegisteredAt: d.RegisteredAt, UpdatedAt: d.UpdatedAt})
	}
	return out, nil
}
