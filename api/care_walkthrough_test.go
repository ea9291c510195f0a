package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/matching"
)

func postponeTo(start time.Time) map[string]any {
	return map[string]any{"starts_at": start.Format(time.RFC3339), "ends_at": start.Add(2 * time.Hour).Format(time.RFC3339), "reason": "a bad day"}
}

// Postpone, accepted: the outing stays confirmed at the new time and every
// reminder and check-in job moves with it.
func TestCareWalkPostponeAccepted(t *testing.T) {
	w := newCareWorld(t)
	pia, vera, cora := w.person(auth.RoleParticipant, "pia"), w.person(auth.RoleVolunteer, "vera"), w.person(auth.RoleCoordinator, "cora")
	start := testNow.Add(30 * time.Hour)
	id := w.confirmedOuting(pia, vera, cora, start)
	w.fcm.Reset()
	w.say("A confirmed outing of Pia with Vera, starting %s, has its reminders and check-in watch:", start.Format(time.RFC3339))
	before := w.jobs(id)
	if len(before) != 6 {
		t.Fatalf("%d jobs before, want 4 reminders and 2 check-in watches", len(before))
	}
	w.say("Pia has a bad day and asks to go two days later instead.")
	later := start.Add(48 * time.Hour)
	status, body := w.curl("POST", "/v1/outings/"+id+"/postpone", pia, postponeTo(later))
	w.want(status, body, 200)
	if v := decodeOuting(t, body); v.Status != matching.StatusConfirmed || v.Postponement == nil || !v.Postponement.StartsAt.Equal(later) {
		t.Fatalf("after the ask: %+v", v)
	}
	w.flush()
	w.say("Vera is asked first; the old time's reminders are gone at once (nobody is reminded of, or chased for, a time given up):")
	w.pushesTo("vera", matching.EventPostponeAsked, 1)
	if jobs := w.jobs(id); len(jobs) != 0 {
		t.Fatalf("%d jobs wait while the companion is asked, want none", len(jobs))
	}
	w.say("A second postponement while the first waits is refused:")
	status, body = w.curl("POST", "/v1/outings/"+id+"/postpone", pia, postponeTo(later.Add(time.Hour)))
	w.want(status, body, 409)
	w.say("Vera can come at the new time.")
	status, body = w.curl("POST", "/v1/outings/"+id+"/postpone/accept", vera, nil)
	w.want(status, body, 200)
	if v := decodeOuting(t, body); v.Status != matching.StatusConfirmed || !v.StartsAt.Equal(later) || v.Postponement != nil {
		t.Fatalf("after accept: %+v", v)
	}
	w.flush()
	w.say("Every reminder and check-in job moved to the new start:")
	after := w.jobs(id)
	if len(after) != 6 {
		t.Fatalf("%d jobs after accept, want 6", len(after))
	}
	for _, j := range after {
		if !j.StartsAt.Equal(later) {
			t.Fatalf("job %s %s still for %s", j.Kind, j.Type, j.StartsAt)
		}
	}
	w.pushesTo("pia", matching.EventPostponed, 1)
	w.pushesTo("cora", matching.EventPostponed, 1)
	w.say("The history records it (coordinators):")
	status, body = w.curl("GET", "/v1/outings/"+id+"/history", cora, nil)
	w.want(status, body, 200)
	if !strings.Contains(string(body), "postponement asked") || !strings.Contains(string(body), "the same companion comes") {
		t.Fatalf("history: %s", body)
	}
	w.write("postpone-accepted")
}

