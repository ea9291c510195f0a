package seed

import "context"

// Runs remembers what the seed created, so that a second run reuses it
// instead of making a second demo organisation.
type Runs interface {
	// Run returns the record with id, or an empty one (no error) the first time.
	Run(ctx context.Context, id string) (*run, error)
	// SaveRun stores the record, replacing an earlier one with its id.
	SaveRun(ctx context.Context, r *run) error
}

func (r *run) fill() *run {
	if r.Users == nil {
		r.Users = map[string]string{}
	}
	if r.Outings == nil {
		r.Outings = map[string]string{}
	}
	return r
}
