package matching

import (
	"context"
	"encoding/csv"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
)

// BenchmarkPrefilter is the candidates' prefilter on SQLite with the
// volunteers of BenchmarkCandidatesEndpoint (10 000 around the places of
// testdata/places.csv, radii 2–30 km), for a meeting point at Stora Torg:
// "wide" is every volunteer in the cells (what include_excluded reads, and
// what every request read before the reach test), "reaching" leaves out in
// SQL those whose own radius certainly does not reach the point.
//
//	go test -run '^$' -bench BenchmarkPrefilter ./matching/
func BenchmarkPrefilter(b *testing.B) {
	ctx := context.Background()
	st, err := NewSQLiteStore(ctx, sqlitetest.New(b))
	if err != nil {
		b.Fatal(err)
	}
	places := benchPlaceList(b)
	rng := mrand.New(mrand.NewPCG(10, 10000))
	for i := range 10000 {
		pl := places[rng.IntN(len(places))]
		home := GeoPoint{Lat: pl.Lat + (rng.Float64()*2-1)*0.22, Lon: pl.Lon + (rng.Float64()*2-1)*0.40}
		if _, err := st.UpdateVolunteer(ctx, fmt.Sprintf("v%05d", i), true, func(p *VolunteerProfile) (bool, error) {
			p.OrgID, p.Status, p.HasProfile, p.Home, p.HomeCell = "org1", auth.StatusActive, true, home, HomeCell(home.Lat, home.Lon)
			p.TravelRadiusKm, p.Languages, p.Gender, p.MaxOutingsPerWeek = float64(2+rng.IntN(29)), []string{"sv"}, "female", 2
			p.Commitments = []Commitment{}
			return true, nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	at := places[1] // Stora Torg
	for _, c := range []struct {
		name  string
		reach *GeoPoint
	}{{"wide", nil}, {"reaching", &at}} {
		b.Run(c.name, func(b *testing.B) {
			q := VolunteerQuery{OrgID: "org1", Status: auth.StatusActive, Cells: CellsCovering(at.Lat, at.Lon, MaxTravelRadiusKm),
				WithProfile: true, Limit: MaxCandidatePool, Reach: c.reach}
			var n, within int
			for b.Loop() {
				ps, err := st.VolunteersInCells(ctx, q)
				if err != nil {
					b.Fatal(err)
				}
				n, within = len(ps), 0
				for i := range ps {
					if DistanceKm(at.Lat, at.Lon, ps[i].Home.Lat, ps[i].Home.Lon) <= ps[i].TravelRadiusKm {
						within++
					}
				}
			}
			b.ReportMetric(float64(n), "profiles")
			b.ReportMetric(float64(within), "within-radius")
		})
	}
}

// BenchmarkOpenOutingsNear is the offers' query on SQLite with 20 000 open
// outings spread over the places of testdata/places.csv in the next 60
// days, for a volunteer at Stora Torg with a radius of 10 km.
//
//	go test -run '^$' -bench BenchmarkOpenOutingsNear ./matching/
func BenchmarkOpenOutingsNear(b *testing.B) {
	ctx := context.Background()
	st, err := NewSQLiteStore(ctx, sqlitetest.New(b))
	if err != nil {
		b.Fatal(err)
	}
	places := benchPlaceList(b)
	rng := mrand.New(mrand.NewPCG(10, 20000))
	for i := range 20000 {
		pl := places[rng.IntN(len(places))]
		start := contractNow.Add(time.Duration(1+rng.IntN(60*24)) * time.Hour)
		o := contractOuting(fmt.Sprintf("o%05d", i), fmt.Sprintf("p%03d", rng.IntN(500)), start, contractNow)
		o.MeetingPoint.Lat, o.MeetingPoint.Lon = pl.Lat+(rng.Float64()*2-1)*0.22, pl.Lon+(rng.Float64()*2-1)*0.40
		if err := st.InsertOuting(ctx, o); err != nil {
			b.Fatal(err)
		}
	}
	box := boxAround(places[1], 10)
	var n int
	for b.Loop() {
		os, err := st.OpenOutingsNear(ctx, "org1", box, contractNow, maxOfferPool)
		if err != nil {
			b.Fatal(err)
		}
		n = len(os)
	}
	b.ReportMetric(float64(n), "outings")
}

func benchPlaceList(b *testing.B) []GeoPoint {
	f, err := os.Open("testdata/places.csv")
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		b.Fatal(err)
	}
	var places []GeoPoint
	for _, r := range rows[1:] {
		lat, _ := strconv.ParseFloat(r[2], 64)
		lon, _ := strconv.ParseFloat(r[3], 64)
		places = append(places, GeoPoint{Lat: lat, Lon: lon})
	}
	return places
}