// Postpone, declined: the outing reopens at the new time, is offered to
// others, and the participant is told kindly; no answer in time does the same.
func TestCareWalkPostponeDeclined(t *testing.T) {
	w := newCareWorld(t)
	pia, vera, cora := w.person(auth.RoleParticipant, "pia"), w.person(auth.RoleVolunteer, "vera"), w.person(auth.RoleCoordinator, "cora")
	ulf := w.person(auth.RoleVolunteer, "ulf")
	start := testNow.Add(30 * time.Hour)
	id := w.confirmedOuting(pia, vera, cora, start)
	w.fcm.Reset()
	later := start.Add(24 * time.Hour)
	w.say("Pia asks to move the outing with Vera a day later.")
	status, body := w.curl("POST", "/v1/outings/"+id+"/postpone", pia, postponeTo(later))
	w.want(status, body, 200)
	w.flush()
	w.say("Vera cannot come then.")
	status, body = w.curl("POST", "/v1/outings/"+id+"/postpone/decline", vera, nil)
	w.want(status, body, 200)
	if v := decodeOuting(t, body); v.Status != matching.StatusOpen || !v.StartsAt.Equal(later) || v.VolunteerID != "" {
		t.Fatalf("after decline: %+v", v)
	}
	w.flush()
	w.say("Pia is told kindly; Ulf (offered the old time too) is offered the new one:")
	pushes := w.pushesTo("pia", matching.EventReopened, 1)
	if !strings.Contains(pushes[0].Notification.Body, "Vi letar efter en ny volontär") {
		t.Fatalf("the participant's text: %q", pushes[0].Notification.Body)
	}
	w.pushesAbout("ulf", matching.EventOffer, "27 november", 1) // the new time, in Swedish
	status, body = w.curl("GET", "/v1/volunteers/me/offers", ulf, nil)
	w.want(status, body, 200)
	if !strings.Contains(string(body), id) {
		t.Fatalf("ulf's offers: %s", body)
	}
	w.say("Ulf accepts the new time:")
	status, body = w.curl("POST", "/v1/outings/"+id+"/accept", ulf, nil)
	w.want(status, body, 200)

	w.say("Another outing: Vera does not answer within CLAVIS_POSTPONE_WAIT (12 h); the sweep reopens it at the new time.")
	second := w.confirmedOuting(pia, vera, cora, start.Add(2*time.Hour))
	status, body = w.curl("POST", "/v1/outings/"+second+"/postpone", pia, postponeTo(later.Add(48*time.Hour)))
	w.want(status, body, 200)
	var asked matching.OutingView
	_ = json.Unmarshal(body, &asked)
	if want := testNow.Add(12 * time.Hour); !asked.Postponement.AnswerBy.Equal(want) {
		t.Fatalf("answer_by %s, want %s", asked.Postponement.AnswerBy, want)
	}
	w.e.Clock.Set(asked.Postponement.AnswerBy.Add(-time.Second))
	if n, err := matchingOf(w.e).ExpirePostponements(context.Background()); err != nil || n != 0 {
		t.Fatalf("sweep before answer_by: %d %v", n, err)
	}
	w.e.Clock.Set(asked.Postponement.AnswerBy)
	n, err := matchingOf(w.e).ExpirePostponements(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("sweep at answer_by: %d %v", n, err)
	}
	renew(w.e, &cora)
	status, body = w.curl("GET", "/v1/outings/"+second+"/history", cora, nil)
	w.want(status, body, 200)
	if !strings.Contains(string(body), "no answer in time") || !strings.Contains(string(body), `"to": "open"`) && !strings.Contains(string(body), `"to":"open"`) {
		t.Fatalf("history after the sweep: %s", body)
	}
	w.write("postpone-declined")
}

