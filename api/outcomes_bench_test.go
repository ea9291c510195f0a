package api_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/outcomes"
)

// BenchmarkOutcomeReport: the report for one year of an organisation with
// 300 participants, 100 volunteers, 10 000 outings (with their feedback),
// 50 groups and 3 000 check-ins, through HTTP on SQLite. Goal: median
// under 200 ms. Each iteration makes 21 reports and reports their median
// (median-ms); run with -benchtime=1x (the data takes a while to build).
func BenchmarkOutcomeReport(b *testing.B) {
	e := buildTestEnv(b, nil)
	ctx := context.Background()
	o, err := e.Auth.CreateOrganisation(ctx, "Klara Livet Göteborg", "Europe/Stockholm")
	if err != nil {
		b.Fatal(err)
	}
	org := o.ID
	seq := 0
	user := func(role auth.Role) string {
		seq++
		u, err := e.Auth.CreateUser(ctx, auth.NewUser{Email: fmt.Sprintf("bench-%d@example.org", seq), Password: testPassword,
			Name: "Bench User", Role: role, OrgID: org, Language: "sv", Status: auth.StatusActive})
		if err != nil {
			b.Fatal(err)
		}
		return u.ID
	}
	coord, err := e.Auth.IssueAccessToken(ctx, user(auth.RoleCoordinator))
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 15))
	var ps, vs []string
	for range 300 {
		id := user(auth.RoleParticipant)
		ps = append(ps, id)
		g := []string{"female", "male", "other", "unspecified"}[rng.IntN(4)]
		if _, err := e.Matching.UpdateParticipant(ctx, id, func(p *matching.ParticipantProfile) {
			p.OrgID, p.Languages, p.CompanionGender, p.Gender = org, []string{"sv"}, "any", g
		}); err != nil {
			b.Fatal(err)
		}
	}
	for range 100 {
		id := user(auth.RoleVolunteer)
		vs = append(vs, id)
	}
	year := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	statuses := []matching.OutingStatus{matching.StatusCompleted, matching.StatusCompleted, matching.StatusCompleted, matching.StatusCompleted,
		matching.StatusCompleted, matching.StatusCompleted, matching.StatusCompleted, matching.StatusCancelled, matching.StatusExpired, matching.StatusConfirmed}
	for i := range 10_000 {
		created := year.Add(time.Duration(rng.Int64N(int64(360 * 24 * time.Hour))))
		start := created.Add(48 * time.Hour)
		p := ps[rng.IntN(len(ps))]
		st := statuses[rng.IntN(len(statuses))]
		o := &matching.Outing{ID: fmt.Sprintf("bench-%05d", i), ParticipantID: p, OrgID: org, Kind: matching.KindWalk,
			StartsAt: start, EndsAt: start.Add(90 * time.Minute), CompanionGender: "any", Language: "sv", Status: st,
			MeetingPoint: matching.MeetingPoint{Lat: 57.7, Lon: 11.97, Description: "Järntorget"},
			CreatedAt:    created, CreatedBy: p, UpdatedAt: created, Version: 1,
			History:            []matching.HistoryEntry{{At: created, ActorID: p, To: matching.StatusOpen}},
			ExcludedVolunteers: []string{}, DeclinedBy: []string{}, PendingEvents: []matching.Event{}}
		if st == matching.StatusCompleted || st == matching.StatusConfirmed {
			o.VolunteerID = vs[rng.IntN(len(vs))]
			o.History = append(o.History, matching.HistoryEntry{At: created.Add(time.Duration(rng.IntN(600)) * time.Minute), ActorID: "c",
				From: matching.StatusPendingApproval, To: matching.StatusConfirmed})
		}
		if err := e.Matching.InsertOuting(ctx, o); err != nil {
			b.Fatal(err)
		}
		if st == matching.StatusCompleted {
			before, after := 1+rng.IntN(5), 1+rng.IntN(5)
			if err := e.Matching.InsertFeedback(ctx, &matching.Feedback{ID: o.ID + ":p", OutingID: o.ID, OrgID: org, AuthorID: p,
				AuthorRole: auth.RoleParticipant, ParticipantID: p, VolunteerID: o.VolunteerID, Rating: 4,
				ComfortBefore: &before, ComfortAfter: &after, CreatedAt: o.EndsAt}); err != nil {
				b.Fatal(err)
			}
		}
	}
	v, _ := envOutcomes.Load(e)
	st := v.(outcomes.Store)
	for i := range 3_000 {
		if err := st.InsertCheckin(ctx, &outcomes.Checkin{ID: fmt.Sprintf("bc-%d", i), UserID: ps[i%len(ps)], OrgID: org,
			At: year.Add(time.Duration(i) * 3 * time.Hour), Confidence: 1 + rng.IntN(5), Social: 1 + rng.IntN(5), Occupation: 1 + rng.IntN(5)}); err != nil {
			b.Fatal(err)
		}
	}
	// 50 groups of 10: the groups package's own query is not on this
	// branch; its rows stand in.
	g := &fakeGroups{}
	for i := range 500 {
		g.rows = append(g.rows, outcomes.GroupEnrolment{EnrolmentID: fmt.Sprint("ge-", i), ParticipantID: ps[i%len(ps)], Completed: i%3 != 0})
	}
	envGroupStandIns.Store(e, g)

	path := "/v1/organisations/" + org + "/reports/outcomes?from=2026-01-01&to=2026-12-31"
	b.ResetTimer()
	var times []time.Duration
	for range b.N {
		for range 21 {
			req, _ := http.NewRequest("GET", path, nil)
			req.Header.Set("Authorization", "Bearer "+coord)
			t0 := time.Now()
			res, err := e.Srv.App.Test(req, -1)
			d := time.Since(t0)
			if err != nil || res.StatusCode != 200 {
				b.Fatalf("report: %v %v", err, res)
			}
			res.Body.Close()
			times = append(times, d)
		}
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(times[len(times)-1].Microseconds())/1000, "max-ms")
}
