package notify

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clavis-app/clavis/internal/fault"
)

// A pool is one process's push workers. Each worker asks the store for the
// jobs due now (the store makes the claim atomic across workers and
// processes), sends them, records each result, and when nothing is due
// sleeps until the next job falls due, a new job is made in this process,
// or IdlePoll passes.
type pool struct {
	s     *Service
	owner string
	wake  []chan struct{}
	// idle counts, per worker, the looks that found nothing due (tests wait on it).
	idle []atomic.Int64
}

type item struct {
	j      Job
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

func newPool(s *Service) *pool {
	p := &pool{s: s, owner: s.tune.Owner, wake: make([]chan struct{}, s.cfg.Workers), idle: make([]atomic.Int64, s.cfg.Workers)}
	for i := range p.wake {
		p.wake[i] = make(chan struct{}, 1)
	}
	return p
}

// kick wakes the idle workers: new jobs exist.
func (p *pool) kick() {
	for _, w := range p.wake {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

// run works until ctx ends; sends in flight finish and record their results.
func (p *pool) run(ctx context.Context) {
	var wg sync.WaitGroup
	for i := range p.wake {
		wg.Add(1)
		go func() { defer wg.Done(); p.work(ctx, i) }()
	}
	wg.Wait()
}

func (p *pool) work(ctx context.Context, i int) {
	s := p.s
	var lastErr time.Time
	for ctx.Err() == nil {
		now := s.clock.Now()
		jobs, err := s.st.ClaimDueJobs(ctx, p.owner, now, s.tune.Lease, s.tune.BatchSize)
		if err == nil && len(jobs) > 0 {
			p.process(ctx, p.prepare(ctx, jobs))
			continue
		}
		wait := s.tune.IdlePoll
		if err == nil {
			p.idle[i].Add(1)
			var next time.Time
			if next, err = s.st.NextClaimableAt(ctx, now); err == nil && !next.IsZero() {
				wait = min(wait, next.Sub(s.clock.Now()))
			}
		}
		if err != nil && ctx.Err() == nil && time.Since(lastErr) > time.Minute {
			s.log.Warn("push fetch failed", "error", err.Error())
			lastErr = time.Now()
		}
		if wait <= 0 {
			continue
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-p.wake[i]:
		case <-t.C:
		}
		t.Stop()
	}
}

// prepare resolves the recipients of claimed jobs and their devices, with
// one device query for all of them.
func (p *pool) prepare(ctx context.Context, jobs []Job) []*item {
	items := make([]*item, len(jobs))
	var users []string
	seenUser := map[string]bool{}
	for i, j := range jobs {
		it := &item{j: j}
		items[i] = it
		var ids []string
		audience := audiencePerson
		switch j.Audience {
		case toCoordinators:
			audience = audienceCoordinator
			coords, err := p.s.people.coordinators(ctx, j.OrgID)
			if err != nil {
				it.prepErr = err
				continue
			}
			ids = coords
		default:
			ids = []string{j.Recipient}
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

// giveBack releases unsent claims so another worker need not wait out the lease.
func (p *pool) giveBack(items []*item) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, it := range items {
		if err := p.s.st.ReleaseJob(ctx, it.j.Claim); err != nil {
			p.s.log.Warn("push claim not released; it expires with its lease", "job_id", it.j.ID, "error", err.Error())
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

// process sends one batch of claimed jobs and records each job's result.
func (p *pool) process(ctx context.Context, items []*item) {
	if ctx.Err() != nil {
		p.giveBack(items)
		return
	}
	s := p.s
	now := s.clock.Now()
	margin := leaseMargin(s.tune.Lease)
	var live, late []*item
	for _, it := range items {
		if now.Add(s.tune.SendTimeout).After(it.j.Claim.Until.Add(-margin)) {
			// Too little lease left to send and record safely; whoever
			// claims the job next sends it.
			late = append(late, it)
			continue
		}
		live = append(live, it)
	}
	p.giveBack(late)

	tallies := make([]tally, len(live))
	var msgs []Message
	var refs []msgRef
	for i, it := range live {
		t := &tallies[i]
		j := it.j
		t.delivered = slices.Clone(j.Delivered)
		if it.prepErr != nil || !now.Before(j.Deadline) || len(it.people) == 0 {
			continue
		}
		for _, who := range it.people {
			if who.r.QuietHours && !urgent(j.Type) {
				if until, wait := deferUntil(j.StartsAt, now, who.loc); wait {
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
			title, body, err := s.texts.render(who.r.Language, textType(j), who.audience, j.StartsAt, who.loc)
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
		j := live[refs[k].item].j
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

// record writes each job's result: finished jobs get their outcome,
// retried and deferred ones are put back for later.
func (p *pool) record(ctx context.Context, live []*item, tallies []tally, now time.Time) {
	s := p.s
	wctx := context.WithoutCancel(ctx)
	for i, it := range live {
		t := tallies[i]
		j := it.j
		if j.Attempt == 1 && j.RunAt.Equal(j.DueAt) && t.messages > 0 {
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
		var err error
		if outcome == "" {
			err = s.st.RetryJobAt(wctx, j.Claim, runAt, Attempt{Failures: failures, LastError: lastErr, Delivered: t.delivered})
		} else {
			err = s.st.FinishJob(wctx, j.Claim, Finish{Outcome: outcome, LastError: lastErr, At: s.clock.Now()})
		}
		switch {
		case errors.Is(err, ErrLeaseLost):
			s.log.Info("push job changed while being sent (dropped or taken over); result not written", "job_id", j.ID)
		case err != nil:
			s.log.Warn("push result not written; the job runs again when its lease ends", "job_id", j.ID, "error", err.Error())
		case outcome == outcomeDead:
			s.metrics.dead.Inc()
			s.log.Error("push job dead: giving up on it", "job_id", j.ID, "type", j.Type, "outing_id", j.OutingID,
				"recipient_id", j.Recipient, "audience", j.Audience, "attempts", j.Attempt, "last_error", lastErr)
		}
	}
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
