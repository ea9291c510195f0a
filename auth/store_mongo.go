package auth

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

// Collections owned by this package on MongoDB/FerretDB.
const (
	collUsers    = "users"
	collOrgs     = "organisations"
	collFamilies = "refresh_families"
	collRefresh  = "refresh_tokens"
	collUsed     = "refresh_used"
	collFailures = "login_failures"
	collAudit    = "audit"
	collInvites  = "invites"
	collUses     = "invite_uses"
)

// mongoStore is auth's store on MongoDB or the embedded FerretDB. The
// write gate serialises filtered writes inside this process (FerretDB v1
// applies filters non-atomically); decisions shared by processes are
// unique inserts (refresh_used, the email index).
type mongoStore struct {
	db                                                    *db.DB
	users, orgs, families, refresh, used, failures, audit *mongo.Collection
	invites, uses                                         *mongo.Collection
}

// NewMongoStore creates auth's indexes in d and returns its store.
func NewMongoStore(ctx context.Context, d *db.DB) (Store, error) {
	s := &mongoStore{db: d,
		users: d.Collection(collUsers), orgs: d.Collection(collOrgs),
		families: d.Collection(collFamilies), refresh: d.Collection(collRefresh),
		used: d.Collection(collUsed), failures: d.Collection(collFailures), audit: d.Collection(collAudit),
		invites: d.Collection(collInvites), uses: d.Collection(collUses),
	}
	idx := func(keys ...string) mongo.IndexModel {
		k := bson.D{}
		for _, key := range keys {
			k = append(k, bson.E{Key: key, Value: 1})
		}
		return mongo.IndexModel{Keys: k}
	}
	unique := mongo.IndexModel{Keys: bson.D{{Key: "email", Value: 1}}, Options: options.Index().SetUnique(true).SetName("email_unique")}
	for coll, models := range map[*mongo.Collection][]mongo.IndexModel{
		s.users:    {unique, idx("org_id", "role", "status", "_id")},
		s.families: {idx("user_id")},
		s.refresh:  {idx("user_id"), idx("expires_at")},
		s.used:     {idx("user_id"), idx("expires_at")},
		s.failures: {idx("key", "at"), idx("at")},
		s.audit:    {idx("subject", "at"), idx("actor", "at"), idx("at")},
		s.invites:  {idx("org_id", "_id")},
		s.uses:     {idx("code")},
		// No secondary index, but EnsureIndexes also gives the embedded
		// store its _id lookup index (organisations are read by id).
		s.orgs: nil,
	} {
		if err := db.EnsureIndexes(ctx, coll, models...); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// userDoc is an account as the MongoDB engine has always stored it;
// ImportMongoDocuments decodes the same shape.
type userDoc struct {
	ID               string     `bson:"_id"`
	Email            string     `bson:"email"`
	PasswordHash     string     `bson:"password_hash"`
	Name             string     `bson:"name"`
	Role             Role       `bson:"role"`
	OrgID            string     `bson:"org_id,omitempty"`
	Status           Status     `bson:"status"`
	Language         string     `bson:"language"`
	CreatedAt        time.Time  `bson:"created_at"`
	UpdatedAt        time.Time  `bson:"updated_at"`
	VettedBy         string     `bson:"vetted_by,omitempty"`
	VettedAt         *time.Time `bson:"vetted_at,omitempty"`
	VettingNote      string     `bson:"vetting_note,omitempty"`
	SuspendedBy      string     `bson:"suspended_by,omitempty"`
	SuspendedAt      *time.Time `bson:"suspended_at,omitempty"`
	SuspensionReason string     `bson:"suspension_reason,omitempty"`
}

func (d userDoc) record() UserRecord {
	u := UserRecord{User: User{ID: d.ID, Email: d.Email, Name: d.Name, Role: d.Role, OrgID: d.OrgID, Status: d.Status,
		Language: d.Language, CreatedAt: d.CreatedAt.UTC()}, PasswordHash: d.PasswordHash, UpdatedAt: d.UpdatedAt.UTC()}
	if d.VettedAt != nil {
		u.Vetting = &Vetting{By: d.VettedBy, At: d.VettedAt.UTC(), Note: d.VettingNote}
	}
	if d.SuspendedAt != nil {
		u.Suspension = &Suspension{By: d.SuspendedBy, At: d.SuspendedAt.UTC(), Reason: d.SuspensionReason}
	}
	return u
}

func toUserDoc(u UserRecord) userDoc {
	d := userDoc{ID: u.ID, Email: NormalizeEmail(u.Email), PasswordHash: u.PasswordHash, Name: u.Name, Role: u.Role, OrgID: u.OrgID,
		Status: u.Status, Language: u.Language, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
	if v := u.Vetting; v != nil {
		at := v.At
		d.VettedBy, d.VettedAt, d.VettingNote = v.By, &at, v.Note
	}
	if x := u.Suspension; x != nil {
		at := x.At
		d.SuspendedBy, d.SuspendedAt, d.SuspensionReason = x.By, &at, x.Reason
	}
	return d
}

type orgDoc struct {
	ID        string    `bson:"_id"`
	Name      string    `bson:"name"`
	TimeZone  string    `bson:"time_zone"`
	CreatedAt time.Time `bson:"created_at"`
}

// familyDoc is a SignIn.
type familyDoc struct {
	ID        string     `bson:"_id"`
	UserID    string     `bson:"user_id"`
	CreatedAt time.Time  `bson:"created_at"`
	Revoked   bool       `bson:"revoked"`
	RevokedAt *time.Time `bson:"revoked_at,omitempty"`
	Why       string     `bson:"why,omitempty"`
	LastSeen  *time.Time `bson:"last_seen_at,omitempty"`
}

func (f familyDoc) signIn() SignIn {
	si := SignIn{ID: f.ID, UserID: f.UserID, CreatedAt: f.CreatedAt.UTC(), Revoked: f.Revoked, Why: f.Why}
	if f.RevokedAt != nil {
		t := f.RevokedAt.UTC()
		si.RevokedAt = &t
	}
	if f.LastSeen != nil {
		t := f.LastSeen.UTC()
		si.LastSeenAt = &t
	}
	return si
}

// refreshDoc is a refresh token, known only by its SHA-256 (its _id).
type refreshDoc struct {
	ID        string    `bson:"_id"`
	Family    string    `bson:"family"`
	UserID    string    `bson:"user_id"`
	CreatedAt time.Time `bson:"created_at"`
	ExpiresAt time.Time `bson:"expires_at"`
}

func toRefreshDoc(r RefreshRecord) refreshDoc {
	return refreshDoc{ID: r.Hash, Family: r.Family, UserID: r.UserID, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt}
}

// usedDoc marks a refresh token as spent. Its _id is the token's hash, so
// the unique _id index lets exactly one of several concurrent refreshes
// (even from several processes on one FerretDB) spend the token.
type usedDoc struct {
	ID        string    `bson:"_id"`
	Family    string    `bson:"family"`
	UserID    string    `bson:"user_id"`
	UsedAt    time.Time `bson:"used_at"`
	ExpiresAt time.Time `bson:"expires_at"`
}

type failureDoc struct {
	ID  string    `bson:"_id"`
	Key string    `bson:"key"`
	At  time.Time `bson:"at"`
}

type auditDoc struct {
	ID      string    `bson:"_id"`
	Actor   string    `bson:"actor"`
	Subject string    `bson:"subject"`
	Action  string    `bson:"action"`
	At      time.Time `bson:"at"`
}

func notFound(err error) error {
	if db.IsNotFound(err) {
		return ErrNotFound
	}
	return err
}

func (s *mongoStore) InsertUser(ctx context.Context, u UserRecord) error {
	_, err := s.users.InsertOne(ctx, toUserDoc(u))
	if db.IsDuplicateKey(err) {
		return ErrDuplicate
	}
	return err
}

func (s *mongoStore) findUser(ctx context.Context, filter bson.M) (UserRecord, error) {
	var d userDoc
	if err := s.users.FindOne(ctx, filter).Decode(&d); err != nil {
		return UserRecord{}, notFound(err)
	}
	return d.record(), nil
}

func (s *mongoStore) User(ctx context.Context, id string) (UserRecord, error) {
	// Only an exact {_id} filter avoids a full scan on the embedded store.
	return s.findUser(ctx, bson.M{"_id": id})
}

func (s *mongoStore) UserByEmail(ctx context.Context, email string) (UserRecord, error) {
	return s.findUser(ctx, bson.M{"email": NormalizeEmail(email)})
}

func (s *mongoStore) findUsers(ctx context.Context, filter bson.M, opts ...options.Lister[options.FindOptions]) ([]UserRecord, error) {
	cur, err := s.users.Find(ctx, filter, opts...)
	if err != nil {
		return nil, err
	}
	var docs []userDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	out := make([]UserRecord, len(docs))
	for i, d := range docs {
		out[i] = d.record()
	}
	return out, nil
}

func (s *mongoStore) UsersByID(ctx context.Context, ids []string) ([]UserRecord, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	// The whole answer in the first batch: callers count on one round trip.
	return s.findUsers(ctx, bson.M{"_id": bson.M{"$in": ids}}, options.Find().SetLimit(int64(len(ids))).SetBatchSize(int32(len(ids)+1)))
}

func (s *mongoStore) Members(ctx context.Context, orgID string, q MemberQuery) ([]UserRecord, error) {
	filter := bson.M{"org_id": orgID}
	if q.Role != "" {
		filter["role"] = q.Role
	}
	if q.Status != "" {
		filter["status"] = q.Status
	}
	if q.After != "" {
		filter["_id"] = bson.M{"$gt": q.After}
	}
	return s.findUsers(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(int64(q.Limit)))
}

func (s *mongoStore) ChangeStatus(ctx context.Context, c StatusChange) (UserRecord, error) {
	set := bson.M{"status": c.To, "updated_at": c.At}
	if v := c.Vetting; v != nil {
		set["vetted_by"], set["vetted_at"], set["vetting_note"] = v.By, v.At, v.Note
	}
	if x := c.Suspension; x != nil {
		set["suspended_by"], set["suspended_at"], set["suspension_reason"] = x.By, x.At, x.Reason
	}
	var out userDoc
	err := s.db.Gate().FindOneAndUpdate(ctx, s.users, bson.M{"_id": c.UserID, "org_id": c.OrgID, "status": c.From},
		bson.M{"$set": set}, &out, options.FindOneAndUpdate().SetReturnDocument(options.After))
	if db.IsNotFound(err) {
		return UserRecord{}, ErrConflict
	}
	if err != nil {
		return UserRecord{}, err
	}
	return out.record(), nil
}

func (s *mongoStore) UpdateNameLanguage(ctx context.Context, id string, name, language *string, at time.Time) (UserRecord, error) {
	set := bson.M{"updated_at": at}
	if name != nil {
		set["name"] = *name
	}
	if language != nil {
		set["language"] = *language
	}
	var out userDoc
	err := s.db.Gate().FindOneAndUpdate(ctx, s.users, bson.M{"_id": id}, bson.M{"$set": set}, &out,
		options.FindOneAndUpdate().SetReturnDocument(options.After))
	if err != nil {
		return UserRecord{}, notFound(err)
	}
	return out.record(), nil
}

func (s *mongoStore) SetPasswordHash(ctx context.Context, id, hash string) error {
	_, err := s.db.Gate().UpdateOne(ctx, s.users, bson.M{"_id": id}, bson.M{"$set": bson.M{"password_hash": hash}})
	return err
}

func (s *mongoStore) EraseUser(ctx context.Context, id string) error {
	g := s.db.Gate()
	// The invite use stays counted; only who used it goes.
	if _, err := g.UpdateMany(ctx, s.uses, bson.M{"user_id": id}, bson.M{"$set": bson.M{"user_id": ""}}); err != nil {
		return err
	}
	for _, c := range []struct {
		coll   *mongo.Collection
		filter bson.M
	}{
		{s.refresh, bson.M{"user_id": id}},
		{s.used, bson.M{"user_id": id}},
		{s.families, bson.M{"user_id": id}},
		{s.users, bson.M{"_id": id}},
	} {
		if _, err := g.DeleteMany(ctx, c.coll, c.filter); err != nil {
			return err
		}
	}
	return nil
}

func (s *mongoStore) InsertOrganisation(ctx context.Context, o Organisation) error {
	_, err := s.orgs.InsertOne(ctx, orgDoc(o))
	if db.IsDuplicateKey(err) {
		return ErrDuplicate
	}
	return err
}

func (s *mongoStore) Organisation(ctx context.Context, id string) (Organisation, error) {
	var d orgDoc
	if err := s.orgs.FindOne(ctx, bson.M{"_id": id}).Decode(&d); err != nil {
		return Organisation{}, notFound(err)
	}
	d.CreatedAt = d.CreatedAt.UTC()
	return Organisation(d), nil
}

func (s *mongoStore) StartSignIn(ctx context.Context, si SignIn, first RefreshRecord) error {
	if _, err := s.families.InsertOne(ctx, familyDoc{ID: si.ID, UserID: si.UserID, CreatedAt: si.CreatedAt}); err != nil {
		return err
	}
	_, err := s.refresh.InsertOne(ctx, toRefreshDoc(first))
	return err
}

func (s *mongoStore) RefreshToken(ctx context.Context, hash string) (RefreshRecord, error) {
	var d refreshDoc
	if err := s.refresh.FindOne(ctx, bson.M{"_id": hash}).Decode(&d); err != nil {
		return RefreshRecord{}, notFound(err)
	}
	return RefreshRecord{Hash: d.ID, Family: d.Family, UserID: d.UserID, CreatedAt: d.CreatedAt.UTC(), ExpiresAt: d.ExpiresAt.UTC()}, nil
}

func (s *mongoStore) SignIn(ctx context.Context, id string) (SignIn, error) {
	var d familyDoc
	if err := s.families.FindOne(ctx, bson.M{"_id": id}).Decode(&d); err != nil {
		return SignIn{}, notFound(err)
	}
	return d.signIn(), nil
}

// RotateRefreshToken: the arbiter is the unique _id of refresh_used, so only
// one insert for this token can succeed, in any process. The mark lives as
// long as the new token (at least as long as the spent one).
func (s *mongoStore) RotateRefreshToken(ctx context.Context, spent string, next RefreshRecord, at time.Time) error {
	_, err := s.used.InsertOne(ctx, usedDoc{ID: spent, Family: next.Family, UserID: next.UserID, UsedAt: at, ExpiresAt: next.ExpiresAt})
	if db.IsDuplicateKey(err) {
		return ErrConflict
	}
	if err != nil {
		return err
	}
	_, err = s.refresh.InsertOne(ctx, toRefreshDoc(next))
	return err
}

// TouchSignIn: the filter keeps the latest time when replicas race.
func (s *mongoStore) TouchSignIn(ctx context.Context, id string, at time.Time) error {
	_, err := s.db.Gate().UpdateOne(ctx, s.families, bson.M{"_id": id, "revoked": false,
		"$or": bson.A{bson.M{"last_seen_at": bson.M{"$exists": false}}, bson.M{"last_seen_at": bson.M{"$lt": at}}}},
		bson.M{"$set": bson.M{"last_seen_at": at}})
	return err
}

func (s *mongoStore) RevokeSignIn(ctx context.Context, id, why string, at time.Time) error {
	_, err := s.db.Gate().UpdateOne(ctx, s.families, bson.M{"_id": id, "revoked": false},
		bson.M{"$set": bson.M{"revoked": true, "revoked_at": at, "why": why}})
	return err
}

func (s *mongoStore) RevokeUserSignIns(ctx context.Context, userID, why string, at time.Time) error {
	_, err := s.db.Gate().UpdateMany(ctx, s.families, bson.M{"user_id": userID, "revoked": false},
		bson.M{"$set": bson.M{"revoked": true, "revoked_at": at, "why": why}})
	return err
}

func (s *mongoStore) SignInsOf(ctx context.Context, userID string, limit int) ([]SignIn, error) {
	cur, err := s.families.Find(ctx, bson.M{"user_id": userID},
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, err
	}
	var docs []familyDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	out := make([]SignIn, len(docs))
	for i, d := range docs {
		out[i] = d.signIn()
	}
	return out, nil
}

func (s *mongoStore) SweepSignIns(ctx context.Context, now, revokedBefore time.Time) error {
	g := s.db.Gate()
	if _, err := g.DeleteMany(ctx, s.refresh, bson.M{"expires_at": bson.M{"$lte": now}}); err != nil {
		return err
	}
	if _, err := g.DeleteMany(ctx, s.used, bson.M{"expires_at": bson.M{"$lte": now}}); err != nil {
		return err
	}
	_, err := g.DeleteMany(ctx, s.families, bson.M{"revoked": true, "revoked_at": bson.M{"$lte": revokedBefore}})
	return err
}

func (s *mongoStore) RecordFailures(ctx context.Context, fs []Failure) error {
	if len(fs) == 0 {
		return nil
	}
	docs := make([]any, len(fs))
	for i, f := range fs {
		docs[i] = failureDoc(f)
	}
	_, err := s.failures.InsertMany(ctx, docs)
	return err
}

func (s *mongoStore) FailureTimes(ctx context.Context, key string, since time.Time, limit int) ([]time.Time, error) {
	cur, err := s.failures.Find(ctx, bson.M{"key": key, "at": bson.M{"$gt": since}},
		options.Find().SetSort(bson.D{{Key: "at", Value: -1}}).SetLimit(int64(limit)).SetProjection(bson.M{"at": 1}))
	if err != nil {
		return nil, err
	}
	var docs []failureDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	out := make([]time.Time, len(docs))
	for i, d := range docs {
		out[i] = d.At.UTC()
	}
	return out, nil
}

func (s *mongoStore) ForgetFailure(ctx context.Context, id string) error {
	_, err := s.db.Gate().DeleteOne(ctx, s.failures, bson.M{"_id": id})
	return err
}

func (s *mongoStore) ClearFailures(ctx context.Context, key string) error {
	_, err := s.db.Gate().DeleteMany(ctx, s.failures, bson.M{"key": key})
	return err
}

func (s *mongoStore) DeleteFailuresBefore(ctx context.Context, t time.Time) error {
	_, err := s.db.Gate().DeleteMany(ctx, s.failures, bson.M{"at": bson.M{"$lte": t}})
	return err
}

func (s *mongoStore) AppendAudit(ctx context.Context, es []AuditEntry) error {
	if len(es) == 0 {
		return nil
	}
	docs := make([]any, len(es))
	for i, e := range es {
		docs[i] = auditDoc(e)
	}
	_, err := s.audit.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if onlyDuplicates(err) {
		return nil
	}
	return err
}

// onlyDuplicates reports whether every write error of a bulk insert is a
// duplicate key (entries stored already).
func onlyDuplicates(err error) bool {
	var bwe mongo.BulkWriteException
	if err == nil || !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return false
	}
	for _, we := range bwe.WriteErrors {
		if we.Code != 11000 && !strings.Contains(we.Message, "duplicate key") {
			return false
		}
	}
	return true
}

func auditFilter(q AuditQuery) bson.M {
	f := bson.M{"subject": q.Subject}
	if q.Subject == "" {
		f = bson.M{"actor": q.Actor}
	}
	return f
}

func (s *mongoStore) AuditEntries(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	f := auditFilter(q)
	if b := q.Before; b != nil {
		f["$or"] = bson.A{bson.M{"at": bson.M{"$lt": b.At}}, bson.M{"at": b.At, "_id": bson.M{"$lt": b.ID}}}
	}
	cur, err := s.audit.Find(ctx, f, options.Find().SetSort(bson.D{{Key: "at", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(q.Limit)))
	if err != nil {
		return nil, err
	}
	var docs []auditDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	out := make([]AuditEntry, len(docs))
	for i, d := range docs {
		d.At = d.At.UTC()
		out[i] = AuditEntry(d)
	}
	return out, nil
}

func (s *mongoStore) CountAudit(ctx context.Context, q AuditQuery) (int, error) {
	n, err := s.audit.CountDocuments(ctx, auditFilter(q))
	return int(n), err
}

func (s *mongoStore) DeleteAuditBefore(ctx context.Context, t time.Time) (int, error) {
	res, err := s.db.Gate().DeleteMany(ctx, s.audit, bson.M{"at": bson.M{"$lt": t}})
	if err != nil {
		return 0, err
	}
	return int(res.DeletedCount), nil
}
