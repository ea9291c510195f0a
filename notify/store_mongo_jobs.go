package notify

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clavis-app/clavis/internal/db"
)

const stateScheduled = "scheduled"

// jobDoc is a pending job. Attempt is the last attempt that ended (retried
// or deferred); the claim on the next one lives in push_claims.
type jobDoc struct {
	ID         string    `bson:"_id"`
	DedupKey   string    `bson:"dedup_key"`
	Kind       string    `bson:"kind"`
	Type       string    `bson:"type"`
	OutingID   string    `bson:"outing_id"`
	OrgID      string    `bson:"org_id,omitempty"`
	Audience   string    `bson:"audience"`
	Recipient  string    `bson:"recipient,omitempty"`
	StartsAt   time.Time `bson:"starts_at"`
	Deadline   time.Time `bson:"deadline"`
	DueAt      time.Time `bson:"due_at"`
	RunAt      time.Time `bson:"run_at"`
	State      string    `bson:"state"`
	Attempt    int       `bson:"attempt"`
	Failures   int       `bson:"failures"`
	LeaseOwner string    `bson:"lease_owner,omitempty"`
	LeaseUntil time.Time `bson:"lease_until,omitempty"`
	LeaseToken string    `bson:"lease_token,omitempty"`
	LastError  string    `bson:"last_error,omitempty"`
	Delivered  []string  `bson:"delivered,omitempty"`
	CreatedAt  time.Time `bson:"created_at"`
}

func toJobDoc(j Job) jobDoc {
	return jobDoc{ID: j.ID, DedupKey: j.DedupKey, Kind: j.Kind, Type: j.Type, OutingID: j.OutingID, OrgID: j.OrgID,
		Audience: j.Audience, Recipient: j.Recipient, StartsAt: j.StartsAt, Deadline: j.Deadline, DueAt: j.DueAt, RunAt: j.RunAt,
		State: stateScheduled, Attempt: j.Attempt, Failures: j.Failures, LastError: j.LastError, Delivered: j.Delivered, CreatedAt: j.CreatedAt}
}

func (d jobDoc) job() Job {
	return Job{ID: d.ID, DedupKey: d.DedupKey, Kind: d.Kind, Type: d.Type, OutingID: d.OutingID, OrgID: d.OrgID,
		Audience: d.Audience, Recipient: d.Recipient, StartsAt: d.StartsAt.UTC(), Deadline: d.Deadline.UTC(), DueAt: d.DueAt.UTC(),
		RunAt: d.RunAt.UTC(), Attempt: d.Attempt, Failures: d.Failures, LastError: d.LastError, Delivered: d.Delivered, CreatedAt: d.CreatedAt.UTC()}
}

// claimDoc is a lease on one attempt of a job; its _id is job id # attempt.
type claimDoc struct {
	ID         string    `bson:"_id"`
	JobID      string    `bson:"job_id"`
	Attempt    int       `bson:"attempt"`
	LeaseOwner string    `bson:"lease_owner"`
	LeaseToken string    `bson:"lease_token"`
	LeaseUntil time.Time `bson:"lease_until"`
	ClaimedAt  time.Time `bson:"claimed_at"`
}

// doneDoc is a finished job; its _id is the job's, so a job finishes once.
type doneDoc struct {
	ID         string    `bson:"_id"`
	DedupKey   string    `bson:"dedup_key"`
	Type       string    `bson:"type"`
	OutingID   string    `bson:"outing_id"`
	Recipient  string    `bson:"recipient,omitempty"`
	Outcome    string    `bson:"outcome"`
	Attempt    int       `bson:"attempt"`
	LastError  string    `bson:"last_error,omitempty"`
	LeaseOwner string    `bson:"lease_owner"`
	LeaseToken string    `bson:"lease_token"`
	FinishedAt time.Time `bson:"finished_at"`
}

func claimID(jobID string, attempt int) string { return fmt.Sprintf("%s#%d", jobID, attempt) }

func (s *mongoStore) EnqueueJobs(ctx context.Context, jobs []Job) (int, error) {
	if len(jobs) == 0 {
		return 0, nil
	}
	// A finished job has left push_jobs; its outcome keeps its key taken.
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.ID
	}
	cur, err := s.done.Find(ctx, bson.M{"_id": bson.M{"$in": ids}}, options.Find().SetProjection(bson.M{"_id": 1}))
	if err != nil {
		return 0, err
	}
	var finished []doneDoc
	if err := cur.All(ctx, &finished); err != nil {
		return 0, err
	}
	isDone := map[string]bool{}
	for _, d := range finished {
		isDone[d.ID] = true
	}
	var docs []any
	for _, j := range jobs {
		if !isDone[j.ID] {
			docs = append(docs, toJobDoc(j))
		}
	}
	if len(docs) == 0 {
		return 0, nil
	}
	_, err = s.jobs.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err == nil {
		return len(docs), nil
	}
	dup, other := duplicateIndexes(err)
	return len(docs) - len(dup), other
}

