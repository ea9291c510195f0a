package groups

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clavis-app/clavis/internal/db"
)

// mongoStore is the Store on MongoDB or the embedded FerretDB, which has no
// transactions. Unique inserts arbitrate what must happen once:
// group_active (_id group|participant) holds one place per participant and
// group; group_seats (_id group|n, unique holder) holds the capacity's
// seats. A leaver's seat is handed to the first waiting by a conditional
// update of its holder, so a seat is never free while someone waits, and
// the holder's unique index keeps two leavers from promoting one person
// twice. Sequence numbers (the waiting order) come from an $inc on the
// group document, atomic on MongoDB and through the gate on FerretDB.
type mongoStore struct {
	d        *db.DB
	groups   *mongo.Collection
	sessions *mongo.Collection
	enrols   *mongo.Collection
	active   *mongo.Collection
	seats    *mongo.Collection
	marks    *mongo.Collection
	escorts  *mongo.Collection
}

// NewMongoStore creates the groups' indexes in d and returns its Store.
func NewMongoStore(ctx context.Context, d *db.DB) (Store, error) {
	s := &mongoStore{d: d, groups: d.Collection("group_defs"), sessions: d.Collection("group_sessions"),
		enrols: d.Collection("group_enrolments"), active: d.Collection("group_active"), seats: d.Collection("group_seats"),
		marks: d.Collection("group_marks"), escorts: d.Collection("group_escorts")}
	idx := []struct {
		c *mongo.Collection
		m mongo.IndexModel
	}{
		{s.groups, mongo.IndexModel{Keys: bson.D{{Key: "organisation_id", Value: 1}, {Key: "_id", Value: 1}}}},
		{s.sessions, mongo.IndexModel{Keys: bson.D{{Key: "group_id", Value: 1}, {Key: "starts_at", Value: 1}}}},
		{s.enrols, mongo.IndexModel{Keys: bson.D{{Key: "group_id", Value: 1}, {Key: "seq", Value: 1}}}},
		{s.enrols, mongo.IndexModel{Keys: bson.D{{Key: "participant_id", Value: 1}}}},
		{s.seats, mongo.IndexModel{Keys: bson.D{{Key: "holder", Value: 1}}, Options: options.Index().SetUnique(true)}},
		{s.marks, mongo.IndexModel{Keys: bson.D{{Key: "group_id", Value: 1}}}},
		{s.escorts, mongo.IndexModel{Keys: bson.D{{Key: "session_id", Value: 1}}}},
		{s.escorts, mongo.IndexModel{Keys: bson.D{{Key: "participant_id", Value: 1}}}},
		{s.escorts, mongo.IndexModel{Keys: bson.D{{Key: "outing_id", Value: 1}}}},
	}
	for _, x := range idx {
		if err := db.EnsureIndexes(ctx, x.c, x.m); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func mongoErr(err error) error {
	switch {
	case err == nil:
		return nil
	case db.IsNotFound(err):
		return ErrNotFound
	case db.IsDuplicateKey(err):
		return ErrDuplicate
	}
	return err
}

func (g *Group) utc() {
	g.StartsAt, g.EndsAt, g.CreatedAt = g.StartsAt.UTC(), g.EndsAt.UTC(), g.CreatedAt.UTC()
}

func (s *mongoStore) CreateGroup(ctx context.Context, g *Group, sessions []Session) error {
	// Sessions first: a group is only found once it is whole.
	if len(sessions) > 0 {
		docs := make([]any, len(sessions))
		for i := range sessions {
			docs[i] = sessions[i]
		}
		if _, err := s.sessions.InsertMany(ctx, docs); err != nil {
			return mongoErr(err)
		}
	}
	_, err := s.groups.InsertOne(ctx, g)
	return mongoErr(err)
}

func (s *mongoStore) counts(ctx context.Context, g *Group) error {
	n, err := s.enrols.CountDocuments(ctx, bson.M{"group_id": g.ID, "status": Enrolled})
	if err != nil {
		return err
	}
	w, err := s.enrols.CountDocuments(ctx, bson.M{"group_id": g.ID, "status": Waiting})
	g.EnrolledCount, g.WaitingCount = int(n), int(w)
	return err
}

func (s *mongoStore) Group(ctx context.Context, id string) (*Group, error) {
	var g Group
	if err := s.groups.FindOne(ctx, bson.M{"_id": id}).Decode(&g); err != nil {
		return nil, mongoErr(err)
	}
	g.utc()
	return &g, s.counts(ctx, &g)
}

func (s *mongoStore) findGroups(ctx context.Context, filter bson.M, limit int) ([]Group, error) {
	opts := options.Find().SetSort(bson.D{{Key: "_id", Value: 1}})
	if limit > 0 {
		opts.SetLimit(int64(limit))
	}
	cur, err := s.groups.Find(ctx, filter, opts)
	if err != nil {
		return nil, err
	}
	var out []Group
	if err := cur.All(ctx, &out); err != nil {
		return nil, err
	}
	for i := range out {
		out[i].utc()
		if err := s.counts(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *mongoStore) OrgGroups(ctx context.Context, orgID, after string, limit int) ([]Group, error) {
	return s.findGroups(ctx, bson.M{"organisation_id": orgID, "_id": bson.M{"$gt": after}}, limit)
}

func (s *mongoStore) GroupsByID(ctx context.Context, ids []string) ([]Group, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return s.findGroups(ctx, bson.M{"_id": bson.M{"$in": ids}}, 0)
}

func (s *mongoStore) Decide(ctx context.Context, groupID string, results map[string]string) (bool, error) {
	// The statuses first, then the flag: a crash in between decides again
	// with the same results.
	for pid, status := range results {
		if _, err := s.d.Gate().UpdateMany(ctx, s.enrols, bson.M{"group_id": groupID, "participant_id": pid, "status": Enrolled},
			bson.M{"$set": bson.M{"status": status}}); err != nil {
			return false, err
		}
	}
	res, err := s.d.Gate().UpdateOne(ctx, s.groups, bson.M{"_id": groupID, "decided": false}, bson.M{"$set": bson.M{"decided": true}})
	if err != nil {
		return false, err
	}
	return res.MatchedCount > 0, nil
}

func (s *mongoStore) findSessions(ctx context.Context, filter bson.M) ([]Session, error) {
	cur, err := s.sessions.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "starts_at", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(maxSessions))
	if err != nil {
		return nil, err
	}
	var out []Session
	if err := cur.All(ctx, &out); err != nil {
		return nil, err
	}
	for i := range out {
		out[i].StartsAt, out[i].EndsAt = out[i].StartsAt.UTC(), out[i].EndsAt.UTC()
	}
	return out, nil
}

func (s *mongoStore) Sessions(ctx context.Context, groupID string) ([]Session, error) {
	return s.findSessions(ctx, bson.M{"group_id": groupID})
}

func (s *mongoStore) Session(ctx context.Context, id string) (*Session, error) {
	list, err := s.findSessions(ctx, bson.M{"_id": id})
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, ErrNotFound
	}
	return &list[0], nil
}

func (s *mongoStore) UpdateSession(ctx context.Context, ss Session, groupStarts, groupEnds time.Time) error {
	res, err := s.d.Gate().UpdateOne(ctx, s.sessions, bson.M{"_id": ss.ID},
		bson.M{"$set": bson.M{"starts_at": ss.StartsAt, "ends_at": ss.EndsAt, "status": ss.Status, "reason": ss.Reason}})
	if err != nil {
		return err
	}
	if res.MatchedCount == 0 {
		return ErrNotFound
	}
	_, err = s.d.Gate().UpdateOne(ctx, s.groups, bson.M{"_id": ss.GroupID},
		bson.M{"$set": bson.M{"starts_at": groupStarts, "ends_at": groupEnds}})
	return err
}

func activeID(groupID, participantID string) string { return groupID + "|" + participantID }

type seatDoc struct {
	ID     string `bson:"_id"`
	Group  string `bson:"group_id"`
	Holder string `bson:"holder"`
}

func (s *mongoStore) Enrol(ctx context.Context, e Enrolment, capacity int) (Enrolment, error) {
	if _, err := s.active.InsertOne(ctx, bson.M{"_id": activeID(e.GroupID, e.ParticipantID)}); err != nil {
		return Enrolment{}, mongoErr(err)
	}
	undo := func(err error) (Enrolment, error) {
		_, _ = s.active.DeleteOne(ctx, bson.M{"_id": activeID(e.GroupID, e.ParticipantID)})
		return Enrolment{}, mongoErr(err)
	}
	var g struct {
		Seq int64 `bson:"seq"`
	}
	if err := s.d.Gate().FindOneAndUpdate(ctx, s.groups, bson.M{"_id": e.GroupID}, bson.M{"$inc": bson.M{"seq": 1}}, &g,
		options.FindOneAndUpdate().SetReturnDocument(options.After)); err != nil {
		return undo(err)
	}
	e.Seq, e.Status = g.Seq, Waiting
	// Nobody waiting: try the seats. Someone waiting: queue behind them,
	// even if a seat looks free (it is being handed on).
	waiting, err := s.enrols.CountDocuments(ctx, bson.M{"group_id": e.GroupID, "status": Waiting})
	if err != nil {
		return undo(err)
	}
	if waiting == 0 {
		for n := range capacity {
			_, err := s.seats.InsertOne(ctx, seatDoc{ID: fmt.Sprintf("%s|%d", e.GroupID, n), Group: e.GroupID, Holder: activeID(e.GroupID, e.ParticipantID)})
			if err == nil {
				e.Status = Enrolled
				break
			}
			if !db.IsDuplicateKey(err) {
				return undo(err)
			}
		}
	}
	if _, err := s.enrols.InsertOne(ctx, e); err != nil {
		return undo(err)
	}
	if e.Status == Waiting {
		return e, s.position(ctx, &e)
	}
	return e, nil
}

func (s *mongoStore) position(ctx context.Context, e *Enrolment) error {
	if e.Status != Waiting {
		return nil
	}
	n, err := s.enrols.CountDocuments(ctx, bson.M{"group_id": e.GroupID, "status": Waiting, "seq": bson.M{"$lt": e.Seq}})
	e.Position = int(n) + 1
	return err
}

func (s *mongoStore) Leave(ctx context.Context, groupID, participantID string, at time.Time) (Enrolment, *Enrolment, error) {
	var left Enrolment
	err := s.d.Gate().FindOneAndUpdate(ctx, s.enrols,
		bson.M{"group_id": groupID, "participant_id": participantID, "status": bson.M{"$in": []string{Enrolled, Waiting}}},
		bson.M{"$set": bson.M{"status": Left}}, &left, options.FindOneAndUpdate().SetReturnDocument(options.Before))
	if err != nil {
		return Enrolment{}, nil, mongoErr(err)
	}
	left.At = left.At.UTC()
	was := left.Status
	left.Status = Left
	if _, err := s.active.DeleteOne(ctx, bson.M{"_id": activeID(groupID, participantID)}); err != nil {
		return left, nil, err
	}
	if was != Enrolled {
		return left, nil, nil
	}
	holder := activeID(groupID, participantID)
	for range 20 {
		next, err := s.firstWaiting(ctx, groupID)
		if err != nil {
			return left, nil, err
		}
		if next == nil {
			_, err := s.d.Gate().DeleteOne(ctx, s.seats, bson.M{"holder": holder})
			return left, nil, err
		}
		res, err := s.d.Gate().UpdateOne(ctx, s.seats, bson.M{"holder": holder}, bson.M{"$set": bson.M{"holder": activeID(groupID, next.ParticipantID)}})
		if db.IsDuplicateKey(err) {
			// Another leaver handed its seat to the same person; wait for
			// their status to change and try the next one.
			time.Sleep(5 * time.Millisecond)
			continue
		}
		if err != nil {
			return left, nil, err
		}
		if res.MatchedCount == 0 {
			return left, nil, nil // no seat held (a crash earlier): nothing to hand on
		}
		if _, err := s.d.Gate().UpdateOne(ctx, s.enrols, bson.M{"_id": next.ID, "status": Waiting}, bson.M{"$set": bson.M{"status": Enrolled, "at": at}}); err != nil {
			return left, nil, err
		}
		next.Status, next.Position, next.At = Enrolled, 0, at.UTC()
		return left, next, nil
	}
	return left, nil, errors.New("groups: could not hand on a seat")
}

func (s *mongoStore) firstWaiting(ctx context.Context, groupID string) (*Enrolment, error) {
	var e Enrolment
	err := s.enrols.FindOne(ctx, bson.M{"group_id": groupID, "status": Waiting}, options.FindOne().SetSort(bson.D{{Key: "seq", Value: 1}})).Decode(&e)
	if db.IsNotFound(err) {
		return nil, nil
	}
	e.At = e.At.UTC()
	return &e, err
}

func (s *mongoStore) Enrolment(ctx context.Context, groupID, participantID string) (*Enrolment, error) {
	var e Enrolment
	err := s.enrols.FindOne(ctx, bson.M{"group_id": groupID, "participant_id": participantID},
		options.FindOne().SetSort(bson.D{{Key: "seq", Value: -1}})).Decode(&e)
	if err != nil {
		return nil, mongoErr(err)
	}
	e.At = e.At.UTC()
	return &e, s.position(ctx, &e)
}

func (s *mongoStore) findEnrolments(ctx context.Context, filter bson.M, sort bson.D, limit int) ([]Enrolment, error) {
	cur, err := s.enrols.Find(ctx, filter, options.Find().SetSort(sort).SetLimit(int64(limit)))
	if err != nil {
		return nil, err
	}
	var out []Enrolment
	if err := cur.All(ctx, &out); err != nil {
		return nil, err
	}
	for i := range out {
		out[i].At = out[i].At.UTC()
		if err := s.position(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *mongoStore) Enrolments(ctx context.Context, groupID string, afterSeq int64, limit int) ([]Enrolment, error) {
	return s.findEnrolments(ctx, bson.M{"group_id": groupID, "seq": bson.M{"$gt": afterSeq}}, bson.D{{Key: "seq", Value: 1}}, limit)
}

func (s *mongoStore) EnrolmentsOf(ctx context.Context, participantID, after string, limit int) ([]Enrolment, error) {
	return s.findEnrolments(ctx, bson.M{"participant_id": participantID, "group_id": bson.M{"$gt": after}, "status": bson.M{"$ne": Left}},
		bson.D{{Key: "group_id", Value: 1}}, limit)
}

func (s *mongoStore) EraseParticipant(ctx context.Context, participantID, tombstone string) error {
	mine, err := s.findEnrolments(ctx, bson.M{"participant_id": participantID}, bson.D{{Key: "seq", Value: 1}}, 10000)
	if err != nil {
		return err
	}
	for _, e := range mine {
		if e.Status == Enrolled || e.Status == Waiting {
			if _, _, err := s.Leave(ctx, e.GroupID, participantID, time.Now().UTC().Truncate(time.Millisecond)); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
	}
	if _, err := s.d.Gate().UpdateMany(ctx, s.enrols, bson.M{"participant_id": participantID},
		bson.M{"$set": bson.M{"participant_id": tombstone}}); err != nil {
		return err
	}
	// A mark's _id names its participant: the tombstone's marks are written
	// under new ids before the old ones go (a crash in between leaves both,
	// and erasing again finishes).
	cur, err := s.marks.Find(ctx, bson.M{"participant_id": participantID})
	if err != nil {
		return err
	}
	var docs []markDoc
	if err := cur.All(ctx, &docs); err != nil {
		return err
	}
	var moved []Mark
	for _, d := range docs {
		d.Mark.ParticipantID = tombstone
		moved = append(moved, d.Mark)
	}
	if err := s.PutMarks(ctx, moved); err != nil {
		return err
	}
	for _, c := range []*mongo.Collection{s.marks, s.escorts} {
		if _, err := s.d.Gate().DeleteMany(ctx, c, bson.M{"participant_id": participantID}); err != nil {
			return err
		}
	}
	return nil
}

func (s *mongoStore) PeriodEnrolments(ctx context.Context, orgID string, from, to time.Time, limit int) ([]Enrolment, error) {
	cur, err := s.groups.Find(ctx, bson.M{"organisation_id": orgID, "starts_at": bson.M{"$lt": to}, "ends_at": bson.M{"$gt": from}},
		options.Find().SetProjection(bson.M{"_id": 1}).SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, err
	}
	var gs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &gs); err != nil {
		return nil, err
	}
	var out []Enrolment
	for _, g := range gs {
		if len(out) >= limit {
			break
		}
		es, err := s.findEnrolments(ctx, bson.M{"group_id": g.ID, "status": bson.M{"$in": []string{Enrolled, Completed, NotCompleted}}},
			bson.D{{Key: "seq", Value: 1}}, limit-len(out))
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	return out, nil
}

func (s *mongoStore) EnrolmentIDsOf(ctx context.Context, participantID string, limit int) ([]string, error) {
	cur, err := s.enrols.Find(ctx, bson.M{"participant_id": participantID},
		options.Find().SetProjection(bson.M{"_id": 1}).SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, err
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.ID
	}
	return out, nil
}

type markDoc struct {
	ID   string `bson:"_id"`
	Mark `bson:",inline"`
}

func (s *mongoStore) PutMarks(ctx context.Context, marks []Mark) error {
	if len(marks) == 0 {
		return nil
	}
	models := make([]mongo.WriteModel, len(marks))
	for i, m := range marks {
		models[i] = mongo.NewReplaceOneModel().SetFilter(bson.M{"_id": m.SessionID + "|" + m.ParticipantID}).
			SetReplacement(markDoc{ID: m.SessionID + "|" + m.ParticipantID, Mark: m}).SetUpsert(true)
	}
	return s.d.Gate().Do(s.marks, func() error {
		_, err := s.marks.BulkWrite(ctx, models)
		return err
	})
}

func (s *mongoStore) Marks(ctx context.Context, groupID string) ([]Mark, error) {
	cur, err := s.marks.Find(ctx, bson.M{"group_id": groupID})
	if err != nil {
		return nil, err
	}
	var docs []markDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	out := make([]Mark, len(docs))
	for i, d := range docs {
		out[i] = d.Mark
	}
	return out, nil
}

type escortDoc struct {
	ID         string `bson:"_id"`
	EscortLink `bson:",inline"`
}

func (s *mongoStore) LinkEscort(ctx context.Context, l EscortLink) error {
	_, err := s.escorts.InsertOne(ctx, escortDoc{ID: l.SessionID + "|" + l.ParticipantID + "|" + l.OutingID, EscortLink: l})
	if db.IsDuplicateKey(err) {
		return nil
	}
	return err
}

func (s *mongoStore) findEscorts(ctx context.Context, filter bson.M) ([]EscortLink, error) {
	cur, err := s.escorts.Find(ctx, filter, options.Find().SetLimit(maxSessions*4))
	if err != nil {
		return nil, err
	}
	var docs []escortDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	out := make([]EscortLink, len(docs))
	for i, d := range docs {
		out[i] = d.EscortLink
	}
	slices.SortFunc(out, func(a, b EscortLink) int {
		if a.SessionID != b.SessionID {
			return strings.Compare(a.SessionID, b.SessionID)
		}
		return strings.Compare(a.OutingID, b.OutingID)
	})
	return out, nil
}

func (s *mongoStore) Escorts(ctx context.Context, sessionID string) ([]EscortLink, error) {
	return s.findEscorts(ctx, bson.M{"session_id": sessionID})
}

func (s *mongoStore) EscortsOf(ctx context.Context, groupID, participantID string) ([]EscortLink, error) {
	return s.findEscorts(ctx, bson.M{"participant_id": participantID, "group_id": groupID})
}

func (s *mongoStore) EscortByOuting(ctx context.Context, outingID string) (*EscortLink, error) {
	var d escortDoc
	if err := s.escorts.FindOne(ctx, bson.M{"outing_id": outingID}).Decode(&d); err != nil {
		return nil, mongoErr(err)
	}
	return &d.EscortLink, nil
}
