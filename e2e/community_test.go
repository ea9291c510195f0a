package e2e

import (
	"fmt"
	"testing"
	"time"
)

// community is one organisation made through the API: a coordinator and
// n participants and volunteers, all active, with profiles under which
// every volunteer is a candidate for every outing at meetingPoint.
type community struct {
	orgID        string
	admin, coord string
	participants []person
	volunteers   []person
}

type person struct{ id, email, token string }

var meetingPoint = map[string]any{"lat": 56.6744, "lon": 12.8578, "description": "Stora Torg"}

// fullWeek is availability that covers any outing.
func fullWeek() []map[string]string {
	var weekly []map[string]string
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		weekly = append(weekly, map[string]string{"weekday": d, "start": "00:00", "end": "24:00"})
	}
	return weekly
}

func volunteerProfile(radiusKm int) map[string]any {
	return map[string]any{"home": map[string]any{"lat": 56.670, "lon": 12.860}, "travel_radius_km": radiusKm,
		"languages": []string{"sv", "en"}, "gender": "female", "skills": []string{}, "max_outings_per_week": 21}
}

// newCommunity builds the organisation, spreading the calls over servers
// (all on one database) round-robin.
func newCommunity(t testing.TB, tag string, nPart, nVol int, servers ...*server) *community {
	t.Helper()
	at := func(i int) *server { return servers[i%len(servers)] }
	c := &community{admin: at(0).login(t, adminEmail, adminPassword)}
	var org struct{ ID string }
	at(0).call(t, "POST", "/v1/organisations", c.admin, map[string]any{"name": "E2E " + tag, "time_zone": "Europe/Stockholm"}, 201, &org)
	c.orgID = org.ID
	coordEmail := "coord-" + tag + "@e2e.clavis.test"
	at(0).call(t, "POST", "/v1/organisations/"+org.ID+"/coordinators", c.admin,
		map[string]any{"email": coordEmail, "password": userPassword, "name": "Cora Berg", "language": "sv"}, 201, nil)
	c.coord = at(1).login(t, coordEmail, userPassword)
	register := func(i int, role string) person {
		p := person{email: fmt.Sprintf("%s%d-%s@e2e.clavis.test", role, i, tag)}
		var u struct{ ID string }
		at(i).call(t, "POST", "/v1/auth/register", "", map[string]any{"email": p.email, "password": userPassword,
			"name": fmt.Sprintf("Name%d %s", i, role), "role": role, "organisation_id": org.ID, "language": "sv"}, 201, &u)
		p.id = u.ID
		at(i+1).call(t, "POST", "/v1/organisations/"+org.ID+"/members/"+p.id+"/approve", c.coord, map[string]any{"note": "vetted"}, 200, nil)
		p.token = at(i).login(t, p.email, userPassword)
		return p
	}
	for i := range nPart {
		p := register(i, "participant")
		at(i).call(t, "PUT", "/v1/participants/me/profile", p.token, map[string]any{"languages": []string{"sv"}, "companion_gender": "any"}, 200, nil)
		c.participants = append(c.participants, p)
	}
	for i := range nVol {
		v := register(i, "volunteer")
		at(i).call(t, "PUT", "/v1/volunteers/me/profile", v.token, volunteerProfile(10), 200, nil)
		at(i+1).call(t, "PUT", "/v1/volunteers/me/availability", v.token,
			map[string]any{"time_zone": "Europe/Stockholm", "weekly": fullWeek(), "exceptions": []any{}}, 200, nil)
		c.volunteers = append(c.volunteers, v)
	}
	return c
}

// newOuting is the body of POST /v1/outings for a one-hour cafe outing.
func newOuting(start time.Time) map[string]any {
	return map[string]any{"kind": "cafe", "starts_at": start.UTC().Format(time.RFC3339),
		"ends_at": start.Add(time.Hour).UTC().Format(time.RFC3339), "language": "sv", "meeting_point": meetingPoint}
}

type outingView struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	VolunteerID string `json:"volunteer_id"`
}

type historyItem struct {
	From string `json:"from"`
	To   string `json:"to"`
}
