package matching

import (
	"context"
	"errors"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/db"
)

// The MongoDB engine's profiles, feedback and preferences.

// --- volunteers ---

func (s *mongoStore) Volunteer(ctx context.Context, userID string) (*VolunteerProfile, error) {
	var p VolunteerProfile
	if err := s.volunteers.FindOne(ctx, bson.M{"_id": userID}).Decode(&p); err != nil {
		return nil, mongoErr(err)
	}
	return &p, nil
}

func (s *mongoStore) UpdateVolunteer(ctx context.Context, userID string, create bool, change func(*VolunteerProfile) (bool, error)) (*VolunteerProfile, error) {
	var out *VolunteerProfile
	err := retried(func() error {
		wrote := false
		p, err := casByID(ctx, s.d, s.volunteers, userID, "rev", func(p *VolunteerProfile) int64 { return p.Rev }, true, func(p *VolunteerProfile) (any, error) {
			ok, err := change(p)
			if err != nil || !ok {
				return nil, err
			}
			next := *p
			next.Rev++
			wrote = true
			return &next, nil
		})
		if wrote && p != nil {
			p.Rev++
		}
		if errors.Is(err, ErrNotFound) && create {
			p := &VolunteerProfile{UserID: userID}
			ok, err := change(p)
			if err != nil || !ok {
				return err
			}
			p.Rev = 1
			if _, err := s.volunteers.InsertOne(ctx, p); err != nil {
				if db.IsDuplicateKey(err) {
					return ErrConflict // created meanwhile: change it instead
				}
				return err
			}
			out = p
			return nil
		}
		if err == nil {
			out = p
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	if !create && out == nil {
		return nil, ErrNotFound
	}
	return out, nil
}

func (s *mongoStore) SetVolunteerStatus(ctx context.Context, userID string, status auth.Status) error {
	_, err := s.d.Gate().UpdateOne(ctx, s.volunteers, bson.M{"_id": userID}, bson.M{"$set": bson.M{"status": status}, "$inc": bson.M{"rev": 1}})
	return err
}

// VolunteersInCells leaves the fields ranking does not use on the server.
func (s *mongoStore) VolunteersInCells(ctx context.Context, q VolunteerQuery) ([]VolunteerProfile, error) {
	filter := bson.M{"organisation_id": q.OrgID, "status": q.Status, "home_cell": bson.M{"$in": q.Cells}}
	if q.WithProfile {
		filter["has_profile"] = true
	}
	opts := options.Find().SetProjection(bson.M{"commitments": 0}).
		SetLimit(int64(q.Limit)).SetBatchSize(int32(q.Limit + 1))
	var out []VolunteerProfile
	if err := s.find(ctx, s.volunteers, filter, opts, &out); err != nil || q.Reach == nil {
		return out, err
	}
	// The reach test in Go: FerretDB would evaluate $expr no faster.
	kept := out[:0]
	for _, p := range out {
		if mayReach(p.Home.Lat, p.Home.Lon, p.TravelRadiusKm, *q.Reach) {
			kept = append(kept, p)
		}
	}
	return kept, nil
}

func (s *mongoStore) DeleteVolunteer(ctx context.Context, userID string) error {
	_, err := s.d.Gate().DeleteOne(ctx, s.volunteers, bson.M{"_id": userID})
	return err
}

// --- participants ---

func (s *mongoStore) Participant(ctx context.Context, userID string) (*ParticipantProfile, error) {
	var p ParticipantProfile
	if err := s.participants.FindOne(ctx, bson.M{"_id": userID}).Decode(&p); err != nil {
		return nil, mongoErr(err)
	}
	return &p, nil
}

func (s *mongoStore) UpdateParticipant(ctx context.Context, userID string, change func(*ParticipantProfile)) (*ParticipantProfile, error) {
	var out *ParticipantProfile
	err := retried(func() error {
		p, err := casByID(ctx, s.d, s.participants, userID, "rev", func(p *ParticipantProfile) int64 { return p.Rev }, true, func(p *ParticipantProfile) (any, error) {
			change(p)
			next := *p
			next.Rev++
			return &next, nil
		})
		if p != nil {
			p.Rev++
		}
		if errors.Is(err, ErrNotFound) {
			p = &ParticipantProfile{UserID: userID}
			change(p)
			p.Rev = 1
			if _, err := s.participants.InsertOne(ctx, p); err != nil {
				if db.IsDuplicateKey(err) {
					return ErrConflict
				}
				return err
			}
			out = p
			return nil
		}
		out = p
		return err
	})
	return out, err
}

func (s *mongoStore) DeleteParticipant(ctx context.Context, userID string) error {
	_, err := s.d.Gate().DeleteOne(ctx, s.participants, bson.M{"_id": userID})
	return err
}

// --- feedback ---

func (s *mongoStore) InsertFeedback(ctx context.Context, f *Feedback) error {
	_, err := s.feedback.InsertOne(ctx, f)
	return mongoErr(err)
}

func (s *mongoStore) feedbackWhere(ctx context.Context, filter bson.M) ([]Feedback, error) {
	out := []Feedback{}
	err := s.find(ctx, s.feedback, filter, options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}), &out)
	return out, err
}

func (s *mongoStore) FeedbackByAuthor(ctx context.Context, authorID string) ([]Feedback, error) {
	return s.feedbackWhere(ctx, bson.M{"author_id": authorID})
}

func (s *mongoStore) FeedbackOnOuting(ctx context.Context, outingID string) ([]Feedback, error) {
	return s.feedbackWhere(ctx, bson.M{"outing_id": outingID})
}

func (s *mongoStore) RatingsOf(ctx context.Context, volunteerIDs []string) ([]ratingRow, error) {
	var who any = bson.M{"$in": volunteerIDs}
	if len(volunteerIDs) == 1 {
		who = volunteerIDs[0]
	}
	opts := options.Find().
		SetProjection(bson.M{"_id": 0, "volunteer_id": 1, "participant_id": 1, "rating": 1}).
		SetLimit(maxRatingRows).SetBatchSize(maxRatingRows + 1)
	var rows []ratingRow
	err := s.find(ctx, s.feedback, bson.M{"volunteer_id": who, "author_role": auth.RoleParticipant}, opts, &rows)
	return rows, err
}

// RatingTotalsOf sums RatingsOf's rows.
func (s *mongoStore) RatingTotalsOf(ctx context.Context, volunteerIDs []string, participantID string) ([]ratingTotal, error) {
	rows, err := s.RatingsOf(ctx, volunteerIDs)
	if err != nil {
		return nil, err
	}
	return totalRatings(rows, participantID), nil
}

func (s *mongoStore) EraseFeedbackOf(ctx context.Context, userID string) error {
	upd := func(filter, update bson.M) error {
		_, err := s.d.Gate().UpdateMany(ctx, s.feedback, filter, update)
		return err
	}
	if err := upd(bson.M{"author_id": userID}, bson.M{"$set": bson.M{"author_id": ErasedActor, "comment": ""}}); err != nil {
		return err
	}
	// Comments by others on the erased participant's outings may name them.
	if err := upd(bson.M{"participant_id": userID}, bson.M{"$set": bson.M{"participant_id": ErasedActor, "comment": ""}}); err != nil {
		return err
	}
	return upd(bson.M{"volunteer_id": userID}, bson.M{"$set": bson.M{"volunteer_id": ErasedActor}})
}

// --- preferences: one document per participant, read by _id ---

func (s *mongoStore) Preferences(ctx context.Context, participantID string) (*prefsDoc, error) {
	var d prefsDoc
	err := s.prefs.FindOne(ctx, bson.M{"_id": participantID}).Decode(&d)
	if db.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &d, nil
}

func (s *mongoStore) PreferencesOfMany(ctx context.Context, participantIDs []string) (map[string]*prefsDoc, error) {
	out := make(map[string]*prefsDoc, len(participantIDs))
	if len(participantIDs) == 0 {
		return out, nil
	}
	var docs []prefsDoc
	if err := s.find(ctx, s.prefs, bson.M{"_id": bson.M{"$in": participantIDs}},
		options.Find().SetLimit(int64(len(participantIDs))).SetBatchSize(int32(len(participantIDs)+1)), &docs); err != nil {
		return nil, err
	}
	for i := range docs {
		out[docs[i].ParticipantID] = &docs[i]
	}
	return out, nil
}

// UpdatePreferences creates the document with a unique insert, which
// decides between two creators.
func (s *mongoStore) UpdatePreferences(ctx context.Context, participantID, orgID string, change func(*prefsDoc) (bool, error)) error {
	return retried(func() error {
		_, err := casByID(ctx, s.d, s.prefs, participantID, "rev", func(p *prefsDoc) int64 { return p.Rev }, true, func(d *prefsDoc) (any, error) {
			ok, err := change(d)
			if err != nil || !ok {
				return nil, err
			}
			next := *d
			next.Rev++
			return &next, nil
		})
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		d := prefsDoc{ParticipantID: participantID, OrgID: orgID, Entries: []prefEntry{}, VolunteerIDs: []string{}}
		ok, err := change(&d)
		if err != nil || !ok {
			return err
		}
		d.Rev = 1
		if _, err := s.prefs.InsertOne(ctx, d); db.IsDuplicateKey(err) {
			return ErrConflict // created meanwhile: apply the change to it
		} else if err != nil {
			return err
		}
		return nil
	})
}

func (s *mongoStore) DeletePreferences(ctx context.Context, participantID string) error {
	_, err := s.d.Gate().DeleteOne(ctx, s.prefs, bson.M{"_id": participantID})
	return err
}

func (s *mongoStore) ParticipantsListing(ctx context.Context, volunteerID string) ([]string, error) {
	var rows []struct {
		ID string `bson:"_id"`
	}
	if err := s.find(ctx, s.prefs, bson.M{"volunteer_ids": volunteerID}, options.Find().SetProjection(bson.M{"_id": 1}), &rows); err != nil {
		return nil, err
	}
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.ID
	}
	return out, nil
}
