package notify

import (
	"container/heap"
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clavis-app/clavis/internal/fault"
)

// A pool is one process's share of the push work: a fetcher that finds and
// claims jobs due soon, a dispatcher that hands each batch to a worker when
// it is due, the workers that send, and a finisher that deletes finished
// jobs in bulk.
//
// Scanning the job collection is the expensive step on the embedded store
// (it reads every document), so one fetcher per process scans, claims
// everything due within Tuning.Lookahead in one unique insert, and looks up
// the recipients' devices once for all of it; the workers then send on time.
type pool struct {
	s     *Service
	owner string

	wakeCh   chan struct{}
	ready    chan *batch
	work     chan *batch
	outcomes chan outcomeReq
	finished chan finishReq

	outstanding atomic.Int64
	// fetches counts completed looks at the job collection (tests wait on it).
	fetches atomic.Int64
	// starved: the last fetch found no room; a finished batch wakes it.
	starved atomic.Bool
	// finishing counts finished jobs and claims not yet deleted.
	finishing atomic.Int64

	mu      sync.Mutex
	held    map[string]bool      // jobs claimed here and not yet let go
	busy    map[string]time.Time // jobs someone else holds, until their lease ends
	dropped map[string]int64     // outings whose jobs were dropped here, at which epoch
	epoch   int64                // counts drops; a fetch notes the epoch it began in
	live    map[*batch]bool      // claimed batches not yet finished or given back
	// gone holds jobs this pool finished and deleted, with the deletion's
	// number: a scan that began before the delete may still return them.
	gone    map[string]int64
	deletes int64 // deletions completed
}

// batch is a group of claimed jobs due at about the same time.
type batch struct {
	due   time.Time
	items []*item
}

type item struct {
	c claim
	// epoch is the drop epoch the fetch that claimed it began in.
	epoch  int64
	people []person
	// devices of every person of the item, by user id
	devices map[string][]Device
	// prepErr is set when recipients could not be resolved; the job is retried.
	prepErr error
}

type person struct {
	id       string
	r        Recipient
	loc      *time.Location
	audience string
}

type finishReq struct {
	jobIDs []string
}

// batchWindow groups jobs due within this span into one batch.
const batchWindow = 50 * time.Millisecond

func newPool(s *Service) *pool {
	return &pool{
		s: s, owner: s.tune.Owner,
		wakeCh:   make(chan struct{}, 1),
		ready:    make(chan *batch, 1024),
		work:     make(chan *batch),
		outcomes: make(chan outcomeReq, 1024),
		finished: make(chan finishReq, 1024),
		held:     map[string]bool{},
		busy:     map[string]time.Time{},
		dropped:  map[string]int64{},
		live:     map[*batch]bool{},
		gone:     map[string]int64{},
	}
}

func (p *pool) kick() {
	select {
	case p.wakeCh <- struct{}{}:
	default:
	}
}

// forget marks outings whose jobs were just dropped in this process, so
// that jobs claimed for them by a fetch that began earlier are not sent.
func (p *pool) forget(outings ...string) {
	if len(outings) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.epoch++
	for _, o := range outings {
		p.dropped[o] = p.epoch
	}
	if len(p.dropped) > 10_000 {
		p.dropped = map[string]int64{}
		p.dropped[outings[0]] = p.epoch
	}
}

// droppedSince reports whether outingID's jobs were dropped after a fetch
// that began at epoch.
func (p *pool) droppedSince(outingID string, epoch int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	at, ok := p.dropped[outingID]
	return ok && at > epoch
}

// done marks a batch finished (sent or given back).
func (p *pool) done(b *batch) {
	p.mu.Lock()
	delete(p.live, b)
	p.mu.Unlock()
	p.outstanding.Add(-1)
	if p.starved.Load() {
		p.kick()
	}
}

// quietNow reports that no claimed batch is due at now: whatever was due
// has been sent and recorded (tests wait for it).
func (p *pool) quietNow(now time.Time) bool {
	if p.finishing.Load() != 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for b := range p.live {
		if !b.due.After(now) {
			return false
		}
	}
	return true
}

