package simulate

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/matching"
)

// The acceptance model (issue 17); docs/simulate.md explains it.
const (
	answerMinDelay   = 5   // minutes
	answerMaxDelay   = 120 // minutes
	acceptBase       = 0.6
	acceptHalfKm     = 5.0 // e-folding distance of acceptance
	familiarFactor   = 1.5
	familiarCap      = 0.95
	busyWeekOutings  = 2
	busyWeekFactor   = 0.5
	approveMinDelay  = 10 // minutes
	approveMaxDelay  = 60 // minutes
	volunteerCancelP = 0.03
	simOrgID         = "org-halmstad"
	simCoordinatorID = "coordinator"
	cancelReason     = "simulated: the volunteer cannot come after all"
	// workerEvery is how often the offer waves and the expiry sweep run.
	// The server runs them every minute; every five minutes delays a wave
	// by at most that, against a wait of up to two hours, and saves the
	// simulation four fifths of their queries.
	workerEvery    = 5 * time.Minute
	unboundedBatch = 1 << 20
	keyAnswer      = 1
	keyApprove     = 2
	keyCancel      = 3
)

// Config is one simulation's flags.
type Config struct {
	Participants int
	Volunteers   int
	Days         int
	Seed         int64
	// Weights for Clavis's ranking; the zero value means the defaults.
	Weights matching.Weights
	// TempDir holds the temporary stores ("" = the system's); each run's
	// store is removed when it ends.
	TempDir string
}

// DefaultConfig is the town of issue 17.
func DefaultConfig() Config { return Config{Participants: 100, Volunteers: 50, Days: 30, Seed: 1} }

// Start is the first simulated day: a fixed Monday, so that the output
// depends on the flags alone.
func Start() time.Time {
	loc, err := time.LoadLocation(timeZone)
	if err != nil {
		panic(err) // time/tzdata is linked into the binary
	}
	return time.Date(2026, time.March, 2, 0, 0, 0, 0, loc)
}

// Result is both runs' figures.
type Result struct {
	Config       Config   `json:"-"`
	Town         TownInfo `json:"town"`
	Clavis       Figures  `json:"clavis"`
	NearestFirst Figures  `json:"nearest_first"`
	traces       [2]trace
}

// trace is what the tests check about one run beyond its figures.
type trace struct {
	finalStatus    map[string]matching.OutingStatus
	histories      map[string][]matching.HistoryEntry
	clockBackwards int
	clockReads     int
}

// Run simulates the town twice, with Clavis's ranking and with
// nearest-first, each on its own temporary store.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Participants < 1 || cfg.Volunteers < 1 || cfg.Days < 1 {
		return Result{}, errors.New("participants, volunteers and days must be at least 1")
	}
	if cfg.Weights == (matching.Weights{}) {
		cfg.Weights = matching.DefaultWeights()
	}
	if err := cfg.Weights.Validate(); err != nil {
		return Result{}, err
	}
	places, err := Places()
	if err != nil {
		return Result{}, err
	}
	start := Start()
	t := buildTown(cfg, places, start)
	res := Result{Config: cfg, Town: townInfo(cfg, t)}
	rankings := [2]matching.RankFunc{matching.Rank, matching.NearestFirst}
	var figs [2]Figures
	var errs [2]error
	var wg sync.WaitGroup
	for i := range rankings {
		wg.Add(1)
		go func() {
			defer wg.Done()
			figs[i], res.traces[i], errs[i] = runOnce(ctx, cfg, t, start, rankings[i])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return Result{}, err
	}
	res.Clavis, res.NearestFirst = figs[0], figs[1]
	return res, nil
}

// watchedClock is the fake clock the services read; it counts any read
// that goes back in time.
type watchedClock struct {
	*clock.Fake
	mu        sync.Mutex
	last      time.Time
	backwards int
	reads     int
}

func (c *watchedClock) Now() time.Time {
	now := c.Fake.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Before(c.last) {
		c.backwards++
	}
	c.last, c.reads = now, c.reads+1
	return now
}

// directory stands in for the accounts: everyone is an active member of
// one organisation.
type directory map[string]matching.Member

func (d directory) Member(_ context.Context, id string) (matching.Member, error) {
	if m, ok := d[id]; ok {
		return m, nil
	}
	return matching.Member{}, fault.NotFoundf("no such user")
}

func (directory) OrgTimeZone(context.Context, string) (string, error) { return timeZone, nil }

type evKind uint8

