package matching

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
	"github.com/clavis-app/clavis/matching/availability"
)

// The candidates list and a volunteer's offers make the same number of
// store and directory round trips at 100 volunteers as at 10 000, and no
// more than designed. It counts calls of matching.Store and of the
// accounts directory (each call is one query on both engines), so it holds
// on any engine: the store runs on SQLite here because its speed does not
// matter to the count. A query per volunteer or per candidate (an N+1)
// makes the counts grow with the seeding and fails the test.
func TestCandidatesAndOffersRoundTripsAreFixed(t *testing.T) {
	const large = 10_000
	if testing.Short() {
		t.Skip("seeds 10 000 volunteers")
	}
	st, err := NewSQLiteStore(context.Background(), sqlitetest.New(t))
	if err != nil {
		t.Fatal(err)
	}
	rt := &countingStore{inner: st}
	f := newFixtureOn(t, rt)
	dir := &countingDirectory{inner: f.dir}
	svc, err := NewService(f.ctx, rt, Config{Clock: f.clock, Directory: dir})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	m := f.matcher(MatcherConfig{})

	p := f.user(auth.RoleParticipant, "Sara Lind")
	c := f.coordinator()
	// A volunteer with some history: a completed, rated outing with p, and
	// a booking in the coming week.
	v := f.volunteerAt("Vera Holm", 56.6744, 12.8578, 20)
	past := f.outing(p, 2*time.Hour)
	for _, step := range []func() (OutingView, error){
		func() (OutingView, error) { return f.svc.Accept(f.ctx, v, past.ID) },
		func() (OutingView, error) { return f.svc.Approve(f.ctx, c, past.ID) },
		func() (OutingView, error) { f.clock.Advance(2 * time.Hour); return f.svc.CheckIn(f.ctx, p, past.ID) },
		func() (OutingView, error) { return f.svc.Complete(f.ctx, p, past.ID) },
	} {
		if _, err := step(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.GiveFeedback(f.ctx, p, past.ID, FeedbackInput{Rating: 5}); err != nil {
		t.Fatal(err)
	}
	o := f.outing(p, 50*time.Hour)
	f.outing(p, 74*time.Hour)

	rng := rand.New(rand.NewPCG(6, 6))
	seeded := 0
	seed := func(n int) {
		t.Helper()
		week := make([]availability.SlotSpec, 0, 7)
		for _, day := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
			week = append(week, availability.SlotSpec{Weekday: day, Start: "06:00", End: "24:00"})
		}
		for i := 0; i < n; i++ {
			id := fmt.Sprintf("rtvol%05d", seeded)
			seeded++
			lat := 56.6744 + (rng.Float64()*2-1)*0.2 // about ±22 km of Stora Torg
			lon := 12.8578 + (rng.Float64()*2-1)*0.35
			langs := []string{"sv"}
			if rng.IntN(3) == 0 {
				langs = []string{"fi"} // fails the language rule: an exclusion
			}
			prof := VolunteerProfile{UserID: id, OrgID: "org1", Status: auth.StatusActive, HasProfile: true,
				Home: GeoPoint{Lat: lat, Lon: lon}, HomeCell: HomeCell(lat, lon), TravelRadiusKm: float64(2 + rng.IntN(29)),
				Languages: langs, Gender: "female", Skills: []string{}, MaxOutingsPerWeek: 1 + rng.IntN(4),
				Availability: &availability.Spec{TimeZone: "Europe/Stockholm", Weekly: week, Exceptions: []availability.Exception{}},
				Commitments:  []Commitment{}, Rev: 1, UpdatedAt: f.clock.Now()}
			if _, err := st.UpdateVolunteer(f.ctx, id, true, func(q *VolunteerProfile) (bool, error) { *q = prof; return true, nil }); err != nil {
				t.Fatal(err)
			}
			f.dir.mu.Lock()
			f.dir.members[id] = Member{ID: id, Name: "Volunteer " + id, OrgID: "org1", Role: auth.RoleVolunteer, Status: auth.StatusActive, Language: "sv"}
			f.dir.mu.Unlock()
		}
	}
	measure := func() (cands, offers []string) {
		t.Helper()
		rt.start()
		dir.start()
		page, err := m.Candidates(f.ctx, c, o.ID, CandidatesQuery{Limit: 100, IncludeExcluded: true})
		if err != nil {
			t.Fatal(err)
		}
		cands = append(rt.stop(), dir.stop()...)
		if len(page.Items) == 0 || len(page.Excluded) == 0 {
			t.Fatalf("at %d volunteers: %d candidates, %d excluded", seeded, len(page.Items), len(page.Excluded))
		}
		rt.start()
		dir.start()
		op, err := m.Offers(f.ctx, v, 20, "")
		if err != nil {
			t.Fatal(err)
		}
		offers = append(rt.stop(), dir.stop()...)
		if !slices.ContainsFunc(op.Items, func(x Offer) bool { return x.ID == o.ID }) {
			t.Fatalf("at %d volunteers: the outing is not among v's offers: %+v", seeded, op.Items)
		}
		t.Logf("%5d volunteers: candidates %d round trips %v; offers %d round trips %v", seeded, len(cands), cands, len(offers), offers)
		return cands, offers
	}
	seed(100)
	smallC, smallO := measure()
	t0 := time.Now()
	seed(large - 100)
	t.Logf("seeded %d more volunteers in %v", large-100, time.Since(t0).Round(time.Millisecond))
	largeC, largeO := measure()
	// As multisets: the candidates' bookings and ratings may run at once.
	sorted := func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
	if !slices.Equal(sorted(smallC), sorted(largeC)) || !slices.Equal(sorted(smallO), sorted(largeO)) {
		t.Fatalf("round trips differ between 100 and %d volunteers:\ncandidates %v\n       vs %v\noffers %v\n    vs %v", large, smallC, largeC, smallO, largeO)
	}
	// The design (candidates.go, offers.go): candidates read the outing,
	// the participant's preferences, the prefilter, bookings, ratings and
	// the accounts of the page in one batch; offers read the profile, the
	// open outings near it, bookings, ratings and the participants'
	// preferences in one batch.
	const maxCandidates, maxOffers = 6, 5
	if len(smallC) > maxCandidates || len(smallO) > maxOffers {
		t.Fatalf("more round trips than designed (candidates ≤ %d, offers ≤ %d): candidates %v, offers %v", maxCandidates, maxOffers, smallC, smallO)
	}
}

// countingStore is a Store that records the name of every call while on.
// Every method is written out, so a method added to Store and not here
// does not compile rather than going uncounted.
type countingStore struct {
	inner Store
	callLog
}

// callLog keeps the names of the calls made between start and stop.
type callLog struct {
	mu    sync.Mutex
	on    bool
	calls []string
}

func (s *callLog) count(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.on {
		s.calls = append(s.calls, name)
	}
}

func (s *callLog) start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.on, s.calls = true, nil
}

