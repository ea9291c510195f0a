package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/db/dbtest"
	"github.com/clavis-app/clavis/internal/ids"
	"github.com/clavis-app/clavis/internal/sqlite"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
)

func openIdemSQLite(t *testing.T) IdempotencyStore {
	st, err := NewIdempotencySQLite(context.Background(), sqlitetest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func openIdemMongo(t *testing.T) IdempotencyStore {
	st, err := NewIdempotencyMongo(context.Background(), dbtest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestIdempotencyStoreSQLite(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testIdempotencyStore(t, openIdemSQLite) })
}

func TestIdempotencyStoreMongo(t *testing.T) {
	t.Run("mongo", func(t *testing.T) { testIdempotencyStore(t, openIdemMongo) })
}

var idemT0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func idemRec(user, key, fingerprint string, at time.Time) IdempotencyRecord {
	return IdempotencyRecord{ID: recordID(user, key), UserID: user, Claim: ids.New(), Fingerprint: fingerprint,
		CreatedAt: at, ExpiresAt: at.Add(IdempotencyTTL)}
}

// testIdempotencyStore holds every engine to the same contract.
func testIdempotencyStore(t *testing.T, open func(t *testing.T) IdempotencyStore) {
	ctx := context.Background()
	abandoned := func(now time.Time) time.Time { return now.Add(-idempotencyAbandoned) }

	t.Run("claim, record, replay", func(t *testing.T) {
		st := open(t)
		first := idemRec("u1", "k", "fp", idemT0)
		got, owned, err := st.Claim(ctx, first, abandoned(idemT0))
		if err != nil || !owned || got.Claim != first.Claim {
			t.Fatalf("first claim: owned=%v %+v %v", owned, got, err)
		}
		again := idemRec("u1", "k", "fp", idemT0.Add(time.Second))
		got, owned, err = st.Claim(ctx, again, abandoned(again.CreatedAt))
		if err != nil || owned || got.Done || got.Claim != first.Claim || got.Fingerprint != "fp" || got.UserID != "u1" {
			t.Fatalf("repeat while running: owned=%v %+v %v", owned, got, err)
		}
		if err := st.Record(ctx, first.ID, again.Claim, IdempotencyAnswer{Status: 201}); !errors.Is(err, ErrIdempotencyLost) {
			t.Fatalf("record by a claim that does not own the key: %v", err)
		}
		answer := IdempotencyAnswer{Status: 201, ContentType: "application/json", Body: []byte(`{"id":"x"}`)}
		if err := st.Record(ctx, first.ID, first.Claim, answer); err != nil {
			t.Fatal(err)
		}
		if err := st.Record(ctx, first.ID, first.Claim, IdempotencyAnswer{Status: 500}); !errors.Is(err, ErrIdempotencyLost) {
			t.Fatalf("a second answer overwrote the first: %v", err)
		}
		later := idemRec("u1", "k", "fp", idemT0.Add(23*time.Hour))
		got, owned, err = st.Claim(ctx, later, abandoned(later.CreatedAt))
		if err != nil || owned || !got.Done || got.Answer.Status != 201 || got.Answer.ContentType != answer.ContentType ||
			!bytes.Equal(got.Answer.Body, answer.Body) || !got.CreatedAt.Equal(idemT0) || !got.ExpiresAt.Equal(first.ExpiresAt) {
			t.Fatalf("replay: owned=%v %+v %v", owned, got, err)
		}
		// Another user's same key is another record.
		if _, owned, err := st.Claim(ctx, idemRec("u2", "k", "fp", idemT0), abandoned(idemT0)); err != nil || !owned {
			t.Fatalf("other user's key: owned=%v %v", owned, err)
		}
	})

	t.Run("release", func(t *testing.T) {
		st := open(t)
		first := idemRec("u1", "k", "fp", idemT0)
		if _, owned, err := st.Claim(ctx, first, abandoned(idemT0)); err != nil || !owned {
			t.Fatal(owned, err)
		}
		if err := st.Release(ctx, first.ID, "not-the-claim"); err != nil {
			t.Fatal(err)
		}
		retry := idemRec("u1", "k", "fp", idemT0.Add(time.Second))
		if _, owned, _ := st.Claim(ctx, retry, abandoned(retry.CreatedAt)); owned {
			t.Fatal("a release by another claim freed the key")
		}
		if err := st.Release(ctx, first.ID, first.Claim); err != nil {
			t.Fatal(err)
		}
		if _, owned, err := st.Claim(ctx, retry, abandoned(retry.CreatedAt)); err != nil || !owned {
			t.Fatalf("claim after release: owned=%v %v", owned, err)
		}
	})

	t.Run("takeover of abandoned and expired keys", func(t *testing.T) {
		st := open(t)
		dead := idemRec("u1", "dead", "fp", idemT0)
		if _, owned, err := st.Claim(ctx, dead, abandoned(idemT0)); err != nil || !owned {
			t.Fatal(owned, err)
		}
		soon := idemRec("u1", "dead", "fp", idemT0.Add(30*time.Second))
		if _, owned, _ := st.Claim(ctx, soon, abandoned(soon.CreatedAt)); owned {
			t.Fatal("a running claim was taken over within the abandonment window")
		}
		late := idemRec("u1", "dead", "fp", idemT0.Add(2*time.Minute))
		if _, owned, err := st.Claim(ctx, late, abandoned(late.CreatedAt)); err != nil || !owned {
			t.Fatalf("abandoned claim not taken over: owned=%v %v", owned, err)
		}
		if err := st.Record(ctx, dead.ID, dead.Claim, IdempotencyAnswer{Status: 201}); !errors.Is(err, ErrIdempotencyLost) {
			t.Fatalf("the dead claim answered over its successor: %v", err)
		}
		// A done key stays until it expires, then is claimed afresh.
		if err := st.Record(ctx, late.ID, late.Claim, IdempotencyAnswer{Status: 201, Body: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
		hourLater := idemRec("u1", "dead", "fp2", late.CreatedAt.Add(time.Hour))
		if got, owned, _ := st.Claim(ctx, hourLater, abandoned(hourLater.CreatedAt)); owned || !got.Done {
			t.Fatalf("done key taken over before expiry: owned=%v %+v", owned, got)
		}
		expired := idemRec("u1", "dead", "fp2", late.ExpiresAt)
		if got, owned, err := st.Claim(ctx, expired, abandoned(expired.CreatedAt)); err != nil || !owned || got.Done {
			t.Fatalf("expired key not claimed afresh: owned=%v %+v %v", owned, got, err)
		}
	})

	t.Run("sweep", func(t *testing.T) {
		st := open(t)
		for i := range 5 {
			r := idemRec("u1", fmt.Sprint("k", i), "fp", idemT0.Add(time.Duration(i)*time.Hour))
			if _, owned, err := st.Claim(ctx, r, abandoned(r.CreatedAt)); err != nil || !owned {
				t.Fatal(owned, err)
			}
		}
		// Keys created at t0, t0+1h and t0+2h expire by t0+26h.
		n, err := st.Sweep(ctx, idemT0.Add(IdempotencyTTL+2*time.Hour))
		if err != nil || n != 3 {
			t.Fatalf("sweep deleted %d, want 3: %v", n, err)
		}
		for i := range 5 {
			r := idemRec("u1", fmt.Sprint("k", i), "fp", idemT0.Add(25*time.Hour))
			_, owned, err := st.Claim(ctx, r, idemT0) // nothing counts as abandoned here
			if err != nil || owned != (i < 3) {
				t.Errorf("key %d after sweep: owned=%v %v", i, owned, err)
			}
		}
	})

	race := func(t *testing.T, st IdempotencyStore, key string, at time.Time) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		var winners []string
		seen := map[string]int{}
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := idemRec("u1", key, "fp", at)
				got, owned, err := st.Claim(ctx, r, abandoned(at))
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Error(err)
					return
				}
				if owned {
					winners = append(winners, r.Claim)
				}
				seen[got.Claim]++
			}()
		}
		wg.Wait()
		if len(winners) != 1 || seen[winners[0]] != 20 {
			t.Fatalf("%d of 20 racing claims won, want exactly 1; claims seen %v", len(winners), seen)
		}
		t.Logf("20 racing claims of %q: 1 won, 19 saw its record", key)
	}
	t.Run("20 racing claims", func(t *testing.T) {
		st := open(t)
		race(t, st, "fresh", idemT0)
		// And 20 racing takeovers of one abandoned claim.
		race(t, st, "fresh", idemT0.Add(2*time.Minute))
	})

	t.Run("20 racing requests through the middleware", func(t *testing.T) {
		testIdempotentBurst(t, open(t))
	})
}

