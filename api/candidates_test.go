package api_test

import (
	"encoding/csv"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/matching"
)

// realPlace is a row of matching/testdata/places.csv (real places in
// Halmstad and Blekinge).
type realPlace struct {
	Name, Town, Kind string
	Lat, Lon         float64
}

func loadRealPlaces(t testing.TB) map[string]realPlace {
	t.Helper()
	f, err := os.Open("../matching/testdata/places.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("places.csv: %v", err)
	}
	out := map[string]realPlace{}
	for _, r := range rows[1:] {
		lat, err1 := strconv.ParseFloat(r[2], 64)
		lon, err2 := strconv.ParseFloat(r[3], 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("places.csv: bad row %v", r)
		}
		out[r[0]] = realPlace{Name: r[0], Town: r[1], Lat: lat, Lon: lon, Kind: r[4]}
	}
	return out
}

// profiledVolunteer is an active volunteer with availability all week and
// a profile at home with radius km.
func profiledVolunteer(e *testEnv, org string, home realPlace, radius float64, languages ...string) person {
	e.tb().Helper()
	v := newPerson(e, auth.RoleVolunteer, org)
	status, body := e.Call("PUT", "/v1/volunteers/me/availability", v.Token, everyDay)
	e.Want(status, body, 200)
	if len(languages) == 0 {
		languages = []string{"sv", "en"}
	}
	status, body = e.Call("PUT", "/v1/volunteers/me/profile", v.Token, map[string]any{
		"home": map[string]any{"lat": home.Lat, "lon": home.Lon}, "travel_radius_km": radius, "languages": languages,
		"gender": "female", "skills": []string{"public_transport"}, "max_outings_per_week": 3})
	e.Want(status, body, 200)
	return v
}

// requestAt asks for a two-hour outing at a real place through HTTP.
func requestAt(e *testEnv, p person, pl realPlace, start time.Time) matching.OutingView {
	e.tb().Helper()
	status, body := e.Call("POST", "/v1/outings", p.Token, map[string]any{
		"kind": pl.Kind, "note": "I get anxious on crowded buses",
		"starts_at": start.Format(time.RFC3339), "ends_at": start.Add(2 * time.Hour).Format(time.RFC3339),
		"meeting_point": map[string]any{"lat": pl.Lat, "lon": pl.Lon, "description": pl.Name + ", by the entrance"},
	})
	e.Want(status, body, 201)
	var v matching.OutingView
	e.Decode(body, &v)
	return v
}

type candidatesJSON struct {
	Items []struct {
		VolunteerID string             `json:"volunteer_id"`
		Name        string             `json:"name"`
		Score       float64            `json:"score"`
		DistanceKm  float64            `json:"distance_km"`
		Parts       map[string]float64 `json:"parts"`
		Reasons     []string           `json:"reasons"`
	} `json:"items"`
	NextCursor string `json:"next_cursor"`
	Excluded   []struct {
		VolunteerID string `json:"volunteer_id"`
		Name        string `json:"name"`
		Rule        string `json:"rule"`
		Message     string `json:"message"`
	} `json:"excluded"`
}

