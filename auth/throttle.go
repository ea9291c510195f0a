package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"sync"
	"time"

	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/fault"
)

// Login throttling limits (issue 4). Only failures count: a care home's
// residents share one address and must not lock each other out by signing in.
const (
	EmailFailureLimit  = 5
	EmailFailureWindow = 15 * time.Minute
	AddrFailureLimit   = 20
	AddrFailureWindow  = time.Minute
)

// throttle keeps failed sign-ins in the database, one inserted document per
// failure and key, so that every replica sees the same counts and a restart
// forgets nothing. Inserts are used rather than a counter because FerretDB
// applies updates as read-then-write. Keys are SHA-256 digests: the store
// holds no email address or IP address in clear.
type throttle struct {
	store Store
	clock clock.Clock

	mu        sync.Mutex
	lastSweep time.Time
}

func newThrottle(st Store, clk clock.Clock) *throttle {
	return &throttle{store: st, clock: clk}
}

func throttleKey(kind, value string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + value))
	return kind + ":" + hex.EncodeToString(sum[:])
}

func emailKey(email string) string { return throttleKey("email", NormalizeEmail(email)) }
func addrKey(addr string) string   { return throttleKey("addr", addr) }

// blockedFor returns how long key stays blocked: the limit-th most recent
// failure inside the window must leave it before another attempt is allowed.
func (t *throttle) blockedFor(ctx context.Context, key string, limit int, window time.Duration) (time.Duration, error) {
	now := t.clock.Now()
	times, err := t.store.FailureTimes(ctx, key, now.Add(-window), limit)
	if err != nil {
		return 0, err
	}
	if len(times) < limit {
		return 0, nil
	}
	return times[limit-1].Add(window).Sub(now), nil
}

// check refuses the attempt when the email or the address is over its limit.
func (t *throttle) check(ctx context.Context, email, addr string) error {
	wait, err := t.blockedFor(ctx, emailKey(email), EmailFailureLimit, EmailFailureWindow)
	if err != nil {
		return fault.Wrap(err, "read login failures")
	}
	if addr != "" {
		w, err := t.blockedFor(ctx, addrKey(addr), AddrFailureLimit, AddrFailureWindow)
		if err != nil {
			return fault.Wrap(err, "read login failures")
		}
		wait = max(wait, w)
	}
	if wait <= 0 {
		return nil
	}
	return &fault.Error{Kind: fault.RateLimited, RetryAfter: int(math.Ceil(wait.Seconds())),
		Message: "too many failed sign-in attempts; wait a little and try again"}
}

// attempt is a sign-in counted as a failure until it proves otherwise.
type attempt struct {
	t        *throttle
	email    string
	emailDoc string
	addrDoc  string
}

// begin admits a sign-in attempt or refuses it with RateLimited. It
// records the attempt as a failure BEFORE the password is checked and then
// counts again: concurrent guesses each see the others, so no burst of
// parallel requests gets more than the limit through (at worst all of a
// racing group are refused). success() takes the records back.
func (t *throttle) begin(ctx context.Context, email, addr string) (*attempt, error) {
	if err := t.check(ctx, email, addr); err != nil {
		return nil, err
	}
	now := t.clock.Now()
	a := &attempt{t: t, email: email, emailDoc: newID()}
	docs := []Failure{{ID: a.emailDoc, Key: emailKey(email), At: now}}
	if addr != "" {
		a.addrDoc = newID()
		docs = append(docs, Failure{ID: a.addrDoc, Key: addrKey(addr), At: now})
	}
	if err := t.store.RecordFailures(ctx, docs); err != nil {
		return nil, fault.Wrap(err, "record login attempt")
	}
	t.sweep(ctx, now)
	// Count again with our own record in. Every attempt that goes on saw the
	// records of all attempts that went on before it, so however many run in
	// parallel, at most the limit are tried. A refused attempt keeps its
	// record (withdrawing it would let later counters through).
	w, err := t.blockedFor(ctx, emailKey(email), EmailFailureLimit+1, EmailFailureWindow)
	if err != nil {
		return nil, fault.Wrap(err, "read login failures")
	}
	if addr != "" && w <= 0 {
		if w, err = t.blockedFor(ctx, addrKey(addr), AddrFailureLimit+1, AddrFailureWindow); err != nil {
			return nil, fault.Wrap(err, "read login failures")
		}
	}
	if w > 0 {
		if err := t.check(ctx, email, addr); err != nil {
			return nil, err
		}
		return nil, &fault.Error{Kind: fault.RateLimited, RetryAfter: 1, Message: "too many sign-in attempts at once; try again"}
	}
	return a, nil
}

// success takes the attempt's records back: the email's count restarts and
// the address's count forgets this attempt, because successes never count.
func (a *attempt) success(ctx context.Context) error {
	if err := a.t.reset(ctx, a.email); err != nil {
		return fault.Wrap(err, "reset login failures")
	}
	if a.addrDoc != "" {
		if err := a.t.store.ForgetFailure(ctx, a.addrDoc); err != nil {
			return fault.Wrap(err, "reset login failures")
		}
	}
	return nil
}

// reset forgets the email's failures after a successful sign-in. The
// address's failures stay: they may be someone else's at the same address.
func (t *throttle) reset(ctx context.Context, email string) error {
	return t.store.ClearFailures(ctx, emailKey(email))
}

// sweep deletes failures older than the longest window, at most once a
// minute per process, so the table (scanned on the embedded FerretDB)
// stays as small as the current attack.
func (t *throttle) sweep(ctx context.Context, now time.Time) {
	t.mu.Lock()
	due := now.Sub(t.lastSweep) >= time.Minute
	if due {
		t.lastSweep = now
	}
	t.mu.Unlock()
	if due {
		_ = t.store.DeleteFailuresBefore(ctx, now.Add(-max(EmailFailureWindow, AddrFailureWindow)))
	}
}
