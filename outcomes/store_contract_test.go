package outcomes

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/clavis-app/clavis/internal/db/dbtest"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
)

func TestStoreSQLite(t *testing.T) { testStore(t, sqlitetest.Opener(NewSQLiteStore)) }

func TestStoreMongo(t *testing.T) { testStore(t, dbtest.Opener(NewMongoStore)) }

var ct0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func testStore(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	st := open(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	// Check-ins: per person newest first, per organisation oldest first before a time.
	for i, c := range []Checkin{
		{ID: "c1", UserID: "p1", OrgID: "o1", At: ct0, Confidence: 1, Social: 2, Occupation: 3},
		{ID: "c2", UserID: "p1", OrgID: "o1", At: ct0.Add(48 * time.Hour), Confidence: 4, Social: 2, Occupation: 3},
		{ID: "c3", UserID: "p2", OrgID: "o1", At: ct0.Add(24 * time.Hour), Confidence: 2, Social: 2, Occupation: 2},
		{ID: "c4", UserID: "p3", OrgID: "o2", At: ct0, Confidence: 5, Social: 5, Occupation: 5},
	} {
		c := c
		if err := st.InsertCheckin(ctx, &c); err != nil {
			t.Fatalf("check-in %d: %v", i, err)
		}
	}
	mine, err := st.CheckinsOf(ctx, "p1", 10)
	must(err)
	if len(mine) != 2 || mine[0].ID != "c2" || mine[1].ID != "c1" || mine[0].Confidence != 4 || !mine[1].At.Equal(ct0) {
		t.Fatalf("CheckinsOf = %+v", mine)
	}
	if one, _ := st.CheckinsOf(ctx, "p1", 1); len(one) != 1 {
		t.Fatalf("limit ignored: %d", len(one))
	}
	org, err := st.CheckinsOfOrg(ctx, "o1", ct0.Add(47*time.Hour))
	must(err)
	if len(org) != 2 || org[0].ID != "c1" || org[1].ID != "c3" || org[1].UserID != "p2" {
		t.Fatalf("CheckinsOfOrg = %+v", org)
	}

	// Milestones: by participant latest date first; by organisation within dates.
	for _, m := range []Milestone{
		{ID: "m1", ParticipantID: "p1", OrgID: "o1", Kind: "job", On: "2026-02-01", Note: "café", RecordedBy: "k1", CreatedAt: ct0},
		{ID: "m2", ParticipantID: "p1", OrgID: "o1", Kind: "study", On: "2026-03-01", RecordedBy: "k1", CreatedAt: ct0},
		{ID: "m3", ParticipantID: "p2", OrgID: "o1", Kind: "work_practice", On: "2025-12-31", RecordedBy: "k1", CreatedAt: ct0},
	} {
		m := m
		must(st.InsertMilestone(ctx, &m))
	}
	ms, err := st.MilestonesOf(ctx, "p1", 10)
	must(err)
	if len(ms) != 2 || ms[0].ID != "m2" || ms[1].Note != "café" || ms[1].RecordedBy != "k1" || !ms[1].CreatedAt.Equal(ct0) {
		t.Fatalf("MilestonesOf = %+v", ms)
	}
	ms, err = st.MilestonesOfOrg(ctx, "o1", "2026-01-01", "2026-03-01")
	must(err)
	if len(ms) != 2 || ms[0].ID != "m1" || ms[1].ID != "m2" {
		t.Fatalf("MilestonesOfOrg = %+v", ms)
	}

	// Pulse: [from, to).
	must(st.InsertPulse(ctx, &Pulse{ID: "u1", UserID: "v1", OrgID: "o1", At: ct0, SecureInRole: 4, InformationGood: 3}))
	must(st.InsertPulse(ctx, &Pulse{ID: "u2", UserID: "v1", OrgID: "o1", At: ct0.Add(time.Hour), SecureInRole: 5, InformationGood: 5}))
	ps, err := st.PulsesOfOrg(ctx, "o1", ct0, ct0.Add(time.Hour))
	must(err)
	if len(ps) != 1 || ps[0].ID != "u1" || ps[0].SecureInRole != 4 || ps[0].InformationGood != 3 {
		t.Fatalf("PulsesOfOrg = %+v", ps)
	}

	if mine, err := st.PulsesOf(ctx, "v1", 1); err != nil || len(mine) != 1 || mine[0].ID != "u2" {
		t.Fatalf("PulsesOf = %+v %v", mine, err)
	}

	// Goals: not found, then stored and replaced.
	if _, err := st.Goals(ctx, "o1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Goals before put: %v", err)
	}
	g := DefaultGoals("o1")
	g.UpdatedAt = ct0
	must(st.PutGoals(ctx, &g))
	g.Participants, g.SocialImprovedShare = 40, 0.3
	must(st.PutGoals(ctx, &g))
	got, err := st.Goals(ctx, "o1")
	must(err)
	if got.OrgID != "o1" || got.Participants != 40 || got.SocialImprovedShare != 0.3 || got.GroupCompletionRate != 0.5 || got.MilestonePeople != 10 {
		t.Fatalf("Goals = %+v", got)
	}

	// Asks: due after the answer, not again while asked, due again after the next answer.
	must(st.Answered(ctx, KindWellbeing, "p1", "o1", ct0))
	must(st.Answered(ctx, KindPulse, "v1", "o1", ct0))
	due, err := st.DueAsks(ctx, KindWellbeing, ct0.Add(-time.Minute), 10)
	must(err)
	if len(due) != 0 {
		t.Fatalf("due before time: %+v", due)
	}
	due, err = st.DueAsks(ctx, KindWellbeing, ct0, 10)
	must(err)
	if len(due) != 1 || due[0].UserID != "p1" || due[0].OrgID != "o1" || !due[0].LastAnswerAt.Equal(ct0) {
		t.Fatalf("due = %+v", due)
	}
	must(st.MarkAsked(ctx, KindWellbeing, "p1", ct0.Add(time.Hour)))
	if due, _ = st.DueAsks(ctx, KindWellbeing, ct0.Add(1000*time.Hour), 10); len(due) != 0 {
		t.Fatalf("asked twice: %+v", due)
	}
	must(st.Answered(ctx, KindWellbeing, "p1", "o1", ct0.Add(2*time.Hour)))
	if due, _ = st.DueAsks(ctx, KindWellbeing, ct0.Add(2*time.Hour), 10); len(due) != 1 || !due[0].LastAnswerAt.Equal(ct0.Add(2*time.Hour)) {
		t.Fatalf("after answer: %+v", due)
	}
	if due, _ = st.DueAsks(ctx, KindPulse, ct0, 10); len(due) != 1 || due[0].UserID != "v1" {
		t.Fatalf("pulse due: %+v", due)
	}

	// Erase: facts move to the tombstone, notes and schedules go.
	tomb := Tombstone{ID: "erased-x", OrgID: "o1", Gender: "female", ErasedAt: ct0, Outings: []OutingRole{{OutingID: "out1", Role: RoleParticipant}}}
	must(st.Erase(ctx, "p1", tomb))
	if mine, _ = st.CheckinsOf(ctx, "p1", 10); len(mine) != 0 {
		t.Fatalf("check-ins left under the id: %+v", mine)
	}
	if mine, _ = st.CheckinsOf(ctx, "erased-x", 10); len(mine) != 2 {
		t.Fatalf("check-ins under the tombstone: %+v", mine)
	}
	if ms, _ = st.MilestonesOf(ctx, "erased-x", 10); len(ms) != 2 || ms[0].Note != "" || ms[1].Note != "" {
		t.Fatalf("milestones under the tombstone: %+v", ms)
	}
	if due, _ = st.DueAsks(ctx, KindWellbeing, ct0.Add(1000*time.Hour), 10); len(due) != 0 {
		t.Fatalf("schedule survived erasure: %+v", due)
	}
	must(st.Erase(ctx, "k1", Tombstone{ID: "erased-k", OrgID: "o1", Gender: "unspecified", ErasedAt: ct0, Outings: []OutingRole{}}))
	if ms, _ = st.MilestonesOf(ctx, "p2", 10); len(ms) != 1 || ms[0].RecordedBy != "erased" {
		t.Fatalf("recorder not erased: %+v", ms)
	}
	must(st.Erase(ctx, "v1", Tombstone{ID: "erased-v", OrgID: "o1", Gender: "unspecified", ErasedAt: ct0, Outings: []OutingRole{}}))
	if ps, _ = st.PulsesOfOrg(ctx, "o1", ct0, ct0.Add(2*time.Hour)); len(ps) != 2 || ps[0].UserID != "erased-v" {
		t.Fatalf("pulse under the tombstone: %+v", ps)
	}
	ts, err := st.Tombstones(ctx, "o1")
	must(err)
	if len(ts) != 3 || ts[0].ID != "erased-k" || ts[1].ID != "erased-v" || ts[2].ID != "erased-x" || ts[2].Gender != "female" ||
		len(ts[2].Outings) != 1 || ts[2].Outings[0] != (OutingRole{OutingID: "out1", Role: RoleParticipant}) {
		t.Fatalf("Tombstones = %+v", ts)
	}
	if ts, _ = st.Tombstones(ctx, "o2"); len(ts) != 0 {
		t.Fatalf("other organisation's tombstones: %+v", ts)
	}
}