const (
	evCreate evKind = iota
	evAnswer
	evApprove
	evCancel
	evCheckIn
	evComplete
)

// event is something a person does at a simulated minute. The order of
// events at the same minute depends on what they are, never on the
// (random) outing ids, so that a seed gives one result.
type event struct {
	at       time.Time
	kind     evKind
	req, vol int
	n        int     // the how-manieth offer of req to vol
	u        float64 // the answer's draw
}

type queue []event

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	a, b := q[i], q[j]
	if !a.at.Equal(b.at) {
		return a.at.Before(b.at)
	}
	if a.kind != b.kind {
		return a.kind < b.kind
	}
	if a.req != b.req {
		return a.req < b.req
	}
	if a.vol != b.vol {
		return a.vol < b.vol
	}
	return a.n < b.n
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(event)) }
func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

type sim struct {
	ctx      context.Context
	seed     uint64
	t        town
	clk      *watchedClock
	svc      *matching.Service
	disp     *matching.Dispatcher
	waves    *matching.OfferWaves
	q        queue
	coord    auth.Identity
	outingID []string
	reqOf    map[string]int
	volOf    map[string]int
	offers   int
	offered  map[[2]int]int
	// The acceptance model's memory: who has been out with whom, and each
	// volunteer's outings by ISO week of their start.
	together map[[2]int]bool
	held     []map[int]int
}

// rnd is a generator for one decision, keyed by what it decides: the same
// offer gets the same answer whatever order the services process outings in.
func (s *sim) rnd(key, a, b, c int) *rand.Rand {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%d/%d/%d", key, a, b, c)
	return rand.New(rand.NewPCG(s.seed, h.Sum64()))
}

func runOnce(ctx context.Context, cfg Config, t town, start time.Time, rank matching.RankFunc) (Figures, trace, error) {
	dir, err := os.MkdirTemp(cfg.TempDir, "clavis-simulate-")
	if err != nil {
		return Figures{}, trace{}, err
	}
	defer os.RemoveAll(dir)
	st, closeStore, err := openStore(ctx, dir)
	if err != nil {
		return Figures{}, trace{}, err
	}
	defer closeStore()

	s := &sim{ctx: ctx, seed: uint64(cfg.Seed), t: t, clk: &watchedClock{Fake: clock.NewFake(start.Add(-time.Hour))},
		coord:    auth.Identity{UserID: simCoordinatorID, Role: auth.RoleCoordinator, OrgID: simOrgID, Status: auth.StatusActive},
		outingID: make([]string, len(t.requests)), reqOf: map[string]int{}, volOf: map[string]int{},
		offered: map[[2]int]int{}, together: map[[2]int]bool{}, held: make([]map[int]int, len(t.volunteers))}
	members := directory{simCoordinatorID: {ID: simCoordinatorID, Name: "Karin", OrgID: simOrgID, Role: auth.RoleCoordinator, Status: auth.StatusActive, Language: "sv"}}
	for i, v := range t.volunteers {
		members[v.id] = matching.Member{ID: v.id, Name: v.id, OrgID: simOrgID, Role: auth.RoleVolunteer, Status: auth.StatusActive, Language: "sv"}
		s.volOf[v.id] = i
		s.held[i] = map[int]int{}
	}
	for _, p := range t.participants {
		members[p.id] = matching.Member{ID: p.id, Name: p.id, OrgID: simOrgID, Role: auth.RoleParticipant, Status: auth.StatusActive, Language: "sv"}
	}
	// The server's wiring (serve.go), with the ranking swapped in.
	s.svc, err = matching.NewService(ctx, st, matching.Config{Clock: s.clk, Directory: members})
	if err != nil {
		return Figures{}, trace{}, err
	}
	matcher, err := matching.NewMatcher(ctx, s.svc, matching.MatcherConfig{Weights: cfg.Weights, Rank: rank})
	if err != nil {
		return Figures{}, trace{}, err
	}
	s.disp = s.svc.NewDispatcher(matcher.OfferSink(s), nil)
	s.disp.BatchSize = unboundedBatch
	s.waves = matcher.OfferWaves()
	s.waves.Batch = unboundedBatch

	if err := s.setUp(); err != nil {
		return Figures{}, trace{}, err
	}
	last := start.AddDate(0, 0, cfg.Days)
	for _, r := range t.requests {
		heap.Push(&s.q, event{at: r.createdAt, kind: evCreate, req: r.idx})
		if end := r.startsAt.Add(outingLength); end.After(last) {
			last = end
		}
	}
	// Time moves from one person's action to the next, stopping every
	// workerEvery for the server's background work. One more stop after
	// the last end lets the expiry sweep see every start pass.
	last = last.Add(workerEvery)
	nextWork := start
	for now := start; !now.After(last); {
		s.clk.Set(now)
		touched := map[string]bool{}
		for s.q.Len() > 0 && !s.q[0].at.After(now) {
			e := heap.Pop(&s.q).(event)
			if err := s.do(e); err != nil {
				return Figures{}, trace{}, err
			}
			touched[s.outingID[e.req]] = true
		}
		if err := s.deliver(touched); err != nil {
			return Figures{}, trace{}, err
		}
		if !now.Before(nextWork) {
			if err := s.workers(); err != nil {
				return Figures{}, trace{}, err
			}
			nextWork = nextWork.Add(workerEvery)
		}
		now = nextWork
		if s.q.Len() > 0 && s.q[0].at.Before(now) {
			now = s.q[0].at
		}
	}
	return s.collect()
}

