package notify

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/matching"
)

// Consume turns an outing event into push jobs (matching.EventSink).
//
// It is idempotent by event id: a consumed event's id is recorded
// (push_events) and a second delivery is ignored. Should the process die
// before recording it, the re-delivery is still harmless: an event's pushes
// have dedup keys made of the event id and the recipient (and are not made
// again once sent), reminder and check-in jobs have keys made of the
// outing, recipient, offset and start time, and dropping twice drops
// nothing more.
func (s *Service) Consume(ctx context.Context, e matching.Event) error {
	if e.ID != "" {
		seen, err := s.st.EventSeen(ctx, e.ID)
		if err != nil || seen {
			return fault.Wrap(err, "read consumed event")
		}
	}
	now := s.clock.Now()
	var jobs []Job
	push := func(pushType string, recipients []string, coordinators bool) {
		jobs = append(jobs, s.eventJobs(e, pushType, recipients, coordinators, now)...)
	}
	direct := e.Recipients
	switch e.Type {
	case matching.EventOffer:
		push(e.Type, direct, e.ToCoordinators)
	case matching.EventAccepted:
		push(e.Type, direct, true)
	case matching.EventApproved:
		if len(direct) == 0 {
			direct = []string{e.ParticipantID, e.VolunteerID}
		}
		push(e.Type, direct, e.ToCoordinators)
		// Offers still waiting are not dropped here: they went out when the
		// outing opened unless FCM was failing, and finding them would read
		// the whole job collection on the embedded store for every approval.
		jobs = append(jobs, s.outingJobs(e.OutingID, e.OrgID, e.ParticipantID, e.VolunteerID, e.StartsAt, e.EndsAt, now, 0)...)
	case matching.EventRejected, matching.EventReopened, matching.EventCancelled, matching.EventExpired, matching.EventCompleted:
		drop := Drop{Kinds: []string{kindReminder, kindCheckin}}
		if e.Type != matching.EventRejected && e.Type != matching.EventReopened {
			drop.EventTypes = []string{matching.EventOffer}
		}
		if _, err := s.st.DropOutingJobs(ctx, e.OutingID, drop); err != nil {
			return fault.Wrap(err, "drop push jobs")
		}
		switch e.Type {
		case matching.EventRejected, matching.EventReopened, matching.EventCancelled, matching.EventExpired:
			push(e.Type, direct, e.ToCoordinators)
		}
	case matching.EventRescheduled:
		moved, err := s.moveOuting(ctx, e, now)
		if err != nil {
			return err
		}
		jobs = append(jobs, moved...)
	case matching.EventCheckedIn:
		if _, err := s.st.DropOutingJobs(ctx, e.OutingID, Drop{Kinds: []string{kindCheckin}}); err != nil {
			return fault.Wrap(err, "drop push jobs")
		}
	case matching.EventPostponeAsked, matching.EventPostponed, matching.EventEndedEarly, matching.EventHelp:
		more, err := s.careJobs(ctx, e, now)
		if err != nil {
			return err
		}
		jobs = append(jobs, more...)
	case matching.EventReminder, matching.EventCheckinMissed, matching.EventNoCandidates:
		push(e.Type, direct, e.ToCoordinators)
	default:
		// Future events: nobody is pushed.
		return nil
	}
	// A crash after the inserts and before the event was marked re-delivers
	// it; the dedup keys keep pushes it caused, sent or not, from being made
	// again.
	n, err := s.st.EnqueueJobs(ctx, jobs)
	if err != nil {
		return fault.Wrap(err, "insert push jobs")
	}
	s.countCreated(jobs, n, "event")
	if n > 0 {
		s.wake()
	}
	if e.ID != "" {
		return fault.Wrap(s.st.RecordEvent(ctx, e.ID, now), "record consumed event")
	}
	return nil
}

func (s *Service) countCreated(jobs []Job, n int, source string) {
	if n == 0 {
		return
	}
	// Per kind only when all were new; otherwise the total under "mixed".
	if n == len(jobs) {
		for _, j := range jobs {
			s.metrics.created.WithLabelValues(j.Kind, source).Inc()
		}
		return
	}
	s.metrics.created.WithLabelValues("mixed", source).Add(float64(n))
}

// deadlineOf is when a push about an outing stops being useful: its start,
// or for a missed check-in its end.
func deadlineOf(pushType string, start, end time.Time) time.Time {
	if d, ok := careDeadline(pushType, start, end); ok {
		return d
	}
	if pushType == matching.EventExpired {
		// Expiry happens after the start by definition; "nobody could be
		// found this time" still helps the participant later that day.
		return start.Add(12 * time.Hour)
	}
	if pushType == matching.EventCheckinMissed {
		if end.After(start) {
			return end
		}
		return start.Add(2 * time.Hour)
	}
	return start
}

// eventJobs makes one immediate push per recipient, plus one for the
// organisation's coordinators when asked.
func (s *Service) eventJobs(e matching.Event, pushType string, recipients []string, coordinators bool, now time.Time) []Job {
	deadline := deadlineOf(pushType, e.StartsAt, e.EndsAt)
	if !now.Before(deadline) {
		return nil // the outing has begun: the news is moot
	}
	var out []Job
	seen := map[string]bool{}
	for _, r := range recipients {
		if r == "" || seen[r] {
			continue
		}
		seen[r] = true
		out = append(out, s.newJob(fmt.Sprintf("event|%s|%s|user:%s", e.ID, pushType, r), kindEvent, pushType,
			e.OutingID, e.OrgID, toUser, r, e.StartsAt, deadline, now, now))
	}
	if coordinators && e.OrgID != "" {
		out = append(out, s.newJob(fmt.Sprintf("event|%s|%s|coordinators", e.ID, pushType), kindEvent, pushType,
			e.OutingID, e.OrgID, toCoordinators, "", e.StartsAt, deadline, now, now))
	}
	return out
}

