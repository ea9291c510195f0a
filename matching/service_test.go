package matching

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/internal/sqlite"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
	"github.com/clavis-app/clavis/matching/availability"
)

// memDirectory is the accounts as matching sees them, for package tests
// (the api tests use the real auth service).
type memDirectory struct {
	mu      sync.Mutex
	members map[string]Member
}

func (d *memDirectory) Member(_ context.Context, id string) (Member, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	m, ok := d.members[id]
	if !ok {
		return Member{}, fault.NotFoundf("no such user")
	}
	return m, nil
}

func (d *memDirectory) OrgTimeZone(context.Context, string) (string, error) {
	return "Europe/Stockholm", nil
}

type fixture struct {
	t     testing.TB
	ctx   context.Context
	db    *sqlite.DB
	svc   *Service
	clock *clock.Fake
	dir   *memDirectory
	n     int
}

// 2026-06-01 is a Monday; the fixture's clock starts at 08:00 Stockholm.
var fixtureNow = time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC)

func newFixture(t testing.TB) *fixture {
	t.Helper()
	d := sqlitetest.New(t)
	st, err := NewSQLiteStore(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureOn(t, st)
	f.db = d
	return f
}

// newFixtureOn is a fixture over any store (the contract suite's engines).
func newFixtureOn(t testing.TB, st Store) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: context.Background(), clock: clock.NewFake(fixtureNow), dir: &memDirectory{members: map[string]Member{}}}
	svc, err := NewService(f.ctx, st, Config{Clock: f.clock, Directory: f.dir})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	return f
}

func (f *fixture) user(role auth.Role, name string) auth.Identity {
	f.n++
	id := fmt.Sprintf("%s%d", role[:1], f.n)
	f.dir.mu.Lock()
	f.dir.members[id] = Member{ID: id, Name: name, OrgID: "org1", Role: role, Status: auth.StatusActive, Language: "sv"}
	f.dir.mu.Unlock()
	who := auth.Identity{UserID: id, Role: role, OrgID: "org1", Status: auth.StatusActive}
	if role == auth.RoleVolunteer {
		// Accept re-runs every hard rule (candidates.go): a volunteer needs a
		// profile that reaches the fixture's meeting points in Halmstad.
		if _, err := f.svc.PutVolunteerProfile(f.ctx, who, VolunteerProfileInput{Home: GeoPoint{Lat: 56.6744, Lon: 12.8578},
			TravelRadiusKm: MaxTravelRadiusKm, Languages: []string{"sv", "en"}, Gender: "female", MaxOutingsPerWeek: MaxOutingsPerWeek}); err != nil {
			f.t.Fatal(err)
		}
	}
	return who
}

// volunteer is an active volunteer free every day 06:00–24:00.
func (f *fixture) volunteer(name string) auth.Identity {
	v := f.user(auth.RoleVolunteer, name)
	var slots []availability.SlotSpec
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		slots = append(slots, availability.SlotSpec{Weekday: d, Start: "06:00", End: "24:00"})
	}
	if _, err := f.svc.PutAvailability(f.ctx, v, availability.Spec{Weekly: slots}); err != nil {
		f.t.Fatal(err)
	}
	return v
}

