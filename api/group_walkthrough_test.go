package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clavis-app/clavis/api"
	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/groups"
	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/notify"
)

// walk records HTTP steps as curl commands with their answers.
type walk struct {
	t   *testing.T
	e   *testEnv
	out bytes.Buffer
}

func (w *walk) say(format string, args ...any) { fmt.Fprintf(&w.out, format+"\n", args...) }

// call sends one request and writes it as curl; long lists are cut to
// their first items.
func (w *walk) call(method, path string, who *person, as string, body any, want int) []byte {
	w.t.Helper()
	line := fmt.Sprintf("$ curl -s -X %s 'http://localhost:8080%s' -H \"Authorization: Bearer $%s\"", method, path, as)
	if body != nil {
		raw, _ := json.Marshal(body)
		line += fmt.Sprintf(" -H 'Content-Type: application/json' -d '%s'", raw)
	}
	status, resp := w.e.Call(method, path, who.Token, body)
	w.say("%s\n→ %d", line, status)
	if len(resp) > 0 {
		w.say("%s", shorten(resp))
	}
	w.say("")
	if status != want {
		w.t.Fatalf("%s %s: %d, want %d: %s", method, path, status, want, resp)
	}
	return resp
}

func shorten(raw []byte) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return string(raw)
	}
	cut := func(key string, m map[string]any) {
		if list, ok := m[key].([]any); ok && len(list) > 3 {
			m[key] = append(list[:3], fmt.Sprintf("… %d more", len(list)-3))
		}
	}
	if m, ok := v.(map[string]any); ok {
		cut("items", m)
		cut("outings", m)
		delete(m, "history")
	}
	out, _ := json.MarshalIndent(v, "", "  ")
	return string(out)
}

// jobs lists pending push jobs matching where, as "type → recipient at run_at".
func (w *walk) jobs(title, where string, args ...any) int {
	w.t.Helper()
	rows, err := w.e.SQL.Query(`SELECT type, recipient, run_at, starts_at FROM push_jobs WHERE outcome = '' AND `+where+` ORDER BY run_at, type, recipient`, args...)
	if err != nil {
		w.t.Fatal(err)
	}
	defer rows.Close()
	w.say("# push jobs: %s", title)
	n := 0
	for rows.Next() {
		var typ, rec string
		var runAt, startsAt int64
		if err := rows.Scan(&typ, &rec, &runAt, &startsAt); err != nil {
			w.t.Fatal(err)
		}
		n++
		w.say("#   %-24s to %s  due %s  (for %s)", typ, short(rec), time.UnixMilli(runAt).In(stockholm()).Format(time.RFC3339),
			time.UnixMilli(startsAt).In(stockholm()).Format(time.RFC3339))
	}
	w.say("")
	return n
}

