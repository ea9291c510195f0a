package auth

import (
	"context"
	"strings"
	"testing"

	"github.com/clavis-app/clavis/internal/sqlite"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
)

// Every query the SQLite engine runs on a table that grows with use is
// served by an index (the plans are logged for review).
func TestSQLiteHotQueriesUseIndexes(t *testing.T) {
	ctx := context.Background()
	d := sqlitetest.New(t)
	newSQLiteStore(t, d)
	// A few rows and ANALYZE-free defaults: the planner must pick indexes
	// from the schema alone, as it does on a fresh server.
	growing := []string{"users", "sign_ins", "refresh_tokens", "login_failures", "audit", "invites"}
	for _, q := range []struct {
		name, sql string
		args      []any
	}{
		{"user by id", qUserByID, []any{"u1"}},
		{"user by email", qUserByEmail, []any{"a@example.org"}},
		{"member page", qMembers, []any{"o1", "", 21}},
		{"member page by role", qMembersRole, []any{"o1", "participant", "", 21}},
		{"member page by status", qMembersStatus, []any{"o1", "pending", "", 21}},
		{"member page by role and status", qMembersRoleStatus, []any{"o1", "participant", "pending", "", 21}},
		{"change status", qChangeStatus, []any{"active", 1, nil, nil, nil, nil, nil, nil, "u1", "o1", "pending"}},
		{"refresh lookup", qRefreshByHash, []any{"h"}},
		{"spend refresh", qSpendRefresh, []any{1, "h"}},
		{"sign-in by id", qSignInByID, []any{"f"}},
		{"sign-ins of user", qSignInsOf, []any{"u1", 1000}},
		{"touch sign-in", qTouchSignIn, []any{1, "f", 1}},
		{"revoke user's sign-ins", qRevokeUser, []any{1, "x", "u1"}},
		{"sweep refresh", qSweepRefresh, []any{1}},
		{"sweep sign-ins", qSweepSignIns, []any{1}},
		{"failure count in window", qFailureTimes, []any{"k", 1, 6}},
		{"clear failures", qClearFailures, []any{"k"}},
		{"sweep failures", qSweepFailures, []any{1}},
		{"audit by subject, first page", qAuditBySubject, []any{"p1", 100}},
		{"audit by subject, next page", qAuditBySubjectPg, []any{"p1", 1, "e1", 100}},
		{"audit by actor, first page", qAuditByActor, []any{"p1", 100}},
		{"audit by actor, next page", qAuditByActorPg, []any{"p1", 1, "e1", 100}},
		{"count audit by subject", qCountAuditSubject, []any{"p1"}},
		{"count audit by actor", qCountAuditActor, []any{"p1"}},
		{"audit retention sweep", qSweepAudit, []any{1}},
		{"invite by code", qInviteByCode, []any{"K7MQ2XPT9C"}},
		{"invites of an organisation", qInvitesOfOrg, []any{"o1", "", 21}},
		{"use an invite", qUseInvite, []any{"K7MQ2XPT9C", "volunteer", 1}},
	} {
		plan, err := d.QueryPlan(ctx, q.sql, q.args...)
		if err != nil {
			t.Fatalf("%s: %v", q.name, err)
		}
		t.Logf("%s: %v", q.name, plan)
		if bad := sqlite.FullScans(plan, growing...); len(bad) > 0 {
			t.Errorf("%s scans a whole table: %v", q.name, bad)
		}
		for _, line := range plan {
			if strings.HasPrefix(line, "USE TEMP B-TREE") {
				t.Errorf("%s sorts instead of reading an index in order: %v", q.name, plan)
			}
		}
	}
}
