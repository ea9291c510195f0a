package matching

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/db"
	"github.com/clavis-app/clavis/internal/fault"
)

// Collection names this package owns.
const (
	CollOutings      = "outings"
	CollVolunteers   = "volunteer_profiles"
	CollParticipants = "participant_profiles"
	CollFeedback     = "feedback"
)

// store is matching's MongoDB access. Hot paths (every transition, every
// busy check, the dispatcher's delivery) touch documents by _id only: the
// embedded FerretDB pushes nothing but an exact {_id: v} filter down to
// SQLite and scans the whole collection in Go for everything else.
type store struct {
	d            *db.DB
	outings      *mongo.Collection
	volunteers   *mongo.Collection
	participants *mongo.Collection
	feedback     *mongo.Collection
}

func newStore(ctx context.Context, d *db.DB) (*store, error) {
	s := &store{
		d:            d,
		outings:      d.Collection(CollOutings),
		volunteers:   d.Collection(CollVolunteers),
		participants: d.Collection(CollParticipants),
		feedback:     d.Collection(CollFeedback),
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
	if err := db.EnsureIndexes(ctx, s.outings,
		idx("status", "starts_at"),
		idx("participant_id", "-created_at", "-_id"),
		idx("volunteer_id", "-created_at", "-_id"),
		idx("organisation_id", "-created_at", "-_id"),
		idx("has_pending_events"),
	); err != nil {
		return nil, err
	}
	if err := db.EnsureIndexes(ctx, s.volunteers, idx("organisation_id", "status", "home_cell")); err != nil {
		return nil, err
	}
	if err := db.EnsureIndexes(ctx, s.participants, idx("organisation_id")); err != nil {
		return nil, err
	}
	if err := db.EnsureIndexes(ctx, s.feedback, idx("author_id"), idx("participant_id"), idx("volunteer_id")); err != nil {
		return nil, err
	}
	return s, nil
}

// errMissed is a conditional write that found the document changed.
var errMissed = errors.New("document changed since it was read")

// casByID reads the document _id=id from coll, lets decide turn it into an
// update, and writes that update only if the document's version is still
// the one read. It is the one conditional-write path of this package:
//   - MongoDB: updateOne({_id, <versionField>: seen}) is atomic by itself;
//     0 matched returns errMissed.
//   - embedded FerretDB: the collection's gate is held from the read to the
//     write, and the write filters on {_id} alone, the only filter FerretDB
//     pushes down to SQLite ({_id, status, version} would make it decode the
//     whole collection on every transition). Every write to these
//     collections goes through the gate, so nothing changes in between.
//
// decide returning a nil update means "no write". The document read is
// returned either way.
func casByID[T any](ctx context.Context, d *db.DB, coll *mongo.Collection, id, versionField string, version func(*T) int64, decide func(*T) (bson.M, error)) (*T, error) {
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
			filter[versionField] = version(doc)
		}
		res, err := coll.UpdateOne(ctx, filter, upd)
		if err != nil {
			return err
		}
		if res.MatchedCount == 0 {
			return errMissed
		}
		return nil
	})
	return doc, err
}

func outingVersion(o *Outing) int64          { return o.Version }
func volunteerRev(p *VolunteerProfile) int64 { return p.Rev }

// --- outings ---

func (s *store) insertOuting(ctx context.Context, o *Outing) error {
	_, err := s.outings.InsertOne(ctx, o)
	return err
}

func (s *store) outingByID(ctx context.Context, id string) (*Outing, error) {
	var o Outing
	if err := s.outings.FindOne(ctx, bson.M{"_id": id}).Decode(&o); err != nil {
		return nil, err
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
	}
	if m.ClearVolunteer {
		upd["$unset"] = bson.M{"volunteer_id": ""}
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

// transitionOuting reads outing id, asks decide for a move and writes it
// conditionally. It returns the outing as read and the move made.
func (s *store) transitionOuting(ctx context.Context, id string, now time.Time, decide func(*Outing) (Move, error)) (*Outing, Move, error) {
	var move Move
	o, err := casByID(ctx, s.d, s.outings, id, "version", outingVersion, func(o *Outing) (bson.M, error) {
		m, err := decide(o)
		if err != nil {
			return nil, err
		}
		move = m
		return moveUpdate(m, now), nil
	})
	return o, move, err
}

// pageCursor is a position in a list sorted by (created_at, _id) descending.
type pageCursor struct {
	at time.Time
	id string
}

func (c pageCursor) encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.at.UnixMilli(), 10) + "." + c.id))
}

func decodePageCursor(s string) (pageCursor, error) {
	bad := fault.InvalidField("cursor", "is not a cursor this list gave out")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return pageCursor{}, bad
	}
	ms, id, ok := strings.Cut(string(raw), ".")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || id == "" {
		return pageCursor{}, bad
	}
	return pageCursor{at: time.UnixMilli(n).UTC(), id: id}, nil
}