func (s *mongoStore) ClaimDueJobs(ctx context.Context, owner string, now time.Time, lease time.Duration, n int) ([]Job, error) {
	// One claim at a time per process, as the single fetcher of old did:
	// concurrent scans and claim inserts stall the embedded FerretDB for
	// seconds, and across processes the unique insert decides anyway.
	s.claimMu.Lock()
	defer s.claimMu.Unlock()
	token := randomID(12)
	until := now.Add(lease)
	tried := map[string]bool{}
	var won []Job
	// Jobs lost to another worker are skipped on the next round, so that a
	// worker among many still gets its share of a backlog.
	for round := 0; round < 5 && len(won) < n; round++ {
		cands, err := s.claimCandidates(ctx, now, n-len(won), tried)
		if err != nil || len(cands) == 0 {
			return won, err
		}
		got, err := s.claim(ctx, cands, owner, token, until, now)
		won = append(won, got...)
		s.mu.Lock()
		for _, j := range got {
			s.held[j.ID] = until
		}
		s.mu.Unlock()
		if err != nil {
			return won, err
		}
	}
	return won, nil
}

// claimCandidates returns up to n due jobs not known to be held elsewhere
// and not tried yet by this call.
func (s *mongoStore) claimCandidates(ctx context.Context, now time.Time, n int, tried map[string]bool) ([]Job, error) {
	s.mu.Lock()
	for id, until := range s.held {
		if !until.After(now) {
			delete(s.held, id)
		}
	}
	skip := len(s.held) + len(tried)
	s.mu.Unlock()
	// On FerretDB this reads the whole collection, whatever the limit.
	cur, err := s.jobs.Find(ctx, bson.M{"state": stateScheduled, "run_at": bson.M{"$lte": now}},
		options.Find().SetSort(bson.D{{Key: "run_at", Value: 1}}).SetLimit(int64(n+skip+50)))
	if err != nil {
		return nil, err
	}
	var docs []jobDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	var out []Job
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range docs {
		if _, busy := s.held[d.ID]; busy || tried[d.ID] {
			continue
		}
		tried[d.ID] = true
		out = append(out, d.job())
		if len(out) == n {
			break
		}
	}
	return out, nil
}

// claim inserts a claim on the next attempt of each job; the unique _id
// decides. Jobs whose next attempt someone else holds are taken over if
// that lease ran out.
func (s *mongoStore) claim(ctx context.Context, cands []Job, owner, token string, until, now time.Time) ([]Job, error) {
	claims := make([]any, len(cands))
	for i := range cands {
		j := &cands[i]
		j.Attempt++
		j.Claim = Claim{JobID: j.ID, Owner: owner, Token: token, Attempt: j.Attempt, Until: until}
		claims[i] = claimDoc{ID: claimID(j.ID, j.Attempt), JobID: j.ID, Attempt: j.Attempt,
			LeaseOwner: owner, LeaseToken: token, LeaseUntil: until, ClaimedAt: now}
	}
	_, ierr := s.claims.InsertMany(ctx, claims, options.InsertMany().SetOrdered(false))
	lost := map[int]bool{}
	if ierr != nil {
		var err error
		if lost, err = duplicateIndexes(ierr); err != nil {
			// Some claims may have gone in; hand them back so nothing waits a lease out.
			for _, c := range cands {
				_ = s.ReleaseJob(context.WithoutCancel(ctx), c.Claim)
			}
			return nil, err
		}
	}
	var won []Job
	for i, j := range cands {
		if !lost[i] {
			won = append(won, j)
			continue
		}
		if j, ok, err := s.takeOver(ctx, j, now); err != nil {
			return won, err
		} else if ok {
			won = append(won, j)
		}
	}
	return won, nil
}

