package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"time"

	"github.com/gofiber/fiber/v2"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/db"
	"github.com/clavis-app/clavis/internal/fault"
)

// Idempotency-Key handling (api.md: "the same key from the same user within
// 24 h returns the first answer (same status and body) and creates nothing
// new"). Keys live in the api-owned collection idempotency_keys. The
// unique _id insert decides which request owns a key, so two servers on one
// database agree; FerretDB has no TTL index, so a sweep deletes expired keys.

// CollIdempotency is the collection of idempotency keys.
const CollIdempotency = "idempotency_keys"

const (
	// IdempotencyTTL is how long a key's answer is kept.
	IdempotencyTTL = 24 * time.Hour
	// idempotencyAbandoned is how long a claimed key may stay unanswered
	// before another request may take it over (the first died mid-request).
	idempotencyAbandoned = time.Minute
	maxIdempotencyKey    = 255
)

// IdempotencyStore keeps first answers by (user, key).
type IdempotencyStore struct {
	d     *db.DB
	coll  *mongo.Collection
	clock clock.Clock
}

type idemRecord struct {
	ID          string    `bson:"_id"`
	UserID      string    `bson:"user_id"`
	Fingerprint string    `bson:"fingerprint"`
	Done        bool      `bson:"done"`
	Status      int       `bson:"status,omitempty"`
	ContentType string    `bson:"content_type,omitempty"`
	Body        []byte    `bson:"body,omitempty"`
	CreatedAt   time.Time `bson:"created_at"`
	ExpiresAt   time.Time `bson:"expires_at"`
}

// NewIdempotencyStore opens the collection and its index.
func NewIdempotencyStore(ctx context.Context, d *db.DB, clk clock.Clock) (*IdempotencyStore, error) {
	if clk == nil {
		clk = clock.Real{}
	}
	st := &IdempotencyStore{d: d, coll: d.Collection(CollIdempotency), clock: clk}
	if err := db.EnsureIndexes(ctx, st.coll, mongo.IndexModel{Keys: bson.D{{Key: "expires_at", Value: 1}}}); err != nil {
		return nil, err
	}
	return st, nil
}

// recordID hashes user and key, so that the stored id has a bounded length
// and shows neither.
func recordID(userID, key string) string {
	h := sha256.Sum256([]byte(userID + "\x00" + key))
	return hex.EncodeToString(h[:])
}

// claim makes this request the owner of (user, key), or returns the record
// of the request that owns it.
func (st *IdempotencyStore) claim(ctx context.Context, userID, key, fingerprint string) (*idemRecord, bool, error) {
	id := recordID(userID, key)
	for attempt := 0; attempt < 3; attempt++ {
		now := st.clock.Now().UTC()
		rec := idemRecord{ID: id, UserID: userID, Fingerprint: fingerprint, CreatedAt: now, ExpiresAt: now.Add(IdempotencyTTL)}
		_, err := st.coll.InsertOne(ctx, rec)
		if err == nil {
			return &rec, true, nil
		}
		if !db.IsDuplicateKey(err) {
			return nil, false, err
		}
		var existing idemRecord
		stale := false
		err = st.d.Gate().Do(st.coll, func() error {
			if err := st.coll.FindOne(ctx, bson.M{"_id": id}).Decode(&existing); err != nil {
				return err
			}
			stale = !now.Before(existing.ExpiresAt) || (!existing.Done && now.Sub(existing.CreatedAt) > idempotencyAbandoned)
			if stale {
				_, err := st.coll.DeleteOne(ctx, bson.M{"_id": id})
				return err
			}
			return nil
		})
		if db.IsNotFound(err) || (err == nil && stale) {
			continue // gone or expired: claim it afresh
		}
		if err != nil {
			return nil, false, err
		}
		return &existing, false, nil
	}
	return nil, false, errors.New("idempotency key kept changing")
}

func (st *IdempotencyStore) complete(ctx context.Context, id string, status int, contentType string, body []byte) error {
	_, err := st.d.Gate().UpdateOne(ctx, st.coll, bson.M{"_id": id}, bson.M{"$set": bson.M{
		"done": true, "status": status, "content_type": contentType, "body": body,
	}})
	return err
}

func (st *IdempotencyStore) release(ctx context.Context, id string) error {
	_, err := st.d.Gate().DeleteOne(ctx, st.coll, bson.M{"_id": id})
	return err
}

// Sweep deletes expired keys and returns how many.
func (st *IdempotencyStore) Sweep(ctx context.Context) (int64, error) {
	res, err := st.d.Gate().DeleteMany(ctx, st.coll, bson.M{"expires_at": bson.M{"$lte": st.clock.Now().UTC()}})
	if err != nil {
		return 0, err
	}
	return res.DeletedCount, nil
}

// RunSweeper calls Sweep every interval until ctx ends.
func (st *IdempotencyStore) RunSweeper(ctx context.Context, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := st.Sweep(ctx); err != nil && ctx.Err() == nil {
			log.Warn("idempotency key sweep failed", "error", err.Error())
		} else if n > 0 {
			log.Info("expired idempotency keys deleted", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// idempotent wraps a creating handler: with an Idempotency-Key header, the
// first answer (status, body) of this user's request is stored and replayed
// for a repeat; the same key with a different request is a 422; a repeat
// while the first is still running is a 409. 5xx answers are not stored, so
// the client can retry.
func (s *Server) idempotent(h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		key := c.Get("Idempotency-Key")
		st := s.deps.Idempotency
		if key == "" || st == nil {
			return h(c)
		}
		if len(key) > maxIdempotencyKey || !printableASCII(key) {
			return fault.InvalidField("Idempotency-Key", "must be 1 to 255 printable ASCII characters")
		}
		who := Caller(c)
		sum := sha256.New()
		sum.Write([]byte(c.Method() + " " + c.Path() + "\n"))
		sum.Write(bytes.TrimSpace(c.Body()))
		fingerprint := hex.EncodeToString(sum.Sum(nil))
		ctx := c.UserContext()
		rec, owned, err := st.claim(ctx, who.UserID, key, fingerprint)
		if err != nil {
			return fault.Wrap(err, "claim idempotency key")
		}
		if !owned {
			switch {
			case rec.Fingerprint != fingerprint:
				return fault.InvalidField("Idempotency-Key", "was already used with a different request")
			case !rec.Done:
				return fault.New(fault.Conflict, "a request with this Idempotency-Key is still being processed")
			}
			c.Set(fiber.HeaderContentType, rec.ContentType)
			c.Set("Idempotent-Replayed", "true")
			return c.Status(rec.Status).Send(rec.Body)
		}
		if err := h(c); err != nil {
			// Render the problem now, so that it is the stored answer too.
			if herr := s.errorHandler(c, err); herr != nil {
				return herr
			}
		}
		status := c.Response().StatusCode()
		bg := context.WithoutCancel(ctx)
		if status >= 500 {
			if err := st.release(bg, rec.ID); err != nil {
				s.log.Warn("release idempotency key failed", "request_id", requestID(c), "error", err.Error())
			}
			return nil
		}
		body := bytes.Clone(c.Response().Body())
		if err := st.complete(bg, rec.ID, status, string(c.Response().Header.ContentType()), body); err != nil {
			s.log.Warn("store idempotent answer failed", "request_id", requestID(c), "error", err.Error())
		}
		return nil
	}
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return s != ""
}
