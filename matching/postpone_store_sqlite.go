package matching

import (
	"context"
	"time"

	"github.com/clavis-app/clavis/internal/sqlite"
)

// INDEXED BY: without statistics the planner takes the status index, which
// grows with every outing; the postponements waiting are few.
const sqlPostponementsDue = `SELECT id FROM outings INDEXED BY outings_postpone_due
	WHERE postpone_answer_by <= ? AND status = 'confirmed' LIMIT ?`

func (s *sqliteStore) PostponementsDue(ctx context.Context, now time.Time, limit int) ([]string, error) {
	rows, err := s.q(ctx).QueryContext(ctx, sqlPostponementsDue, sqlite.Millis(now), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}
