package expenses

import (
	"context"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clavis-app/clavis/internal/db"
)

// Collections on MongoDB.
const (
	CollExpenses = "expenses"
	// CollTotals holds each outing's running total of expenses that are
	// not rejected: the cap is a conditional increment of one document,
	// since FerretDB has no transactions to sum and insert in.
	CollTotals = "expense_totals"
)

type mongoStore struct {
	d              *db.DB
	expenses, tots *mongo.Collection
}

// NewMongoStore opens the expenses' collections and creates their indexes.
func NewMongoStore(ctx context.Context, d *db.DB) (Store, error) {
	s := &mongoStore{d: d, expenses: d.Collection(CollExpenses), tots: d.Collection(CollTotals)}
	for _, keys := range []bson.D{
		{{Key: "organisation_id", Value: 1}, {Key: "status", Value: 1}, {Key: "outing_date", Value: 1}, {Key: "_id", Value: 1}},
		{{Key: "organisation_id", Value: 1}, {Key: "outing_date", Value: 1}, {Key: "_id", Value: 1}},
		{{Key: "volunteer_id", Value: 1}, {Key: "outing_date", Value: 1}},
	} {
		if err := db.EnsureIndexes(ctx, s.expenses, mongo.IndexModel{Keys: keys}); err != nil {
			return nil, err
		}
	}
	if err := db.EnsureIndexes(ctx, s.tots); err != nil {
		return nil, err
	}
	return s, nil
}

type totalDoc struct {
	ID    string `bson:"_id"`
	Total int64  `bson:"total"`
}

func (s *mongoStore) Insert(ctx context.Context, e Expense, capOre int64) error {
	if _, err := s.tots.InsertOne(ctx, totalDoc{ID: e.OutingID}); err != nil && !db.IsDuplicateKey(err) {
		return err
	}
	res, err := s.d.Gate().UpdateOne(ctx, s.tots, bson.M{"_id": e.OutingID, "total": bson.M{"$lte": capOre - e.AmountOre}},
		bson.M{"$inc": bson.M{"total": e.AmountOre}})
	if err != nil {
		return err
	}
	if res.ModifiedCount == 0 {
		return ErrOverCap
	}
	if _, err := s.expenses.InsertOne(ctx, e); err != nil {
		// Give the room back: the expense was not stored.
		_, _ = s.d.Gate().UpdateOne(context.WithoutCancel(ctx), s.tots, bson.M{"_id": e.OutingID}, bson.M{"$inc": bson.M{"total": -e.AmountOre}})
		return err
	}
	return nil
}

func (s *mongoStore) Expense(ctx context.Context, id string) (Expense, error) {
	var e Expense
	err := s.expenses.FindOne(ctx, bson.M{"_id": id}).Decode(&e)
	if db.IsNotFound(err) {
		return Expense{}, ErrNotFound
	}
	return utc(e), err
}

func utc(e Expense) Expense {
	e.OutingDate, e.CreatedAt = e.OutingDate.UTC(), e.CreatedAt.UTC()
	if e.DecidedAt != nil {
		at := e.DecidedAt.UTC()
		e.DecidedAt = &at
	}
	return e
}

func (s *mongoStore) Decide(ctx context.Context, id string, to Status, reason, by string, at time.Time) (Expense, error) {
	res, err := s.d.Gate().UpdateOne(ctx, s.expenses, bson.M{"_id": id, "status": StatusPending},
		bson.M{"$set": bson.M{"status": to, "reason": reason, "decided_by": by, "decided_at": at}})
	if err != nil {
		return Expense{}, err
	}
	e, err := s.Expense(ctx, id)
	if err != nil {
		return Expense{}, err
	}
	if res.ModifiedCount == 0 {
		return Expense{}, ErrDecided
	}
	if to == StatusRejected {
		if _, err := s.d.Gate().UpdateOne(ctx, s.tots, bson.M{"_id": e.OutingID}, bson.M{"$inc": bson.M{"total": -e.AmountOre}}); err != nil {
			return Expense{}, err
		}
	}
	return e, nil
}

func (s *mongoStore) filter(f Filter) bson.M {
	m := bson.M{"organisation_id": f.OrgID}
	if f.Status != "" {
		m["status"] = f.Status
	}
	date := bson.M{}
	if !f.From.IsZero() {
		date["$gte"] = f.From
	}
	if !f.To.IsZero() {
		date["$lt"] = f.To
	}
	if len(date) > 0 {
		m["outing_date"] = date
	}
	return m
}

func (s *mongoStore) List(ctx context.Context, f Filter, after *Cursor, limit int) ([]Expense, error) {
	m := s.filter(f)
	if after != nil {
		m = bson.M{"$and": bson.A{m, bson.M{"$or": bson.A{
			bson.M{"outing_date": bson.M{"$gt": after.At}},
			bson.M{"outing_date": after.At, "_id": bson.M{"$gt": after.ID}},
		}}}}
	}
	cur, err := s.expenses.Find(ctx, m, options.Find().SetSort(bson.D{{Key: "outing_date", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, err
	}
	out := []Expense{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, err
	}
	for i := range out {
		out[i] = utc(out[i])
	}
	return out, nil
}

func (s *mongoStore) sum(ctx context.Context, m bson.M) (int64, error) {
	cur, err := s.expenses.Find(ctx, m, options.Find().SetProjection(bson.M{"amount_ore": 1}))
	if err != nil {
		return 0, err
	}
	var rows []struct {
		Amount int64 `bson:"amount_ore"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return 0, err
	}
	var total int64
	for _, r := range rows {
		total += r.Amount
	}
	return total, nil
}

func (s *mongoStore) ApprovedOre(ctx context.Context, orgID string, from, to time.Time) (int64, error) {
	return s.sum(ctx, s.filter(Filter{OrgID: orgID, Status: StatusApproved, From: from, To: to}))
}

func (s *mongoStore) OutingTotal(ctx context.Context, outingID string) (int64, error) {
	return s.sum(ctx, bson.M{"outing_id": outingID, "status": bson.M{"$ne": StatusRejected}})
}

func (s *mongoStore) ExpensesOf(ctx context.Context, volunteerID string, limit int) ([]Expense, error) {
	cur, err := s.expenses.Find(ctx, bson.M{"volunteer_id": volunteerID},
		options.Find().SetSort(bson.D{{Key: "outing_date", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, err
	}
	out := []Expense{}
	if err := cur.All(ctx, &out); err != nil {
		return nil, err
	}
	for i := range out {
		out[i] = utc(out[i])
	}
	return out, nil
}

func (s *mongoStore) ForgetVolunteer(ctx context.Context, volunteerID, tombstone string) error {
	_, err := s.expenses.UpdateMany(ctx, bson.M{"volunteer_id": volunteerID},
		bson.M{"$set": bson.M{"volunteer_id": tombstone, "note": ""}})
	return err
}