// The what-to-expect card: as the participant sees it, and a volunteer who
// is not the companion cannot (404). The 2 h reminder says it is ready and
// carries none of it.
func TestCareWalkExpectCard(t *testing.T) {
	w := newCareWorld(t)
	pia, vera, cora := w.person(auth.RoleParticipant, "pia"), w.person(auth.RoleVolunteer, "vera"), w.person(auth.RoleCoordinator, "cora")
	other := w.person(auth.RoleVolunteer, "olle")
	w.say("Vera writes a line about herself; one with a phone number is refused, saying why.")
	profile := map[string]any{"home": map[string]any{"lat": torgLat, "lon": torgLon}, "travel_radius_km": 50, "languages": []string{"sv", "en"},
		"gender": "female", "skills": []string{}, "max_outings_per_week": 21}
	profile["about"] = "Ring mig på 070-123 45 67 om du vill!"
	status, body := w.curl("PUT", "/v1/volunteers/me/profile", vera, profile)
	w.want(status, body, 422)
	if !strings.Contains(string(body), "phone number") {
		t.Fatalf("why: %s", body)
	}
	profile["about"] = "Jag är 34, gillar fika och långa promenader. Jag pratar gärna om hundar."
	status, body = w.curl("PUT", "/v1/volunteers/me/profile", vera, profile)
	w.want(status, body, 200)
	w.say("A coordinator sets whom to call.")
	status, body = w.curl("PUT", "/v1/organisations/"+w.org+"/contact", cora, map[string]any{"name": "Jouren, Röda Korset", "phone": "+46 35 12 34 56"})
	w.want(status, body, 200)
	start := testNow.Add(5 * time.Hour)
	id := w.confirmedOuting(pia, vera, cora, start)
	w.say("On the day, Vera says how to recognise her.")
	status, body = w.curl("PUT", "/v1/outings/"+id+"/recognise", vera, map[string]any{"text": "Grön halsduk och en röd ryggsäck"})
	w.want(status, body, 200)
	w.say("Pia reads the card:")
	status, body = w.curl("GET", "/v1/outings/"+id+"/expect", pia, nil)
	w.want(status, body, 200)
	var card struct {
		Companion    matching.CompanionCard `json:"companion"`
		MeetingPoint matching.PointView     `json:"meeting_point"`
		Contact      struct{ Name, Phone string }
	}
	_ = json.Unmarshal(body, &card)
	if card.Companion.FirstName != "Vera" || !strings.HasPrefix(card.Companion.About, "Jag är 34") || card.Companion.RecogniseBy != "Grön halsduk och en röd ryggsäck" ||
		card.MeetingPoint.Description != "Stora Torg, by the fountain" || card.Contact.Phone != "+46 35 12 34 56" {
		t.Fatalf("card: %s", body)
	}
	w.say("A volunteer who is not the companion gets no card, and learns nothing of the outing:")
	status, body = w.curl("GET", "/v1/outings/"+id+"/expect", other, nil)
	w.want(status, body, 404)
	w.say("Two hours before the start, the reminder says the card is ready (the push carries none of it):")
	w.e.Clock.Set(start.Add(-2 * time.Hour))
	got := w.pushesTo("pia", matching.EventReminder, 1)
	text := got[0].Notification.Title + " " + got[0].Notification.Body
	if !strings.Contains(text, "kort") {
		t.Fatalf("the 2 h reminder does not mention the card: %q", text)
	}
	for _, secret := range []string{"Vera", "halsduk", "Stora Torg", "35 12", "hundar"} {
		if strings.Contains(text, secret) {
			t.Fatalf("the push carries %q: %q", secret, text)
		}
	}
	w.write("expect-card")
}

// Stop and help: the same Idempotency-Key twice is one stop and one alert;
// coordinators' pushes as the fake FCM server received them.
func TestCareWalkStopAndHelp(t *testing.T) {
	w := newCareWorld(t)
	pia, vera, cora := w.person(auth.RoleParticipant, "pia"), w.person(auth.RoleVolunteer, "vera"), w.person(auth.RoleCoordinator, "cora")
	start := testNow.Add(20 * time.Minute)
	id := w.confirmedOuting(pia, vera, cora, start)
	w.e.Clock.Set(start)
	renew(w.e, &pia, &vera, &cora)
	done(t)(matchingOf(w.e).CheckIn(context.Background(), pia.Who, id))
	w.flush()
	w.fcm.Reset()
	w.say("During the outing Pia presses help; her phone was offline and sends the press twice with one key.")
	for i := 0; i < 2; i++ {
		status, body := w.curl("POST", "/v1/outings/"+id+"/help", pia, map[string]any{"note": "för mycket folk"}, "Idempotency-Key", "help-7f3a")
		w.want(status, body, 202)
	}
	w.flush()
	help := w.pushesTo("cora", matching.EventHelp, 1)
	if help[0].Data["priority"] != "urgent" || help[0].Data["outing_id"] != id || help[0].Android.Priority != "high" {
		t.Fatalf("the help push: %+v", help[0])
	}
	w.say("Vera ends the outing early for Pia; again the same key twice.")
	for i := 0; i < 2; i++ {
		status, body := w.curl("POST", "/v1/outings/"+id+"/stop", vera, map[string]any{"needed_by": "participant", "reason": "Pia ville hem"}, "Idempotency-Key", "stop-91c2")
		w.want(status, body, 200)
		if v := decodeOuting(t, body); v.Status != matching.StatusCompleted || !v.EndedEarly {
			t.Fatalf("after stop: %+v", v)
		}
	}
	w.flush()
	w.pushesTo("cora", matching.EventEndedEarly, 1)
	time.Sleep(100 * time.Millisecond) // a second alert would have been sent by now
	if n := w.fcm.CountBy("type"); n[matching.EventHelp] != 1 || n[matching.EventEndedEarly] != 1 {
		t.Fatalf("pushes by type %v, want one help alert and one ended_early", n)
	}
	w.say("Stopping again with a new key: the outing is no longer in progress.")
	status, body := w.curl("POST", "/v1/outings/"+id+"/stop", pia, map[string]any{"needed_by": "participant"}, "Idempotency-Key", "stop-other")
	w.want(status, body, 409)
	w.say("Every press is in the history:")
	status, body = w.curl("GET", "/v1/outings/"+id+"/history", cora, nil)
	w.want(status, body, 200)
	if strings.Count(string(body), "help pressed") != 1 || !strings.Contains(string(body), "ended early; needed by the participant") {
		t.Fatalf("history: %s", body)
	}
	w.write("stop-and-help")
}