func (s *callLog) stop() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.on = false
	return slices.Clone(s.calls)
}

// countingDirectory is the accounts directory with the batch lookup the
// real one has (accountsDirectory.Members), counting its calls.
type countingDirectory struct {
	inner *memDirectory
	callLog
}

func (d *countingDirectory) Member(ctx context.Context, id string) (Member, error) {
	d.count("dir.Member")
	return d.inner.Member(ctx, id)
}

func (d *countingDirectory) OrgTimeZone(ctx context.Context, orgID string) (string, error) {
	d.count("dir.OrgTimeZone")
	return d.inner.OrgTimeZone(ctx, orgID)
}

func (d *countingDirectory) Members(_ context.Context, ids []string) (map[string]Member, error) {
	d.count("dir.Members")
	d.inner.mu.Lock()
	defer d.inner.mu.Unlock()
	out := map[string]Member{}
	for _, id := range ids {
		if mb, ok := d.inner.members[id]; ok {
			out[id] = mb
		}
	}
	return out, nil
}

func (s *countingStore) InsertOuting(ctx context.Context, o *Outing) error {
	s.count("InsertOuting")
	return s.inner.InsertOuting(ctx, o)
}

func (s *countingStore) Outing(ctx context.Context, id string) (*Outing, error) {
	s.count("Outing")
	return s.inner.Outing(ctx, id)
}

func (s *countingStore) TransitionOuting(ctx context.Context, id string, now time.Time, decide func(ctx context.Context, o *Outing) (Move, error)) (*Outing, Move, error) {
	s.count("TransitionOuting")
	return s.inner.TransitionOuting(ctx, id, now, decide)
}

