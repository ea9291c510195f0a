package outcomes

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clavis-app/clavis/internal/db"
)

type mongoStore struct {
	d                                                     *db.DB
	checkins, milestones, pulses, goals, asks, tombstones *mongo.Collection
}

// NewMongoStore keeps outcomes in MongoDB and makes sure its indexes exist.
func NewMongoStore(ctx context.Context, d *db.DB) (Store, error) {
	s := &mongoStore{d: d, checkins: d.Collection("wellbeing_checkins"), milestones: d.Collection("milestones"),
		pulses: d.Collection("volunteer_pulse"), goals: d.Collection("outcome_goals"), asks: d.Collection("outcome_asks"),
		tombstones: d.Collection("outcome_tombstones")}
	key := func(fields ...string) mongo.IndexModel {
		k := bson.D{}
		for _, f := range fields {
			k = append(k, bson.E{Key: f, Value: 1})
		}
		return mongo.IndexModel{Keys: k}
	}
	for _, x := range []struct {
		c      *mongo.Collection
		models []mongo.IndexModel
	}{
		{s.checkins, []mongo.IndexModel{key("user_id", "at"), key("organisation_id", "at")}},
		{s.milestones, []mongo.IndexModel{key("participant_id", "on"), key("organisation_id", "on"), key("recorded_by")}},
		{s.pulses, []mongo.IndexModel{key("user_id"), key("organisation_id", "at")}},
		{s.asks, []mongo.IndexModel{key("kind", "asked_at", "last_answer_at"), key("user_id")}},
		{s.tombstones, []mongo.IndexModel{key("organisation_id")}},
	} {
		if err := db.EnsureIndexes(ctx, x.c, x.models...); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func findAll[T any](ctx context.Context, c *mongo.Collection, filter any, opts *options.FindOptionsBuilder) ([]T, error) {
	cur, err := c.Find(ctx, filter, opts)
	if err != nil {
		return nil, err
	}
	out := []T{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func ms(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

func (s *mongoStore) InsertCheckin(ctx context.Context, c *Checkin) error {
	x := *c
	x.At = ms(x.At)
	_, err := s.checkins.InsertOne(ctx, x)
	return err
}

func (s *mongoStore) CheckinsOf(ctx context.Context, userID string, limit int) ([]Checkin, error) {
	return findAll[Checkin](ctx, s.checkins, bson.M{"user_id": userID},
		options.Find().SetSort(bson.D{{Key: "at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit)))
}

func (s *mongoStore) CheckinsOfOrg(ctx context.Context, orgID string, before time.Time) ([]Checkin, error) {
	return findAll[Checkin](ctx, s.checkins, bson.M{"organisation_id": orgID, "at": bson.M{"$lt": ms(before)}},
		options.Find().SetSort(bson.D{{Key: "at", Value: 1}, {Key: "_id", Value: 1}}))
}

func (s *mongoStore) InsertMilestone(ctx context.Context, m *Milestone) error {
	x := *m
	x.CreatedAt = ms(x.CreatedAt)
	_, err := s.milestones.InsertOne(ctx, x)
	return err
}

func (s *mongoStore) MilestonesOf(ctx context.Context, participantID string, limit int) ([]Milestone, error) {
	return findAll[Milestone](ctx, s.milestones, bson.M{"participant_id": participantID},
		options.Find().SetSort(bson.D{{Key: "on", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit)))
}

func (s *mongoStore) MilestonesOfOrg(ctx context.Context, orgID, from, to string) ([]Milestone, error) {
	return findAll[Milestone](ctx, s.milestones, bson.M{"organisation_id": orgID, "on": bson.M{"$gte": from, "$lte": to}},
		options.Find().SetSort(bson.D{{Key: "on", Value: 1}, {Key: "_id", Value: 1}}))
}

func (s *mongoStore) InsertPulse(ctx context.Context, p *Pulse) error {
	x := *p
	x.At = ms(x.At)
	_, err := s.pulses.InsertOne(ctx, x)
	return err
}

func (s *mongoStore) PulsesOf(ctx context.Context, userID string, limit int) ([]Pulse, error) {
	return findAll[Pulse](ctx, s.pulses, bson.M{"user_id": userID},
		options.Find().SetSort(bson.D{{Key: "at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit)))
}

func (s *mongoStore) PulsesOfOrg(ctx context.Context, orgID string, from, to time.Time) ([]Pulse, error) {
	return findAll[Pulse](ctx, s.pulses, bson.M{"organisation_id": orgID, "at": bson.M{"$gte": ms(from), "$lt": ms(to)}},
		options.Find().SetSort(bson.D{{Key: "at", Value: 1}, {Key: "_id", Value: 1}}))
}

func (s *mongoStore) Goals(ctx context.Context, orgID string) (*Goals, error) {
	var g Goals
	if err := s.goals.FindOne(ctx, bson.M{"_id": orgID}).Decode(&g); err != nil {
		if db.IsNotFound(err) {
			return nil, ErrNotFound
		}
		return nil, err
	}
	return &g, nil
}

func (s *mongoStore) PutGoals(ctx context.Context, g *Goals) error {
	_, err := s.d.Gate().UpdateOne(ctx, s.goals, bson.M{"_id": g.OrgID}, bson.M{"$set": bson.M{
		"participants": g.Participants, "group_completion_rate": g.GroupCompletionRate,
		"confidence_improved_share": g.ConfidenceImprovedShare, "social_improved_share": g.SocialImprovedShare,
		"milestone_people": g.MilestonePeople, "updated_at": ms(g.UpdatedAt),
	}}, options.UpdateOne().SetUpsert(true))
	return err
}

// askDoc: asked_at is Unix ms, 0 when no ask is outstanding.
type askDoc struct {
	ID           string    `bson:"_id"`
	Kind         string    `bson:"kind"`
	UserID       string    `bson:"user_id"`
	OrgID        string    `bson:"organisation_id"`
	LastAnswerAt time.Time `bson:"last_answer_at"`
	AskedAt      int64     `bson:"asked_at"`
}

func (s *mongoStore) Answered(ctx context.Context, kind, userID, orgID string, at time.Time) error {
	_, err := s.d.Gate().UpdateOne(ctx, s.asks, bson.M{"_id": kind + "|" + userID}, bson.M{
		"$set": bson.M{"kind": kind, "user_id": userID, "organisation_id": orgID, "asked_at": int64(0)},
		"$max": bson.M{"last_answer_at": ms(at)},
	}, options.UpdateOne().SetUpsert(true))
	return err
}

func (s *mongoStore) DueAsks(ctx context.Context, kind string, before time.Time, limit int) ([]Schedule, error) {
	docs, err := findAll[askDoc](ctx, s.asks, bson.M{"kind": kind, "asked_at": int64(0), "last_answer_at": bson.M{"$lte": ms(before)}},
		options.Find().SetSort(bson.D{{Key: "last_answer_at", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, err
	}
	out := make([]Schedule, len(docs))
	for i, d := range docs {
		out[i] = Schedule{Kind: d.Kind, UserID: d.UserID, OrgID: d.OrgID, LastAnswerAt: d.LastAnswerAt}
	}
	return out, nil
}

func (s *mongoStore) MarkAsked(ctx context.Context, kind, userID string, at time.Time) error {
	_, err := s.d.Gate().UpdateOne(ctx, s.asks, bson.M{"_id": kind + "|" + userID}, bson.M{"$set": bson.M{"asked_at": ms(at).UnixMilli()}})
	return err
}

// Erase writes the tombstone last: FerretDB has no transactions, and a
// retried erasure finds the person's facts still under their id until then.
func (s *mongoStore) Erase(ctx context.Context, userID string, t Tombstone) error {
	g := s.d.Gate()
	steps := []struct {
		c      *mongo.Collection
		filter bson.M
		set    bson.M
	}{
		{s.checkins, bson.M{"user_id": userID}, bson.M{"user_id": t.ID}},
		{s.milestones, bson.M{"participant_id": userID}, bson.M{"participant_id": t.ID, "note": ""}},
		{s.milestones, bson.M{"recorded_by": userID}, bson.M{"recorded_by": "erased"}},
		{s.pulses, bson.M{"user_id": userID}, bson.M{"user_id": t.ID}},
	}
	for _, st := range steps {
		if _, err := g.UpdateMany(ctx, st.c, st.filter, bson.M{"$set": st.set}); err != nil {
			return err
		}
	}
	if _, err := g.DeleteMany(ctx, s.asks, bson.M{"user_id": userID}); err != nil {
		return err
	}
	t.ErasedAt = ms(t.ErasedAt)
	_, err := s.tombstones.InsertOne(ctx, t)
	return err
}

func (s *mongoStore) Tombstones(ctx context.Context, orgID string) ([]Tombstone, error) {
	return findAll[Tombstone](ctx, s.tombstones, bson.M{"organisation_id": orgID}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
}