func TestCandidatesEndpointWithRealPlaces(t *testing.T) {
	e := newTestEnv(t)
	places := loadRealPlaces(t)
	org := e.Org("Röda Korset Halmstad")
	other := e.Org("Röda Korset Karlskrona")
	p := newPerson(e, auth.RoleParticipant, org)
	c := newPerson(e, auth.RoleCoordinator, org)
	cOther := newPerson(e, auth.RoleCoordinator, other)

	library := profiledVolunteer(e, org, places["Halmstad stadsbibliotek"], 5)       // 0.3 km from Stora Torg
	mall := profiledVolunteer(e, org, places["Hallarna köpcentrum"], 10)             // about 3 km
	beach := profiledVolunteer(e, org, places["Tylösand strand"], 3)                 // about 9 km: beyond 3 km
	english := profiledVolunteer(e, org, places["Halmstad Centralstation"], 5, "en") // near, but no Swedish
	profiledVolunteer(e, org, places["Karlskrona Stortorget"], 50)                   // Blekinge: never near
	profiledVolunteer(e, other, places["Stora Torg"], 5)                             // another organisation

	o := requestAt(e, p, places["Stora Torg"], e.Clock.Now().Add(50*time.Hour))
	path := "/v1/outings/" + o.ID + "/candidates"

	status, body := e.Call("GET", path+"?include_excluded=true&lang=en", c.Token, nil)
	e.Want(status, body, 200)
	var got candidatesJSON
	e.Decode(body, &got)
	var ids []string
	for _, it := range got.Items {
		ids = append(ids, it.VolunteerID)
		if it.Name != "Vera Holm" || it.Score <= 0 || it.Score > 100 || len(it.Reasons) == 0 || len(it.Parts) != 6 {
			t.Fatalf("item %+v", it)
		}
		for _, part := range []string{"distance", "continuity", "slack", "fairness", "feedback", "skills"} {
			if v, ok := it.Parts[part]; !ok || v < 0 || v > 1 {
				t.Fatalf("part %s = %v in %s", part, v, body)
			}
		}
	}
	if !slices.Equal(ids, []string{library.ID, mall.ID}) {
		t.Fatalf("candidates %v, want library %s then mall %s: %s", ids, library.ID, mall.ID, body)
	}
	if d := got.Items[0].DistanceKm; d > 0.5 || !strings.HasPrefix(got.Items[0].Reasons[0], fmt.Sprintf("%.1f km from the meeting point", d)) {
		t.Fatalf("nearest: %v km, reasons %v", d, got.Items[0].Reasons)
	}
	rules := map[string]string{}
	for _, x := range got.Excluded {
		rules[x.VolunteerID] = x.Rule
	}
	if want := map[string]string{beach.ID: "too_far", english.ID: "language"}; fmt.Sprint(rules) != fmt.Sprint(want) {
		t.Fatalf("excluded %v, want %v: %s", rules, want, body)
	}

	// The coordinator's language (sv) by default; no excluded list unless asked.
	status, body = e.Call("GET", path, c.Token, nil)
	e.Want(status, body, 200)
	if !strings.Contains(string(body), "km från mötesplatsen") || strings.Contains(string(body), `"excluded"`) {
		t.Fatalf("default answer: %s", body)
	}
	// A coordinator who reads English gets English, exclusions included.
	status, body = e.Call("PATCH", "/v1/me", c.Token, map[string]any{"language": "en"})
	e.Want(status, body, 200)
	status, body = e.Call("GET", path+"?include_excluded=true", c.Token, nil)
	e.Want(status, body, 200)
	for _, want := range []string{"km from the meeting point", "the meeting point is beyond their travel radius", "does not speak the requested language"} {
		if !strings.Contains(string(body), want) || strings.Contains(string(body), "mötesplatsen") {
			t.Fatalf("english coordinator: no %q: %s", want, body)
		}
	}
	// Bounded and paged.
	status, body = e.Call("GET", path+"?limit=1", c.Token, nil)
	e.Want(status, body, 200)
	var first candidatesJSON
	e.Decode(body, &first)
	if len(first.Items) != 1 || first.NextCursor == "" {
		t.Fatalf("limit=1: %s", body)
	}
	status, body = e.Call("GET", path+"?limit=1&cursor="+first.NextCursor, c.Token, nil)
	e.Want(status, body, 200)
	var second candidatesJSON
	e.Decode(body, &second)
	if len(second.Items) != 1 || second.Items[0].VolunteerID != mall.ID || second.NextCursor != "" {
		t.Fatalf("second page: %s", body)
	}
	for _, bad := range []string{"?limit=0", "?limit=101", "?include_excluded=yes", "?lang=de", "?cursor=xyz"} {
		status, body = e.Call("GET", path+bad, c.Token, nil)
		e.Want(status, body, 422)
	}

	// Who may ask: another organisation's coordinator does not learn the
	// outing exists; volunteers and participants may not ask.
	status, body = e.Call("GET", path, cOther.Token, nil)
	e.Want(status, body, 404)
	status, body = e.Call("GET", path, library.Token, nil)
	e.Want(status, body, 403)
	status, body = e.Call("GET", path, p.Token, nil)
	e.Want(status, body, 403)
	status, body = e.Call("GET", "/v1/outings/"+strings.Repeat("0", 24)+"/candidates", c.Token, nil)
	e.Want(status, body, 404)
}

