package auth

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The contact lives on the organisation's document, under "contact".
type orgContactDoc struct {
	Name      string        `bson:"name"`
	Phone     string        `bson:"phone"`
	UpdatedBy string        `bson:"updated_by"`
	UpdatedAt bson.DateTime `bson:"updated_at"`
}

func (s *mongoStore) SetOrgContact(ctx context.Context, c OrgContact) error {
	res, err := s.orgs.UpdateOne(ctx, bson.M{"_id": c.OrgID}, bson.M{"$set": bson.M{"contact": orgContactDoc{
		Name: c.Name, Phone: c.Phone, UpdatedBy: c.UpdatedBy, UpdatedAt: bson.NewDateTimeFromTime(c.UpdatedAt)}}})
	if err != nil {
		return err
	}
	if res.MatchedCount == 0 {
		return ErrNotFound
	}
	return nil
}

func (s *mongoStore) OrgContact(ctx context.Context, orgID string) (OrgContact, error) {
	var d struct {
		Contact *orgContactDoc `bson:"contact"`
	}
	if err := s.orgs.FindOne(ctx, bson.M{"_id": orgID}).Decode(&d); err != nil {
		return OrgContact{OrgID: orgID}, notFound(err)
	}
	if d.Contact == nil {
		return OrgContact{OrgID: orgID}, ErrNotFound
	}
	return OrgContact{OrgID: orgID, Name: d.Contact.Name, Phone: d.Contact.Phone, UpdatedBy: d.Contact.UpdatedBy,
		UpdatedAt: d.Contact.UpdatedAt.Time().UTC()}, nil
}
