package api_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/clavis-app/clavis/api"
	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/groups"
	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/notify"
)

// Continuity through the real services: a participant asks for a companion
// to every session before anyone is known. Only session 1 is offered at
// once; when Vera is confirmed for it, session 2's first offer goes to her
// alone, and the general wave follows after the wait.
func TestEverySessionEscortOffersTheLastCompanionFirst(t *testing.T) {
	var matcher *matching.Matcher
	e := newTestEnv(t, func(d *api.Deps) { matcher = d.Matcher })
	loc := stockholm()
	e.Clock.Set(time.Date(2026, 8, 20, 9, 0, 0, 0, loc))
	ctx := context.Background()
	notifier := groupNotifier(e)
	gs := groupsOf(e).svc
	disp := matchingOf(e).NewDispatcher(matcher.OfferSink(gs.EscortSink(notifier, matcher)), nil)
	deliver := func() {
		for range 8 {
			if n, err := disp.RunOnce(ctx); err != nil {
				t.Fatal(err)
			} else if n == 0 {
				return
			}
		}
	}
	offers := func(outingID string) []string {
		t.Helper()
		rows, err := e.SQL.Query(`SELECT recipient FROM push_jobs WHERE type = 'outing.offer' AND outing_id = ? ORDER BY recipient`, outingID)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var r string
			if err := rows.Scan(&r); err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		return out
	}
	org := e.Org("Studieförbundet Halmstad")
	coord := newPerson(e, auth.RoleCoordinator, org)
	bo := newPerson(e, auth.RoleParticipant, org)
	vera, vidar := freeVolunteer(e, org), freeVolunteer(e, org)
	var g groups.GroupView
	status, body := e.Call("POST", "/v1/organisations/"+org+"/groups", coord.Token, groupBody("2026-09-07", 4, 5))
	e.Want(status, body, 201)
	e.Decode(body, &g)
	status, body = e.Call("POST", "/v1/groups/"+g.ID+"/enrolments", bo.Token, map[string]any{})
	e.Want(status, body, 201)

	mp := map[string]any{"lat": torgLat, "lon": torgLon, "description": "Outside the library"}
	var every struct {
		Outings []matching.OutingView `json:"outings"`
	}
	status, body = e.Call("POST", "/v1/outings", bo.Token, map[string]any{"group_id": g.ID, "every_session": true, "meeting_point": mp})
	e.Want(status, body, 201)
	e.Decode(body, &every)
	if len(every.Outings) != 4 {
		t.Fatalf("%d outings", len(every.Outings))
	}
	one, two := every.Outings[0].ID, every.Outings[1].ID
	deliver()
	if got := offers(one); len(got) != 2 {
		t.Fatalf("session 1 offered to %v, want both volunteers", got)
	}
	if got := offers(two); len(got) != 0 {
		t.Fatalf("session 2 offered before session 1's companion is known: %v", got)
	}

	status, body = e.Call("POST", "/v1/outings/"+one+"/accept", vera.Token, nil)
	e.Want(status, body, 200)
	status, body = e.Call("POST", "/v1/outings/"+one+"/approve", coord.Token, nil)
	e.Want(status, body, 200)
	deliver()
	for _, o := range every.Outings[1:] {
		if got := offers(o.ID); len(got) != 1 || got[0] != vera.ID {
			t.Fatalf("outing %s (session %s) first offered to %v, want Vera %s alone", o.ID, o.StartsAt, got, vera.ID)
		}
	}
	// Vidar hears of session 2 only after Vera's wait.
	e.Clock.Advance(25 * time.Hour)
	if _, err := matcher.OfferWaves().RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	deliver()
	if got := offers(two); len(got) != 2 {
		t.Fatalf("session 2 after the wait offered to %v, want Vera then Vidar (%s)", got, vidar.ID)
	}
}

// groupNotifier has the env's groups push through a real notify service
// (jobs queued in e.SQL; no workers run).
func groupNotifier(e *testEnv) *notify.Service {
	e.tb().Helper()
	ctx := context.Background()
	nst, err := notify.NewSQLiteStore(ctx, e.SQL)
	if err != nil {
		e.tb().Fatal(err)
	}
	notifier, err := notify.New(ctx, notify.Config{Store: nst, Sender: notify.LogSender{Log: slog.New(slog.NewTextHandler(io.Discard, nil))},
		Directory: notify.AccountsDirectory(e.Auth), Clock: e.Clock})
	if err != nil {
		e.tb().Fatal(err)
	}
	groupsOf(e).svc.SetNotifier(notifier.Groups())
	return notifier
}

// A participant who leaves gets none of the group's pushes still queued
// (their group.enrolled, their reminders); who stays keeps theirs.
func TestLeaverQueuedGroupPushesDropped(t *testing.T) {
	e := newTestEnv(t)
	e.Clock.Set(time.Date(2026, 8, 20, 23, 30, 0, 0, stockholm())) // at night: news waits for the morning
	groupNotifier(e)
	org := e.Org("Studieförbundet Halmstad")
	coord := newPerson(e, auth.RoleCoordinator, org)
	ann, bo := newPerson(e, auth.RoleParticipant, org), newPerson(e, auth.RoleParticipant, org)
	var g groups.GroupView
	status, body := e.Call("POST", "/v1/organisations/"+org+"/groups", coord.Token, groupBody("2026-09-07", 4, 5))
	e.Want(status, body, 201)
	e.Decode(body, &g)
	for _, p := range []person{ann, bo} {
		status, body = e.Call("POST", "/v1/groups/"+g.ID+"/enrolments", p.Token, map[string]any{})
		e.Want(status, body, 201)
	}
	pending := func(who string) (news, reminders int) {
		t.Helper()
		if err := e.SQL.QueryRow(`SELECT count(*) FILTER (WHERE type = 'group.enrolled'), count(*) FILTER (WHERE type = 'group.session_reminder')
			FROM push_jobs WHERE outcome = '' AND recipient = ?`, who).Scan(&news, &reminders); err != nil {
			t.Fatal(err)
		}
		return
	}
	if n, r := pending(ann.ID); n != 1 || r == 0 {
		t.Fatalf("before leaving: %d news, %d reminders queued", n, r)
	}
	status, body = e.Call("DELETE", "/v1/groups/"+g.ID+"/enrolments/"+ann.ID, ann.Token, nil)
	e.Want(status, body, 204)
	if n, r := pending(ann.ID); n != 0 || r != 0 {
		t.Fatalf("after leaving: %d group.enrolled, %d reminders still queued", n, r)
	}
	if n, r := pending(bo.ID); n != 1 || r == 0 {
		t.Fatalf("who stays: %d news, %d reminders", n, r)
	}
}