func (s *countingStore) UpdateOuting(ctx context.Context, id string, change func(o *Outing) (bool, error)) error {
	s.count("UpdateOuting")
	return s.inner.UpdateOuting(ctx, id, change)
}

func (s *countingStore) OutingsPage(ctx context.Context, f OutingFilter, limit int, after *pageCursor) ([]Outing, *pageCursor, error) {
	s.count("OutingsPage")
	return s.inner.OutingsPage(ctx, f, limit, after)
}

func (s *countingStore) OutingIDsWithPendingEvents(ctx context.Context, limit int) ([]string, error) {
	s.count("OutingIDsWithPendingEvents")
	return s.inner.OutingIDsWithPendingEvents(ctx, limit)
}

func (s *countingStore) PendingEvents(ctx context.Context, id string) ([]Event, bool, error) {
	s.count("PendingEvents")
	return s.inner.PendingEvents(ctx, id)
}

func (s *countingStore) RemoveDeliveredEvents(ctx context.Context, id string, eventIDs []string) error {
	s.count("RemoveDeliveredEvents")
	return s.inner.RemoveDeliveredEvents(ctx, id, eventIDs)
}

func (s *countingStore) StartedUnmatchedOutingIDs(ctx context.Context, now time.Time, limit int) ([]string, error) {
	s.count("StartedUnmatchedOutingIDs")
	return s.inner.StartedUnmatchedOutingIDs(ctx, now, limit)
}

func (s *countingStore) ConfirmedOutingsBetween(ctx context.Context, from, to time.Time, limit int) ([]ConfirmedOuting, error) {
	s.count("ConfirmedOutingsBetween")
	return s.inner.ConfirmedOutingsBetween(ctx, from, to, limit)
}

func (s *countingStore) OutingsOfUser(ctx context.Context, userID string) ([]Outing, error) {
	s.count("OutingsOfUser")
	return s.inner.OutingsOfUser(ctx, userID)
}

func (s *countingStore) HasCompletedOutingTogether(ctx context.Context, participantID, volunteerID string) (bool, error) {
	s.count("HasCompletedOutingTogether")
	return s.inner.HasCompletedOutingTogether(ctx, participantID, volunteerID)
}

func (s *countingStore) CompletedOutingsTogether(ctx context.Context, participantID, volunteerID string, limit int) ([]Outing, error) {
	s.count("CompletedOutingsTogether")
	return s.inner.CompletedOutingsTogether(ctx, participantID, volunteerID, limit)
}

func (s *countingStore) ConcurrentReads(ctx context.Context) bool {
	return s.inner.ConcurrentReads(ctx) // no round trip
}

func (s *countingStore) BookingsOf(ctx context.Context, volunteerIDs []string, q bookingQuery) ([]bookingRow, error) {
	s.count("BookingsOf")
	return s.inner.BookingsOf(ctx, volunteerIDs, q)
}

func (s *countingStore) OfferDoc(ctx context.Context, id string) (*offerDoc, error) {
	s.count("OfferDoc")
	return s.inner.OfferDoc(ctx, id)
}

func (s *countingStore) UpdateOffers(ctx context.Context, id string, change func(d *offerDoc) (events []Event, write bool, err error)) error {
	s.count("UpdateOffers")
	return s.inner.UpdateOffers(ctx, id, change)
}

func (s *countingStore) OutingsDueForOfferCheck(ctx context.Context, now time.Time, limit int) ([]string, error) {
	s.count("OutingsDueForOfferCheck")
	return s.inner.OutingsDueForOfferCheck(ctx, now, limit)
}

func (s *countingStore) OffersFor(ctx context.Context, volunteerID string) ([]OfferRecord, error) {
	s.count("OffersFor")
	return s.inner.OffersFor(ctx, volunteerID)
}

func (s *countingStore) StripOffers(ctx context.Context, volunteerID string) error {
	s.count("StripOffers")
	return s.inner.StripOffers(ctx, volunteerID)
}

func (s *countingStore) OpenOutingsNear(ctx context.Context, orgID string, box geoBox, now time.Time, limit int) ([]Outing, error) {
	s.count("OpenOutingsNear")
	return s.inner.OpenOutingsNear(ctx, orgID, box, now, limit)
}

func (s *countingStore) Volunteer(ctx context.Context, userID string) (*VolunteerProfile, error) {
	s.count("Volunteer")
	return s.inner.Volunteer(ctx, userID)
}