// setUp writes the volunteers' profiles and availability through the
// service, as the app's profile screens do.
func (s *sim) setUp() error {
	for _, v := range s.t.volunteers {
		who := auth.Identity{UserID: v.id, Role: auth.RoleVolunteer, OrgID: simOrgID, Status: auth.StatusActive}
		if _, err := s.svc.PutVolunteerProfile(s.ctx, who, matching.VolunteerProfileInput{
			Home: v.home, TravelRadiusKm: v.radiusKm, Languages: []string{"sv"}, Gender: "unspecified", MaxOutingsPerWeek: v.weekCap,
		}); err != nil {
			return fmt.Errorf("volunteer %s: %w", v.id, err)
		}
		if _, err := s.svc.PutAvailability(s.ctx, who, availabilitySpec(v)); err != nil {
			return fmt.Errorf("volunteer %s availability: %w", v.id, err)
		}
	}
	return nil
}

// deliver hands the events of the outings people just acted on to the
// matcher and notify's stand-in, as the server's dispatcher does when the
// service wakes it: a new outing's first wave goes out at once.
func (s *sim) deliver(touched map[string]bool) error {
	ids := make([]string, 0, len(touched))
	for id := range touched {
		ids = append(ids, id)
	}
	// By request, not by the random ids, so that a seed gives one order.
	slices.SortFunc(ids, func(a, b string) int { return cmp.Compare(s.reqOf[a], s.reqOf[b]) })
	for _, id := range ids {
		for {
			n, err := s.disp.DeliverOuting(s.ctx, id)
			if err != nil {
				return err
			}
			if n == 0 {
				break
			}
		}
	}
	return nil
}

// workers is the server's periodic background work: later offer waves,
// then expiry, each followed by the dispatcher's scan when it wrote.
func (s *sim) workers() error {
	n, err := s.waves.RunOnce(s.ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		if err := s.drain(); err != nil {
			return err
		}
	}
	if n, err = s.svc.ExpireStarted(s.ctx, unboundedBatch); err != nil || n == 0 {
		return err
	}
	return s.drain()
}

func (s *sim) drain() error {
	for {
		n, err := s.disp.RunOnce(s.ctx)
		if err != nil || n == 0 {
			return err
		}
	}
}

// Consume receives the outing events that would become pushes; an offer
// wave's volunteers each answer after a while.
func (s *sim) Consume(_ context.Context, e matching.Event) error {
	if e.Type != matching.EventOffer || len(e.Recipients) == 0 {
		return nil
	}
	req, ok := s.reqOf[e.OutingID]
	if !ok {
		return fmt.Errorf("offer for an outing the simulation did not make: %s", e.OutingID)
	}
	now := s.clk.Fake.Now()
	for _, id := range e.Recipients {
		vol, ok := s.volOf[id]
		if !ok {
			return fmt.Errorf("offer to an unknown volunteer %s", id)
		}
		s.offers++
		pair := [2]int{req, vol}
		n := s.offered[pair]
		s.offered[pair] = n + 1
		r := s.rnd(keyAnswer, req, vol, n)
		delay := time.Duration(answerMinDelay+r.IntN(answerMaxDelay-answerMinDelay+1)) * time.Minute
		heap.Push(&s.q, event{at: now.Add(delay), kind: evAnswer, req: req, vol: vol, n: n, u: r.Float64()})
	}
	return nil
}