// outingsPage lists outings matching filter, newest first, after cursor.
// The order (created_at, _id) is total and never changes for a document,
// so a page boundary stays put while outings are added: nothing is skipped
// or repeated (new outings sort before the first page and are not shown).
func (s *store) outingsPage(ctx context.Context, filter bson.M, limit int, after *pageCursor) ([]Outing, *pageCursor, error) {
	if after != nil {
		filter = bson.M{"$and": bson.A{filter, bson.M{"$or": bson.A{
			bson.M{"created_at": bson.M{"$lt": after.at}},
			bson.M{"created_at": after.at, "_id": bson.M{"$lt": after.id}},
		}}}}
	}
	opts := options.Find().SetSort(bson.D{{Key: "created_at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit + 1))
	cur, err := s.outings.Find(ctx, filter, opts)
	if err != nil {
		return nil, nil, err
	}
	var out []Outing
	if err := cur.All(ctx, &out); err != nil {
		return nil, nil, err
	}
	if len(out) <= limit {
		return out, nil, nil
	}
	out = out[:limit]
	last := out[limit-1]
	return out, &pageCursor{at: last.CreatedAt, id: last.ID}, nil
}

// outingIDsWithPendingEvents is the dispatcher's safety net for events a
// crash left behind. It scans on the embedded store, so it runs seldom;
// new events reach the dispatcher by id without it.
func (s *store) outingIDsWithPendingEvents(ctx context.Context, limit int) ([]string, error) {
	return s.outingIDs(ctx, bson.M{"has_pending_events": true}, limit)
}

// startedUnmatchedOutingIDs are open or pending outings whose start has passed.
func (s *store) startedUnmatchedOutingIDs(ctx context.Context, now time.Time, limit int) ([]string, error) {
	return s.outingIDs(ctx, bson.M{
		"status":    bson.M{"$in": bson.A{StatusOpen, StatusPendingApproval}},
		"starts_at": bson.M{"$lte": now},
	}, limit)
}

func (s *store) outingIDs(ctx context.Context, filter bson.M, limit int) ([]string, error) {
	cur, err := s.outings.Find(ctx, filter, options.Find().SetProjection(bson.M{"_id": 1}).SetLimit(int64(limit)))
	if err != nil {
		return nil, err
	}
	var rows []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, err
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids, nil
}

// outingsOfUser lists every outing a user is or was part of, for export
// and erasure (rare; scans on the embedded store).
func (s *store) outingsOfUser(ctx context.Context, userID string) ([]Outing, error) {
	cur, err := s.outings.Find(ctx, bson.M{"$or": bson.A{
		bson.M{"participant_id": userID},
		bson.M{"volunteer_id": userID},
		bson.M{"declined_by": userID},
		bson.M{"excluded_volunteers": userID},
	}}, options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}))
	if err != nil {
		return nil, err
	}
	var out []Outing
	err = cur.All(ctx, &out)
	return out, err
}

// removeDelivered takes delivered events off outing id. $pullAll with the
// exact stored values is used because FerretDB v1's $pull ignores
// conditions (it only removes elements equal to the value given). The
// has_pending_events flag is cleared only when nothing is left.
func (s *store) removeDelivered(ctx context.Context, id string, delivered []bson.Raw) error {
	type pendingOnly struct {
		Version int64      `bson:"version"`
		Pending []bson.Raw `bson:"pending_events"`
	}
	ids := map[string]bool{}
	for _, raw := range delivered {
		if v, err := raw.LookupErr("id"); err == nil {
			ids[v.StringValue()] = true
		}
	}
	for attempt := 0; ; attempt++ {
		_, err := casByID(ctx, s.d, s.outings, id, "version", func(p *pendingOnly) int64 { return p.Version }, func(p *pendingOnly) (bson.M, error) {
			left := 0
			for _, raw := range p.Pending {
				if v, err := raw.LookupErr("id"); err != nil || !ids[v.StringValue()] {
					left++
				}
			}
			arr := bson.A{}
			for _, raw := range delivered {
				arr = append(arr, raw)
			}
			return bson.M{"$pullAll": bson.M{"pending_events": arr}, "$set": bson.M{"has_pending_events": left > 0}}, nil
		})
		if errors.Is(err, errMissed) && attempt < 5 {
			continue // a transition added events meanwhile: look again
		}
		return err
	}
}

// --- volunteer profiles ---

func (s *store) volunteerByID(ctx context.Context, userID string) (*VolunteerProfile, error) {
	var p VolunteerProfile
	if err := s.volunteers.FindOne(ctx, bson.M{"_id": userID}).Decode(&p); err != nil {
		return nil, err
	}
	return &p, nil
}

// upsertVolunteer writes fields onto the volunteer's document, creating it
// with empty lists when it does not exist yet.
func (s *store) upsertVolunteer(ctx context.Context, userID string, set bson.M, now time.Time) (*VolunteerProfile, error) {
	set["updated_at"] = now
	upd := bson.M{
		"$set":         set,
		"$inc":         bson.M{"rev": 1},
		"$setOnInsert": bson.M{"commitments": bson.A{}},
	}
	var p VolunteerProfile
	err := s.d.Gate().FindOneAndUpdate(ctx, s.volunteers, bson.M{"_id": userID}, upd, &p,
		options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After))
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// reserve adds o's time to the volunteer's commitments unless a live
// commitment overlaps it. stillHeld re-checks a clashing commitment's
// outing, so one left behind (a crash between transition and release) is
// dropped instead of blocking the volunteer.
func (s *store) reserve(ctx context.Context, volunteerID string, o *Outing, stillHeld func(outingID string) (bool, error)) error {
	_, err := casByID(ctx, s.d, s.volunteers, volunteerID, "rev", volunteerRev, func(p *VolunteerProfile) (bson.M, error) {
		keep := bson.A{}
		for _, c := range p.Commitments {
			if c.OutingID == o.ID {
				continue
			}
			if overlaps(c, o) {
				held, err := stillHeld(c.OutingID)
				if err != nil {
					return nil, err
				}
				if held {
					return nil, fault.New(fault.Conflict, "you already have an outing at that time")
				}
				continue
			}
			keep = append(keep, c)
		}
		keep = append(keep, Commitment{OutingID: o.ID, StartsAt: o.StartsAt, EndsAt: o.EndsAt})
		return bson.M{"$set": bson.M{"commitments": keep}, "$inc": bson.M{"rev": 1}}, nil
	})
	if db.IsNotFound(err) {
		return fault.Forbiddenf("set your weekly availability before accepting outings")
	}
	return err
}

// release drops the volunteer's commitment for an outing.
func (s *store) release(ctx context.Context, volunteerID, outingID string) error {
	for attempt := 0; ; attempt++ {
		_, err := casByID(ctx, s.d, s.volunteers, volunteerID, "rev", volunteerRev, func(p *VolunteerProfile) (bson.M, error) {
			keep := bson.A{}
			found := false
			for _, c := range p.Commitments {
				if c.OutingID == outingID {
					found = true
					continue
				}
				keep = append(keep, c)
			}
			if !found {
				return nil, nil
			}
			return bson.M{"$set": bson.M{"commitments": keep}, "$inc": bson.M{"rev": 1}}, nil
		})
		switch {
		case db.IsNotFound(err):
			return nil
		case errors.Is(err, errMissed) && attempt < 5:
			continue
		}
		return err
	}
}

// VolunteersInCells lists the profiles of an organisation's volunteers with
// the given account status whose home cell is among cells: the indexed
// prefilter for candidates (organisation, status, home_cell). Bounded by limit.
func (s *store) volunteersInCells(ctx context.Context, orgID string, status auth.Status, cells []string, limit int) ([]VolunteerProfile, error) {
	cur, err := s.volunteers.Find(ctx, bson.M{
		"organisation_id": orgID, "status": status, "home_cell": bson.M{"$in": cells},
	}, options.Find().SetLimit(int64(limit)))
	if err != nil {
		return nil, err
	}
	var out []VolunteerProfile
	err = cur.All(ctx, &out)
	return out, err
}

// --- participant profiles ---

func (s *store) participantByID(ctx context.Context, userID string) (*ParticipantProfile, error) {
	var p ParticipantProfile
	if err := s.participants.FindOne(ctx, bson.M{"_id": userID}).Decode(&p); err != nil {
		return nil, err
	}
	return &p, nil
}

func (s *store) upsertParticipant(ctx context.Context, userID string, set bson.M, now time.Time) (*ParticipantProfile, error) {
	set["updated_at"] = now
	upd := bson.M{"$set": set, "$inc": bson.M{"rev": 1}, "$setOnInsert": bson.M{"languages": bson.A{}, "companion_gender": "any"}}
	// A field may not be both in $set and $setOnInsert.
	for k := range set {
		delete(upd["$setOnInsert"].(bson.M), k)
	}
	if len(upd["$setOnInsert"].(bson.M)) == 0 {
		delete(upd, "$setOnInsert")
	}
	var p ParticipantProfile
	err := s.d.Gate().FindOneAndUpdate(ctx, s.participants, bson.M{"_id": userID}, upd, &p,
		options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After))
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// --- helpers ---

// notFoundOr maps the driver's "no documents" to a NotFound fault and wraps
// anything else as internal.
func notFoundOr(err error, what string) error {
	if db.IsNotFound(err) {
		return fault.NotFoundf("no such %s", what)
	}
	return fault.Wrap(err, fmt.Sprintf("read %s", what))
}
