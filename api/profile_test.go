package api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/matching"
)

var goodVolunteerProfile = map[string]any{
	"home": map[string]any{"lat": 56.6718, "lon": 12.8614}, "travel_radius_km": 8.5, "languages": []string{"sv", "en"},
	"gender": "female", "skills": []string{"Public_Transport", "walking"}, "max_outings_per_week": 3,
}

func withField(base map[string]any, k string, v any) map[string]any {
	out := map[string]any{}
	for kk, vv := range base {
		out[kk] = vv
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

func TestVolunteerProfileAndAvailability(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	// A pending volunteer may set a profile before being vetted.
	id, tok := e.User(auth.RoleVolunteer, org, auth.StatusPending)
	status, body := e.Call("PUT", "/v1/volunteers/me/profile", tok, goodVolunteerProfile)
	e.Want(status, body, 200)
	for _, s := range []string{`"user_id":"` + id + `"`, `"travel_radius_km":8.5`, `"skills":["public_transport","walking"]`, `"home":{"lat":56.6718,"lon":12.8614}`} {
		if !strings.Contains(string(body), s) {
			t.Fatalf("profile answer lacks %s: %s", s, body)
		}
	}
	doc, err := e.Matching.Volunteer(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if doc.HomeCell != matching.HomeCell(56.6718, 12.8614) || doc.OrgID != org || doc.Status != auth.StatusPending {
		t.Fatalf("stored profile: cell %q org %q status %q", doc.HomeCell, doc.OrgID, doc.Status)
	}

	// Availability without a time zone takes the organisation's.
	status, body = e.Call("PUT", "/v1/volunteers/me/availability", tok, map[string]any{
		"weekly":     []map[string]string{{"weekday": "mon", "start": "09:00", "end": "12:00"}, {"weekday": "sun", "start": "20:00", "end": "24:00"}},
		"exceptions": []map[string]string{{"from": "2026-12-20T00:00:00+01:00", "to": "2027-01-06T00:00:00+01:00"}},
	})
	e.Want(status, body, 200)
	if !strings.Contains(string(body), `"time_zone":"Europe/Stockholm"`) || !strings.Contains(string(body), `"end":"24:00"`) {
		t.Fatalf("availability answer: %s", body)
	}
	// The profile survives an availability write and vice versa.
	if doc, err = e.Matching.Volunteer(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if doc.Availability == nil || len(doc.Availability.Weekly) != 2 || doc.TravelRadiusKm != 8.5 {
		t.Fatalf("stored after both writes: %+v", doc)
	}
}

func TestBadProfileInputNamesTheFieldAndWritesNothing(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	v := newPerson(e, auth.RoleVolunteer, org)
	p := newPerson(e, auth.RoleParticipant, org)
	c := newPerson(e, auth.RoleCoordinator, org)
	slot := func(d, s, en string) map[string]string { return map[string]string{"weekday": d, "start": s, "end": en} }
	avail := func(tz string, weekly []map[string]string, exc []map[string]string) map[string]any {
		return map[string]any{"time_zone": tz, "weekly": weekly, "exceptions": exc}
	}
	cases := []struct {
		name, path string
		who        person
		body       any
		field      string
	}{
		{"no home", "/v1/volunteers/me/profile", v, withField(goodVolunteerProfile, "home", nil), "home"},
		{"home latitude", "/v1/volunteers/me/profile", v, withField(goodVolunteerProfile, "home", map[string]any{"lat": 100, "lon": 12}), "home.lat"},
		{"home without lon", "/v1/volunteers/me/profile", v, withField(goodVolunteerProfile, "home", map[string]any{"lat": 56}), "home.lon"},
		{"radius 0", "/v1/volunteers/me/profile", v, withField(goodVolunteerProfile, "travel_radius_km", 0), "travel_radius_km"},
		{"radius 51", "/v1/volunteers/me/profile", v, withField(goodVolunteerProfile, "travel_radius_km", 51), "travel_radius_km"},
		{"no languages", "/v1/volunteers/me/profile", v, withField(goodVolunteerProfile, "languages", []string{}), "languages"},
		{"unknown language", "/v1/volunteers/me/profile", v, withField(goodVolunteerProfile, "languages", []string{"sv", "de"}), "languages[1]"},
		{"gender", "/v1/volunteers/me/profile", v, withField(goodVolunteerProfile, "gender", "robot"), "gender"},
		{"empty skill", "/v1/volunteers/me/profile", v, withField(goodVolunteerProfile, "skills", []string{"walking", ""}), "skills[1]"},
		{"weekly cap", "/v1/volunteers/me/profile", v, withField(goodVolunteerProfile, "max_outings_per_week", 0), "max_outings_per_week"},
		{"reversed slot", "/v1/volunteers/me/availability", v, avail("Europe/Stockholm", []map[string]string{slot("mon", "09:00", "12:00"), slot("tue", "14:00", "13:00")}, nil), "weekly[1].end"},
		{"overlapping slots", "/v1/volunteers/me/availability", v, avail("Europe/Stockholm", []map[string]string{slot("mon", "09:00", "12:00"), slot("mon", "11:00", "13:00")}, nil), "weekly[1].start"},
		{"weekday", "/v1/volunteers/me/availability", v, avail("Europe/Stockholm", []map[string]string{slot("monday", "09:00", "12:00")}, nil), "weekly[0].weekday"},
		{"start format", "/v1/volunteers/me/availability", v, avail("Europe/Stockholm", []map[string]string{slot("mon", "9:00", "12:00")}, nil), "weekly[0].start"},
		{"end past 24:00", "/v1/volunteers/me/availability", v, avail("Europe/Stockholm", []map[string]string{slot("mon", "20:00", "24:30")}, nil), "weekly[0].end"},
		{"time zone", "/v1/volunteers/me/availability", v, avail("Europe/Halmstad", nil, nil), "time_zone"},
		{"absence reversed", "/v1/volunteers/me/availability", v, avail("Europe/Stockholm", nil, []map[string]string{{"from": "2026-12-24T00:00:00+01:00", "to": "2026-12-23T00:00:00+01:00"}}), "exceptions[0].to"},
		{"absence time", "/v1/volunteers/me/availability", v, avail("Europe/Stockholm", nil, []map[string]string{{"from": "christmas", "to": "2026-12-23T00:00:00+01:00"}}), "exceptions[0].from"},
		{"participant languages", "/v1/participants/me/profile", p, map[string]any{"companion_gender": "any"}, "languages"},
		{"participant companion gender", "/v1/participants/me/profile", p, map[string]any{"languages": []string{"sv"}, "companion_gender": "robot"}, "companion_gender"},
		{"support needs too long", "/v1/participants/" + p.ID + "/support-needs", c, map[string]any{"support_needs": strings.Repeat("s", 2001)}, "support_needs"},
	}
	for _, tc := range cases {
		status, body := e.Call("PUT", tc.path, tc.who.Token, tc.body)
		wantField(t, e, tc.name, status, body, tc.field)
	}
	for _, coll := range []string{matching.CollVolunteers, matching.CollParticipants} {
		if n := count(t, e, coll); n != 0 {
			t.Fatalf("%d documents in %s after bad requests", n, coll)
		}
	}
	// Another organisation's participant, or a volunteer, is not the coordinator's to describe.
	other := e.Org("Stadsmissionen Göteborg")
	foreign := newPerson(e, auth.RoleParticipant, other)
	for _, target := range []string{foreign.ID, v.ID, "no-such-user"} {
		status, body := e.Call("PUT", "/v1/participants/"+target+"/support-needs", c.Token, map[string]any{"support_needs": "x"})
		e.Want(status, body, 404)
	}
}
