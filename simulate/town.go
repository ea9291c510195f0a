// Package simulate runs one town for a period through the real matching
// services (outings, offer waves, expiry, on a temporary SQLite store with a
// fake clock), once with Clavis's ranking and once with nearest-first, and
// reports the figures side by side (`clavis simulate`, docs/simulate.md).
package simulate

import (
	_ "embed"
	"encoding/csv"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/matching/availability"
)

// halmstadCSV holds the Halmstad rows of the project's list of places.
//
//go:embed halmstad.csv
var halmstadCSV string

// The town's fixed parameters (issue 17); docs/simulate.md explains them.
const (
	homeJitterMinKm   = 0.5
	homeJitterMaxKm   = 3.0
	slotLength        = 3 * time.Hour
	slotFirstStart    = 9 * time.Hour  // slots start from 09:00 ...
	slotLastStart     = 17 * time.Hour // ... to 17:00, in quarter hours, so they end by 20:00
	radiusMinKm       = 5.0
	radiusMaxKm       = 15.0
	requestsPerWeek   = 1.5
	outingLength      = 2 * time.Hour
	meetingWithinKm   = 3.0
	requestFirstStart = 9 * time.Hour  // outings start 09:00 ...
	requestLastStart  = 18 * time.Hour // ... to 18:00, in quarter hours
	timeZone          = "Europe/Stockholm"
	// Slots and outings start on the quarter hour: both on the same grid,
	// so that no start time is out of every slot's reach by construction.
	quarter = 15 * time.Minute
)

func hhmm(d time.Duration) string {
	return fmt.Sprintf("%02d:%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// Place is a meeting point.
type Place struct {
	Name     string
	Lat, Lon float64
	Kind     matching.OutingKind
}

// Places returns the Halmstad places the town is built on.
func Places() ([]Place, error) {
	rows, err := csv.NewReader(strings.NewReader(halmstadCSV)).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("halmstad.csv: %w", err)
	}
	var out []Place
	for _, r := range rows[1:] {
		lat, err1 := strconv.ParseFloat(r[2], 64)
		lon, err2 := strconv.ParseFloat(r[3], 64)
		if err1 != nil || err2 != nil || len(r) != 5 {
			return nil, fmt.Errorf("halmstad.csv: bad row %v", r)
		}
		out = append(out, Place{Name: r[0], Lat: lat, Lon: lon, Kind: matching.OutingKind(r[4])})
	}
	return out, nil
}

type volunteer struct {
	id       string
	home     matching.GeoPoint
	radiusKm float64
	weekCap  int
	slots    []availability.SlotSpec
}

type participant struct {
	id   string
	home matching.GeoPoint
}

// request is one outing a participant asks for.
type request struct {
	idx         int
	participant int
	createdAt   time.Time
	startsAt    time.Time
	place       Place
}

// town is everything drawn from the seed; both rankings see the same one.
type town struct {
	volunteers   []volunteer
	participants []participant
	requests     []request
}

var weekdays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

// jitter returns a point distKm from (lat, lon) in direction bearing.
func jitter(lat, lon, distKm, bearing float64) matching.GeoPoint {
	const kmPerDegLat = 111.195
	dLat := distKm * math.Cos(bearing) / kmPerDegLat
	dLon := distKm * math.Sin(bearing) / (kmPerDegLat * math.Cos(lat*math.Pi/180))
	return matching.GeoPoint{Lat: lat + dLat, Lon: lon + dLon}
}

func home(r *rand.Rand, places []Place) matching.GeoPoint {
	p := places[r.IntN(len(places))]
	return jitter(p.Lat, p.Lon, homeJitterMinKm+r.Float64()*(homeJitterMaxKm-homeJitterMinKm), r.Float64()*2*math.Pi)
}

// buildTown draws the town. start is a Monday midnight in timeZone.
func buildTown(cfg Config, places []Place, start time.Time) town {
	r := rand.New(rand.NewPCG(uint64(cfg.Seed), 0x70776e))
	loc := start.Location()
	var t town
	for i := range cfg.Volunteers {
		v := volunteer{id: fmt.Sprintf("vol-%04d", i+1), home: home(r, places)}
		v.radiusKm = math.Round((radiusMinKm+r.Float64()*(radiusMaxKm-radiusMinKm))*10) / 10
		v.weekCap = 2 + r.IntN(3)
		days := r.Perm(7)[:2+r.IntN(2)]
		for _, d := range days {
			from := slotFirstStart + time.Duration(r.IntN(int((slotLastStart-slotFirstStart)/quarter)+1))*quarter
			v.slots = append(v.slots, availability.SlotSpec{Weekday: weekdays[d], Start: hhmm(from), End: hhmm(from + slotLength)})
		}
		t.volunteers = append(t.volunteers, v)
	}
	end := start.AddDate(0, 0, cfg.Days)
	meanGap := float64(7*24*time.Hour) / requestsPerWeek
	for j := range cfg.Participants {
		p := participant{id: fmt.Sprintf("par-%04d", j+1), home: home(r, places)}
		t.participants = append(t.participants, p)
		var near []Place
		for _, pl := range places {
			if matching.DistanceKm(p.home.Lat, p.home.Lon, pl.Lat, pl.Lon) <= meetingWithinKm {
				near = append(near, pl)
			}
		}
		if len(near) == 0 { // cannot happen: a home is at most 3 km from its place
			near = places
		}
		// A Poisson process: exponential gaps, to the minute.
		at := start
		for {
			at = at.Add(time.Duration(r.ExpFloat64() * meanGap)).Truncate(time.Minute)
			if !at.Before(end) {
				break
			}
			local := at.In(loc)
			day := time.Date(local.Year(), local.Month(), local.Day()+1+r.IntN(7), 0, 0, 0, 0, loc)
			startsAt := day.Add(requestFirstStart + time.Duration(r.IntN(int((requestLastStart-requestFirstStart)/quarter)+1))*quarter)
			t.requests = append(t.requests, request{participant: j, createdAt: at, startsAt: startsAt,
				place: near[r.IntN(len(near))]})
		}
	}
	// Requests in the order they are made; the index is their identity in
	// the simulation's own bookkeeping.
	sortRequests(t.requests)
	for i := range t.requests {
		t.requests[i].idx = i
	}
	return t
}
