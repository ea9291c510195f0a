package notify

import (
	"context"
	"sync"
	"time"

	"github.com/clavis-app/clavis/internal/clock"
)

// recipientCache keeps directory answers for a minute: a batch of reminders
// often names the same people and coordinators, and a language change may
// take that long to show.
type recipientCache struct {
	dir   Directory
	clock clock.Clock
	ttl   time.Duration

	mu     sync.Mutex
	people map[string]cachedRecipient
	coords map[string]cachedCoordinators
	zones  map[string]*time.Location
}

type cachedRecipient struct {
	r   Recipient
	err error
	at  time.Time
}

type cachedCoordinators struct {
	ids []string
	at  time.Time
}

const cacheLimit = 10_000

func newRecipientCache(d Directory, c clock.Clock) *recipientCache {
	return &recipientCache{dir: d, clock: c, ttl: time.Minute,
		people: map[string]cachedRecipient{}, coords: map[string]cachedCoordinators{}, zones: map[string]*time.Location{}}
}

// recipient returns a user's details; a NotFound error is remembered too.
func (c *recipientCache) recipient(ctx context.Context, userID string) (Recipient, error) {
	now := c.clock.Now()
	c.mu.Lock()
	e, ok := c.people[userID]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.ttl && now.Sub(e.at) >= 0 {
		return e.r, e.err
	}
	r, err := c.dir.Recipient(ctx, userID)
	if err != nil && ctx.Err() != nil {
		return r, err
	}
	c.mu.Lock()
	if len(c.people) >= cacheLimit {
		c.people = map[string]cachedRecipient{}
	}
	c.people[userID] = cachedRecipient{r: r, err: err, at: now}
	c.mu.Unlock()
	return r, err
}

func (c *recipientCache) coordinators(ctx context.Context, orgID string) ([]string, error) {
	now := c.clock.Now()
	c.mu.Lock()
	e, ok := c.coords[orgID]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.ttl && now.Sub(e.at) >= 0 {
		return e.ids, nil
	}
	ids, err := c.dir.CoordinatorsOf(ctx, orgID)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.coords) >= cacheLimit {
		c.coords = map[string]cachedCoordinators{}
	}
	c.coords[orgID] = cachedCoordinators{ids: ids, at: now}
	c.mu.Unlock()
	return ids, nil
}

// location resolves an IANA zone name, Europe/Stockholm when empty or unknown.
func (c *recipientCache) location(name string) *time.Location {
	if name == "" {
		return defaultLocation
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if loc, ok := c.zones[name]; ok {
		return loc
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		loc = defaultLocation
	}
	c.zones[name] = loc
	return loc
}
