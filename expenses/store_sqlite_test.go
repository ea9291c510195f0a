package expenses

import (
	"context"
	"strings"
	"testing"

	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
)

// TestSQLiteHotQueriesUseIndexes: the list, the sums and the cap's total
// search an index, never scan the growing expenses table.
func TestSQLiteHotQueriesUseIndexes(t *testing.T) {
	ctx := context.Background()
	d := sqlitetest.New(t)
	if _, err := NewSQLiteStore(ctx, d); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		query string
		args  []any
		want  string
	}{
		"list by status":         {sqlList, []any{"org1", "approved", 0, 1 << 62, 0, "", 51}, "USING INDEX expenses_by_org"},
		"approved sum":           {sqlApproved, []any{"org1", 0, 1 << 62}, "expenses_by_org (organisation_id=? AND status=?"},
		"an outing's total":      {sqlOutingTotal, []any{"o1"}, "expenses_by_outing (outing_id=?)"},
		"a volunteer's expenses": {sqlOfVolunteer, []any{"v1", 100}, "expenses_by_volunteer (volunteer_id=?)"},
	} {
		plan, err := d.QueryPlan(ctx, c.query, c.args...)
		if err != nil {
			t.Fatal(err)
		}
		text := strings.Join(plan, "\n")
		if !strings.Contains(text, c.want) || strings.Contains(text, "SCAN expenses") {
			t.Errorf("%s: plan\n%s\nwant %s", name, text, c.want)
		}
	}
}
