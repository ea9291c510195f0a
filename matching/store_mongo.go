package matching

import (
	"context"
	"errors"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clavis-app/clavis/internal/db"
)

// Collection names of the MongoDB engine.
const (
	CollOutings      = "outings"
	CollVolunteers   = "volunteer_profiles"
	CollParticipants = "participant_profiles"
	CollFeedback     = "feedback"
	CollPreferences  = "volunteer_preferences"
)

// mongoStore is matching's MongoDB engine. Hot paths (every transition,
// every busy check, the dispatcher's delivery) touch documents by _id only:
// the embedded FerretDB pushes nothing but an exact {_id: v} filter down to
// SQLite and scans the whole collection in Go for everything else.
type mongoStore struct {
	d            *db.DB
	outings      *mongo.Collection
	volunteers   *mongo.Collection
	participants *mongo.Collection
	feedback     *mongo.Collection
	prefs        *mongo.Collection
}

// NewMongoStore opens matching's collections and creates their indexes.
func NewMongoStore(ctx context.Context, d *db.DB) (Store, error) {
	s := &mongoStore{
		d:            d,
		outings:      d.Collection(CollOutings),
		volunteers:   d.Collection(CollVolunteers),
		participants: d.Collection(CollParticipants),
		feedback:     d.Collection(CollFeedback),
		prefs:        d.Collection(CollPreferences),
	}
	idx := func(keys ...string) mongo.IndexModel {
		var d bson.D
		for _, k := range keys {
			dir := 1
			if name, ok := strings.CutPrefix(k, "-"); ok {
				k, dir = name, -1
			}
			d = append(d, bson.E{Key: k, Value: dir})
		}
		return mongo.IndexModel{Keys: d}
	}
	// One index a call (FerretDB v1.24.2 panics on several existing ones
	// in one createIndexes).
	for _, want := range []struct {
		coll *mongo.Collection
		idx  mongo.IndexModel
	}{
		{s.outings, idx("status", "starts_at")},
		{s.outings, idx("participant_id", "-created_at", "-_id")},
		{s.outings, idx("volunteer_id", "-created_at", "-_id")},
		{s.outings, idx("organisation_id", "-created_at", "-_id")},
		{s.outings, idx("organisation_id", "status", "starts_at")},
		{s.outings, idx("has_pending_events")},
		{s.outings, idx("status", "offer_check_at")},
		{s.outings, idx("offered_ids")},
		{s.outings, idx("postponement.answer_by_ms")},
		{s.volunteers, idx("organisation_id", "status", "home_cell")},
		{s.participants, idx("organisation_id")},
		{s.feedback, idx("author_id")},
		{s.feedback, idx("participant_id")},
		{s.feedback, idx("volunteer_id")},
		{s.prefs, idx("volunteer_ids")},
	} {
		if err := db.EnsureIndexes(ctx, want.coll, want.idx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// mongoErr maps the driver's errors to the store's.
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

// casByID reads the document _id=id from coll, lets decide turn it into an
// update (or, with replace, a whole new document), and writes it only if
// the document's version is still the one read:
//   - MongoDB: the write filters on {_id, <versionField>: seen}, atomic by
//     itself; 0 matched returns ErrConflict.
//   - embedded FerretDB: the collection's gate is held from the read to the
//     write, and the write filters on {_id} alone, the only filter FerretDB
//     pushes down to SQLite. Every write to these collections goes through
//     the gate, so nothing changes in between.
//
// decide returning nil means "no write". The document read is returned.
func casByID[T any](ctx context.Context, d *db.DB, coll *mongo.Collection, id, versionField string, version func(*T) int64, replace bool, decide func(*T) (any, error)) (*T, error) {
	var doc *T
	err := d.Gate().Do(coll, func() error {
		doc = new(T)
		if err := coll.FindOne(ctx, bson.M{"_id": id}).Decode(doc); err != nil {
			return err
		}
		upd, err := decide(doc)
		if err != nil || upd == nil {
			return err
		}
		filter := bson.M{"_id": id}
		if !d.Embedded {
			if v := version(doc); v == 0 {
				filter[versionField] = bson.M{"$in": bson.A{nil, 0}}
			} else {
				filter[versionField] = v
			}
		}
		var res *mongo.UpdateResult
		if replace {
			res, err = coll.ReplaceOne(ctx, filter, upd)
		} else {
			res, err = coll.UpdateOne(ctx, filter, upd)
		}
		if err != nil {
			return err
		}
		if res.MatchedCount == 0 {
			return ErrConflict
		}
		return nil
	})
	return doc, mongoErr(err)
}

// retried runs a read-modify-write again when another writer got between
// its read and its write (MongoDB only; the gate prevents it embedded).
func retried(fn func() error) error {
	for attempt := 0; ; attempt++ {
		err := fn()
		if errors.Is(err, ErrConflict) && attempt < 5 {
			continue
		}
		return err
	}
}

// --- outings ---

func (s *mongoStore) InsertOuting(ctx context.Context, o *Outing) error {
	_, err := s.outings.InsertOne(ctx, o)
	return mongoErr(err)
}

func (s *mongoStore) Outing(ctx context.Context, id string) (*Outing, error) {
	var o Outing
	if err := s.outings.FindOne(ctx, bson.M{"_id": id}).Decode(&o); err != nil {
		return nil, mongoErr(err)
	}
	return &o, nil
}

// moveUpdate is the single-document update that carries out m: status,
// version, history, events and exclusions change together or not at all.
func moveUpdate(m Move, now time.Time) bson.M {
	set := bson.M{}
	push := bson.M{}
	addToSet := bson.M{}
	upd := bson.M{}
	if m.Changes() {
		set["status"] = m.To
		set["updated_at"] = now
		upd["$inc"] = bson.M{"version": 1}
		push["history"] = HistoryEntry{At: now, ActorID: m.Actor, From: m.From, To: m.To, Reason: m.Reason}
	}
	if m.SetVolunteer != "" {
		set["volunteer_id"] = m.SetVolunteer
		if m.SetVolunteerName != "" {
			set["volunteer_name"] = m.SetVolunteerName
		}
	}
	unset := bson.M{}
	if m.ClearVolunteer {
		unset["volunteer_id"], unset["volunteer_name"] = "", ""
	}
	if m.Patch != nil {
		m.Patch.mongo(set, unset)
	}
	if len(unset) > 0 {
		upd["$unset"] = unset
	}
	if m.Exclude != "" {
		addToSet["excluded_volunteers"] = m.Exclude
	}
	if m.Decline != "" {
		addToSet["declined_by"] = m.Decline
	}
	if len(m.Events) > 0 {
		push["pending_events"] = bson.M{"$each": m.Events}
		set["has_pending_events"] = true
	}
	for op, fields := range map[string]bson.M{"$set": set, "$push": push, "$addToSet": addToSet} {
		if len(fields) > 0 {
			upd[op] = fields
		}
	}
	if len(upd) == 0 {
		return nil
	}
	return upd
}

func outingVersion(o *Outing) int64 { return o.Version }

func (s *mongoStore) TransitionOuting(ctx context.Context, id string, now time.Time, decide func(context.Context, *Outing) (Move, error)) (*Outing, Move, error) {
	var move Move
	o, err := casByID(ctx, s.d, s.outings, id, "version", outingVersion, false, func(o *Outing) (any, error) {
		m, err := decide(ctx, o)
		if err != nil {
			return nil, err
		}
		move = m
		if upd := moveUpdate(m, now); upd != nil {
			return upd, nil
		}
		return nil, nil
	})
	if err != nil {
		return nil, Move{}, err
	}
	return o, move, nil
}

// UpdateOuting sets every field of the outing and unsets the empty
// optional ones, so the offer fields on the same document stay.
func (s *mongoStore) UpdateOuting(ctx context.Context, id string, change func(*Outing) (bool, error)) error {
	_, err := casByID(ctx, s.d, s.outings, id, "version", outingVersion, false, func(o *Outing) (any, error) {
		before := o.Version
		ok, err := change(o)
		if err != nil || !ok {
			return nil, err
		}
		raw, err := bson.Marshal(o)
		if err != nil {
			return nil, err
		}
		var set bson.M
		if err := bson.Unmarshal(raw, &set); err != nil {
			return nil, err
		}
		delete(set, "_id")
		o.Version = before // the filter wants the version read
		unset := bson.M{}
		for _, k := range []string{"participant_name", "note", "volunteer_id", "erased"} {
			if _, ok := set[k]; !ok {
				unset[k] = ""
			}
		}
		upd := bson.M{"$set": set}
		if len(unset) > 0 {
			upd["$unset"] = unset
		}
		return upd, nil
	})
	return err
}

func (s *mongoStore) OutingsPage(ctx context.Context, f OutingFilter, limit int, after *pageCursor) ([]Outing, *pageCursor, error) {
	filter := bson.M{}
	switch {
	case f.ParticipantID != "":
		filter["participant_id"] = f.ParticipantID
	case f.VolunteerID != "":
		filter["volunteer_id"] = f.VolunteerID
	default:
		filter["organisation_id"] = f.OrgID
	}
	if f.Status != "" {
		filter["status"] = f.Status
	}
	if after != nil {
		filter = bson.M{"$and": bson.A{filter, bson.M{"$or": bson.A{
			bson.M{"created_at": bson.M{"$lt": after.at}},
			bson.M{"created_at": after.at, "_id": bson.M{"$lt": after.id}},
		}}}}
	}
	opts := options.Find().SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit + 1))
	var out []Outing
	if err := s.find(ctx, s.outings, filter, opts, &out); err != nil {
		return nil, nil, err
	}
	if len(out) <= limit {
		return out, nil, nil
	}
	out = out[:limit]
	last := out[limit-1]
	return out, &pageCursor{at: last.CreatedAt, id: last.ID}, nil
}

func (s *mongoStore) find(ctx context.Context, coll *mongo.Collection, filter any, opts *options.FindOptionsBuilder, out any) error {
	cur, err := coll.Find(ctx, filter, opts)
	if err != nil {
		return err
	}
	return cur.All(ctx, out)
}

// OutingIDsWithPendingEvents is the dispatcher's safety net; it scans on
// the embedded store, so it runs seldom.
func (s *mongoStore) OutingIDsWithPendingEvents(ctx context.Context, limit int) ([]string, error) {
	return s.outingIDs(ctx, bson.M{"has_pending_events": true}, limit)
}

func (s *mongoStore) StartedUnmatchedOutingIDs(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return s.outingIDs(ctx, bson.M{
		"status":    bson.M{"$in": bson.A{StatusOpen, StatusPendingApproval}},
		"starts_at": bson.M{"$lte": now},
	}, limit)
}

func (s *mongoStore) OutingsDueForOfferCheck(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return s.outingIDs(ctx, bson.M{
		"status": StatusOpen, "starts_at": bson.M{"$gt": now},
		"$or": bson.A{bson.M{"offer_check_at": bson.M{"$lte": now}}, bson.M{"offer_check_at": nil}},
	}, limit)
}

func (s *mongoStore) outingIDs(ctx context.Context, filter bson.M, limit int) ([]string, error) {
	var rows []struct {
		ID string `bson:"_id"`
	}
	if err := s.find(ctx, s.outings, filter, options.Find().SetProjection(bson.M{"_id": 1}).SetLimit(int64(limit)), &rows); err != nil {
		return nil, err
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids, nil
}

func (s *mongoStore) PendingEvents(ctx context.Context, id string) ([]Event, bool, error) {
	var doc struct {
		Pending []Event `bson:"pending_events"`
		Flagged bool    `bson:"has_pending_events"`
	}
	err := s.outings.FindOne(ctx, bson.M{"_id": id}, options.FindOne().SetProjection(bson.M{"pending_events": 1, "has_pending_events": 1})).Decode(&doc)
	if err != nil {
		return nil, false, mongoErr(err)
	}
	return doc.Pending, doc.Flagged, nil
}

// RemoveDeliveredEvents uses $pullAll with the exact stored values because
// FerretDB v1's $pull ignores conditions (it only removes elements equal
// to the value given).
func (s *mongoStore) RemoveDeliveredEvents(ctx context.Context, id string, eventIDs []string) error {
	type pendingOnly struct {
		Version int64      `bson:"version"`
		Pending []bson.Raw `bson:"pending_events"`
	}
	want := map[string]bool{}
	for _, id := range eventIDs {
		want[id] = true
	}
	err := retried(func() error {
		_, err := casByID(ctx, s.d, s.outings, id, "version", func(p *pendingOnly) int64 { return p.Version }, false, func(p *pendingOnly) (any, error) {
			left := 0
			pull := bson.A{}
			for _, raw := range p.Pending {
				if v, err := raw.LookupErr("id"); err == nil && want[v.StringValue()] {
					pull = append(pull, raw)
				} else {
					left++
				}
			}
			return bson.M{"$pullAll": bson.M{"pending_events": pull}, "$set": bson.M{"has_pending_events": left > 0}}, nil
		})
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

func (s *mongoStore) ConfirmedOutingsBetween(ctx context.Context, from, to time.Time, limit int) ([]ConfirmedOuting, error) {
	out := []ConfirmedOuting{}
	err := s.find(ctx, s.outings, bson.M{
		"status":    StatusConfirmed,
		"starts_at": bson.M{"$gte": from, "$lt": to},
	}, options.Find().
		SetSort(bson.D{{Key: "starts_at", Value: 1}, {Key: "_id", Value: 1}}).
		SetLimit(int64(limit)).
		SetProjection(bson.M{"organisation_id": 1, "participant_id": 1, "volunteer_id": 1, "starts_at": 1, "ends_at": 1}), &out)
	return out, err
}

// OutingsOfUser scans on the embedded store (export and erasure are rare).
func (s *mongoStore) OutingsOfUser(ctx context.Context, userID string) ([]Outing, error) {
	var out []Outing
	err := s.find(ctx, s.outings, bson.M{"$or": bson.A{
		bson.M{"participant_id": userID},
		bson.M{"volunteer_id": userID},
		bson.M{"declined_by": userID},
		bson.M{"excluded_volunteers": userID},
		bson.M{"created_by": userID},
		bson.M{"history.actor_id": userID},
	}}, options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}), &out)
	return out, err
}

func (s *mongoStore) HasCompletedOutingTogether(ctx context.Context, participantID, volunteerID string) (bool, error) {
	n, err := s.outings.CountDocuments(ctx, bson.M{"participant_id": participantID, "volunteer_id": volunteerID, "status": StatusCompleted},
		options.Count().SetLimit(1))
	return n > 0, err
}

func (s *mongoStore) CompletedOutingsTogether(ctx context.Context, participantID, volunteerID string, limit int) ([]Outing, error) {
	opts := options.Find().SetSort(bson.D{{Key: "starts_at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit))
	out := []Outing{}
	err := s.find(ctx, s.outings, bson.M{"volunteer_id": volunteerID, "participant_id": participantID, "status": StatusCompleted}, opts, &out)
	return out, err
}

// ConcurrentReads: the engine keeps no transaction in ctx, and the driver
// is safe for concurrent use.
func (s *mongoStore) ConcurrentReads(context.Context) bool { return true }

// BookingsOf is a single $or so that the (on the embedded store, scanned)
// collection is read once.
func (s *mongoStore) BookingsOf(ctx context.Context, volunteerIDs []string, q bookingQuery) ([]bookingRow, error) {
	or := bson.A{bson.M{"status": bson.M{"$in": liveStatuses},
		"starts_at": bson.M{"$lt": q.busy.to}, "ends_at": bson.M{"$gt": q.busy.from}}}
	for _, w := range q.load {
		or = append(or, bson.M{"status": bson.M{"$in": countedStatuses}, "starts_at": bson.M{"$gte": w.from, "$lt": w.to}})
	}
	if len(q.participants) > 0 {
		or = append(or, bson.M{"status": StatusCompleted, "participant_id": bson.M{"$in": q.participants}})
	}
	var who any = bson.M{"$in": volunteerIDs}
	if len(volunteerIDs) == 1 {
		who = volunteerIDs[0]
	}
	opts := options.Find().
		SetProjection(bson.M{"_id": 1, "volunteer_id": 1, "participant_id": 1, "status": 1, "starts_at": 1, "ends_at": 1}).
		SetLimit(maxBookingRows).SetBatchSize(maxBookingRows + 1)
	var rows []bookingRow
	err := s.find(ctx, s.outings, bson.M{"volunteer_id": who, "$or": or}, opts, &rows)
	return rows, err
}

// --- offers ---

var offerProjection = bson.M{"history": 0, "note": 0, "pending_events": 0}

func (s *mongoStore) OfferDoc(ctx context.Context, id string) (*offerDoc, error) {
	var d offerDoc
	if err := s.outings.FindOne(ctx, bson.M{"_id": id}, options.FindOne().SetProjection(offerProjection)).Decode(&d); err != nil {
		return nil, mongoErr(err)
	}
	return &d, nil
}

// UpdateOffers is conditional on both version (no transition since the
// read) and offer_rev (no other wave since the read) on MongoDB, and runs
// under the outings gate on the embedded store.
func (s *mongoStore) UpdateOffers(ctx context.Context, id string, change func(*offerDoc) ([]Event, bool, error)) error {
	return mongoErr(s.d.Gate().Do(s.outings, func() error {
		var d offerDoc
		if err := s.outings.FindOne(ctx, bson.M{"_id": id}, options.FindOne().SetProjection(offerProjection)).Decode(&d); err != nil {
			return err
		}
		version, rev := d.Version, d.OfferRev
		events, write, err := change(&d)
		if err != nil || !write {
			return err
		}
		raw, err := bson.Marshal(d.OfferState)
		if err != nil {
			return err
		}
		var set bson.M
		if err := bson.Unmarshal(raw, &set); err != nil {
			return err
		}
		delete(set, "offer_rev")
		upd := bson.M{"$set": set, "$inc": bson.M{"offer_rev": 1}}
		if len(events) > 0 {
			set["has_pending_events"] = true
			upd["$push"] = bson.M{"pending_events": bson.M{"$each": events}}
		}
		filter := bson.M{"_id": id}
		if !s.d.Embedded {
			filter["version"] = version
			if rev == 0 {
				filter["offer_rev"] = bson.M{"$in": bson.A{nil, 0}}
			} else {
				filter["offer_rev"] = rev
			}
		}
		res, err := s.outings.UpdateOne(ctx, filter, upd)
		if err != nil {
			return err
		}
		if res.MatchedCount == 0 {
			return ErrConflict
		}
		return nil
	}))
}

// OffersFor scans on the embedded store (export and erasure).
func (s *mongoStore) OffersFor(ctx context.Context, volunteerID string) ([]OfferRecord, error) {
	var docs []offerDoc
	if err := s.find(ctx, s.outings, bson.M{"offered_ids": volunteerID}, options.Find().SetProjection(bson.M{"_id": 1, "offered_to": 1}), &docs); err != nil {
		return nil, err
	}
	out := []OfferRecord{}
	for _, o := range docs {
		for _, r := range o.OfferedTo {
			if r.VolunteerID == volunteerID {
				r.OutingID = o.ID
				out = append(out, r)
			}
		}
	}
	return out, nil
}

func (s *mongoStore) StripOffers(ctx context.Context, volunteerID string) error {
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := s.find(ctx, s.outings, bson.M{"offered_ids": volunteerID}, options.Find().SetProjection(bson.M{"_id": 1}), &docs); err != nil {
		return err
	}
	for _, o := range docs {
		err := retried(func() error {
			return s.UpdateOffers(ctx, o.ID, func(d *offerDoc) ([]Event, bool, error) {
				stripOfferRecords(&d.OfferState, volunteerID)
				return nil, true, nil
			})
		})
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}

func (s *mongoStore) OpenOutingsNear(ctx context.Context, orgID string, box geoBox, now time.Time, limit int) ([]Outing, error) {
	filter := bson.M{"organisation_id": orgID, "status": StatusOpen, "starts_at": bson.M{"$gt": now}}
	filter["meeting_point.lat"] = bson.M{"$gte": box.MinLat, "$lte": box.MaxLat}
	if box.HasLon {
		filter["meeting_point.lon"] = bson.M{"$gte": box.MinLon, "$lte": box.MaxLon}
	}
	opts := options.Find().SetProjection(offerProjection).
		SetSort(bson.D{{Key: "starts_at", Value: 1}, {Key: "_id", Value: 1}}).
		SetLimit(int64(limit)).SetBatchSize(int32(limit + 1))
	var out []Outing
	err := s.find(ctx, s.outings, filter, opts, &out)
	return out, err
}

func (s *mongoStore) ReportRows(ctx context.Context, orgID string, from, to time.Time, after *pageCursor, limit int) ([]ReportOuting, error) {
	filter := bson.M{"organisation_id": orgID, "created_at": bson.M{"$gte": from, "$lt": to}}
	if after != nil {
		filter = bson.M{"$and": bson.A{filter, bson.M{"$or": bson.A{
			bson.M{"created_at": bson.M{"$gt": after.at}},
			bson.M{"created_at": after.at, "_id": bson.M{"$gt": after.id}},
		}}}}
	}
	opts := options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(limit)).
		SetProjection(bson.M{"participant_id": 1, "volunteer_id": 1, "status": 1, "created_at": 1, "starts_at": 1, "ends_at": 1, "history.to": 1, "history.at": 1,
			"postpone_asks": 1, "history.reason": 1})
	var docs []struct {
		ID            string         `bson:"_id"`
		ParticipantID string         `bson:"participant_id"`
		VolunteerID   string         `bson:"volunteer_id"`
		Status        OutingStatus   `bson:"status"`
		CreatedAt     time.Time      `bson:"created_at"`
		StartsAt      time.Time      `bson:"starts_at"`
		EndsAt        time.Time      `bson:"ends_at"`
		History       []HistoryEntry `bson:"history"`
		PostponeAsks  int            `bson:"postpone_asks"`
	}
	if err := s.find(ctx, s.outings, filter, opts, &docs); err != nil {
		return nil, err
	}
	out := make([]ReportOuting, len(docs))
	for i, d := range docs {
		out[i] = ReportOuting{ID: d.ID, ParticipantID: d.ParticipantID, VolunteerID: d.VolunteerID, Status: d.Status,
			CreatedAt: d.CreatedAt.UTC(), StartsAt: d.StartsAt.UTC(), EndsAt: d.EndsAt.UTC(),
			PostponeAsks: max(d.PostponeAsks, postponeAsksIn(d.History))}
		if at := (&Outing{History: d.History}).ConfirmedAt(); !at.IsZero() {
			out[i].ConfirmedAt = at.UTC()
		}
	}
	var completed []string
	index := map[string]int{}
	for i, r := range out {
		if r.Status == StatusCompleted {
			completed = append(completed, r.ID)
			index[r.ID] = i
		}
	}
	if len(completed) > 0 {
		fb, err := s.feedbackWhere(ctx, bson.M{"outing_id": bson.M{"$in": completed}, "author_role": "participant"})
		if err != nil {
			return nil, err
		}
		for _, f := range fb {
			r := &out[index[f.OutingID]]
			if r.ComfortBefore != 0 || r.ComfortAfter != 0 {
				continue
			}
			if f.ComfortBefore != nil {
				r.ComfortBefore = *f.ComfortBefore
			}
			if f.ComfortAfter != nil {
				r.ComfortAfter = *f.ComfortAfter
			}
		}
	}
	return out, nil
}