// An expense recorded, one refused over the cap, one approved and one
// rejected (the volunteer told), and the CSV for payout.
func TestCareWalkExpenses(t *testing.T) {
	w := newCareWorld(t)
	pia, vera, cora := w.person(auth.RoleParticipant, "pia"), w.person(auth.RoleVolunteer, "vera"), w.person(auth.RoleCoordinator, "cora")
	start := testNow.Add(20 * time.Minute)
	id := w.confirmedOuting(pia, vera, cora, start)
	w.say("Before the outing is completed, no expense:")
	status, body := w.curl("POST", "/v1/outings/"+id+"/expenses", vera, map[string]any{"kind": "bus_ticket", "amount_ore": 3400})
	w.want(status, body, 409)
	ctx := context.Background()
	w.e.Clock.Set(start)
	renew(w.e, &pia, &vera, &cora)
	done(t)(matchingOf(w.e).CheckIn(ctx, pia.Who, id))
	done(t)(matchingOf(w.e).Complete(ctx, pia.Who, id))
	w.flush()
	w.fcm.Reset()
	w.say("The outing is completed; Vera records the bus and the coffee.")
	status, body = w.curl("POST", "/v1/outings/"+id+"/expenses", vera, map[string]any{"kind": "bus_ticket", "amount_ore": 6800, "note": "Buss 1, tur och retur, två personer"}, "Idempotency-Key", "exp-1")
	w.want(status, body, 201)
	var bus, cafe struct{ ID string }
	_ = json.Unmarshal(body, &bus)
	status, body = w.curl("POST", "/v1/outings/"+id+"/expenses", vera, map[string]any{"kind": "cafe", "amount_ore": 9000, "note": "=fika"})
	w.want(status, body, 201)
	_ = json.Unmarshal(body, &cafe)
	w.say("Over the outing's cap (CLAVIS_EXPENSE_MAX, 300 kr) is refused, nothing written:")
	status, body = w.curl("POST", "/v1/outings/"+id+"/expenses", vera, map[string]any{"kind": "entrance", "amount_ore": 15000})
	w.want(status, body, 422)
	w.say("The coordinator approves the bus and rejects the coffee with a reason.")
	status, body = w.curl("POST", "/v1/expenses/"+bus.ID+"/approve", cora, map[string]any{})
	w.want(status, body, 200)
	status, body = w.curl("POST", "/v1/expenses/"+cafe.ID+"/reject", cora, map[string]any{"reason": "Fika betalas av aktivitetskassan"})
	w.want(status, body, 200)
	w.pushesTo("vera", "expense.decided", 2)
	w.say("The approved expenses of the month, then as CSV for payout:")
	status, body = w.curl("GET", "/v1/organisations/"+w.org+"/expenses?status=approved&from=2026-11-01&to=2026-11-30", cora, nil)
	w.want(status, body, 200)
	status, body = w.curl("GET", "/v1/organisations/"+w.org+"/expenses?from=2026-11-01&to=2026-11-30", cora, nil, "Accept", "text/csv")
	w.want(status, body, 200)
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], bus.ID) || !strings.Contains(lines[1], ",6800,68.00,") || !strings.Contains(lines[1], "Vera Holm") {
		t.Fatalf("CSV: %s", body)
	}
	from, to := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if n, err := expensesOf(w.e).ApprovedOre(ctx, w.org, from, to); err != nil || n != 6800 {
		t.Fatalf("ApprovedOre = %d %v, want 6800", n, err)
	}
	w.say("Thirty days after the outing, no more expenses:")
	w.e.Clock.Set(start.Add(30*24*time.Hour + 2*time.Hour))
	renew(w.e, &vera)
	status, body = w.curl("POST", "/v1/outings/"+id+"/expenses", vera, map[string]any{"kind": "other", "amount_ore": 100})
	w.want(status, body, 409)
	w.write("expenses")
}
