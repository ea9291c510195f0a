package notify

import (
	"context"
	"time"

	"github.com/clavis-app/clavis/internal/fault"
)

// Pushes about no outing: the outcomes package's gentle asks. The strings
// are outcomes.PushWellbeingDue and outcomes.PushPulseDue (notify does not
// import outcomes; main_test checks they agree).
const (
	PushWellbeingDue = "wellbeing.due"
	PushPulseDue     = "pulse.due"
)

// askLife is how long an ask stays worth sending. It also stands in for
// the outing start the quiet-hours rule looks at: being days away, an ask
// made at night always waits for the recipient's morning.
const askLife = 3 * 24 * time.Hour

// PushToUser queues one durable push of pushType to userID that is about
// no outing (outcomes.Pusher). The dedup key makes a repeat harmless.
func (s *Service) PushToUser(ctx context.Context, pushType, orgID, userID, dedupKey string) error {
	now := s.clock.Now()
	j := s.newJob("ask|"+dedupKey, kindEvent, pushType, "", orgID, toUser, userID, now.Add(askLife), now.Add(askLife), now, now)
	n, err := s.st.EnqueueJobs(ctx, []Job{j})
	if err != nil {
		return fault.Wrap(err, "insert push job")
	}
	s.countCreated([]Job{j}, n, "ask")
	if n > 0 {
		s.wake()
	}
	return nil
}