// outingJobs makes the reminder jobs of a confirmed outing (each offset,
// participant and volunteer) and its check-in watch. A time already past
// (or within minLead of now) is skipped: a reminder is not sent late.
func (s *Service) outingJobs(outingID, orgID, participantID, volunteerID string, start, end, now time.Time, minLead time.Duration) []Job {
	var out []Job
	people := slices.DeleteFunc([]string{participantID, volunteerID}, func(id string) bool { return id == "" })
	people = slices.Compact(people)
	for _, off := range s.cfg.ReminderOffsets {
		runAt := start.Add(-off)
		if !runAt.After(now.Add(minLead)) {
			continue
		}
		for _, who := range people {
			key := fmt.Sprintf("reminder|%s|user:%s|%s|%d", outingID, who, off, start.Unix())
			out = append(out, s.newJob(key, kindReminder, matching.EventReminder, outingID, orgID, toUser, who, start, start, runAt, now))
		}
	}
	runAt := start.Add(s.cfg.CheckinGrace)
	deadline := deadlineOf(matching.EventCheckinMissed, start, end)
	if runAt.After(now.Add(minLead)) && runAt.Before(deadline) {
		if participantID != "" {
			key := fmt.Sprintf("checkin|%s|user:%s|%d", outingID, participantID, start.Unix())
			out = append(out, s.newJob(key, kindCheckin, matching.EventCheckinMissed, outingID, orgID, toUser, participantID, start, deadline, runAt, now))
		}
		if orgID != "" {
			key := fmt.Sprintf("checkin|%s|coordinators|%d", outingID, start.Unix())
			out = append(out, s.newJob(key, kindCheckin, matching.EventCheckinMissed, outingID, orgID, toCoordinators, "", start, deadline, runAt, now))
		}
	}
	return out
}

func (s *Service) newJob(key, kind, pushType, outingID, orgID, audience, recipient string, start, deadline, runAt, now time.Time) Job {
	ms := func(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }
	return Job{
		ID: jobID(key), DedupKey: key, Kind: kind, Type: pushType, OutingID: outingID, OrgID: orgID,
		Audience: audience, Recipient: recipient, StartsAt: ms(start), Deadline: ms(deadline),
		DueAt: ms(runAt), RunAt: ms(runAt), CreatedAt: ms(now),
	}
}

// moveOuting handles a time change: the reminder and check-in jobs for the
// old start are dropped and made again for the new one (new dedup keys).
// An outing without such jobs (not confirmed) gets none.
func (s *Service) moveOuting(ctx context.Context, e matching.Event, now time.Time) ([]Job, error) {
	existing, err := s.st.OutingJobs(ctx, e.OutingID)
	if err != nil {
		return nil, fault.Wrap(err, "find outing push jobs")
	}
	start := e.StartsAt.UTC().Truncate(time.Millisecond)
	participant, volunteer := e.ParticipantID, e.VolunteerID
	stale := false
	for _, j := range existing {
		if j.StartsAt.Equal(start) {
			continue
		}
		stale = true
		if j.Kind == kindReminder && j.Recipient != "" && j.Recipient != participant && volunteer == "" {
			volunteer = j.Recipient
		}
	}
	if !stale {
		return nil, nil
	}
	if _, err := s.st.DropOutingJobs(ctx, e.OutingID, Drop{Kinds: []string{kindReminder, kindCheckin}, KeepStart: &start}); err != nil {
		return nil, fault.Wrap(err, "drop push jobs")
	}
	return s.outingJobs(e.OutingID, e.OrgID, participant, volunteer, e.StartsAt, e.EndsAt, now, 0), nil
}

// reconcileWindow: the reconciler makes sure outings starting this soon have their jobs.
const reconcileWindow = 48 * time.Hour

// reconcileLead keeps the reconciler from making a job due within a minute:
// such a job was due before and is either waiting or already sent, and
// re-creating a sent one would send it twice.
const reconcileLead = time.Minute

// Reconcile makes sure every confirmed outing starting in the next 48 hours
// has its reminder and check-in jobs, and returns how many were missing.
// Jobs that exist are left alone (dedup keys), so running it often, or on
// several servers, is harmless.
func (s *Service) Reconcile(ctx context.Context) (int, error) {
	if s.cfg.Outings == nil {
		return 0, nil
	}
	now := s.clock.Now()
	outings, err := s.cfg.Outings.ConfirmedOutingsBetween(ctx, now, now.Add(reconcileWindow))
	if err != nil {
		return 0, fmt.Errorf("confirmed outings: %w", err)
	}
	var jobs []Job
	for _, o := range outings {
		jobs = append(jobs, s.outingJobs(o.ID, o.OrgID, o.ParticipantID, o.VolunteerID, o.StartsAt, o.EndsAt, now, reconcileLead)...)
	}
	created := 0
	for start := 0; start < len(jobs); start += 1000 {
		chunk := jobs[start:min(start+1000, len(jobs))]
		n, err := s.st.EnqueueJobs(ctx, chunk)
		created += n
		if err != nil {
			return created, fault.Wrap(err, "insert push jobs")
		}
		s.countCreated(chunk, n, "reconciler")
	}
	if created > 0 {
		s.wake()
	}
	return created, nil
}
