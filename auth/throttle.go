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

// Login throttling limits (issues 4 and 12.6). Only failures count: a care
// home's residents share one address and must not lock each other out by
// signing in.
//
// Failures are counted three ways:
//   - per (email, client address) pair, PairFailureLimit in PairFailureWindow:
//     the limit a guesser at one address meets. Someone who knows an email
//     can no longer lock its owner out: five wrong passwords from address A
//     block A for that email, while the owner signs in from address B.
//   - per email, EmailFailureLimit in EmailFailureWindow, a looser ceiling
//     over all addresses: it bounds guessing spread over many addresses. The
//     trade-off: an attacker with at least EmailFailureLimit/PairFailureLimit
//     (ten) addresses can still lock an account for up to 15 minutes; with
//     fewer addresses they cannot, and they get at most 50 guesses per
//     account per 15 minutes however many addresses they use (about 4 800 a
//     day, against passwords of 10+ characters that are not on the common
//     list). A lower ceiling would make the lockout cheaper; a higher one
//     would let a botnet guess faster.
//   - per client address, AddrFailureLimit in AddrFailureWindow, whatever the
//     email: it slows one address trying many accounts.
//
// Several people behind one address (a care home's NAT) share the pair
// limit only for the same email, so they still do not lock each other out.
const (
	PairFailureLimit   = 5
	PairFailureWindow  = 15 * time.Minute
	EmailFailureLimit  = 50
	EmailFailureWindow = 15 * time.Minute
	AddrFailureLimit   = 20
	AddrFailureWindow  = time.Minute
)

// Registration limit (issue 12.7): registering answers "email taken", so it
// is limited per client address, loosely enough for an onboarding evening
// where 30 people register from one network within an hour.
const (
	RegisterLimit  = 40
	RegisterWindow = time.Hour
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
func pairKey(email, addr string) string {
	return throttleKey("pair", NormalizeEmail(email)+"\x00"+addr)
}
func registerKey(addr string) string { return throttleKey("register", addr) }

// limit is one counter: at most n records of key in window.
type limit struct {
	key    string
	n      int
	window time.Duration
}

// limits are the counters a sign-in for email from addr counts in. With no
// address (tools, tests) the pair is the email alone.
func limits(email, addr string) []limit {
	l := []limit{
		{pairKey(email, addr), PairFailureLimit, PairFailureWindow},
		{emailKey(email), EmailFailureLimit, EmailFailureWindow},
	}
	if addr != "" {
		l = append(l, limit{addrKey(addr), AddrFailureLimit, AddrFailureWindow})
	}
	return l
}

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

// wait is how long the longest-blocked of ls stays blocked; extra is
// added to each limit (1 when the attempt's own record is in).
func (t *throttle) wait(ctx context.Context, ls []limit, extra int) (time.Duration, error) {
	var wait time.Duration
	for _, l := range ls {
		w, err := t.blockedFor(ctx, l.key, l.n+extra, l.window)
		if err != nil {
			return 0, fault.Wrap(err, "read login failures")
		}
		wait = max(wait, w)
	}
	return wait, nil
}

func rateLimited(wait time.Duration, msg string) error {
	return &fault.Error{Kind: fault.RateLimited, RetryAfter: max(1, int(math.Ceil(wait.Seconds()))), Message: msg}
}

const msgTooManyFailures = "too many failed sign-in attempts; wait a little and try again"

// attempt is a sign-in counted as a failure until it proves otherwise.
type attempt struct {
	t       *throttle
	pair    string
	records []string // ids of this attempt's records, pair first
}

// begin admits a sign-in attempt or refuses it with RateLimited. It
// records the attempt as a failure BEFORE the password is checked and then
// counts again: concurrent guesses each see the others, so no burst of
// parallel requests gets more than the limit through (at worst all of a
// racing group are refused). success() takes the records back.
func (t *throttle) begin(ctx context.Context, email, addr string) (*attempt, error) {
	ls := limits(email, addr)
	if wait, err := t.wait(ctx, ls, 0); err != nil {
		return nil, err
	} else if wait > 0 {
		return nil, rateLimited(wait, msgTooManyFailures)
	}
	now := t.clock.Now()
	a := &attempt{t: t, pair: ls[0].key}
	docs := make([]Failure, len(ls))
	for i, l := range ls {
		docs[i] = Failure{ID: newID(), Key: l.key, At: now}
		a.records = append(a.records, docs[i].ID)
	}
	if err := t.store.RecordFailures(ctx, docs); err != nil {
		return nil, fault.Wrap(err, "record login attempt")
	}
	t.sweep(ctx, now)
	// Count again with our own record in. Every attempt that goes on saw the
	// records of all attempts that went on before it, so however many run in
	// parallel, at most the limit are tried. A refused attempt keeps its
	// records (withdrawing them would let later counters through).
	w, err := t.wait(ctx, ls, 1)
	if err != nil {
		return nil, err
	}
	if w > 0 {
		if wait, err := t.wait(ctx, ls, 0); err != nil {
			return nil, err
		} else if wait > 0 {
			return nil, rateLimited(wait, msgTooManyFailures)
		}
		return nil, rateLimited(time.Second, "too many sign-in attempts at once; try again")
	}
	return a, nil
}

// success takes the attempt back: the pair's count restarts, and the
// email's and the address's counts forget this attempt, because successes
// never count. Other addresses' failures for the email stay: they may be
// someone else's guesses.
func (a *attempt) success(ctx context.Context) error {
	if err := a.t.store.ClearFailures(ctx, a.pair); err != nil {
		return fault.Wrap(err, "reset login failures")
	}
	for _, id := range a.records[1:] {
		if err := a.t.store.ForgetFailure(ctx, id); err != nil {
			return fault.Wrap(err, "reset login failures")
		}
	}
	return nil
}

// register admits a registration from addr or refuses it with RateLimited
// (with Retry-After). Every attempt counts, valid or not: the answer
// "email taken" is what is being rationed. A burst may overshoot the limit
// by the number of requests racing, which a loose limit can afford.
func (t *throttle) register(ctx context.Context, addr string) error {
	if addr == "" {
		return nil
	}
	l := []limit{{registerKey(addr), RegisterLimit, RegisterWindow}}
	if wait, err := t.wait(ctx, l, 0); err != nil {
		return err
	} else if wait > 0 {
		return rateLimited(wait, "too many registrations from this network; try again later")
	}
	now := t.clock.Now()
	if err := t.store.RecordFailures(ctx, []Failure{{ID: newID(), Key: l[0].key, At: now}}); err != nil {
		return fault.Wrap(err, "record registration")
	}
	t.sweep(ctx, now)
	return nil
}

// sweep deletes records older than the longest window, at most once a
// minute per process, so the table stays as small as the current attack.
func (t *throttle) sweep(ctx context.Context, now time.Time) {
	t.mu.Lock()
	due := now.Sub(t.lastSweep) >= time.Minute
	if due {
		t.lastSweep = now
	}
	t.mu.Unlock()
	if due {
		_ = t.store.DeleteFailuresBefore(ctx, now.Add(-max(PairFailureWindow, EmailFailureWindow, AddrFailureWindow, RegisterWindow)))
	}
}