type fixedAuth struct{ id auth.Identity }

func (f fixedAuth) Authenticate(context.Context, string) (auth.Identity, error) { return f.id, nil }

// testIdempotentBurst sends 20 concurrent requests with one key: the
// handler runs exactly once, every other answer is the replay or a 409.
func testIdempotentBurst(t *testing.T, st IdempotencyStore) {
	var runs atomic.Int64
	s, err := New(Deps{
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Auth:        fixedAuth{auth.Identity{UserID: "u1", Role: auth.RoleParticipant, Status: auth.StatusActive}},
		Clock:       clock.NewFake(idemT0),
		Idempotency: st,
		Extra: func(s *Server) {
			r := Route{Method: "POST", Path: "/v1/test/idempotent", Roles: []auth.Role{auth.RoleParticipant},
				Request: struct {
					N int `json:"n"`
				}{}, Status: 201, Idempotent: true}
			if err := s.Handle(r, s.idempotent(func(c *fiber.Ctx) error {
				n := runs.Add(1)
				time.Sleep(20 * time.Millisecond)
				return c.Status(201).JSON(map[string]int64{"run": n})
			})); err != nil {
				t.Fatal(err)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[int]int{}
	var bodies []string
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := httptest.NewRequest("POST", "/v1/test/idempotent", bytes.NewReader([]byte(`{"n":1}`)))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer x")
			req.Header.Set("Idempotency-Key", "burst")
			resp, err := s.App.Test(req, -1)
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			mu.Lock()
			defer mu.Unlock()
			counts[resp.StatusCode]++
			if resp.StatusCode == 201 {
				bodies = append(bodies, string(b))
			}
		}()
	}
	wg.Wait()
	if runs.Load() != 1 || counts[201]+counts[409] != 20 || counts[201] < 1 {
		t.Fatalf("handler ran %d times (want 1); statuses %v", runs.Load(), counts)
	}
	for _, b := range bodies {
		if b != `{"run":1}` {
			t.Fatalf("a 201 that is not the first answer: %s", b)
		}
	}
	t.Logf("20 concurrent requests, one key: handler ran once; statuses %v", counts)
}

// TestSQLiteHotQueriesUseIndexes: every statement the SQLite engine runs
// finds its rows by an index, never by reading the whole table.
func TestSQLiteHotQueriesUseIndexes(t *testing.T) {
	ctx := context.Background()
	d := sqlitetest.New(t)
	if _, err := NewIdempotencySQLite(ctx, d); err != nil {
		t.Fatal(err)
	}
	id, now := recordID("u", "k"), sqlite.Millis(idemT0)
	for name, q := range map[string]struct {
		sql  string
		args []any
	}{
		"select":  {sqlIdemSelect, []any{id}},
		"upsert":  {sqlIdemUpsert, []any{id, "u", "c", "fp", now, now}},
		"record":  {sqlIdemRecord, []any{201, "application/json", []byte("{}"), id, "c"}},
		"release": {sqlIdemRelease, []any{id, "c"}},
		"sweep":   {sqlIdemSweep, []any{now}},
	} {
		plan, err := d.QueryPlan(ctx, q.sql, q.args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Logf("%s: %v", name, plan)
		if bad := sqlite.FullScans(plan, "idempotency_keys"); len(bad) > 0 {
			t.Errorf("%s scans the whole table: %v", name, bad)
		}
	}
}