func (s *sim) volunteerID(i int) auth.Identity {
	return auth.Identity{UserID: s.t.volunteers[i].id, Role: auth.RoleVolunteer, OrgID: simOrgID, Status: auth.StatusActive}
}

func isoWeek(t time.Time) int {
	y, w := t.In(Start().Location()).ISOWeek()
	return y*100 + w
}

// acceptP is the acceptance model for volunteer vol answering an offer of req.
func (s *sim) acceptP(req request, vol int) float64 {
	v := s.t.volunteers[vol]
	d := matching.DistanceKm(v.home.Lat, v.home.Lon, req.place.Lat, req.place.Lon)
	p := acceptBase * math.Exp(-d/acceptHalfKm)
	if s.together[[2]int{vol, req.participant}] {
		p = min(p*familiarFactor, familiarCap)
	}
	week, n := isoWeek(req.startsAt), 0
	for _, w := range s.held[vol] {
		if w == week {
			n++
		}
	}
	if n >= busyWeekOutings {
		p *= busyWeekFactor
	}
	return p
}

// do carries out one person's action through the service. Refusals by the
// service (someone else accepted first, the outing expired, a hard rule
// now fails) are part of the simulation, not errors.
func (s *sim) do(e event) error {
	ctx := s.ctx
	now := s.clk.Fake.Now()
	r := s.t.requests[e.req]
	id := s.outingID[e.req]
	refused := func(err error) error {
		if err == nil || fault.KindOf(err) != fault.Internal {
			return nil
		}
		return err
	}
	switch e.kind {
	case evCreate:
		p := s.t.participants[r.participant]
		who := auth.Identity{UserID: p.id, Role: auth.RoleParticipant, OrgID: simOrgID, Status: auth.StatusActive}
		v, err := s.svc.CreateOuting(ctx, who, matching.OutingRequest{
			Kind: r.place.Kind, StartsAt: r.startsAt, EndsAt: r.startsAt.Add(outingLength),
			MeetingPoint: matching.MeetingPoint{Lat: r.place.Lat, Lon: r.place.Lon, Description: r.place.Name},
		})
		if err != nil {
			return fmt.Errorf("request %d: %w", e.req, err)
		}
		s.outingID[e.req], s.reqOf[v.ID] = v.ID, e.req
	case evAnswer:
		who := s.volunteerID(e.vol)
		if e.u >= s.acceptP(r, e.vol) {
			return refused(s.svc.Decline(ctx, who, id))
		}
		if _, err := s.svc.Accept(ctx, who, id); err != nil {
			return refused(err)
		}
		s.held[e.vol][e.req] = isoWeek(r.startsAt)
		d := s.rnd(keyApprove, e.req, e.vol, e.n)
		heap.Push(&s.q, event{at: now.Add(time.Duration(approveMinDelay+d.IntN(approveMaxDelay-approveMinDelay+1)) * time.Minute),
			kind: evApprove, req: e.req, vol: e.vol, n: e.n})
	case evApprove:
		v, err := s.svc.Approve(ctx, s.coord, id)
		if err != nil || v.VolunteerID != s.t.volunteers[e.vol].id {
			delete(s.held[e.vol], e.req) // expired before the coordinator got to it
			return refused(err)
		}
		heap.Push(&s.q, event{at: r.startsAt, kind: evCheckIn, req: e.req, vol: e.vol, n: e.n})
		heap.Push(&s.q, event{at: r.startsAt.Add(outingLength), kind: evComplete, req: e.req, vol: e.vol, n: e.n})
		c := s.rnd(keyCancel, e.req, e.vol, e.n)
		if c.Float64() < volunteerCancelP {
			minutes := int(r.startsAt.Sub(now) / time.Minute)
			heap.Push(&s.q, event{at: now.Add(time.Duration(c.IntN(max(minutes, 1))) * time.Minute), kind: evCancel, req: e.req, vol: e.vol, n: e.n})
		}
	case evCancel:
		if _, err := s.svc.Cancel(ctx, s.volunteerID(e.vol), id, cancelReason); err != nil {
			return refused(err)
		}
		delete(s.held[e.vol], e.req)
	case evCheckIn:
		_, err := s.svc.CheckIn(ctx, s.volunteerID(e.vol), id)
		return refused(err) // a volunteer who cancelled is no longer the companion
	case evComplete:
		if _, err := s.svc.Complete(ctx, s.volunteerID(e.vol), id); err != nil {
			return refused(err)
		}
		s.together[[2]int{e.vol, r.participant}] = true
	}
	return nil
}