func (p *pool) maxOutstanding() int64 { return int64(8*p.s.cfg.Workers + 32) }

func (p *pool) run(ctx context.Context) {
	var workers, support, rec sync.WaitGroup
	support.Add(2)
	rec.Add(1)
	go func() { defer support.Done(); p.dispatch(ctx) }()
	go func() { defer support.Done(); p.finisher() }()
	go func() { defer rec.Done(); p.recorder() }()
	for range p.s.cfg.Workers {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for b := range p.work {
				p.process(ctx, b)
				p.done(b)
			}
		}()
	}
	p.fetchLoop(ctx)
	close(p.ready) // the dispatcher releases what it holds and closes work
	workers.Wait() // sends in flight finish and record their results
	close(p.outcomes)
	rec.Wait()
	close(p.finished)
	support.Wait()
}

// fetchLoop looks for due jobs until ctx ends.
func (p *pool) fetchLoop(ctx context.Context) {
	var lastErr time.Time
	for ctx.Err() == nil {
		began := time.Now()
		next, more, err := p.fetch(ctx)
		p.fetches.Add(1)
		if err != nil && ctx.Err() == nil {
			if time.Since(lastErr) > time.Minute {
				p.s.log.Warn("push fetch failed", "error", err.Error())
				lastErr = time.Now()
			}
			next, more = p.s.clock.Now().Add(time.Second), false
		}
		if more {
			continue // a backlog: claim the next part at once
		}
		wait := p.s.tune.IdlePoll
		if !next.IsZero() {
			// Wake when the next job enters the lookahead, but scan no more
			// often than FetchGap: each scan reads the whole collection on
			// the embedded store, and the lookahead covers the gap.
			wait = min(wait, max(next.Sub(p.s.clock.Now())-p.s.tune.Lookahead, p.s.tune.FetchGap-time.Since(began)))
		}
		if wait <= 0 {
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-p.wakeCh:
		case <-t.C:
		}
		t.Stop()
	}
}

// fetch claims the jobs due within the lookahead that this pool has room
// for. It returns when the next known job is due (zero: none known, or no
// room; a finished batch or a new job wakes the loop).
//
// more reports that more jobs were due than this pool had room for.
func (p *pool) fetch(ctx context.Context) (next time.Time, more bool, err error) {
	room := p.maxOutstanding() - p.outstanding.Load()
	if room <= 0 {
		p.starved.Store(true)
		return time.Time{}, false, nil
	}
	p.starved.Store(false)
	now := p.s.clock.Now()
	horizon := now.Add(p.s.tune.Lookahead)
	p.mu.Lock()
	skip := len(p.held) + len(p.busy) + len(p.gone)
	epoch := p.epoch
	deletesBefore := p.deletes
	p.mu.Unlock()
	// Claim no more than the workers can start on soon, so that servers
	// sharing a backlog each take a part of it.
	want := min(int(room), 2*p.s.cfg.Workers) * p.s.tune.BatchSize
	began := time.Now()
	cands, err := p.s.jobs.upcoming(ctx, skip+want+1)
	if err != nil {
		return time.Time{}, false, err
	}
	scanned := time.Since(began)
	var due []job
	p.mu.Lock()
	seen := make(map[string]bool, len(cands))
	for _, j := range cands {
		seen[j.ID] = true
		if _, ok := p.gone[j.ID]; p.held[j.ID] || ok {
			continue
		}
		if until, ok := p.busy[j.ID]; ok && now.Before(until) {
			if next.IsZero() || until.Before(next) {
				next = until
			}
			continue
		}
		if j.RunAt.After(horizon) {
			if next.IsZero() || j.RunAt.Before(next) {
				next = j.RunAt
			}
			break
		}
		due = append(due, j)
	}
	for id := range p.busy {
		if !seen[id] {
			delete(p.busy, id)
		}
	}
	// This scan began after these deletions: no later scan returns them.
	for id, n := range p.gone {
		if n <= deletesBefore {
			delete(p.gone, id)
		}
	}
	p.mu.Unlock()
	more = len(due) > want
	due = pick(due, want, now)
	if len(due) == 0 {
		return next, false, nil
	}
	lease := p.s.tune.Lease
	won, stale, busy, err := p.s.jobs.claim(ctx, due, p.owner, func(j job) time.Time {
		return later(j.RunAt, now).Add(lease)
	}, now)
	if len(stale) > 0 {
		req := finishReq{}
		for _, c := range stale {
			req.jobIDs = append(req.jobIDs, c.job.ID)
		}
		p.toFinisher(req)
	}
	p.mu.Lock()
	for id, until := range busy {
		p.busy[id] = until
	}
	for _, c := range won {
		p.held[c.job.ID] = true
	}
	p.mu.Unlock()
	claimed := time.Since(began)
	if len(won) > 0 {
		items := p.prepare(ctx, won, epoch)
		for _, b := range p.group(items, now) {
			p.outstanding.Add(1)
			p.mu.Lock()
			p.live[b] = true
			p.mu.Unlock()
			p.ready <- b
		}
	}
	p.s.log.Debug("push fetch", "candidates", len(cands), "due", len(due), "claimed", len(won), "busy", len(busy),
		"scan_ms", scanned.Milliseconds(), "claim_ms", (claimed - scanned).Milliseconds(), "total_ms", time.Since(began).Milliseconds())
	if err != nil {
		return time.Time{}, false, err
	}
	return next, more, nil
}

