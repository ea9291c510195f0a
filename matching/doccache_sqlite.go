package matching

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
)

// docCache keeps decoded docs of one table by key, each with the doc_stamp
// its row had when it was read (migration 00004: triggers give a row a new
// random stamp at every insert and every write of its doc, whoever writes).
// Decoding every profile in a candidate pool was most of a candidates
// request; a doc is now decoded once per change. A hit is only ever taken
// for the stamp the row has now, so another process's writes are seen at
// once, and nothing needs invalidating: a deleted row is simply not
// returned by the keys query.
//
// Docs handed out share their slices with the cache: callers read them and
// never change them in place (the hot lists feed the ranking, which copies).
type docCache[T any] struct {
	mu  sync.Mutex
	m   map[string]stamped[T]
	max int
	// decoded counts the docs read from the database (tests prove hits).
	decoded atomic.Int64
}

type stamped[T any] struct {
	stamp int64
	v     T
}

// Bounds of the caches: a full cache starts over (an organisation's
// volunteers and open outings fit many times over).
const (
	maxCachedProfiles = 100_000
	maxCachedOutings  = 50_000
)

func newDocCache[T any](max int) *docCache[T] {
	return &docCache[T]{m: make(map[string]stamped[T]), max: max}
}

// errStale: a row changed or went between the keys query and the read of
// its doc. The caller reads the docs the uncached way.
var errStale = errors.New("matching: a doc changed while it was read")

type keyStamp struct {
	key   string
	stamp int64
}

// cachedDocs runs keysQuery (the filter and order of the doc query it
// stands for, returning each row's key and doc_stamp), takes the docs the
// cache holds at those stamps and reads the others with docsQuery (its one
// argument a JSON array of keys; rows: key, doc_stamp, doc). The result is
// in keysQuery's order.
func cachedDocs[T any](ctx context.Context, q querier, c *docCache[T], keysQuery string, keysArgs []any, docsQuery string) ([]T, error) {
	keys, err := scanKeyStamps(ctx, q, keysQuery, keysArgs)
	if err != nil || len(keys) == 0 {
		return nil, err
	}
	out := make([]T, len(keys))
	missAt := make(map[string]int)
	var missing []string
	c.mu.Lock()
	for i, k := range keys {
		if e, ok := c.m[k.key]; ok && e.stamp == k.stamp {
			out[i] = e.v
			continue
		}
		missAt[k.key] = i
		missing = append(missing, k.key)
	}
	c.mu.Unlock()
	if len(missing) == 0 {
		return out, nil
	}
	arg, err := json.Marshal(missing)
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, docsQuery, string(arg))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	read := 0
	for rows.Next() {
		var key string
		var stamp int64
		var doc []byte
		if err := rows.Scan(&key, &stamp, &doc); err != nil {
			return nil, err
		}
		i, ok := missAt[key]
		if !ok || stamp != keys[i].stamp {
			return nil, errStale
		}
		if err := json.Unmarshal(doc, &out[i]); err != nil {
			return nil, err
		}
		if m, ok := any(&out[i]).(interface{ memoiseWeek() }); ok {
			m.memoiseWeek()
		}
		read++
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if read != len(missing) {
		return nil, errStale
	}
	c.decoded.Add(int64(read))
	c.mu.Lock()
	if len(c.m)+read > c.max {
		c.m = make(map[string]stamped[T])
	}
	for _, key := range missing {
		i := missAt[key]
		c.m[key] = stamped[T]{stamp: keys[i].stamp, v: out[i]}
	}
	c.mu.Unlock()
	return out, nil
}

func scanKeyStamps(ctx context.Context, q querier, query string, args []any) ([]keyStamp, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []keyStamp
	for rows.Next() {
		var k keyStamp
		if err := rows.Scan(&k.key, &k.stamp); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// inTx reports that ctx carries a write transaction of s: docs read there
// may yet be rolled back, so they are neither taken from nor put in a cache.
func (s *sqliteStore) inTx(ctx context.Context) bool {
	_, ok := ctx.Value(txKey{s}).(*sql.Tx)
	return ok
}
