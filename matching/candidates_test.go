package matching

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/matching/availability"
)

// Tests of the store side of matching: assembling candidates from stored
// profiles and outings, the candidates list, and the re-check on accept.

// NaiveCandidates is Candidates done the naive way, for
// BenchmarkCandidatesEndpoint: every profile of the organisation is loaded
// (no cell, status or profile filter in the query) and filtered in Go by
// the same ranking; the rest of the request is the same.
func (m *Matcher) NaiveCandidates(ctx context.Context, who auth.Identity, outingID string, q CandidatesQuery) (CandidatesPage, error) {
	return m.candidates(ctx, who, outingID, q, func(ctx context.Context, o *Outing, _ bool) ([]VolunteerProfile, error) {
		sq := m.st.(*sqliteStore)
		return queryJSON[VolunteerProfile](ctx, sq.d, `SELECT doc FROM volunteer_profiles WHERE organisation_id = ?`, o.OrgID)
	})
}

func (f *fixture) matcher(cfg MatcherConfig) *Matcher {
	f.t.Helper()
	m, err := NewMatcher(f.ctx, f.svc, cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

// volunteerAt is an active volunteer free every day 06:00–24:00 with a
// home at lat, lon; change adjusts the profile.
func (f *fixture) volunteerAt(name string, lat, lon, radiusKm float64, change ...func(*VolunteerProfileInput)) auth.Identity {
	f.t.Helper()
	v := f.volunteer(name)
	in := VolunteerProfileInput{Home: GeoPoint{Lat: lat, Lon: lon}, TravelRadiusKm: radiusKm, Languages: []string{"sv", "en"},
		Gender: "female", MaxOutingsPerWeek: 5}
	for _, c := range change {
		c(&in)
	}
	if _, err := f.svc.PutVolunteerProfile(f.ctx, v, in); err != nil {
		f.t.Fatal(err)
	}
	return v
}

// outingAt asks for a two-hour outing of kind at a place, starting in `in`.
func (f *fixture) outingAt(p auth.Identity, pl place, in time.Duration, change ...func(*OutingRequest)) OutingView {
	f.t.Helper()
	start := f.clock.Now().Add(in)
	req := OutingRequest{Kind: OutingKind(pl.Kind), StartsAt: start, EndsAt: start.Add(2 * time.Hour),
		MeetingPoint: MeetingPoint{Lat: pl.Lat, Lon: pl.Lon, Description: pl.Name}}
	for _, c := range change {
		c(&req)
	}
	v, err := f.svc.CreateOuting(f.ctx, p, req)
	if err != nil {
		f.t.Fatal(err)
	}
	return v
}

func (f *fixture) coordinator() auth.Identity { return f.user(auth.RoleCoordinator, "Cecilia Berg") }

func scoredIDs(s []Scored) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = x.VolunteerID
	}
	return out
}

// Ten in the morning, three days after the fixture's Monday 08:00.
const thursdayTen = 3*24*time.Hour + 2*time.Hour

