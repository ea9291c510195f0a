package groups

import (
	"context"
	"fmt"
	"testing"

	"github.com/clavis-app/clavis/internal/sqlite"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
)

// The hot queries read through an index, planned on a database with rows.
func TestSQLiteHotQueriesUseIndexes(t *testing.T) {
	ctx := context.Background()
	d := sqlitetest.New(t)
	st, err := NewSQLiteStore(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	var gid string
	for i := range 20 {
		g, _ := newGroup(t, st, fmt.Sprintf("org%d", i%3), 3, 4)
		gid = g.ID
		for j := range 5 {
			enrol(t, st, g, fmt.Sprintf("p%d", j))
		}
	}
	queries := []struct {
		name, query string
		args        []any
	}{
		{"group counts", sqlGroupCounts, []any{gid}},
		{"an organisation's groups", sqlOrgGroups, []any{"org1", "", 20}},
		{"a group's sessions", sqlSessions, []any{gid}},
		{"waiting ahead", sqlWaitingAhead, []any{gid, 3}},
		{"a participant's enrolments", sqlEnrolmentsOf, []any{"p1", "", 20}},
		{"one enrolment", sqlGroupEnrolment, []any{gid, "p1"}},
		{"a group's marks", sqlMarks, []any{gid}},
		{"a participant's escorts", sqlEscortsOf, []any{"p1", gid}},
		{"an outing's escort link", sqlEscortByOuting, []any{"o1"}},
		{"a period's enrolments", sqlPeriodEnrolments, []any{"org1", int64(2e12), int64(0), 1000}},
		{"a participant's enrolment ids", sqlEnrolmentIDsOf, []any{"p1", 1000}},
	}
	for _, q := range queries {
		plan, err := d.QueryPlan(ctx, q.query, q.args...)
		if err != nil {
			t.Fatalf("%s: %v", q.name, err)
		}
		if bad := sqlite.FullScans(plan, "group_defs", "group_sessions", "group_enrolments", "group_marks", "group_escorts"); len(bad) > 0 {
			t.Errorf("%s scans a whole table: %v", q.name, bad)
		}
	}
}
