package matching

import (
	"context"
	"time"

	"github.com/clavis-app/clavis/internal/fault"
)

// ExpireStarted moves open and pending outings whose start has passed to
// expired (events to the participant, any pending volunteer and the
// coordinators). It handles at most batch outings a call (0: 200) and
// returns how many it expired. The query scans outings on the embedded
// store, so it runs on a timer, not per request.
func (s *Service) ExpireStarted(ctx context.Context, batch int) (int, error) {
	if batch <= 0 {
		batch = 200
	}
	ids, err := s.st.StartedUnmatchedOutingIDs(ctx, s.now(), batch)
	if err != nil {
		return 0, fault.Wrap(err, "find started outings")
	}
	n := 0
	for _, id := range ids {
		_, err := s.act(ctx, System, id, ActionExpire, "no companion before the start", nil)
		switch fault.KindOf(err) {
		case fault.Internal:
			if err != nil {
				return n, err
			}
			n++
		default:
			// Someone acted on it meanwhile (accepted, cancelled): fine.
		}
	}
	return n, nil
}

// RunExpirySweep calls ExpireStarted every interval until ctx ends.
func (s *Service) RunExpirySweep(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := s.ExpireStarted(ctx, 0); err != nil && ctx.Err() == nil {
			s.log.Warn("expiry sweep failed", "error", err.Error())
		} else if n > 0 {
			s.log.Info("expired outings that found no companion in time", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
