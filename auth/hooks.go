package auth

import (
	"context"
	"sync"
)

// StatusHook hears that a member's status changed. Other packages keep
// copies of the status where their queries need it (the volunteer profile's
// status is part of the candidate prefilter index); auth cannot import them,
// so they register here through main.go.
type StatusHook func(ctx context.Context, userID string, role Role, status Status) error

type statusHooks struct {
	mu    sync.Mutex
	hooks []StatusHook
}

// OnStatusChange registers h; it runs after every approve and suspend.
func (s *Service) OnStatusChange(h StatusHook) {
	s.statusHooks.mu.Lock()
	defer s.statusHooks.mu.Unlock()
	s.statusHooks.hooks = append(s.statusHooks.hooks, h)
}

// statusChanged runs the hooks. A failing hook is logged, not returned: the
// account change has happened, and a later change or profile write re-syncs
// the copy, whereas a 500 here would make the coordinator retry into a 409.
func (s *Service) statusChanged(ctx context.Context, u UserRecord) {
	s.statusHooks.mu.Lock()
	hooks := append([]StatusHook(nil), s.statusHooks.hooks...)
	s.statusHooks.mu.Unlock()
	for _, h := range hooks {
		if err := h(ctx, u.ID, u.Role, u.Status); err != nil {
			s.log.Error("status hook failed; the copy is stale until the next change", "user_id", u.ID, "status", string(u.Status), "error", err.Error())
		}
	}
}