// takeOver handles a job whose next attempt someone else claimed. If that
// lease ran out and the job did not finish, it claims the attempt after.
func (s *mongoStore) takeOver(ctx context.Context, j Job, now time.Time) (Job, bool, error) {
	var held claimDoc
	err := s.claims.FindOne(ctx, bson.M{"_id": claimID(j.ID, j.Attempt)}).Decode(&held)
	if db.IsNotFound(err) {
		return Job{}, false, nil // released or just finished: look again next round
	}
	if err != nil {
		return Job{}, false, err
	}
	if held.LeaseUntil.After(now) {
		s.mu.Lock()
		s.held[j.ID] = held.LeaseUntil
		s.mu.Unlock()
		return Job{}, false, nil // someone is on it
	}
	// The holder's lease ran out. Did it finish before dying?
	err = s.done.FindOne(ctx, bson.M{"_id": j.ID}).Err()
	if err == nil {
		// Finished, but a crash left the job behind: remove it now.
		_, err = s.d.Gate().DeleteOne(ctx, s.jobs, bson.M{"_id": j.ID})
		return Job{}, false, err
	}
	if !db.IsNotFound(err) {
		return Job{}, false, err
	}
	j.Attempt = held.Attempt + 1
	j.Claim.Attempt = j.Attempt
	_, err = s.claims.InsertOne(ctx, claimDoc{ID: claimID(j.ID, j.Attempt), JobID: j.ID, Attempt: j.Attempt,
		LeaseOwner: j.Claim.Owner, LeaseToken: j.Claim.Token, LeaseUntil: j.Claim.Until, ClaimedAt: now})
	if db.IsDuplicateKey(err) {
		return Job{}, false, nil // another worker took it over first
	}
	if err != nil {
		return Job{}, false, err
	}
	return j, true, nil
}

func (s *mongoStore) NextClaimableAt(ctx context.Context, now time.Time) (time.Time, error) {
	var d jobDoc
	err := s.jobs.FindOne(ctx, bson.M{"state": stateScheduled, "run_at": bson.M{"$gt": now}},
		options.FindOne().SetSort(bson.D{{Key: "run_at", Value: 1}}).SetProjection(bson.M{"run_at": 1})).Decode(&d)
	if db.IsNotFound(err) {
		return time.Time{}, nil
	}
	return d.RunAt.UTC(), err
}

// stillHeld reports whether c is still the job's live claim: its claim
// document is there with c's token and nobody claimed the attempt after.
func (s *mongoStore) stillHeld(ctx context.Context, c Claim) (bool, error) {
	// Exact _id lookups: FerretDB answers them without reading the whole
	// collection, which an $in filter would.
	var mine claimDoc
	err := s.claims.FindOne(ctx, bson.M{"_id": claimID(c.JobID, c.Attempt)}).Decode(&mine)
	if db.IsNotFound(err) {
		return false, nil
	}
	if err != nil || mine.LeaseToken != c.Token {
		return false, err
	}
	err = s.claims.FindOne(ctx, bson.M{"_id": claimID(c.JobID, c.Attempt+1)}).Err()
	if db.IsNotFound(err) {
		return true, nil
	}
	return false, err
}

func (s *mongoStore) FinishJob(ctx context.Context, c Claim, f Finish) error {
	defer s.let(c.JobID)
	if ok, err := s.stillHeld(ctx, c); err != nil || !ok {
		return leaseErr(err)
	}
	var d jobDoc
	err := s.jobs.FindOne(ctx, bson.M{"_id": c.JobID}).Decode(&d)
	if db.IsNotFound(err) {
		return ErrLeaseLost // dropped meanwhile
	}
	if err != nil {
		return err
	}
	if d.Attempt >= c.Attempt {
		return ErrLeaseLost // this claim was spent on a retry
	}
	_, err = s.done.InsertOne(ctx, doneDoc{ID: c.JobID, DedupKey: d.DedupKey, Type: d.Type, OutingID: d.OutingID,
		Recipient: d.Recipient, Outcome: f.Outcome, Attempt: c.Attempt, LastError: f.LastError,
		LeaseOwner: c.Owner, LeaseToken: c.Token, FinishedAt: f.At})
	if db.IsDuplicateKey(err) {
		return ErrLeaseLost // the first result is final
	}
	if err != nil {
		return err
	}
	_, err = s.d.Gate().DeleteOne(ctx, s.jobs, bson.M{"_id": c.JobID})
	return err
}

// let forgets that this process holds a job: it was finished, retried or released.
func (s *mongoStore) let(jobID string) {
	s.mu.Lock()
	delete(s.held, jobID)
	s.mu.Unlock()
}

func leaseErr(err error) error {
	if err != nil {
		return err
	}
	return ErrLeaseLost
}

func (s *mongoStore) RetryJobAt(ctx context.Context, c Claim, runAt time.Time, r Attempt) error {
	defer s.let(c.JobID)
	if ok, err := s.stillHeld(ctx, c); err != nil || !ok {
		return leaseErr(err)
	}
	// The filter on the attempt means a worker whose job was taken over,
	// finished or dropped meanwhile writes nothing.
	res, err := s.d.Gate().UpdateOne(ctx, s.jobs,
		bson.M{"_id": c.JobID, "attempt": bson.M{"$lt": c.Attempt}},
		bson.M{"$set": bson.M{
			"state": stateScheduled, "run_at": runAt, "attempt": c.Attempt, "failures": r.Failures,
			"last_error": r.LastError, "delivered": r.Delivered,
			"lease_owner": c.Owner, "lease_token": c.Token, "lease_until": c.Until,
		}})
	if err != nil {
		return err
	}
	if res.MatchedCount == 0 {
		return ErrLeaseLost
	}
	return nil
}