// outing asks for an outing starting in `in`, lasting two hours.
func (f *fixture) outing(p auth.Identity, in time.Duration) OutingView {
	f.t.Helper()
	start := f.clock.Now().Add(in)
	v, err := f.svc.CreateOuting(f.ctx, p, OutingRequest{
		Kind: KindCafe, Note: "I get anxious in crowds", StartsAt: start, EndsAt: start.Add(2 * time.Hour),
		MeetingPoint: MeetingPoint{Lat: 56.6744, Lon: 12.8578, Description: "Stora Torg, by the fountain"},
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return v
}

func (f *fixture) stored(id string) *Outing {
	f.t.Helper()
	o, err := f.svc.st.Outing(f.ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return o
}

func wantKind(t *testing.T, err error, k fault.Kind) {
	t.Helper()
	if fault.KindOf(err) != k || err == nil {
		t.Fatalf("got %v (kind %d), want kind %d", err, fault.KindOf(err), k)
	}
}

func TestLifecycleHistoryVersionsAndEvents(t *testing.T) {
	f := newFixture(t)
	p := f.user(auth.RoleParticipant, "Sara Lind")
	c := f.user(auth.RoleCoordinator, "Cecilia Berg")
	v := f.volunteer("Vera Holm")
	o := f.outing(p, 26*time.Hour)
	if o.Status != StatusOpen || o.Version != 1 || o.ParticipantName != "Sara Lind" || o.Language != "sv" || o.CompanionGender != "any" {
		t.Fatalf("created: %+v", o)
	}
	steps := []struct {
		who  auth.Identity
		do   func(context.Context, auth.Identity, string) (OutingView, error)
		want OutingStatus
	}{
		{v, f.svc.Accept, StatusPendingApproval},
		{c, f.svc.Approve, StatusConfirmed},
	}
	for i, s := range steps {
		f.clock.Advance(time.Minute)
		got, err := s.do(f.ctx, s.who, o.ID)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got.Status != s.want || got.Version != int64(i+2) {
			t.Fatalf("step %d: status %s version %d", i, got.Status, got.Version)
		}
	}
	f.clock.Set(o.StartsAt.Add(-20 * time.Minute))
	if got, err := f.svc.CheckIn(f.ctx, p, o.ID); err != nil || got.Status != StatusInProgress || got.Version != 4 {
		t.Fatalf("check-in: %+v %v", got, err)
	}
	f.clock.Set(o.EndsAt)
	if got, err := f.svc.Complete(f.ctx, v, o.ID); err != nil || got.Status != StatusCompleted || got.Version != 5 {
		t.Fatalf("complete: %+v %v", got, err)
	}
	// The returned view and the stored document agree.
	st := f.stored(o.ID)
	if st.Status != StatusCompleted || st.Version != 5 || st.VolunteerID != v.UserID {
		t.Fatalf("stored: %+v", st)
	}
	var path []string
	for i, h := range st.History {
		path = append(path, fmt.Sprintf("%s>%s by %s", h.From, h.To, h.ActorID))
		if i > 0 && h.At.Before(st.History[i-1].At) {
			t.Fatalf("history out of order: %+v", st.History)
		}
	}
	want := []string{">open by " + p.UserID, "open>pending_approval by " + v.UserID, "pending_approval>confirmed by " + c.UserID,
		"confirmed>in_progress by " + p.UserID, "in_progress>completed by " + v.UserID}
	if fmt.Sprint(path) != fmt.Sprint(want) {
		t.Fatalf("history\n got %v\nwant %v", path, want)
	}
	hist, err := f.svc.History(f.ctx, c, o.ID)
	if err != nil || len(hist) != 5 {
		t.Fatalf("History: %d %v", len(hist), err)
	}
	if _, err := f.svc.History(f.ctx, p, o.ID); fault.KindOf(err) != fault.Forbidden {
		t.Fatalf("participant reading history: %v", err)
	}
	var types []string
	ids := map[string]bool{}
	for _, e := range st.PendingEvents {
		types = append(types, e.Type)
		if ids[e.ID] || e.OutingID != o.ID || e.OrgID != "org1" || e.ParticipantID != p.UserID || !e.StartsAt.Equal(o.StartsAt) {
			t.Fatalf("event %+v", e)
		}
		ids[e.ID] = true
	}
	if fmt.Sprint(types) != fmt.Sprint([]string{EventOffer, EventAccepted, EventApproved, EventCheckedIn, EventCompleted}) || !st.HasPendingEvents {
		t.Fatalf("pending events %v", types)
	}

	// Feedback: once per person, comfort only from participants.
	two, four := 2, 4
	fb, err := f.svc.GiveFeedback(f.ctx, p, o.ID, FeedbackInput{Rating: 5, Comment: "lovely", ComfortBefore: &two, ComfortAfter: &four})
	if err != nil || fb.Rating != 5 || *fb.ComfortAfter != 4 {
		t.Fatalf("feedback: %+v %v", fb, err)
	}
	_, err = f.svc.GiveFeedback(f.ctx, p, o.ID, FeedbackInput{Rating: 4})
	wantKind(t, err, fault.Conflict)
	_, err = f.svc.GiveFeedback(f.ctx, v, o.ID, FeedbackInput{Rating: 4, ComfortBefore: &two})
	wantKind(t, err, fault.Validation)
	if _, err := f.svc.GiveFeedback(f.ctx, v, o.ID, FeedbackInput{Rating: 4}); err != nil {
		t.Fatal(err)
	}
}

// On the embedded store FerretDB's own conditional updates are not atomic;
// the gate must make exactly one of 20 simultaneous accepts win.
func TestConcurrentAcceptsOneWins(t *testing.T) {
	f := newFixture(t)
	p := f.user(auth.RoleParticipant, "Sara Lind")
	o := f.outing(p, 26*time.Hour)
	const n = 20
	vols := make([]auth.Identity, n)
	for i := range vols {
		vols[i] = f.volunteer(fmt.Sprintf("Volunteer %d", i))
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = f.svc.Accept(f.ctx, vols[i], o.ID)
		}()
	}
	close(start)
	wg.Wait()
	won, lost := 0, 0
	winner := ""
	for i, err := range errs {
		switch fault.KindOf(err) {
		case fault.StateConflict:
			lost++
		default:
			if err != nil {
				t.Fatalf("accept %d: %v", i, err)
			}
			won++
			winner = vols[i].UserID
		}
	}
	st := f.stored(o.ID)
	if won != 1 || lost != n-1 || st.Version != 2 || st.VolunteerID != winner || len(st.History) != 2 {
		t.Fatalf("won %d lost %d; stored version %d volunteer %s (winner %s) history %d", won, lost, st.Version, st.VolunteerID, winner, len(st.History))
	}
	// Only the winner holds the time.
	for _, v := range vols {
		prof, err := f.svc.st.Volunteer(f.ctx, v.UserID)
		if err != nil {
			t.Fatal(err)
		}
		if held := len(prof.Commitments) == 1; held != (v.UserID == winner) {
			t.Fatalf("volunteer %s commitments %+v (winner %s)", v.UserID, prof.Commitments, winner)
		}
	}
}

func TestAcceptNeedsAvailabilityAndFreeTime(t *testing.T) {
	f := newFixture(t)
	p := f.user(auth.RoleParticipant, "Sara Lind")
	c := f.user(auth.RoleCoordinator, "Cecilia Berg")
	busy := f.volunteer("Vera Holm")

	// Free only on Mondays 09:00–12:00 Stockholm.
	mornings := f.user(auth.RoleVolunteer, "Mona Ek")
	if _, err := f.svc.PutAvailability(f.ctx, mornings, availability.Spec{TimeZone: "Europe/Stockholm",
		Weekly: []availability.SlotSpec{{Weekday: "mon", Start: "09:00", End: "12:00"}}}); err != nil {
		t.Fatal(err)
	}
	nextMonday10 := time.Date(2026, 6, 8, 8, 0, 0, 0, time.UTC) // 10:00 CEST
	mk := func(start time.Time) OutingView {
		v, err := f.svc.CreateOuting(f.ctx, p, OutingRequest{Kind: KindWalk, StartsAt: start, EndsAt: start.Add(time.Hour),
			MeetingPoint: MeetingPoint{Lat: 56.645, Lon: 12.73}})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	fits := mk(nextMonday10)
	late := mk(nextMonday10.Add(90 * time.Minute)) // 11:30–12:30: past the slot
	if _, err := f.svc.Accept(f.ctx, mornings, late.ID); fault.KindOf(err) != fault.Forbidden {
		t.Fatalf("accept outside availability: %v", err)
	}
	if _, err := f.svc.Accept(f.ctx, mornings, fits.ID); err != nil {
		t.Fatalf("accept inside availability: %v", err)
	}
	// A volunteer with no availability at all.
	none := f.user(auth.RoleVolunteer, "Nils Berg")
	if _, err := f.svc.Accept(f.ctx, none, late.ID); fault.KindOf(err) != fault.Forbidden {
		t.Fatalf("accept without availability: %v", err)
	}

	// Busy: two overlapping outings, one volunteer.
	a := f.outing(p, 50*time.Hour)
	b := f.outing(p, 51*time.Hour)
	if _, err := f.svc.Accept(f.ctx, busy, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Accept(f.ctx, busy, b.ID); fault.KindOf(err) != fault.Conflict {
		t.Fatalf("accepting an overlapping outing: %v", err)
	}
	// Rejected from a: the hold is released, b is free to take.
	if _, err := f.svc.Reject(f.ctx, c, a.ID, "another volunteer knows her"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Accept(f.ctx, busy, b.ID); err != nil {
		t.Fatalf("accept after release: %v", err)
	}
	// ... and a is closed to them for good.
	if _, err := f.svc.Accept(f.ctx, busy, a.ID); fault.KindOf(err) != fault.Forbidden {
		t.Fatalf("excluded volunteer accepting again: %v", err)
	}
	// A hold left behind by a crash (its outing was cancelled without the
	// release) does not block: it is checked against the outing.
	cancelled := f.outing(p, 80*time.Hour)
	if _, err := f.svc.Cancel(f.ctx, p, cancelled.ID, "changed my mind"); err != nil {
		t.Fatal(err)
	}
	f.pushCommitment(busy.UserID, Commitment{OutingID: cancelled.ID, StartsAt: cancelled.StartsAt, EndsAt: cancelled.EndsAt})
	again := f.outing(p, 80*time.Hour)
	if _, err := f.svc.Accept(f.ctx, busy, again.ID); err != nil {
		t.Fatalf("stale hold blocked an accept: %v", err)
	}
}

// recorder is an idempotent consumer: it processes each event id once and
// counts every delivery.
type recorder struct {
	mu         sync.Mutex
	processed  map[string]Event
	deliveries map[string]int
	// crashAfter, when > 0, cancels crash after that many deliveries.
	crashAfter int
	crash      context.CancelFunc
}

func newRecorder() *recorder {
	return &recorder{processed: map[string]Event{}, deliveries: map[string]int{}}
}

func (r *recorder) Consume(ctx context.Context, e Event) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deliveries[e.ID]++
	if _, done := r.processed[e.ID]; !done {
		r.processed[e.ID] = e
	}
	total := 0
	for _, n := range r.deliveries {
		total += n
	}
	if r.crashAfter > 0 && total >= r.crashAfter {
		r.crash()
	}
	return nil
}

// A crash after the sink consumed events but before they were removed
// re-delivers them after the restart; the consumer processes each once.
func TestDispatcherCrashSafety(t *testing.T) {
	f := newFixture(t)
	p := f.user(auth.RoleParticipant, "Sara Lind")
	c := f.user(auth.RoleCoordinator, "Cecilia Berg")
	v := f.volunteer("Vera Holm")
	o := f.outing(p, 26*time.Hour)
	if _, err := f.svc.Accept(f.ctx, v, o.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Approve(f.ctx, c, o.ID); err != nil {
		t.Fatal(err)
	}
	if n := len(f.stored(o.ID).PendingEvents); n != 3 {
		t.Fatalf("pending %d, want 3", n)
	}

	rec := newRecorder()
	crashCtx, crash := context.WithCancel(f.ctx)
	rec.crashAfter, rec.crash = 2, crash
	n, err := f.svc.NewDispatcher(rec, nil).RunOnce(crashCtx)
	if err == nil {
		t.Fatalf("the crashed pass reported success (%d delivered)", n)
	}
	st := f.stored(o.ID)
	if len(st.PendingEvents) != 3 || !st.HasPendingEvents {
		t.Fatalf("after the crash %d events pending, want all 3 still there", len(st.PendingEvents))
	}
	if len(rec.processed) != 2 {
		t.Fatalf("before the crash the consumer processed %d", len(rec.processed))
	}

	// Restart: a new dispatcher, the same (durable, idempotent) consumer.
	rec.crashAfter = 0
	if n, err := f.svc.NewDispatcher(rec, nil).RunOnce(f.ctx); err != nil || n != 3 {
		t.Fatalf("after restart: delivered %d, %v", n, err)
	}
	st = f.stored(o.ID)
	if len(st.PendingEvents) != 0 || st.HasPendingEvents {
		t.Fatalf("after delivery: %d pending, flag %v", len(st.PendingEvents), st.HasPendingEvents)
	}
	if len(rec.processed) != 3 {
		t.Fatalf("processed %d distinct events, want 3", len(rec.processed))
	}
	redelivered := 0
	for id, n := range rec.deliveries {
		if n > 2 {
			t.Fatalf("event %s delivered %d times", id, n)
		}
		redelivered += n - 1
	}
	if redelivered != 2 {
		t.Fatalf("%d re-deliveries, want the 2 consumed before the crash", redelivered)
	}
	if n, err := f.svc.NewDispatcher(rec, nil).RunOnce(f.ctx); err != nil || n != 0 {
		t.Fatalf("third pass delivered %d, %v", n, err)
	}
}

// A running dispatcher delivers new events without waiting for its scan.
func TestDispatcherRunDeliversPromptly(t *testing.T) {
	f := newFixture(t)
	p := f.user(auth.RoleParticipant, "Sara Lind")
	rec := newRecorder()
	d := f.svc.NewDispatcher(rec, nil)
	d.ScanEvery = time.Hour
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan struct{})
	go func() { defer close(done); d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	o := f.outing(p, 26*time.Hour)
	deadline := time.Now().Add(10 * time.Second)
	for {
		rec.mu.Lock()
		got := len(rec.processed)
		rec.mu.Unlock()
		if got == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the offer event was never delivered")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, e := range rec.processed {
		if e.Type != EventOffer || e.OutingID != o.ID {
			t.Fatalf("delivered %+v", e)
		}
	}
}

func TestExpirySweep(t *testing.T) {
	f := newFixture(t)
	p := f.user(auth.RoleParticipant, "Sara Lind")
	c := f.user(auth.RoleCoordinator, "Cecilia Berg")
	v := f.volunteer("Vera Holm")
	open := f.outing(p, time.Hour)
	pending := f.outing(p, 3*time.Hour)
	confirmed := f.outing(p, 5*time.Hour)
	later := f.outing(p, 48*time.Hour)
	if _, err := f.svc.Accept(f.ctx, v, pending.ID); err != nil {
		t.Fatal(err)
	}
	w := f.volunteer("Wilma Ek")
	if _, err := f.svc.Accept(f.ctx, w, confirmed.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Approve(f.ctx, c, confirmed.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := f.svc.ExpireStarted(f.ctx, 0); err != nil || n != 0 {
		t.Fatalf("nothing has started: %d %v", n, err)
	}
	f.clock.Advance(6 * time.Hour)
	if n, err := f.svc.ExpireStarted(f.ctx, 0); err != nil || n != 2 {
		t.Fatalf("expired %d, want 2: %v", n, err)
	}
	for id, want := range map[string]OutingStatus{open.ID: StatusExpired, pending.ID: StatusExpired, confirmed.ID: StatusConfirmed, later.ID: StatusOpen} {
		if got := f.stored(id).Status; got != want {
			t.Fatalf("outing %s: %s, want %s", id, got, want)
		}
	}
	ev := f.stored(pending.ID).PendingEvents
	last := ev[len(ev)-1]
	if last.Type != EventExpired || !last.ToCoordinators || fmt.Sprint(last.Recipients) != fmt.Sprint([]string{p.UserID, v.UserID}) {
		t.Fatalf("expiry event %+v", last)
	}
	if prof, _ := f.svc.st.Volunteer(f.ctx, v.UserID); len(prof.Commitments) != 0 {
		t.Fatalf("an expired outing still holds the volunteer: %+v", prof.Commitments)
	}
	if n, _ := f.svc.ExpireStarted(f.ctx, 0); n != 0 {
		t.Fatalf("second sweep expired %d", n)
	}
}

func TestExportAndErase(t *testing.T) {
	f := newFixture(t)
	p := f.user(auth.RoleParticipant, "Sara Lind")
	c := f.user(auth.RoleCoordinator, "Cecilia Berg")
	v := f.volunteer("Vera Holm")
	if _, err := f.svc.PutParticipantProfile(f.ctx, p, ParticipantProfileInput{Languages: []string{"sv"}, CompanionGender: "female"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SetSupportNeeds(f.ctx, c, p.UserID, "prefers quiet places"); err != nil {
		t.Fatal(err)
	}
	done := f.outing(p, 2*time.Hour)
	live := f.outing(p, 48*time.Hour)
	vols := f.outing(p, 72*time.Hour)
	for _, id := range []string{done.ID, vols.ID} {
		if _, err := f.svc.Accept(f.ctx, v, id); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Approve(f.ctx, c, id); err != nil {
			t.Fatal(err)
		}
	}
	w := f.volunteer("Wilma Ek")
	if _, err := f.svc.Accept(f.ctx, w, live.ID); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Hour)
	if _, err := f.svc.CheckIn(f.ctx, v, done.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Complete(f.ctx, p, done.ID); err != nil {
		t.Fatal(err)
	}
	three := 3
	if _, err := f.svc.GiveFeedback(f.ctx, p, done.ID, FeedbackInput{Rating: 4, Comment: "Vera was kind", ComfortAfter: &three}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.GiveFeedback(f.ctx, v, done.ID, FeedbackInput{Rating: 5, Comment: "Sara did great"}); err != nil {
		t.Fatal(err)
	}

	hook := f.svc.PersonalHook()
	raw, err := hook.Export(f.ctx, p.UserID)
	if err != nil {
		t.Fatal(err)
	}
	ex := raw.(Export)
	if ex.ParticipantProfile == nil || ex.ParticipantProfile.SupportNeeds != "prefers quiet places" || len(ex.Outings) != 3 || len(ex.Feedback) != 1 || ex.Outings[0].Note == "" || len(ex.Outings[0].History) == 0 {
		t.Fatalf("participant export: %+v", ex)
	}
	rawV, _ := hook.Export(f.ctx, v.UserID)
	exV := rawV.(Export)
	if exV.VolunteerProfile == nil || exV.VolunteerProfile.Availability == nil || len(exV.Outings) != 2 || len(exV.Feedback) != 1 {
		t.Fatalf("volunteer export: %+v", exV)
	}

	// Erase the volunteer first: their confirmed future outing reopens.
	if err := hook.Erase(f.ctx, v.UserID); err != nil {
		t.Fatal(err)
	}
	if st := f.stored(vols.ID); st.Status != StatusOpen || st.VolunteerID != "" {
		t.Fatalf("companion erased: outing %s volunteer %q", st.Status, st.VolunteerID)
	}
	if st := f.stored(done.ID); st.VolunteerID != ErasedActor || st.Status != StatusCompleted {
		t.Fatalf("finished outing after companion erasure: %+v", st)
	}
	if _, err := f.svc.st.Volunteer(f.ctx, v.UserID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("volunteer profile survived: %v", err)
	}

	if err := hook.Erase(f.ctx, p.UserID); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{live.ID, vols.ID} {
		st := f.stored(id)
		if st.Status != StatusCancelled {
			t.Fatalf("live outing after participant erasure: %s", st.Status)
		}
		last := st.PendingEvents[len(st.PendingEvents)-1]
		if last.Type != EventCancelled || !last.ToCoordinators {
			t.Fatalf("erasure cancel event %+v", last)
		}
	}
	// The companion of the erased participant's pending outing is free again.
	if prof, err := f.svc.st.Volunteer(f.ctx, w.UserID); err != nil || len(prof.Commitments) != 0 {
		t.Fatalf("the erased participant's outing still holds its volunteer: %+v %v", prof, err)
	}
	st := f.stored(done.ID)
	if st.Note != "" || st.ParticipantName != "" || st.ParticipantID != ErasedActor || st.MeetingPoint != (MeetingPoint{}) || !st.Erased {
		t.Fatalf("finished outing keeps personal data: %+v", st)
	}
	for _, h := range st.History {
		if h.ActorID == p.UserID || h.ActorID == v.UserID || h.Reason != "" {
			t.Fatalf("history keeps personal data: %+v", h)
		}
	}
	if st.Kind != KindCafe || st.StartsAt.IsZero() || st.OrgID != "org1" {
		t.Fatalf("statistics lost: %+v", st)
	}
	if _, err := f.svc.st.Participant(f.ctx, p.UserID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("participant profile survived: %v", err)
	}
	fbs, err := f.svc.st.FeedbackOnOuting(f.ctx, done.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(fbs) != 2 {
		t.Fatalf("feedback rows %d", len(fbs))
	}
	for _, fb := range fbs {
		if fb.Comment != "" || fb.AuthorID == p.UserID || fb.AuthorID == v.UserID || fb.Rating == 0 {
			t.Fatalf("feedback after erasure: %+v", fb)
		}
	}
	// The erased participant's outing is gone from everyone but the coordinators.
	if _, err := f.svc.Outing(f.ctx, p, done.ID); fault.KindOf(err) != fault.NotFound {
		t.Fatalf("erased participant still sees the outing: %v", err)
	}
	if view, err := f.svc.Outing(f.ctx, c, done.ID); err != nil || view.MeetingPoint != nil || view.Note != "" {
		t.Fatalf("coordinator view of an erased outing: %+v %v", view, err)
	}
}

func TestCreateOutingRules(t *testing.T) {
	f := newFixture(t)
	p := f.user(auth.RoleParticipant, "Sara Lind")
	c := f.user(auth.RoleCoordinator, "Cecilia Berg")
	other := f.user(auth.RoleParticipant, "Olle Ek")
	now := f.clock.Now()
	good := OutingRequest{Kind: KindBusTrip, StartsAt: now.Add(time.Hour), EndsAt: now.Add(3 * time.Hour), MeetingPoint: MeetingPoint{Lat: 56.6696, Lon: 12.8648}}
	cases := []struct {
		name  string
		who   auth.Identity
		edit  func(*OutingRequest)
		field string
	}{
		{"past", p, func(r *OutingRequest) { r.StartsAt = now.Add(-time.Minute) }, "starts_at"},
		{"ends first", p, func(r *OutingRequest) { r.EndsAt = r.StartsAt.Add(-time.Minute) }, "ends_at"},
		{"13 hours", p, func(r *OutingRequest) { r.EndsAt = r.StartsAt.Add(13 * time.Hour) }, "ends_at"},
		{"kind", p, func(r *OutingRequest) { r.Kind = "disco" }, "kind"},
		{"latitude", p, func(r *OutingRequest) { r.MeetingPoint.Lat = 91 }, "meeting_point.lat"},
		{"for someone else", p, func(r *OutingRequest) { r.ParticipantID = other.UserID }, "participant_id"},
		{"coordinator without participant", c, func(r *OutingRequest) {}, "participant_id"},
		{"coordinator for a coordinator", c, func(r *OutingRequest) { r.ParticipantID = c.UserID }, "participant_id"},
	}
	for _, tc := range cases {
		r := good
		tc.edit(&r)
		_, err := f.svc.CreateOuting(f.ctx, tc.who, r)
		ferr, ok := fault.As(err)
		if !ok || ferr.Kind != fault.Validation || ferr.Fields[0].Field != tc.field {
			t.Errorf("%s: %v, want a validation error on %s", tc.name, err, tc.field)
		}
	}
	exactly12 := good
	exactly12.EndsAt = exactly12.StartsAt.Add(12 * time.Hour)
	if _, err := f.svc.CreateOuting(f.ctx, p, exactly12); err != nil {
		t.Fatalf("12 hours is allowed: %v", err)
	}
	forP := good
	forP.ParticipantID = p.UserID
	v, err := f.svc.CreateOuting(f.ctx, c, forP)
	if err != nil || v.ParticipantID != p.UserID {
		t.Fatalf("coordinator for participant: %+v %v", v, err)
	}
	if n := f.count("outings"); n != 2 {
		t.Fatalf("%d outings stored, want 2 (bad requests write nothing)", n)
	}
}

// A second start on the same database finds its schema in place.
func TestServiceStartsTwiceOnOneDatabase(t *testing.T) {
	f := newFixture(t)
	for range 2 {
		if _, err := NewSQLiteStore(f.ctx, f.db); err != nil {
			t.Fatalf("second start: %v", err)
		}
	}
}

// pushCommitment leaves a commitment on a profile as a crash would.
func (f *fixture) pushCommitment(volunteerID string, c Commitment) {
	f.t.Helper()
	if _, err := f.svc.st.UpdateVolunteer(f.ctx, volunteerID, false, func(p *VolunteerProfile) (bool, error) {
		p.Commitments = append(p.Commitments, c)
		return true, nil
	}); err != nil {
		f.t.Fatal(err)
	}
}

// count is the number of rows in one of matching's tables.
func (f *fixture) count(table string) int {
	f.t.Helper()
	var n int
	if err := f.db.QueryRowContext(f.ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// Erasing a coordinator replaces their id where outings name them (the
// creator of an outing made for a participant, actor in its history),
// as for participants and volunteers; the participant's outing stays theirs.
func TestEraseCoordinatorFromOutings(t *testing.T) {
	f := newFixture(t)
	p := f.user(auth.RoleParticipant, "Sara Lind")
	c := f.user(auth.RoleCoordinator, "Cecilia Berg")
	v := f.volunteer("Vera Holm")
	start := f.clock.Now().Add(48 * time.Hour)
	o, err := f.svc.CreateOuting(f.ctx, c, OutingRequest{ParticipantID: p.UserID, Kind: KindWalk, StartsAt: start, EndsAt: start.Add(time.Hour),
		MeetingPoint: MeetingPoint{Lat: 56.6744, Lon: 12.8578}})
	if err != nil {
		t.Fatal(err)
	}
	must(t)(f.svc.Accept(f.ctx, v, o.ID))
	must(t)(f.svc.Approve(f.ctx, c, o.ID))
	if got := f.stored(o.ID); got.CreatedBy != c.UserID {
		t.Fatalf("created by %q", got.CreatedBy)
	}
	if err := f.svc.PersonalHook().Erase(f.ctx, c.UserID); err != nil {
		t.Fatal(err)
	}
	got := f.stored(o.ID)
	if got.CreatedBy != ErasedActor || got.ParticipantID != p.UserID || got.VolunteerID != v.UserID || got.Status != StatusConfirmed || got.Erased {
		t.Fatalf("after the coordinator's erasure: %+v", got)
	}
	actors := map[string]bool{}
	for _, h := range got.History {
		actors[h.ActorID] = true
	}
	if actors[c.UserID] || !actors[ErasedActor] || !actors[v.UserID] {
		t.Fatalf("history actors %v", actors)
	}
	if outs, _ := f.svc.st.OutingsOfUser(f.ctx, c.UserID); len(outs) != 0 {
		t.Fatalf("the coordinator is still named by %d outings", len(outs))
	}
}
