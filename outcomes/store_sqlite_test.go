package outcomes

import (
	"context"
	"strings"
	"testing"

	"github.com/clavis-app/clavis/internal/sqlite"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
)

// Every query outcomes runs on a growing table finds its rows by an index.
func TestSQLiteHotQueriesUseIndexes(t *testing.T) {
	ctx := context.Background()
	d := sqlitetest.New(t)
	if _, err := NewSQLiteStore(ctx, d); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, query string
		args        []any
	}{
		{"check-ins of a person", sqlCheckinsOf, []any{"u1", 50}},
		{"check-ins of an organisation", sqlCheckinsOrg, []any{"o1", 1}},
		{"milestones of a participant", sqlMilestonesOf, []any{"u1", 50}},
		{"milestones of an organisation", sqlMilestonesOrg, []any{"o1", "2026-01-01", "2026-12-31"}},
		{"pulse of an organisation", sqlPulsesOrg, []any{"o1", 0, 1}},
		{"pulse of a volunteer", sqlPulsesOf, []any{"u1", 50}},
		{"due asks", sqlDueAsks, []any{KindWellbeing, 1, 500}},
		{"mark asked", sqlMarkAsk, []any{1, KindWellbeing, "u1"}},
		{"drop asks (erasure)", sqlDropAsks, []any{"u1"}},
		{"erase check-ins", sqlEraseCheckins, []any{"t", "u1"}},
		{"erase milestones", sqlEraseMilestones, []any{"t", "u1"}},
		{"erase recorder", sqlEraseRecorder, []any{"u1"}},
		{"erase pulse", sqlErasePulse, []any{"t", "u1"}},
		{"tombstones of an organisation", sqlTombstones, []any{"o1"}},
	}
	growing := []string{"wellbeing_checkins", "milestones", "volunteer_pulse", "outcome_asks", "outcome_tombstones"}
	for _, c := range cases {
		plan, err := d.QueryPlan(ctx, c.query, c.args...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		t.Logf("%s: %v", c.name, plan)
		if bad := sqlite.FullScans(plan, growing...); len(bad) > 0 {
			t.Errorf("%s scans %v", c.name, bad)
		}
		// A walk along a whole index is a scan too.
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN ") {
				t.Errorf("%s: %s", c.name, step)
			}
		}
	}
}