func TestOffersEndpointLimitedViewAndStaleAccept(t *testing.T) {
	e := newTestEnv(t)
	places := loadRealPlaces(t)
	org := e.Org("Röda Korset Halmstad")
	p := newPerson(e, auth.RoleParticipant, org) // Pia Lindqvist
	q := newPerson(e, auth.RoleParticipant, org)
	v := profiledVolunteer(e, org, places["Halmstad stadsbibliotek"], 10)
	start := e.Clock.Now().Add(50 * time.Hour)
	a := requestAt(e, p, places["Stora Torg"], start)
	b := requestAt(e, q, places["Halmstad Centralstation"], start.Add(30*time.Minute))
	requestAt(e, q, places["Karlskrona Stortorget"], start.Add(24*time.Hour)) // beyond the radius

	status, body := e.Call("GET", "/v1/volunteers/me/offers", v.Token, nil)
	e.Want(status, body, 200)
	text := string(body)
	for _, secret := range []string{"anxious", "Lindqvist", "by the entrance", `"meeting_point"`, `"note"`,
		strconv.FormatFloat(places["Stora Torg"].Lat, 'f', -1, 64), strconv.FormatFloat(places["Halmstad Centralstation"].Lon, 'f', -1, 64)} {
		if strings.Contains(text, secret) {
			t.Fatalf("the offers list shows %q: %s", secret, text)
		}
	}
	var page struct {
		Items []struct {
			ID              string  `json:"id"`
			Score           float64 `json:"score"`
			Limited         bool    `json:"limited"`
			ParticipantName string  `json:"participant_name"`
			Area            *struct {
				Lat, Lon float64
			} `json:"area"`
		} `json:"items"`
	}
	e.Decode(body, &page)
	if len(page.Items) != 2 {
		t.Fatalf("offers: %s", body)
	}
	for _, it := range page.Items {
		if !it.Limited || it.Area == nil || it.Score <= 0 || it.ParticipantName != "Pia" || (it.ID != a.ID && it.ID != b.ID) {
			t.Fatalf("offer %+v", it)
		}
	}

	// Taking one makes the other, at the same time, a stale offer: 409.
	status, body = e.Call("POST", "/v1/outings/"+a.ID+"/accept", v.Token, nil)
	e.Want(status, body, 200)
	status, body = e.Call("POST", "/v1/outings/"+b.ID+"/accept", v.Token, nil)
	e.Want(status, body, 409)
	status, body = e.Call("GET", "/v1/volunteers/me/offers", v.Token, nil)
	e.Want(status, body, 200)
	if !strings.Contains(string(body), `"items":[]`) {
		t.Fatalf("offers after taking one at that time: %s", body)
	}
	// A volunteer too far away is not a candidate: 403.
	far := profiledVolunteer(e, org, places["Tylösand strand"], 2)
	status, body = e.Call("POST", "/v1/outings/"+b.ID+"/accept", far.Token, nil)
	e.Want(status, body, 403)
}

func TestPreferencesEndpoints(t *testing.T) {
	e := newTestEnv(t)
	places := loadRealPlaces(t)
	org := e.Org("Röda Korset Halmstad")
	other := e.Org("Röda Korset Karlskrona")
	p := newPerson(e, auth.RoleParticipant, org)
	c := newPerson(e, auth.RoleCoordinator, org)
	v := profiledVolunteer(e, org, places["Halmstad stadsbibliotek"], 10)
	w := profiledVolunteer(e, org, places["Stora Torg"], 10)
	foreign := profiledVolunteer(e, other, places["Stora Torg"], 10)

	status, body := e.Call("PUT", "/v1/participants/me/volunteers/"+v.ID, p.Token, map[string]any{"preference": "never"})
	e.Want(status, body, 200)
	if !strings.Contains(string(body), `"preference":"never"`) || !strings.Contains(string(body), `"name":"Vera"`) {
		t.Fatalf("put: %s", body)
	}
	status, body = e.Call("PUT", "/v1/participants/me/volunteers/"+w.ID, p.Token, map[string]any{"preference": "preferred"})
	e.Want(status, body, 422) // no completed outing together
	if e.Problem(body).Errors[0].Field != "preference" {
		t.Fatalf("problem %s", body)
	}
	status, body = e.Call("PUT", "/v1/participants/me/volunteers/"+w.ID, p.Token, map[string]any{"preference": "always"})
	e.Want(status, body, 422)
	status, body = e.Call("PUT", "/v1/participants/me/volunteers/"+foreign.ID, p.Token, map[string]any{"preference": "never"})
	e.Want(status, body, 404)

	status, body = e.Call("GET", "/v1/participants/me/volunteers", p.Token, nil)
	e.Want(status, body, 200)
	var list matching.PreferencePage
	e.Decode(body, &list)
	if len(list.Items) != 1 || list.Items[0].VolunteerID != v.ID || list.Items[0].Preference != "never" {
		t.Fatalf("list %s", body)
	}

	o := requestAt(e, p, places["Stora Torg"], e.Clock.Now().Add(50*time.Hour))
	status, body = e.Call("GET", "/v1/outings/"+o.ID+"/candidates?include_excluded=true", c.Token, nil)
	e.Want(status, body, 200)
	var cands candidatesJSON
	e.Decode(body, &cands)
	if len(cands.Items) != 1 || cands.Items[0].VolunteerID != w.ID || len(cands.Excluded) != 1 || cands.Excluded[0].Rule != "blocked" {
		t.Fatalf("candidates with a never-again: %s", body)
	}
	// The blocked volunteer is not told why: to them the outing is not there.
	status, body = e.Call("POST", "/v1/outings/"+o.ID+"/accept", v.Token, nil)
	e.Want(status, body, 404)
	if strings.Contains(string(body), "participant") {
		t.Fatalf("the refusal tells the volunteer about the participant's choice: %s", body)
	}

	status, body = e.Call("DELETE", "/v1/participants/me/volunteers/"+v.ID, p.Token, nil)
	e.Want(status, body, 204)
	status, body = e.Call("GET", "/v1/participants/me/volunteers", p.Token, nil)
	e.Want(status, body, 200)
	if !strings.Contains(string(body), `"items":[]`) {
		t.Fatalf("list after delete: %s", body)
	}
	status, body = e.Call("POST", "/v1/outings/"+o.ID+"/accept", v.Token, nil)
	e.Want(status, body, 200)
}
