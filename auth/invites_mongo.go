package auth

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clavis-app/clavis/internal/db"
)

type inviteDoc struct {
	Code      string    `bson:"_id"`
	OrgID     string    `bson:"org_id"`
	Role      Role      `bson:"role"`
	ExpiresAt time.Time `bson:"expires_at"`
	MaxUses   int       `bson:"max_uses"`
	CreatedBy string    `bson:"created_by"`
	CreatedAt time.Time `bson:"created_at"`
}

// useDoc is one use of an invite: slot n of code, _id "code:n". Claiming a
// use is a unique insert, the one decision FerretDB makes atomically across
// processes (a filtered update is atomic only under one process's write
// gate), so no more than max_uses slots can ever exist. The count of a
// code's slots is its uses.
type useDoc struct {
	ID     string    `bson:"_id"`
	Code   string    `bson:"code"`
	UserID string    `bson:"user_id"`
	At     time.Time `bson:"at"`
}

func (s *mongoStore) inviteOf(ctx context.Context, d inviteDoc) (Invite, error) {
	n, err := s.uses.CountDocuments(ctx, bson.M{"code": d.Code})
	if err != nil {
		return Invite{}, err
	}
	return Invite{Code: d.Code, OrgID: d.OrgID, Role: d.Role, ExpiresAt: d.ExpiresAt.UTC(), MaxUses: d.MaxUses, Uses: int(n),
		CreatedBy: d.CreatedBy, CreatedAt: d.CreatedAt.UTC()}, nil
}

func (s *mongoStore) InsertInvite(ctx context.Context, inv Invite) error {
	_, err := s.invites.InsertOne(ctx, inviteDoc{Code: inv.Code, OrgID: inv.OrgID, Role: inv.Role, ExpiresAt: inv.ExpiresAt,
		MaxUses: inv.MaxUses, CreatedBy: inv.CreatedBy, CreatedAt: inv.CreatedAt})
	if db.IsDuplicateKey(err) {
		return ErrDuplicate
	}
	return err
}

func (s *mongoStore) Invite(ctx context.Context, code string) (Invite, error) {
	var d inviteDoc
	if err := s.invites.FindOne(ctx, bson.M{"_id": code}).Decode(&d); err != nil {
		return Invite{}, notFound(err)
	}
	return s.inviteOf(ctx, d)
}

func (s *mongoStore) Invites(ctx context.Context, orgID, after string, limit int) ([]Invite, error) {
	cur, err := s.invites.Find(ctx, bson.M{"org_id": orgID, "_id": bson.M{"$gt": after}},
		options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, err
	}
	var docs []inviteDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	out := make([]Invite, 0, len(docs))
	for _, d := range docs {
		inv, err := s.inviteOf(ctx, d)
		if err != nil {
			return nil, err
		}
		out = append(out, inv)
	}
	return out, nil
}

func (s *mongoStore) DeleteInvite(ctx context.Context, orgID, code string) error {
	res, err := s.db.Gate().DeleteOne(ctx, s.invites, bson.M{"_id": code, "org_id": orgID})
	if err != nil {
		return err
	}
	if res.DeletedCount == 0 {
		return ErrNotFound
	}
	_, err = s.db.Gate().DeleteMany(ctx, s.uses, bson.M{"code": code})
	return err
}

// RegisterWithInvite claims a free slot, then inserts the account; if that
// fails the slot is given back. Without transactions a racing registration
// may meanwhile see the code used up.
func (s *mongoStore) RegisterWithInvite(ctx context.Context, code string, u UserRecord, at time.Time) error {
	inv, err := s.Invite(ctx, code)
	if err != nil {
		return err
	}
	if inv.Role != u.Role || !inv.ExpiresAt.After(at) {
		return ErrConflict
	}
	slot := ""
	for n := inv.Uses + 1; n <= inv.MaxUses && slot == ""; n++ {
		id := fmt.Sprintf("%s:%d", code, n)
		_, err := s.uses.InsertOne(ctx, useDoc{ID: id, Code: code, UserID: u.ID, At: at})
		switch {
		case err == nil:
			slot = id
		case !db.IsDuplicateKey(err):
			return err
		}
	}
	if slot == "" {
		return ErrConflict
	}
	if err := s.InsertUser(ctx, u); err != nil {
		if _, derr := s.db.Gate().DeleteOne(context.WithoutCancel(ctx), s.uses, bson.M{"_id": slot}); derr != nil {
			return derr
		}
		return err
	}
	return nil
}