// pick chooses at most want jobs: all overdue ones first, and when there
// are more of those than want, a random sample of them, so that servers
// sharing a backlog mostly claim different jobs instead of colliding.
// due is in run_at order and stays so.
func pick(due []job, want int, now time.Time) []job {
	if len(due) <= want {
		return due
	}
	overdue := 0
	for overdue < len(due) && !due[overdue].RunAt.After(now) {
		overdue++
	}
	if overdue <= want {
		return due[:want]
	}
	keep := rand.Perm(overdue)[:want]
	slices.Sort(keep)
	out := make([]job, 0, want)
	for _, i := range keep {
		out = append(out, due[i])
	}
	return out
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// prepare resolves the recipients of claimed jobs and their devices, with
// one device query for all of them.
func (p *pool) prepare(ctx context.Context, cs []claim, epoch int64) []*item {
	items := make([]*item, len(cs))
	var users []string
	seenUser := map[string]bool{}
	for i, c := range cs {
		it := &item{c: c, epoch: epoch}
		items[i] = it
		var ids []string
		audience := audiencePerson
		switch c.job.Audience {
		case toCoordinators:
			audience = audienceCoordinator
			coords, err := p.s.people.coordinators(ctx, c.job.OrgID)
			if err != nil {
				it.prepErr = err
				continue
			}
			ids = coords
		default:
			ids = []string{c.job.Recipient}
		}
		for _, id := range ids {
			if id == "" {
				continue
			}
			r, err := p.s.people.recipient(ctx, id)
			if err != nil {
				if fault.KindOf(err) == fault.NotFound {
					continue // erased or unknown: nobody to tell
				}
				it.prepErr = err
				break
			}
			it.people = append(it.people, person{id: id, r: r, loc: p.s.people.location(r.TimeZone), audience: audience})
			if !seenUser[id] {
				seenUser[id] = true
				users = append(users, id)
			}
		}
	}
	devs, err := p.s.devices.ofUsers(ctx, users, len(users)*MaxDevicesPerUser*2+10)
	byUser := map[string][]Device{}
	for _, d := range devs {
		byUser[d.UserID] = append(byUser[d.UserID], d)
	}
	for _, it := range items {
		if err != nil && it.prepErr == nil {
			it.prepErr = err
		}
		it.devices = byUser
	}
	return items
}

// group splits items (in due order) into batches of jobs due within
// batchWindow of each other, at most BatchSize each.
func (p *pool) group(items []*item, now time.Time) []*batch {
	var out []*batch
	var cur *batch
	var start time.Time
	for _, it := range items {
		due := later(it.c.job.RunAt, now)
		if cur == nil || len(cur.items) >= p.s.tune.BatchSize || due.Sub(start) > batchWindow {
			cur = &batch{}
			start = due
			out = append(out, cur)
		}
		cur.items = append(cur.items, it)
		cur.due = later(cur.due, due)
	}
	return out
}

// dispatch hands batches to workers when they are due. When the pool stops
// it gives back the claims of batches not yet handed out.
func (p *pool) dispatch(ctx context.Context) {
	defer close(p.work)
	var h batchHeap
	var timer *time.Timer
	in := p.ready
	for {
		if in == nil && h.Len() == 0 {
			return
		}
		if ctx.Err() != nil {
			for h.Len() > 0 {
				b := heap.Pop(&h).(*batch)
				p.giveBack(b.items)
				p.done(b)
			}
			if in == nil {
				return
			}
			b, ok := <-in
			if !ok {
				in = nil
				continue
			}
			heap.Push(&h, b)
			continue
		}
		var out chan *batch
		var first *batch
		var tick <-chan time.Time
		if h.Len() > 0 {
			now := p.s.clock.Now()
			if wait := h[0].due.Sub(now); wait <= 0 {
				first = p.mergeDue(&h, now)
				out = p.work
			} else {
				// Poll in short steps: the clock may be a test's fake clock.
				timer = time.NewTimer(min(wait, 20*time.Millisecond))
				tick = timer.C
			}
		}
		select {
		case b, ok := <-in:
			if !ok {
				in = nil
			} else {
				heap.Push(&h, b)
			}
			if first != nil {
				heap.Push(&h, first)
			}
		case out <- first:
		case <-tick:
		case <-ctx.Done():
			if first != nil {
				heap.Push(&h, first)
			}
		}
		if timer != nil {
			timer.Stop()
			timer = nil
		}
	}
}

// mergeDue pops the due batches at the top of the heap and joins them, up
// to BatchSize jobs: when the workers fall behind, they then send more per
// call instead of paying a round of database writes per small batch.
func (p *pool) mergeDue(h *batchHeap, now time.Time) *batch {
	first := heap.Pop(h).(*batch)
	var merged []*batch
	for h.Len() > 0 && !(*h)[0].due.After(now) && len(first.items)+len((*h)[0].items) <= p.s.tune.BatchSize {
		b := heap.Pop(h).(*batch)
		first.items = append(first.items, b.items...)
		first.due = later(first.due, b.due)
		merged = append(merged, b)
	}
	if len(merged) > 0 {
		p.mu.Lock()
		for _, b := range merged {
			delete(p.live, b)
		}
		p.mu.Unlock()
		p.outstanding.Add(-int64(len(merged)))
	}
	return first
}

type batchHeap []*batch

func (h batchHeap) Len() int           { return len(h) }
func (h batchHeap) Less(i, j int) bool { return h[i].due.Before(h[j].due) }
func (h batchHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *batchHeap) Push(x any)        { *h = append(*h, x.(*batch)) }
func (h *batchHeap) Pop() any {
	old := *h
	b := old[len(old)-1]
	*h = old[:len(old)-1]
	return b
}

// giveBack releases unsent claims so another worker need not wait out the lease.
func (p *pool) giveBack(items []*item) {
	if len(items) == 0 {
		return
	}
	cs := make([]claim, 0, len(items))
	for _, it := range items {
		cs = append(cs, it.c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.s.jobs.release(ctx, cs, p.s.clock.Now(), leaseMargin(p.s.tune.Lease)); err != nil {
		p.s.log.Warn("push claims not released; they expire with their lease", "jobs", len(cs), "error", err.Error())
	}
	p.unhold(cs)
}

func (p *pool) unhold(cs []claim) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range cs {
		delete(p.held, c.job.ID)
	}
}

// finisher deletes finished jobs in bulk: one delete reads the whole
// collection on the embedded store, whatever it removes.
func (p *pool) finisher() {
	var ids []string
	tick := time.NewTicker(p.s.tune.FinishEvery)
	defer tick.Stop()
	flush := func() {
		if len(ids) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		began := time.Now()
		err := p.s.jobs.forgetFinished(ctx, ids)
		cancel()
		p.s.log.Debug("push jobs deleted", "jobs", len(ids), "ms", time.Since(began).Milliseconds())
		if err != nil {
			// The jobs stay; whoever claims one next finds its outcome and deletes it.
			p.s.log.Warn("finished push jobs not deleted yet", "jobs", len(ids), "error", err.Error())
		}
		p.mu.Lock()
		p.deletes++
		for _, id := range ids {
			delete(p.held, id)
			if err == nil {
				p.gone[id] = p.deletes
			}
		}
		p.mu.Unlock()
		p.finishing.Add(-int64(len(ids)))
		ids = nil
	}
	for {
		select {
		case r, ok := <-p.finished:
			if !ok {
				flush()
				return
			}
			ids = append(ids, r.jobIDs...)
			if len(ids) >= 500 {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}

// msgRef ties a message back to its item and device.
type msgRef struct {
	item  int
	token string
}

// verdicts collected for one item during a send.
type tally struct {
	delivered  []string // token hashes, old and new
	sent       int
	pruned     int
	gaveUp     int
	lastErr    string
	retry      bool
	retryWhy   string
	retryAfter time.Duration
	deferTo    time.Time
	messages   int
	noDevice   int
}

// process sends one batch and records each job's result.
func (p *pool) process(ctx context.Context, b *batch) {
	if ctx.Err() != nil {
		p.giveBack(b.items)
		return
	}
	s := p.s
	now := s.clock.Now()
	margin := leaseMargin(s.tune.Lease)
	var live, skipped []*item
	var lost []claim
	for _, it := range b.items {
		switch {
		case p.droppedSince(it.c.job.OutingID, it.epoch):
			skipped = append(skipped, it)
		case now.Add(s.tune.SendTimeout).After(it.c.until.Add(-margin)):
			// Too little lease left to send and record safely; whoever
			// claims the job next sends it.
			lost = append(lost, it.c)
		default:
			live = append(live, it)
		}
	}
	p.giveBack(skipped)
	p.unhold(lost)

	tallies := make([]tally, len(live))
	var msgs []Message
	var refs []msgRef
	for i, it := range live {
		t := &tallies[i]
		j := it.c.job
		t.delivered = slices.Clone(j.Delivered)
		if it.prepErr != nil || !now.Before(j.Deadline) || len(it.people) == 0 {
			continue
		}
		for _, who := range it.people {
			if who.r.QuietHours && !urgent(j.Type, j.StartsAt, now) {
				if until, quiet := quietUntil(now, who.loc); quiet {
					if t.deferTo.IsZero() || until.Before(t.deferTo) {
						t.deferTo = until
					}
					continue
				}
			}
			devs := it.devices[who.id]
			if len(devs) == 0 {
				t.noDevice++
				continue
			}
			title, body, err := s.texts.render(who.r.Language, j.Type, who.audience, j.StartsAt, who.loc)
			if err != nil {
				t.gaveUp++
				t.lastErr = "template: " + err.Error()
				continue
			}
			for _, d := range devs {
				if slices.Contains(t.delivered, tokenHash(d.Token)) {
					continue
				}
				msgs = append(msgs, Message{Token: d.Token, RecipientID: who.id, Type: j.Type, OutingID: j.OutingID,
					PushID: j.ID, Title: title, Body: body, Deadline: j.Deadline})
				refs = append(refs, msgRef{item: i, token: d.Token})
				t.messages++
			}
		}
	}
	var results []Result
	began := time.Now()
	if len(msgs) > 0 {
		sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.tune.SendTimeout)
		results = s.cfg.Sender.Send(sendCtx, now, msgs)
		cancel()
	}
	sent := time.Since(began)
	defer func() {
		s.log.Debug("push batch", "jobs", len(live), "messages", len(msgs), "send_ms", sent.Milliseconds(),
			"record_ms", (time.Since(began) - sent).Milliseconds())
	}()
	for k, r := range results {
		t := &tallies[refs[k].item]
		j := live[refs[k].item].c.job
		switch r.Verdict {
		case Delivered:
			t.sent++
			t.delivered = append(t.delivered, tokenHash(refs[k].token))
			s.metrics.sent.WithLabelValues(j.Type).Inc()
		case Prune:
			t.pruned++
			s.metrics.failed.WithLabelValues(r.Reason).Inc()
			if err := s.devices.prune(context.WithoutCancel(ctx), refs[k].token); err != nil {
				s.log.Warn("dead device token not forgotten", "error", err.Error())
			} else {
				s.metrics.pruned.Inc()
			}
		case Retry:
			t.retry = true
			t.retryWhy = r.Reason
			t.retryAfter = max(t.retryAfter, r.RetryAfter)
			t.lastErr = r.Reason + ": " + errText(r.Err)
		default:
			t.gaveUp++
			t.lastErr = r.Reason + ": " + errText(r.Err)
			s.metrics.failed.WithLabelValues(r.Reason).Inc()
		}
	}
	p.record(ctx, live, tallies, now)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	if len(msg) > 300 {
		msg = msg[:300]
	}
	return msg
}

// record writes each job's result: finished jobs get their outcome and
// leave the collection, retried and deferred ones are put back.
func (p *pool) record(ctx context.Context, live []*item, tallies []tally, now time.Time) {
	s := p.s
	wctx := context.WithoutCancel(ctx)
	margin := leaseMargin(s.tune.Lease)
	var doneClaims []claim
	var outcomes, errs []string
	var deadLogs []int
	for i, it := range live {
		t := tallies[i]
		c := it.c
		j := c.job
		if c.attempt == 1 && j.RunAt.Equal(j.DueAt) && t.messages > 0 {
			s.metrics.lateness.Observe(now.Sub(j.DueAt).Seconds())
		}
		var outcome string
		var runAt time.Time
		failures := j.Failures
		lastErr := t.lastErr
		switch {
		case it.prepErr != nil:
			failures++
			lastErr = "recipients: " + errText(it.prepErr)
			runAt = now.Add(s.backoff(failures, 0))
			s.metrics.retries.WithLabelValues("directory").Inc()
		case !now.Before(j.Deadline):
			outcome = outcomeExpired
			s.metrics.failed.WithLabelValues(outcomeExpired).Inc()
		case len(it.people) == 0:
			outcome = outcomeNobody
			s.metrics.failed.WithLabelValues(outcomeNobody).Inc()
		case t.retry:
			failures++
			runAt = now.Add(s.backoff(failures, t.retryAfter))
			s.metrics.retries.WithLabelValues(t.retryWhy).Inc()
		case !t.deferTo.IsZero():
			runAt = t.deferTo
			s.metrics.deferred.Inc()
		case t.sent == 0 && len(j.Delivered) == 0 && t.gaveUp > 0:
			outcome = outcomeGaveUp
		case t.sent == 0 && len(j.Delivered) == 0:
			// No device, or only dead ones (pruned above).
			outcome = outcomeNoDevice
			if t.messages == 0 {
				s.metrics.failed.WithLabelValues(outcomeNoDevice).Inc()
			}
		default:
			outcome = outcomeDelivered
		}
		if outcome == "" {
			switch {
			case failures >= s.tune.MaxAttempts:
				outcome = outcomeDead
			case !runAt.Before(j.Deadline):
				if t.retry || it.prepErr != nil {
					outcome = outcomeDead
					lastErr = "past the outing's start; " + lastErr
				} else {
					outcome = outcomeExpired
					s.metrics.failed.WithLabelValues("quiet_hours_expired").Inc()
				}
			}
		}
		if outcome == "" {
			ok, err := s.jobs.reschedule(wctx, c, runAt, failures, lastErr, t.delivered, s.clock.Now(), margin)
			switch {
			case errors.Is(err, errLeaseLost):
				s.log.Warn("push lease ran out before the result was written; the next holder sends it", "job_id", j.ID)
			case err != nil:
				s.log.Warn("push job not rescheduled; it runs again when its lease ends", "job_id", j.ID, "error", err.Error())
			case !ok:
				s.log.Info("push job changed while being sent (dropped or taken over); result not written", "job_id", j.ID)
			}
			p.unhold([]claim{c})
			continue
		}
		if outcome == outcomeDead {
			deadLogs = append(deadLogs, len(doneClaims))
		}
		doneClaims = append(doneClaims, c)
		outcomes = append(outcomes, outcome)
		errs = append(errs, lastErr)
	}
	if len(doneClaims) == 0 {
		return
	}
	dead := make([]bool, len(doneClaims))
	for _, k := range deadLogs {
		dead[k] = true
	}
	p.finishing.Add(int64(len(doneClaims)))
	p.outcomes <- outcomeReq{claims: doneClaims, outcomes: outcomes, errs: errs, dead: dead}
}

// outcomeReq is a batch's finished jobs on their way to push_done.
type outcomeReq struct {
	claims         []claim
	outcomes, errs []string
	dead           []bool
}

// recorder writes outcomes for all workers together, in one insert every
// recordEvery: a worker goes back to sending at once instead of waiting
// for the database (on the embedded store writes queue behind the scans),
// so even one worker keeps up.
func (p *pool) recorder() {
	var pending outcomeReq
	tick := time.NewTicker(recordEvery)
	defer tick.Stop()
	flush := func() {
		if len(pending.claims) == 0 {
			return
		}
		p.writeOutcomes(pending)
		p.finishing.Add(-int64(len(pending.claims)))
		pending = outcomeReq{}
	}
	for {
		select {
		case r, ok := <-p.outcomes:
			if !ok {
				flush()
				return
			}
			pending.claims = append(pending.claims, r.claims...)
			pending.outcomes = append(pending.outcomes, r.outcomes...)
			pending.errs = append(pending.errs, r.errs...)
			pending.dead = append(pending.dead, r.dead...)
			if len(pending.claims) >= maxBatch {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}

// recordEvery is how often the recorder writes outcomes.
const recordEvery = 50 * time.Millisecond

func (p *pool) writeOutcomes(r outcomeReq) {
	s := p.s
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	recorded, err := s.jobs.finish(ctx, r.claims, r.outcomes, r.errs, s.clock.Now(), leaseMargin(s.tune.Lease))
	if err != nil && !errors.Is(err, errLeaseLost) {
		s.log.Warn("push outcomes not recorded; the jobs run again when their leases end", "jobs", len(r.claims), "error", err.Error())
	}
	isRecorded := map[string]bool{}
	req := finishReq{}
	for _, c := range recorded {
		isRecorded[c.id] = true
		req.jobIDs = append(req.jobIDs, c.job.ID)
	}
	var notRecorded []claim
	for k, c := range r.claims {
		if !isRecorded[c.id] {
			notRecorded = append(notRecorded, c)
			continue
		}
		if r.dead[k] {
			s.metrics.dead.Inc()
			s.log.Error("push job dead: giving up on it", "job_id", c.job.ID, "type", c.job.Type, "outing_id", c.job.OutingID,
				"recipient_id", c.job.Recipient, "audience", c.job.Audience, "attempts", c.attempt, "last_error", r.errs[k])
		}
	}
	p.unhold(notRecorded)
	if len(req.jobIDs) > 0 {
		p.toFinisher(req)
	}
}

func (p *pool) toFinisher(r finishReq) {
	p.finishing.Add(int64(len(r.jobIDs)))
	p.finished <- r
}

// backoff is the wait before attempt failures+1: exponential from RetryBase
// up to RetryMax, with jitter (between half and all of it), and never
// shorter than what FCM asked for.
func (s *Service) backoff(failures int, atLeast time.Duration) time.Duration {
	d := s.tune.RetryBase
	for i := 1; i < failures && d < s.tune.RetryMax; i++ {
		d *= 2
	}
	d = min(d, s.tune.RetryMax)
	d = d/2 + rand.N(d/2+1)
	return max(d, atLeast)
}
