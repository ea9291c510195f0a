package matching

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
)

// BenchmarkOutingTransitions measures create, accept and approve on the
// embedded store with the outings collection holding 1k and 10k documents
// beforehand. It reports ops/s and the median latency of one operation (the
// set-up of each operation's outing is not timed). Run with
//
//	go test -run '^$' -bench BenchmarkOutingTransitions -benchtime 30x ./matching/
func BenchmarkOutingTransitions(b *testing.B) {
	for _, size := range []int{1000, 10000} {
		f := newFixture(b)
		p := f.user(auth.RoleParticipant, "Sara Lind")
		c := f.user(auth.RoleCoordinator, "Cecilia Berg")
		vols := make([]auth.Identity, 8)
		for i := range vols {
			vols[i] = f.volunteer(fmt.Sprintf("Volunteer %d", i))
		}
		fillStart := time.Now()
		f.fillOutings(b, p, size)
		b.Logf("outings collection filled with %d documents in %v", size, time.Since(fillStart).Round(time.Millisecond))
		slot := 0
		// next gives each outing its own day (10:00 Stockholm), so no
		// volunteer is ever busy or unavailable.
		next := func() time.Time {
			slot++
			return fixtureNow.Add(2*time.Hour + time.Duration(slot)*24*time.Hour)
		}
		name := fmt.Sprintf("%dk", size/1000)

		b.Run("create/"+name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				start := next()
				t0 := time.Now()
				_, err := f.svc.CreateOuting(f.ctx, p, OutingRequest{Kind: KindCafe, StartsAt: start, EndsAt: start.Add(2 * time.Hour),
					MeetingPoint: MeetingPoint{Lat: 56.6744, Lon: 12.8578, Description: "Stora Torg"}})
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
			}
			reportLatency(b, lat)
		})
		b.Run("accept/"+name, func(b *testing.B) {
			ids := f.insertOutings(b, p, b.N, StatusOpen, "", next)
			lat := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				_, err := f.svc.Accept(f.ctx, vols[i%len(vols)], ids[i])
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
			}
			reportLatency(b, lat)
		})
		b.Run("approve/"+name, func(b *testing.B) {
			ids := f.insertOutings(b, p, b.N, StatusPendingApproval, vols[0].UserID, next)
			lat := make([]time.Duration, 0, b.N)
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				_, err := f.svc.Approve(f.ctx, c, ids[i])
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
			}
			reportLatency(b, lat)
		})
	}
}

// reportLatency replaces the default ns/op (which would include untimed
// set-up) with ops/s over the timed operations and their median.
func reportLatency(b *testing.B, lat []time.Duration) {
	b.StopTimer()
	var total time.Duration
	for _, d := range lat {
		total += d
	}
	sorted := slices.Clone(lat)
	slices.Sort(sorted)
	b.ReportMetric(float64(len(lat))/total.Seconds(), "ops/s")
	b.ReportMetric(float64(sorted[len(sorted)/2].Microseconds())/1000, "median-ms")
	b.ReportMetric(0, "ns/op")
}

// fillOutings inserts n finished outings (the shape real ones have: some
// history, no pending events) in batches.
func (f *fixture) fillOutings(b *testing.B, p auth.Identity, n int) {
	b.Helper()
	statuses := []OutingStatus{StatusCompleted, StatusCompleted, StatusCompleted, StatusCancelled, StatusExpired}
	for done := 0; done < n; {
		batch := make([]*Outing, 0, 500)
		for ; done < n && len(batch) < 500; done++ {
			start := fixtureNow.Add(-time.Duration(done+1) * time.Hour)
			st := statuses[done%len(statuses)]
			batch = append(batch, f.outingDoc(p, st, "v-old", start, []HistoryEntry{
				{At: start.Add(-48 * time.Hour), ActorID: p.UserID, To: StatusOpen},
				{At: start.Add(-40 * time.Hour), ActorID: "v-old", From: StatusOpen, To: StatusPendingApproval},
				{At: start.Add(-30 * time.Hour), ActorID: "c-old", From: StatusPendingApproval, To: StatusConfirmed},
				{At: start, ActorID: p.UserID, From: StatusConfirmed, To: st},
			}))
		}
		f.insertAll(b, batch)
	}
}

// insertOutings inserts n outings in status st directly (untimed set-up).
func (f *fixture) insertOutings(b *testing.B, p auth.Identity, n int, st OutingStatus, volunteer string, next func() time.Time) []string {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	ids := make([]string, n)
	docs := make([]*Outing, n)
	for i := range docs {
		o := f.outingDoc(p, st, volunteer, next(), []HistoryEntry{{At: fixtureNow, ActorID: p.UserID, To: StatusOpen}})
		ids[i], docs[i] = o.ID, o
	}
	f.insertAll(b, docs)
	return ids
}

func (f *fixture) outingDoc(p auth.Identity, st OutingStatus, volunteer string, start time.Time, hist []HistoryEntry) *Outing {
	o := &Outing{ID: newID(), ParticipantID: p.UserID, ParticipantName: "Sara Lind", OrgID: p.OrgID, Kind: KindBusTrip,
		Note: "Bus 3 from the central station; I would like to sit near the door.", StartsAt: start, EndsAt: start.Add(2 * time.Hour),
		MeetingPoint:    MeetingPoint{Lat: 56.6696, Lon: 12.8648, Description: "Halmstad Centralstation, main entrance"},
		CompanionGender: "any", Language: "sv", Status: st, VolunteerID: volunteer, Version: int64(len(hist)),
		CreatedAt: start.Add(-48 * time.Hour), CreatedBy: p.UserID, UpdatedAt: start, History: hist,
		PendingEvents: []Event{}, ExcludedVolunteers: []string{}, DeclinedBy: []string{},
	}
	if st == StatusOpen {
		o.VolunteerID = ""
	}
	return o
}

// insertAll stores outings directly (untimed set-up).
func (f *fixture) insertAll(b *testing.B, docs []*Outing) {
	b.Helper()
	for _, o := range docs {
		if err := f.svc.st.InsertOuting(f.ctx, o); err != nil {
			b.Fatal(err)
		}
	}
}