func (s *countingStore) UpdateVolunteer(ctx context.Context, userID string, create bool, change func(p *VolunteerProfile) (bool, error)) (*VolunteerProfile, error) {
	s.count("UpdateVolunteer")
	return s.inner.UpdateVolunteer(ctx, userID, create, change)
}

func (s *countingStore) SetVolunteerStatus(ctx context.Context, userID string, status auth.Status) error {
	s.count("SetVolunteerStatus")
	return s.inner.SetVolunteerStatus(ctx, userID, status)
}

func (s *countingStore) VolunteersInCells(ctx context.Context, q VolunteerQuery) ([]VolunteerProfile, error) {
	s.count("VolunteersInCells")
	return s.inner.VolunteersInCells(ctx, q)
}

func (s *countingStore) DeleteVolunteer(ctx context.Context, userID string) error {
	s.count("DeleteVolunteer")
	return s.inner.DeleteVolunteer(ctx, userID)
}

func (s *countingStore) Participant(ctx context.Context, userID string) (*ParticipantProfile, error) {
	s.count("Participant")
	return s.inner.Participant(ctx, userID)
}

func (s *countingStore) UpdateParticipant(ctx context.Context, userID string, change func(p *ParticipantProfile)) (*ParticipantProfile, error) {
	s.count("UpdateParticipant")
	return s.inner.UpdateParticipant(ctx, userID, change)
}

func (s *countingStore) DeleteParticipant(ctx context.Context, userID string) error {
	s.count("DeleteParticipant")
	return s.inner.DeleteParticipant(ctx, userID)
}

func (s *countingStore) InsertFeedback(ctx context.Context, f *Feedback) error {
	s.count("InsertFeedback")
	return s.inner.InsertFeedback(ctx, f)
}

func (s *countingStore) FeedbackByAuthor(ctx context.Context, authorID string) ([]Feedback, error) {
	s.count("FeedbackByAuthor")
	return s.inner.FeedbackByAuthor(ctx, authorID)
}

func (s *countingStore) FeedbackOnOuting(ctx context.Context, outingID string) ([]Feedback, error) {
	s.count("FeedbackOnOuting")
	return s.inner.FeedbackOnOuting(ctx, outingID)
}

func (s *countingStore) ReportRows(ctx context.Context, orgID string, from, to time.Time, after *pageCursor, limit int) ([]ReportOuting, error) {
	s.count("ReportRows")
	return s.inner.ReportRows(ctx, orgID, from, to, after, limit)
}

func (s *countingStore) RatingTotalsOf(ctx context.Context, volunteerIDs []string, participantID string) ([]ratingTotal, error) {
	s.count("RatingTotalsOf")
	return s.inner.RatingTotalsOf(ctx, volunteerIDs, participantID)
}

func (s *countingStore) RatingsOf(ctx context.Context, volunteerIDs []string) ([]ratingRow, error) {
	s.count("RatingsOf")
	return s.inner.RatingsOf(ctx, volunteerIDs)
}

func (s *countingStore) EraseFeedbackOf(ctx context.Context, userID string) error {
	s.count("EraseFeedbackOf")
	return s.inner.EraseFeedbackOf(ctx, userID)
}

func (s *countingStore) Preferences(ctx context.Context, participantID string) (*prefsDoc, error) {
	s.count("Preferences")
	return s.inner.Preferences(ctx, participantID)
}

func (s *countingStore) PreferencesOfMany(ctx context.Context, participantIDs []string) (map[string]*prefsDoc, error) {
	s.count("PreferencesOfMany")
	return s.inner.PreferencesOfMany(ctx, participantIDs)
}

func (s *countingStore) UpdatePreferences(ctx context.Context, participantID, orgID string, change func(d *prefsDoc) (bool, error)) error {
	s.count("UpdatePreferences")
	return s.inner.UpdatePreferences(ctx, participantID, orgID, change)
}

func (s *countingStore) DeletePreferences(ctx context.Context, participantID string) error {
	s.count("DeletePreferences")
	return s.inner.DeletePreferences(ctx, participantID)
}

func (s *countingStore) ParticipantsListing(ctx context.Context, volunteerID string) ([]string, error) {
	s.count("ParticipantsListing")
	return s.inner.ParticipantsListing(ctx, volunteerID)
}
