package outcomes

import (
	"context"
	"fmt"
	"time"

	"github.com/clavis-app/clavis/auth"
)

// askBatch bounds one sweep's reads; the next sweep takes the rest.
const askBatch = 500

// SweepAsks queues the wellbeing.due and pulse.due pushes that are due:
// a participant WellbeingEvery after their last answer, a volunteer
// PulseEvery after theirs (or after being approved). An ask stays
// outstanding until the next answer, so nobody has more than one
// unanswered. Quiet hours are the pusher's: the push waits for morning.
func (s *Service) SweepAsks(ctx context.Context) (int, error) {
	if s.cfg.Pusher == nil {
		return 0, nil
	}
	now := s.now()
	sent := 0
	for _, k := range []struct {
		kind, push string
		every      time.Duration
	}{{KindWellbeing, PushWellbeingDue, s.cfg.WellbeingEvery}, {KindPulse, PushPulseDue, PulseEvery}} {
		due, err := s.st.DueAsks(ctx, k.kind, now.Add(-k.every), askBatch)
		if err != nil {
			return sent, err
		}
		for _, d := range due {
			// The key is the answer it follows: a crash between push and
			// mark makes the same push again, which the pusher drops.
			key := fmt.Sprintf("%s|%s|%d", k.push, d.UserID, d.LastAnswerAt.UnixMilli())
			if err := s.cfg.Pusher.PushToUser(ctx, k.push, d.OrgID, d.UserID, key); err != nil {
				return sent, err
			}
			if err := s.st.MarkAsked(ctx, k.kind, d.UserID, now); err != nil {
				return sent, err
			}
			sent++
		}
	}
	return sent, nil
}

// RunAskSweep sweeps every interval until ctx ends.
func (s *Service) RunAskSweep(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.SweepAsks(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("outcome asks sweep failed", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// StatusHook starts a volunteer's pulse schedule when they are approved
// (auth.Service.OnStatusChange): the first pulse comes PulseEvery later.
func (s *Service) StatusHook(ctx context.Context, userID string, role auth.Role, status auth.Status) error {
	if role != auth.RoleVolunteer || status != auth.StatusActive {
		return nil
	}
	m, err := s.cfg.Members.Member(ctx, userID)
	if err != nil {
		return err
	}
	return s.st.Answered(ctx, KindPulse, userID, m.OrgID, s.now())
}
