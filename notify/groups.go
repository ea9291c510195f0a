package notify

import (
	"context"
	"fmt"
	"time"

	"github.com/clavis-app/clavis/groups"
	"github.com/clavis-app/clavis/internal/fault"
)

// GroupNotifier is the Service as groups.Notifier. Group jobs use the
// session id where an outing's jobs use the outing id (ids never collide),
// so the store's per-outing reads and drops serve sessions unchanged.
type GroupNotifier struct{ s *Service }

// Groups returns the notifier the groups service pushes through.
func (s *Service) Groups() GroupNotifier { return GroupNotifier{s: s} }

// groupNewsTTL bounds news of a place in a group that has no next session.
const groupNewsTTL = 7 * 24 * time.Hour

// GroupPush makes one job per recipient, keyed by the news: handing the
// same news over twice pushes it once.
func (n GroupNotifier) GroupPush(ctx context.Context, p groups.Push) error {
	s := n.s
	now := s.clock.Now()
	deadline := p.StartsAt
	if p.Type == groups.PushEnrolled || p.Type == groups.PushPromoted || deadline.IsZero() {
		deadline = now.Add(groupNewsTTL)
	}
	if !now.Before(deadline) {
		return nil
	}
	start := p.StartsAt
	if start.IsZero() {
		start = deadline
	}
	var jobs []Job
	for _, r := range p.Recipients {
		key := fmt.Sprintf("group|%s|user:%s", p.Key, r)
		jobs = append(jobs, s.newJob(key, kindEvent, p.Type, p.SessionID, p.OrgID, toUser, r, start, deadline, now, now))
	}
	return n.enqueue(ctx, jobs, "group")
}

// SessionReminders replaces each session's pending reminders with one per
// participant and offset still ahead. A reminder already sent keeps its
// dedup key until swept and its time has passed, so it is not made again.
func (n GroupNotifier) SessionReminders(ctx context.Context, rs []groups.SessionReminder) error {
	s := n.s
	now := s.clock.Now()
	var jobs []Job
	for _, r := range rs {
		if _, err := s.st.DropOutingJobs(ctx, r.SessionID, Drop{Kinds: []string{kindReminder}}); err != nil {
			return fault.Wrap(err, "drop session reminders")
		}
		for _, off := range s.cfg.ReminderOffsets {
			runAt := r.StartsAt.Add(-off)
			if !runAt.After(now) {
				continue
			}
			for _, p := range r.Participants {
				key := fmt.Sprintf("greminder|%s|user:%s|%s|%d", r.SessionID, p, off, r.StartsAt.Unix())
				jobs = append(jobs, s.newJob(key, kindReminder, groups.PushSessionReminder, r.SessionID, r.OrgID, toUser, p, r.StartsAt, r.StartsAt, runAt, now))
			}
		}
	}
	return n.enqueue(ctx, jobs, "group")
}

func (n GroupNotifier) enqueue(ctx context.Context, jobs []Job, source string) error {
	s := n.s
	for from := 0; from < len(jobs); from += 1000 {
		chunk := jobs[from:min(from+1000, len(jobs))]
		c, err := s.st.EnqueueJobs(ctx, chunk)
		if err != nil {
			return fault.Wrap(err, "insert push jobs")
		}
		s.countCreated(chunk, c, source)
		if c > 0 {
			s.wake()
		}
	}
	return nil
}

// ForgetParticipant drops a participant's pending group news and reminders
// of the given sessions (they left the group): news queued before they left
// must not reach them after.
func (n GroupNotifier) ForgetParticipant(ctx context.Context, participantID string, sessionIDs []string) error {
	s := n.s
	pending, err := s.st.PendingJobsOf(ctx, participantID)
	if err != nil {
		return fault.Wrap(err, "read pending pushes")
	}
	ofGroup := make(map[string]bool, len(sessionIDs))
	for _, id := range sessionIDs {
		ofGroup[id] = true
	}
	drop := Drop{Kinds: []string{kindReminder}, Recipient: participantID, EventTypes: []string{groups.PushEnrolled, groups.PushPromoted,
		groups.PushSessionMoved, groups.PushSessionCancelled}}
	done := map[string]bool{}
	for _, j := range pending {
		if !ofGroup[j.OutingID] || done[j.OutingID] || !drop.SelectsJob(j) {
			continue
		}
		done[j.OutingID] = true
		if _, err := s.st.DropOutingJobs(ctx, j.OutingID, drop); err != nil {
			return fault.Wrap(err, "drop group pushes")
		}
	}
	return nil
}