// ReleaseJob deletes the claim unless a successor claimed the attempt
// after: then the claim may be the record of an attempt that finished.
func (s *mongoStore) ReleaseJob(ctx context.Context, c Claim) error {
	defer s.let(c.JobID)
	if ok, err := s.stillHeld(ctx, c); err != nil || !ok {
		return err
	}
	_, err := s.d.Gate().DeleteOne(ctx, s.claims, bson.M{"_id": claimID(c.JobID, c.Attempt), "lease_token": c.Token})
	return err
}

func (s *mongoStore) findJobs(ctx context.Context, filter bson.M, limit int64) ([]Job, error) {
	cur, err := s.jobs.Find(ctx, filter, options.Find().SetLimit(limit))
	if err != nil {
		return nil, err
	}
	var docs []jobDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, err
	}
	out := make([]Job, len(docs))
	for i, d := range docs {
		out[i] = d.job()
	}
	return out, nil
}

func (s *mongoStore) OutingJobs(ctx context.Context, outingID string) ([]Job, error) {
	return s.findJobs(ctx, bson.M{"outing_id": outingID, "kind": bson.M{"$in": []string{kindReminder, kindCheckin}}}, 200)
}

func (s *mongoStore) DropOutingJobs(ctx context.Context, outingID string, d Drop) (int, error) {
	js, err := s.findJobs(ctx, bson.M{"outing_id": outingID}, 1000)
	if err != nil {
		return 0, err
	}
	var ids []string
	for _, j := range js {
		if d.SelectsJob(j) {
			ids = append(ids, j.ID)
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	res, err := s.d.Gate().DeleteMany(ctx, s.jobs, bson.M{"_id": bson.M{"$in": ids}})
	if err != nil {
		return 0, err
	}
	return int(res.DeletedCount), nil
}

func (s *mongoStore) FinishedJob(ctx context.Context, jobID string) (Finished, error) {
	var d doneDoc
	err := s.done.FindOne(ctx, bson.M{"_id": jobID}).Decode(&d)
	if db.IsNotFound(err) {
		return Finished{}, ErrNotFound
	}
	return Finished{Outcome: d.Outcome, LastError: d.LastError, Attempt: d.Attempt, Owner: d.LeaseOwner, At: d.FinishedAt.UTC()}, err
}

func (s *mongoStore) PendingJobsOf(ctx context.Context, userID string) ([]Job, error) {
	return s.findJobs(ctx, bson.M{"recipient": userID}, 1000)
}

// Sweep forgets old outcomes and events, and claims whose lease ended
// before and whose job is gone or has moved past that attempt. A newer
// claim stays: it may record an attempt that finished while a crash left
// the job's document behind.
func (s *mongoStore) Sweep(ctx context.Context, before time.Time) error {
	if _, err := s.d.Gate().DeleteMany(ctx, s.done, bson.M{"finished_at": bson.M{"$lt": before}}); err != nil {
		return err
	}
	if _, err := s.d.Gate().DeleteMany(ctx, s.events, bson.M{"at": bson.M{"$lt": before}}); err != nil {
		return err
	}
	cur, err := s.claims.Find(ctx, bson.M{"lease_until": bson.M{"$lt": before}}, options.Find().SetLimit(5000))
	if err != nil {
		return err
	}
	var old []claimDoc
	if err := cur.All(ctx, &old); err != nil || len(old) == 0 {
		return err
	}
	ids := make([]string, 0, len(old))
	for _, c := range old {
		ids = append(ids, c.JobID)
	}
	live, err := s.findJobs(ctx, bson.M{"_id": bson.M{"$in": ids}}, 0)
	if err != nil {
		return err
	}
	attempt := make(map[string]int, len(live))
	for _, j := range live {
		attempt[j.ID] = j.Attempt
	}
	var gone []string
	for _, c := range old {
		if a, ok := attempt[c.JobID]; !ok || a >= c.Attempt {
			gone = append(gone, c.ID)
		}
	}
	if len(gone) == 0 {
		return nil
	}
	_, err = s.d.Gate().DeleteMany(ctx, s.claims, bson.M{"_id": bson.M{"$in": gone}})
	return err
}
