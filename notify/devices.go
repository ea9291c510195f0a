package notify

import (
	"context"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/db"
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
	Token        string    `bson:"_id" json:"token"`
	UserID       string    `bson:"user_id" json:"-"`
	Platform     string    `bson:"platform" json:"platform"`
	RegisteredAt time.Time `bson:"registered_at" json:"registered_at"`
	UpdatedAt    time.Time `bson:"updated_at" json:"updated_at"`
}

// Devices stores push tokens. The token is the document's _id: that is the
// unique index, and FerretDB answers an exact _id filter without decoding
// the whole collection.
type Devices struct {
	d     *db.DB
	coll  *mongo.Collection
	clock clock.Clock
}

func newDevices(d *db.DB, c clock.Clock) *Devices {
	if c == nil {
		c = clock.Real{}
	}
	return &Devices{d: d, coll: d.Collection("devices"), clock: c}
}

// NewDevices opens the device registry alone, for callers that need no
// pushes (HTTP tests); a running server uses Service.Devices.
func NewDevices(ctx context.Context, d *db.DB, c clock.Clock) (*Devices, error) {
	s := newDevices(d, c)
	return s, s.ensureIndexes(ctx)
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

func (s *Devices) ensureIndexes(ctx context.Context) error {
	return ensureIndexes(ctx, s.coll, mongo.IndexModel{Keys: bson.D{{Key: "user_id", Value: 1}}})
}

// Register records that token belongs to userID now. created is true when
// the token is new for this user (first seen, or moved from another user:
// a phone changes hands, or a user logs in as someone else) and false when
// the user had it already.
func (s *Devices) Register(ctx context.Context, userID, token, platform string) (Device, bool, error) {
	now := s.clock.Now().UTC().Truncate(time.Millisecond)
	dev := Device{Token: token, UserID: userID, Platform: platform, RegisteredAt: now, UpdatedAt: now}
	for range 3 {
		// The insert is the arbiter: of two registrations racing for a new
		// token exactly one creates it, the other moves it below.
		_, err := s.coll.InsertOne(ctx, dev)
		if err == nil {
			if err := s.trim(ctx, userID); err != nil {
				return Device{}, false, err
			}
			return dev, true, nil
		}
		if !db.IsDuplicateKey(err) {
			return Device{}, false, fault.Wrap(err, "register device")
		}
		var before Device
		err = s.d.Gate().FindOneAndUpdate(ctx, s.coll, bson.M{"_id": token},
			bson.M{"$set": bson.M{"user_id": userID, "platform": platform, "updated_at": now}}, &before,
			options.FindOneAndUpdate().SetReturnDocument(options.Before))
		if db.IsNotFound(err) {
			continue // deleted in between: insert again
		}
		if err != nil {
			return Device{}, false, fault.Wrap(err, "register device")
		}
		if before.UserID == userID {
			before.Platform, before.UpdatedAt = platform, now
			return before, false, nil
		}
		if err := s.trim(ctx, userID); err != nil {
			return Device{}, false, err
		}
		return dev, true, nil
	}
	return Device{}, false, fault.Wrap(context.DeadlineExceeded, "register device: token keeps changing")
}

// trim forgets a user's oldest devices beyond MaxDevicesPerUser.
func (s *Devices) trim(ctx context.Context, userID string) error {
	devs, err := s.ofUsers(ctx, []string{userID}, MaxDevicesPerUser+5)
	if err != nil {
		return err
	}
	if len(devs) <= MaxDevicesPerUser {
		return nil
	}
	slices.SortFunc(devs, func(a, b Device) int { return b.UpdatedAt.Compare(a.UpdatedAt) }) // newest first
	old := make([]string, 0, len(devs)-MaxDevicesPerUser)
	for _, d := range devs[MaxDevicesPerUser:] {
		old = append(old, d.Token)
	}
	_, err = s.d.Gate().DeleteMany(ctx, s.coll, bson.M{"_id": bson.M{"$in": old}, "user_id": userID})
	return fault.Wrap(err, "forget old devices")
}

// Unregister removes the caller's own device. Another user's token, or an
// unknown one, is NotFound: the caller learns nothing about it.
func (s *Devices) Unregister(ctx context.Context, userID, token string) error {
	res, err := s.d.Gate().DeleteOne(ctx, s.coll, bson.M{"_id": token, "user_id": userID})
	if err != nil {
		return fault.Wrap(err, "unregister device")
	}
	if res.DeletedCount == 0 {
		return fault.NotFoundf("no such device")
	}
	return nil
}

// ofUsers returns the devices of the given users (at most limit).
func (s *Devices) ofUsers(ctx context.Context, userIDs []string, limit int) ([]Device, error) {
	if len(userIDs) == 0 {
		return nil, nil
	}
	cur, err := s.coll.Find(ctx, bson.M{"user_id": bson.M{"$in": userIDs}}, options.Find().SetLimit(int64(limit)))
	if err != nil {
		return nil, fault.Wrap(err, "find devices")
	}
	var out []Device
	if err := cur.All(ctx, &out); err != nil {
		return nil, fault.Wrap(err, "read devices")
	}
	return out, nil
}

// prune forgets a token FCM called unregistered or invalid, whoever has it.
func (s *Devices) prune(ctx context.Context, token string) error {
	_, err := s.d.Gate().DeleteOne(ctx, s.coll, bson.M{"_id": token})
	return err
}

func (s *Devices) eraseUser(ctx context.Context, userID string) error {
	_, err := s.d.Gate().DeleteMany(ctx, s.coll, bson.M{"user_id": userID})
	return fault.Wrap(err, "erase devices")
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