func TestCandidatesFromStoredProfilesWithRealPlaces(t *testing.T) {
	f := newFixture(t)
	m := f.matcher(MatcherConfig{})
	places := loadPlaces(t)
	torg := mustPlace(t, places, "Stora Torg")
	tylosand := mustPlace(t, places, "Tylösand strand")
	p := f.user(auth.RoleParticipant, "Sara Lind")
	c := f.coordinator()

	// Homes at real places: next to the meeting point, in Tylösand (about
	// 9 km away), and in Blekinge, far beyond any radius.
	near := f.volunteerAt("Anna Ek", mustPlace(t, places, "Halmstad stadsbibliotek").Lat, mustPlace(t, places, "Halmstad stadsbibliotek").Lon, 5)
	mid := f.volunteerAt("Britt Ask", tylosand.Lat, tylosand.Lon, 15)
	short := f.volunteerAt("Cilla Sten", tylosand.Lat, tylosand.Lon, 3) // Tylösand to Stora Torg is beyond 3 km
	var farPlace place
	for _, pl := range places {
		if pl.Town != "Halmstad" {
			farPlace = pl
			break
		}
	}
	far := f.volunteerAt("Dora Lund", farPlace.Lat, farPlace.Lon, 50)
	english := f.volunteerAt("Eva Berg", torg.Lat+0.002, torg.Lon, 5, func(in *VolunteerProfileInput) { in.Languages = []string{"en"} })

	o := f.outingAt(p, torg, thursdayTen)
	page, err := m.Candidates(f.ctx, c, o.ID, CandidatesQuery{Lang: "en", IncludeExcluded: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := scoredIDs(page.Items); !slices.Equal(got, []string{near.UserID, mid.UserID}) {
		t.Fatalf("candidates %v, want [near mid] = %v", got, []string{near.UserID, mid.UserID})
	}
	first := page.Items[0]
	if first.Name != "Anna Ek" || first.DistanceKm > 1 || first.Score <= 0 || first.Score > 100 || len(first.Reasons) == 0 {
		t.Fatalf("first candidate %+v", first)
	}
	if page.Items[1].DistanceKm < 5 || page.Items[1].DistanceKm > 15 {
		t.Fatalf("Tylösand is %v km from Stora Torg?", page.Items[1].DistanceKm)
	}
	rules := map[string]string{}
	for _, e := range page.Excluded {
		rules[e.VolunteerID] = e.Rule
		if e.Message == "" || e.Name == "" {
			t.Fatalf("exclusion without message or name: %+v", e)
		}
	}
	// Blekinge is outside every cell covering 50 km of Halmstad: never even loaded.
	want := map[string]string{short.UserID: RuleTooFar, english.UserID: RuleLanguage}
	if fmt.Sprint(rules) != fmt.Sprint(want) || page.ExcludedTotal != 2 {
		t.Fatalf("excluded %v (total %d), want %v; far volunteer %s", rules, page.ExcludedTotal, want, far.UserID)
	}

	// Swedish reasons on request.
	sv, err := m.Candidates(f.ctx, c, o.ID, CandidatesQuery{Lang: "sv"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sv.Excluded) != 0 || !containsText(sv.Items[0].Reasons, "km från mötesplatsen") {
		t.Fatalf("swedish reasons %v", sv.Items[0].Reasons)
	}
}

func containsText(list []string, sub string) bool {
	return slices.ContainsFunc(list, func(s string) bool { return strings.Contains(s, sub) })
}

func TestCandidatesAccessAndPaging(t *testing.T) {
	f := newFixture(t)
	m := f.matcher(MatcherConfig{})
	p := f.user(auth.RoleParticipant, "Sara Lind")
	c := f.coordinator()
	for i := range 5 {
		f.volunteerAt(fmt.Sprintf("Volunteer %d", i), 56.6744+float64(i)*0.01, 12.8578, 10)
	}
	o := f.outing(p, thursdayTen)

	other := auth.Identity{UserID: "c-other", Role: auth.RoleCoordinator, OrgID: "org2", Status: auth.StatusActive}
	_, err := m.Candidates(f.ctx, other, o.ID, CandidatesQuery{})
	wantKind(t, err, fault.NotFound)
	_, err = m.Candidates(f.ctx, f.user(auth.RoleVolunteer, "Vic"), o.ID, CandidatesQuery{})
	wantKind(t, err, fault.Forbidden)
	_, err = m.Candidates(f.ctx, c, "nope", CandidatesQuery{})
	wantKind(t, err, fault.NotFound)
	_, err = m.Candidates(f.ctx, c, o.ID, CandidatesQuery{Lang: "de"})
	wantKind(t, err, fault.Validation)
	_, err = m.Candidates(f.ctx, c, o.ID, CandidatesQuery{Cursor: "garbage"})
	wantKind(t, err, fault.Validation)

	var all []string
	cursor := ""
	for range 5 {
		page, err := m.Candidates(f.ctx, c, o.ID, CandidatesQuery{Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, scoredIDs(page.Items)...)
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	whole, err := m.Candidates(f.ctx, c, o.ID, CandidatesQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 5 || !slices.Equal(all, scoredIDs(whole.Items)) {
		t.Fatalf("paged %v, whole %v", all, scoredIDs(whole.Items))
	}

	// A cancelled outing has no candidates.
	if _, err := f.svc.Cancel(f.ctx, p, o.ID, "changed my mind"); err != nil {
		t.Fatal(err)
	}
	_, err = m.Candidates(f.ctx, c, o.ID, CandidatesQuery{})
	wantKind(t, err, fault.StateConflict)
}

// Busy, weekly cap, history and ratings come from the outings and feedback
// collections; declined, rejected and never-again volunteers are excluded.
func TestCandidatesUseBookingsHistoryAndExclusions(t *testing.T) {
	f := newFixture(t)
	m := f.matcher(MatcherConfig{})
	p := f.user(auth.RoleParticipant, "Sara Lind")
	other := f.user(auth.RoleParticipant, "Olle Ny")
	c := f.coordinator()
	const lat, lon = 56.6744, 12.8578
	busy := f.volunteerAt("Busy Bea", lat+0.01, lon, 10)
	capped := f.volunteerAt("Capped Cay", lat+0.01, lon, 10, func(in *VolunteerProfileInput) { in.MaxOutingsPerWeek = 1 })
	familiar := f.volunteerAt("Familiar Fia", lat+0.03, lon, 10)
	stranger := f.volunteerAt("Stranger Sid", lat+0.01, lon, 10)
	decliner := f.volunteerAt("Declining Dan", lat+0.01, lon, 10)
	blocked := f.volunteerAt("Blocked Bo", lat+0.01, lon, 10)

	// Familiar completed an outing with Sara last week and was rated 5.
	f.clock.Set(fixtureNow.Add(-7 * 24 * time.Hour))
	past := f.outing(p, 2*time.Hour)
	must(t)(f.svc.Accept(f.ctx, familiar, past.ID))
	must(t)(f.svc.Approve(f.ctx, c, past.ID))
	f.clock.Set(past.StartsAt)
	must(t)(f.svc.CheckIn(f.ctx, p, past.ID))
	must(t)(f.svc.Complete(f.ctx, p, past.ID))
	if _, err := f.svc.GiveFeedback(f.ctx, p, past.ID, FeedbackInput{Rating: 5}); err != nil {
		t.Fatal(err)
	}
	f.clock.Set(fixtureNow)

	// Thursday 10:00: the request. Busy has another outing at that time;
	// Capped (one a week) has one on Wednesday.
	o := f.outing(p, thursdayTen)
	clash := f.outing(other, thursdayTen+30*time.Minute)
	must(t)(f.svc.Accept(f.ctx, busy, clash.ID))
	wed := f.outing(other, thursdayTen-24*time.Hour)
	must(t)(f.svc.Accept(f.ctx, capped, wed.ID))
	if err := f.svc.Decline(f.ctx, decliner, o.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := m.SetPreference(f.ctx, p, blocked.UserID, PreferenceNever); err != nil {
		t.Fatal(err)
	}

	page, err := m.Candidates(f.ctx, c, o.ID, CandidatesQuery{Lang: "en", IncludeExcluded: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := scoredIDs(page.Items); !slices.Equal(got, []string{familiar.UserID, stranger.UserID}) {
		t.Fatalf("candidates %v, want familiar then stranger (3 km further away)", got)
	}
	if fam := page.Items[0]; fam.Parts.Continuity <= 0 || !containsText(fam.Reasons, "met Sara once, rated 5") {
		t.Fatalf("familiar: %+v", fam)
	}
	rules := map[string]string{}
	for _, e := range page.Excluded {
		rules[e.VolunteerID] = e.Rule
	}
	want := map[string]string{busy.UserID: RuleBusy, capped.UserID: RuleWeeklyCap, decliner.UserID: RuleExcluded, blocked.UserID: RuleBlocked}
	if fmt.Sprint(rules) != fmt.Sprint(want) {
		t.Fatalf("excluded %v, want %v", rules, want)
	}
}

// must fails the test on a service error: must(t)(f.svc.Accept(...)).
func must(t *testing.T) func(OutingView, error) OutingView {
	return func(v OutingView, err error) OutingView {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// Accepting re-runs every hard rule: a stale offer cannot be accepted.
func TestAcceptRechecksHardRules(t *testing.T) {
	f := newFixture(t)
	m := f.matcher(MatcherConfig{})
	p := f.user(auth.RoleParticipant, "Sara Lind")
	q := f.user(auth.RoleParticipant, "Olle Ny")
	const lat, lon = 56.6744, 12.8578

	// Offered two outings at the same time, the volunteer takes one: the
	// other can no longer be accepted (409, as the reservation answers).
	v := f.volunteerAt("Vera Holm", lat, lon, 10)
	a := f.outing(p, thursdayTen)
	b := f.outing(q, thursdayTen+time.Hour)
	for _, id := range []string{a.ID, b.ID} {
		page, err := m.Offers(f.ctx, v, 20, "")
		if err != nil || !slices.ContainsFunc(page.Items, func(o Offer) bool { return o.ID == id }) {
			t.Fatalf("outing %s not among the offers %+v (%v)", id, page.Items, err)
		}
	}
	must(t)(f.svc.Accept(f.ctx, v, a.ID))
	_, err := f.svc.Accept(f.ctx, v, b.ID)
	wantKind(t, err, fault.Conflict)
	if page, _ := m.Offers(f.ctx, v, 20, ""); len(page.Items) != 0 {
		t.Fatalf("offers after taking one at the same time: %+v", page.Items)
	}

	// Too far, wrong language, weekly cap, no profile: 403; never-again: 404
	// (to them the participant's outings are not there).
	far := f.volunteerAt("Far Fredrik", lat+0.2, lon, 5)
	english := f.volunteerAt("English Ed", lat, lon, 5, func(in *VolunteerProfileInput) { in.Languages = []string{"en"} })
	never := f.volunteerAt("Never Nils", lat, lon, 5)
	if _, err := m.SetPreference(f.ctx, p, never.UserID, PreferenceNever); err != nil {
		t.Fatal(err)
	}
	capped := f.volunteerAt("Capped Cay", lat, lon, 5, func(in *VolunteerProfileInput) { in.MaxOutingsPerWeek = 1 })
	must(t)(f.svc.Accept(f.ctx, capped, f.outing(q, thursdayTen-24*time.Hour).ID))
	// Availability but no profile.
	bare := auth.Identity{UserID: "v-bare", Role: auth.RoleVolunteer, OrgID: "org1", Status: auth.StatusActive}
	if _, err := f.svc.PutAvailability(f.ctx, bare, availability.Spec{Weekly: []availability.SlotSpec{{Weekday: "thu", Start: "06:00", End: "24:00"}, {Weekday: "fri", Start: "06:00", End: "24:00"}}}); err != nil {
		t.Fatal(err)
	}
	c := f.outing(p, thursdayTen+24*time.Hour)
	for who, wantMsg := range map[auth.Identity]string{
		far: "travel radius", english: "Swedish", never: "no such outing", capped: "limit", bare: "profile",
	} {
		_, err := f.svc.Accept(f.ctx, who, c.ID)
		if who == never {
			wantKind(t, err, fault.NotFound)
		} else {
			wantKind(t, err, fault.Forbidden)
		}
		if !strings.Contains(err.Error(), wantMsg) {
			t.Errorf("%s: %v, want a message about %q", who.UserID, err, wantMsg)
		}
	}
	// And a candidate still may.
	ok := f.volunteerAt("Okay Olga", lat, lon, 5)
	must(t)(f.svc.Accept(f.ctx, ok, c.ID))
}

func TestNewMatcherRefusesBadWeights(t *testing.T) {
	f := newFixture(t)
	if _, err := NewMatcher(f.ctx, f.svc, MatcherConfig{Weights: Weights{Distance: -1}}); err == nil {
		t.Fatal("negative weight accepted")
	}
	m := f.matcher(MatcherConfig{})
	if m.Weights() != DefaultWeights() || m.wave != DefaultOfferWave || m.wait != DefaultOfferWait {
		t.Fatalf("defaults: %+v %d %v", m.Weights(), m.wave, m.wait)
	}
}

// A profile whose copy of the account status is stale (suspended since)
// is dropped from the page and corrected.
func TestStaleProfileStatusIsDroppedAndHealed(t *testing.T) {
	f := newFixture(t)
	m := f.matcher(MatcherConfig{})
	p := f.user(auth.RoleParticipant, "Sara Lind")
	c := f.coordinator()
	v := f.volunteerAt("Vera Holm", 56.6744, 12.8578, 10)
	w := f.volunteerAt("Wilma Ek", 56.6744, 12.8578, 10)
	o := f.outing(p, thursdayTen)
	f.dir.mu.Lock()
	mb := f.dir.members[v.UserID]
	mb.Status = auth.StatusSuspended
	f.dir.members[v.UserID] = mb
	f.dir.mu.Unlock()
	page, err := m.Candidates(f.ctx, c, o.ID, CandidatesQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if got := scoredIDs(page.Items); !slices.Equal(got, []string{w.UserID}) {
		t.Fatalf("candidates %v, want only %s", got, w.UserID)
	}
	prof, err := f.svc.st.Volunteer(context.Background(), v.UserID)
	if err != nil || prof.Status != auth.StatusSuspended {
		t.Fatalf("profile status %v (%v), want suspended", prof.Status, err)
	}
}

// An outing in a week still ahead is re-checked from the commitments on
// the volunteer's profile (no query on outings): the weekly cap holds, and
// a commitment left behind by a crash does not count.
func TestAcceptRecheckInAWeekAhead(t *testing.T) {
	f := newFixture(t)
	p := f.user(auth.RoleParticipant, "Sara Lind")
	v := f.volunteerAt("Vera Holm", 56.6744, 12.8578, 10, func(in *VolunteerProfileInput) { in.MaxOutingsPerWeek = 1 })
	twoWeeks := 14*24*time.Hour + 2*time.Hour // Monday 10:00, two weeks on
	first := f.outing(p, twoWeeks)
	must(t)(f.svc.Accept(f.ctx, v, first.ID))
	second := f.outing(p, twoWeeks+48*time.Hour)
	_, err := f.svc.Accept(f.ctx, v, second.ID)
	wantKind(t, err, fault.Forbidden)
	if !strings.Contains(err.Error(), "limit") {
		t.Fatalf("refusal %v, want the weekly limit", err)
	}

	// The first is cancelled, but a crash left its commitment behind.
	must(t)(f.svc.Cancel(f.ctx, p, first.ID, "plans changed"))
	f.pushCommitment(v.UserID, Commitment{OutingID: first.ID, StartsAt: first.StartsAt, EndsAt: first.EndsAt})
	must(t)(f.svc.Accept(f.ctx, v, second.ID))
}
