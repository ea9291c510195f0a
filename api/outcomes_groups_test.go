package api_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/outcomes"
	"github.com/clavis-app/clavis/wiring"
)

// A finished group with the real groups service: one participant completed
// it, one did not. The report counts both; erasing one later changes nothing
// in it, and their id is gone from groups' tables.
func TestOutcomeReportWithRealGroupsSurvivesErasure(t *testing.T) {
	e := newTestEnv(t)
	envGroupStandIns.Store(e, outcomes.Groups(wiring.OutcomeGroups{G: groupsOf(e).svc}))
	org := e.Org("Klara Livet Varberg")
	coord := newPerson(e, auth.RoleCoordinator, org)
	pa, pb := newPerson(e, auth.RoleParticipant, org), newPerson(e, auth.RoleParticipant, org)
	// Female and male, so the erased one's gender must survive too.
	for p, g := range map[*person]string{&pa: "female", &pb: "male"} {
		st, body := e.Call("PUT", "/v1/participants/me/profile", p.Token, map[string]any{"languages": []string{"sv"}, "companion_gender": "any", "gender": g})
		e.Want(st, body, 200)
	}
	g := storedGroup(e, org, true) // began two days ago, 14 daily sessions
	for _, p := range []person{pa, pb} {
		st, body := e.Call("POST", "/v1/groups/"+g.ID+"/enrolments", p.Token, map[string]any{})
		e.Want(st, body, 201)
	}
	// Attendance is marked session by session while the group runs (a
	// finished group has its completion decided already).
	sessions, _ := groupsOf(e).st.Sessions(context.Background(), g.ID)
	for i, s := range sessions {
		if at := s.StartsAt.Add(30 * time.Minute); at.After(e.Clock.Now()) {
			e.Clock.Advance(at.Sub(e.Clock.Now()))
			renew(e, &coord)
		}
		b := "absent"
		if i%5 == 0 {
			b = "excused"
		}
		st, body := e.Call("PUT", "/v1/groups/"+g.ID+"/sessions/"+s.ID+"/attendance", coord.Token, map[string]any{"items": []map[string]any{
			{"participant_id": pa.ID, "mark": "present"}, {"participant_id": pb.ID, "mark": b}}})
		e.Want(st, body, 200)
	}
	e.Clock.Advance(24 * time.Hour) // the group has finished
	renew(e, &coord, &pa, &pb)
	st, body := e.Call("GET", "/v1/groups/"+g.ID, coord.Token, nil) // settles completion
	e.Want(st, body, 200)

	q := "from=" + g.StartsAt.Format(time.DateOnly) + "&to=" + g.EndsAt.Format(time.DateOnly)
	before := e.getReport(t, org, coord.Token, q, "", "")
	var r struct {
		Groups struct {
			Enrolled, Completed int
			CompletionRate      float64                                      `json:"completion_rate"`
			ByGender            map[string]struct{ Enrolled, Completed int } `json:"by_gender"`
		}
		Participants struct{ Served int }
	}
	if err := json.Unmarshal(before, &r); err != nil {
		t.Fatal(err)
	}
	if r.Groups.Enrolled != 2 || r.Groups.Completed != 1 || r.Groups.CompletionRate != 0.5 ||
		r.Groups.ByGender["female"].Completed != 1 || r.Groups.ByGender["male"].Enrolled != 1 || r.Groups.ByGender["male"].Completed != 0 || r.Participants.Served != 2 {
		t.Fatalf("groups figures %+v, served %d; want 2 enrolled, 1 completed (the woman), rate 0.5, 2 served\n%s", r.Groups, r.Participants.Served, before)
	}

	for _, p := range []person{pa, pb} {
		st, body := e.Call("DELETE", "/v1/me", p.Token, nil)
		e.Want(st, body, 204)
		after := e.getReport(t, org, coord.Token, q, "", "")
		if g, w := canonicalJSON(t, after), canonicalJSON(t, before); g != w {
			t.Fatalf("after erasing %s the report changed:\n%s\nbefore:\n%s", p.ID, g, w)
		}
		for _, q := range []string{`SELECT count(*) FROM group_enrolments WHERE participant_id = ?`, `SELECT count(*) FROM group_marks WHERE participant_id = ?`,
			`SELECT count(*) FROM group_escorts WHERE participant_id = ?`} {
			var n int
			if err := e.SQL.QueryRow(q, p.ID).Scan(&n); err != nil || n != 0 {
				t.Errorf("%s for an erased participant: %d %v", q, n, err)
			}
		}
	}
	var kept int
	_ = e.SQL.QueryRow(`SELECT count(*) FROM group_enrolments WHERE group_id = ? AND participant_id LIKE 'erased-%'`, g.ID).Scan(&kept)
	if kept != 2 {
		t.Errorf("%d tombstoned enrolments, want 2", kept)
	}
}
