package matching

import (
	"context"
	"encoding/json"
	"time"

	"github.com/clavis-app/clavis/internal/sqlite"
)

// The statuses come as a JSON array: one seek per status on
// outings_open_by_org (organisation_id, status, starts_at), then a sort of
// the few rows found.
const sqlOutingsStarting = `SELECT doc FROM outings WHERE organisation_id = ?
	AND status IN (SELECT value FROM json_each(?)) AND starts_at >= ? AND starts_at < ?
	ORDER BY starts_at, id LIMIT ?`

func (s *sqliteStore) OutingsStarting(ctx context.Context, orgID string, statuses []OutingStatus, from, to time.Time, limit int) ([]Outing, error) {
	list, err := json.Marshal(statuses)
	if err != nil {
		return nil, err
	}
	return s.outingDocs(ctx, sqlOutingsStarting, orgID, string(list), sqlite.Millis(from), sqlite.Millis(to), limit)
}
