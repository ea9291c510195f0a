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

	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/internal/ids"
)

// Idempotency-Key handling (docs/api.md, "Conventions"): the same key from
// the same user within 24 h answers the first answer again (same status and
// body) and creates nothing new. The store's claim is the arbiter of which request owns a key, so
// that two servers on one database agree.

const (
	// IdempotencyTTL is how long a key's answer is kept.
	IdempotencyTTL = 24 * time.Hour
	// idempotencyAbandoned is how long a claimed key may stay unanswered
	// before another request may take it over (the first died mid-request).
	idempotencyAbandoned = time.Minute
	maxIdempotencyKey    = 255
)

// IdempotencyStore keeps first answers by (user, key). Engines:
// NewIdempotencySQLite and NewIdempotencyMongo.
type IdempotencyStore interface {
	// Claim makes the request described by rec the owner of rec.ID. If
	// another request owns it, Claim returns that request's record (its
	// answer, once Done, is the replay) and false. A record that expired
	// (ExpiresAt <= rec.CreatedAt) or that was claimed before
	// abandonedBefore and never answered is taken over.
	Claim(ctx context.Context, rec IdempotencyRecord, abandonedBefore time.Time) (IdempotencyRecord, bool, error)
	// Record stores the answer of the claim (id, claim); ErrIdempotencyLost
	// if that claim was taken over or released meanwhile.
	Record(ctx context.Context, id, claim string, a IdempotencyAnswer) error
	// Release forgets the claim (id, claim), so that a retry runs again.
	Release(ctx context.Context, id, claim string) error
	// Sweep deletes the records that expired at or before now.
	Sweep(ctx context.Context, now time.Time) (int64, error)
}

// ErrIdempotencyLost: the claim is no longer this request's.
var ErrIdempotencyLost = errors.New("idempotency key claim was taken over")

// IdempotencyRecord is one key's state.
type IdempotencyRecord struct {
	// ID is recordID(user, key).
	ID     string
	UserID string
	// Claim tells this claim from a later takeover of the same key.
	Claim       string
	Fingerprint string
	Done        bool
	Answer      IdempotencyAnswer
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// IdempotencyAnswer is the first answer, replayed for repeats.
type IdempotencyAnswer struct {
	Status      int
	ContentType string
	Body        []byte
}

// recordID hashes user and key, so that the stored id has a bounded length
// and shows neither.
func recordID(userID, key string) string {
	h := sha256.Sum256([]byte(userID + "\x00" + key))
	return hex.EncodeToString(h[:])
}

// RunIdempotencySweeper sweeps expired keys every interval until ctx ends.
func RunIdempotencySweeper(ctx context.Context, st IdempotencyStore, clk clock.Clock, every time.Duration, log *slog.Logger) {
	if clk == nil {
		clk = clock.Real{}
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := st.Sweep(ctx, clk.Now().UTC()); err != nil && ctx.Err() == nil {
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
		sum.Write(bytes.TrimSpace(c.Request().Body())) // raw: encoded bodies never get here
		fingerprint := hex.EncodeToString(sum.Sum(nil))
		ctx := c.UserContext()
		now := s.deps.Clock.Now().UTC().Truncate(time.Millisecond)
		mine := IdempotencyRecord{ID: recordID(who.UserID, key), UserID: who.UserID, Claim: ids.New(),
			Fingerprint: fingerprint, CreatedAt: now, ExpiresAt: now.Add(IdempotencyTTL)}
		rec, owned, err := st.Claim(ctx, mine, now.Add(-idempotencyAbandoned))
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
			c.Set(fiber.HeaderContentType, rec.Answer.ContentType)
			c.Set("Idempotent-Replayed", "true")
			return c.Status(rec.Answer.Status).Send(rec.Answer.Body)
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
			if err := st.Release(bg, mine.ID, mine.Claim); err != nil {
				s.log.Warn("release idempotency key failed", "request_id", requestID(c), "error", err.Error())
			}
			return nil
		}
		answer := IdempotencyAnswer{Status: status, ContentType: string(c.Response().Header.ContentType()), Body: bytes.Clone(c.Response().Body())}
		if err := st.Record(bg, mine.ID, mine.Claim, answer); err != nil {
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