func short(id string) string {
	if id == "" {
		return "coordinators"
	}
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

func stockholm() *time.Location {
	loc, _ := time.LoadLocation("Europe/Stockholm")
	return loc
}

// The must-show walk-through of issue 14, run against the real app on one
// SQLite file with a fake clock, notify's durable jobs and the outings'
// event dispatcher. The transcript goes to CLAVIS_WALKTHROUGH_OUT when set.
func TestGroupWalkthrough(t *testing.T) {
	var matcher *matching.Matcher
	e := newTestEnv(t, func(d *api.Deps) { matcher = d.Matcher })
	loc := stockholm()
	e.Clock.Set(time.Date(2026, 8, 20, 9, 0, 0, 0, loc))
	ctx := context.Background()
	nst, err := notify.NewSQLiteStore(ctx, e.SQL)
	if err != nil {
		t.Fatal(err)
	}
	notifier, err := notify.New(ctx, notify.Config{Store: nst, Sender: notify.LogSender{Log: slog.New(slog.NewTextHandler(io.Discard, nil))},
		Directory: notify.AccountsDirectory(e.Auth), Clock: e.Clock})
	if err != nil {
		t.Fatal(err)
	}
	groupsOf(e).svc.SetNotifier(notifier.Groups())
	disp := matchingOf(e).NewDispatcher(matcher.OfferSink(notifier), nil)
	deliver := func() {
		for range 5 {
			if n, err := disp.RunOnce(ctx); err != nil {
				t.Fatal(err)
			} else if n == 0 {
				return
			}
		}
	}
	w := &walk{t: t, e: e}
	path := os.Getenv("CLAVIS_WALKTHROUGH_OUT")
	if path == "" {
		path = filepath.Join(t.TempDir(), "walkthrough.txt")
	}
	t.Cleanup(func() {
		if err := os.WriteFile(path, w.out.Bytes(), 0o644); err != nil {
			t.Error(err)
		}
		t.Logf("transcript: %s (%d lines)", path, strings.Count(w.out.String(), "\n"))
	})
	org := e.Org("Studieförbundet Halmstad")
	coord := newPerson(e, auth.RoleCoordinator, org)
	anna, bo, cia := newPerson(e, auth.RoleParticipant, org), newPerson(e, auth.RoleParticipant, org), newPerson(e, auth.RoleParticipant, org)
	vera := freeVolunteer(e, org)
	other := freeVolunteer(e, org)
	all := []*person{&coord, &anna, &bo, &cia, &vera, &other}
	w.say("# Clavis issue 14 walk-through: groups and courses (fake clock; Europe/Stockholm)")
	w.say("# people: $COORD coordinator, $ANNA $BO $CIA participants, $VERA and $VIDAR volunteers")
	w.say("# ids: ANNA=%s BO=%s CIA=%s VERA=%s VIDAR=%s\n", short(anna.ID), short(bo.ID), short(cia.ID), short(vera.ID), short(other.ID))

	w.say("## 1. %s: the coordinator creates a 22-week course from Monday 7 September, Mondays 13:00–15:00, 2 places", e.Clock.Now().Format(time.RFC3339))
	body := groupBody("2026-09-07", 22, 2)
	body["name"] = "Klara Livet, autumn"
	var g groups.GroupView
	e.Decode(w.call("POST", "/v1/organisations/"+org+"/groups", &coord, "COORD", body, 201), &g)
	var sp groups.SessionPage
	e.Decode(w.call("GET", "/v1/groups/"+g.ID+"/sessions?limit=100", &coord, "COORD", nil, 200), &sp)
	if len(sp.Items) != 22 {
		t.Fatalf("%d sessions", len(sp.Items))
	}
	first, last := sp.Items[0], sp.Items[21]
	w.say("# all 22 sessions at 13:00 local: first %s, after the October change %s, last %s\n",
		first.StartsAt.In(loc).Format(time.RFC3339), sp.Items[8].StartsAt.In(loc).Format(time.RFC3339), last.StartsAt.In(loc).Format(time.RFC3339))

	w.say("## 2. Anna and Bo enrol; Cia finds the course full and waits")
	w.call("POST", "/v1/groups/"+g.ID+"/enrolments", &anna, "ANNA", map[string]any{}, 201)
	w.call("POST", "/v1/groups/"+g.ID+"/enrolments", &bo, "BO", map[string]any{}, 201)
	var ce groups.EnrolmentView
	e.Decode(w.call("POST", "/v1/groups/"+g.ID+"/enrolments", &cia, "CIA", map[string]any{}, 201), &ce)
	if ce.Status != groups.Waiting || ce.Position != 1 {
		t.Fatalf("Cia %+v", ce)
	}
	w.call("POST", "/v1/groups/"+g.ID+"/enrolments", &bo, "BO", map[string]any{}, 409)

	w.say("## 3. Anna leaves (no reason needed); Cia is promoted and told")
	w.call("DELETE", "/v1/groups/"+g.ID+"/enrolments/"+anna.ID, &anna, "ANNA", nil, 204)
	var ep groups.EnrolmentPage
	e.Decode(w.call("GET", "/v1/groups/"+g.ID+"/enrolments", &coord, "COORD", nil, 200), &ep)
	if ep.Items[2].ParticipantID != cia.ID || ep.Items[2].Status != groups.Enrolled {
		t.Fatalf("Cia not promoted: %+v", ep.Items)
	}
	w.call("GET", "/v1/groups/"+g.ID+"/enrolments", &anna, "ANNA", nil, 403)
	if n := w.jobs("group news (each once; Anna's went when she left)", "type IN ('group.enrolled', 'group.promoted')"); n != 2 {
		t.Fatalf("%d group news jobs, want 2 (Bo enrolled; Cia promoted)", n)
	}
	if n := w.jobs("Bo's and Cia's reminders of session 1 (Anna's were dropped when she left)", "outing_id = ? AND type = 'group.session_reminder'", first.ID); n != 4 {
		t.Fatalf("%d reminders for session 1, want 4", n)
	}

	w.say("## 4. Bo asks for a companion to the first session; Vera accepts and the coordinator approves")
	mp := map[string]any{"lat": torgLat, "lon": torgLon, "description": "Outside the library"}
	var one map[string]any
	e.Decode(w.call("POST", "/v1/outings", &bo, "BO", map[string]any{"group_session_id": first.ID, "meeting_point": mp}, 201), &one)
	firstOuting := one["id"].(string)
	deliver()
	w.call("POST", "/v1/outings/"+firstOuting+"/accept", &vera, "VERA", nil, 200)
	w.call("POST", "/v1/outings/"+firstOuting+"/approve", &coord, "COORD", nil, 200)
	deliver()

	w.say("## 5. Bo asks for a companion to every session; each becomes an activity outing, and Vera, who comes to the first, is offered each next one first")
	var every struct {
		matching.OutingView
		Outings []matching.OutingView `json:"outings"`
	}
	e.Decode(w.call("POST", "/v1/outings", &bo, "BO", map[string]any{"group_id": g.ID, "every_session": true, "meeting_point": mp}, 201), &every)
	if len(every.Outings) != 21 || every.Outings[0].Kind != matching.KindActivity || !every.Outings[0].StartsAt.Equal(sp.Items[1].StartsAt) {
		t.Fatalf("every session: %d outings, first %+v", len(every.Outings), every.OutingView)
	}
	deliver()
	n := w.jobs("first offer of session 2's outing: Vera alone", "type = 'outing.offer' AND outing_id = ?", every.Outings[0].ID)
	var offered string
	_ = e.SQL.QueryRow(`SELECT recipient FROM push_jobs WHERE type = 'outing.offer' AND outing_id = ?`, every.Outings[0].ID).Scan(&offered)
	if n != 1 || offered != vera.ID {
		t.Fatalf("first wave of session 2: %d offers, to %s (Vera %s)", n, offered, vera.ID)
	}

	w.say("## 6. %s: the coordinator moves session 1 to Wednesday 9 September; the escort outing and its reminders move", e.Clock.Now().Format(time.RFC3339))
	w.jobs("escort outing's reminders and check-in watch before the move", "kind IN ('reminder', 'checkin') AND outing_id = ?", firstOuting)
	newStart := time.Date(2026, 9, 9, 13, 0, 0, 0, loc)
	w.call("PATCH", "/v1/groups/"+g.ID+"/sessions/"+first.ID, &coord, "COORD",
		map[string]any{"starts_at": newStart.Format(time.RFC3339), "reason": "The room is booked on Monday"}, 200)
	deliver()
	var moved matching.OutingView
	e.Decode(w.call("GET", "/v1/outings/"+firstOuting, &bo, "BO", nil, 200), &moved)
	if !moved.StartsAt.Equal(newStart) || moved.VolunteerID != vera.ID || moved.Status != matching.StatusConfirmed {
		t.Fatalf("escort outing after the move: %+v", moved)
	}
	var stale int
	_ = e.SQL.QueryRow(`SELECT count(*) FROM push_jobs WHERE outcome = '' AND kind IN ('reminder', 'checkin') AND outing_id = ? AND starts_at <> ?`,
		firstOuting, newStart.UnixMilli()).Scan(&stale)
	if n := w.jobs("escort outing's reminders and check-in watch after the move", "kind IN ('reminder', 'checkin') AND outing_id = ?", firstOuting); n < 4 || stale != 0 {
		t.Fatalf("%d escort jobs after the move, %d at the old time", n, stale)
	}
	w.jobs("session 1: moved news and the reminders at the new time", "type IN ('group.session_moved', 'group.session_reminder') AND outing_id = ?", first.ID)

	w.say("## 7. Attendance: the clock runs to the last session (1 February, 14:00); the coordinator marks every session")
	e.Clock.Set(last.StartsAt.Add(time.Hour))
	renew(e, all...)
	for i, s := range sp.Items {
		boMark, ciaMark := "present", "present"
		if i%5 == 4 { // Bo misses 4 of 22: 18/22 = 0.82
			boMark = "absent"
		}
		switch {
		case i < 2:
			ciaMark = "excused"
		case i%2 == 1: // Cia attends 10 of the other 20: 0.5
			ciaMark = "absent"
		}
		marks := map[string]any{"items": []map[string]any{{"participant_id": bo.ID, "mark": boMark}, {"participant_id": cia.ID, "mark": ciaMark}}}
		path := "/v1/groups/" + g.ID + "/sessions/" + s.ID + "/attendance"
		if i == 0 {
			w.call("PUT", path, &coord, "COORD", marks, 200)
			continue
		}
		status, resp := e.Call("PUT", path, coord.Token, marks)
		e.Want(status, resp, 200)
		w.say("$ curl -s -X PUT '…/sessions/%s/attendance' …  bo=%s cia=%s → %d", short(s.ID), boMark, ciaMark, status)
	}
	w.say("")
	w.call("PUT", "/v1/groups/"+g.ID+"/sessions/"+sp.Items[3].ID+"/attendance", &coord, "COORD",
		map[string]any{"items": []map[string]any{{"participant_id": anna.ID, "mark": "present"}}}, 422)

	w.say("## 8. %s: the course has finished; completion is decided (threshold 0.75)", last.EndsAt.Add(time.Minute).In(loc).Format(time.RFC3339))
	e.Clock.Set(last.EndsAt.Add(time.Minute))
	renew(e, all...)
	e.Decode(w.call("GET", "/v1/groups/"+g.ID, &coord, "COORD", nil, 200), &g)
	e.Decode(w.call("GET", "/v1/groups/"+g.ID+"/enrolments", &coord, "COORD", nil, 200), &ep)
	got := map[string]groups.EnrolmentView{}
	for _, en := range ep.Items {
		got[en.ParticipantID] = en
	}
	if g.Status != groups.StatusFinished || got[bo.ID].Status != groups.Completed || got[cia.ID].Status != groups.NotCompleted ||
		got[anna.ID].Status != groups.Left || got[bo.ID].Attended != 18 || got[bo.ID].Held != 22 || got[cia.ID].Excused != 2 {
		t.Fatalf("after the end: %s %+v", g.Status, got)
	}
	w.call("GET", "/v1/participants/me/groups", &bo, "BO", nil, 200)
	w.call("POST", "/v1/groups/"+g.ID+"/enrolments", &anna, "ANNA", map[string]any{}, 409)

}
