// Package personal lets every package that stores personal data take part
// in a user's data export and erasure (GDPR art. 15, 17) without the
// accounts package knowing those packages: each registers a Hook at start.
package personal

import (
	"context"
	"fmt"
	"sync"
)

// Hook exports and erases what one package stores about a user.
type Hook struct {
	// Name is the key of this package's section in the export.
	Name string
	// Export returns everything stored about userID, as JSON-encodable data.
	Export func(ctx context.Context, userID string) (any, error)
	// Erase removes userID's personal data, keeping anonymous statistics.
	Erase func(ctx context.Context, userID string) error
}

// Registry holds the hooks, in registration order.
type Registry struct {
	mu    sync.Mutex
	hooks []Hook
}

// Register adds a hook.
func (r *Registry) Register(h Hook) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hooks = append(r.hooks, h)
}

func (r *Registry) list() []Hook {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Hook(nil), r.hooks...)
}

// Export collects every package's data about userID.
func (r *Registry) Export(ctx context.Context, userID string) (map[string]any, error) {
	out := map[string]any{}
	for _, h := range r.list() {
		if h.Export == nil {
			continue
		}
		v, err := h.Export(ctx, userID)
		if err != nil {
			return nil, fmt.Errorf("export %s: %w", h.Name, err)
		}
		out[h.Name] = v
	}
	return out, nil
}

// Erase runs every package's erasure, in reverse registration order so that
// packages registered later (which may refer to earlier ones' data) go first.
func (r *Registry) Erase(ctx context.Context, userID string) error {
	hooks := r.list()
	for i := len(hooks) - 1; i >= 0; i-- {
		if hooks[i].Erase == nil {
			continue
		}
		if err := hooks[i].Erase(ctx, userID); err != nil {
			return fmt.Errorf("erase %s: %w", hooks[i].Name, err)
		}
	}
	return nil
}
