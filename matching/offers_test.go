package matching

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
)

// Offer waves and the volunteer's offer list, on the embedded store with a
// fake clock.

// eventLog is the sink behind the matcher's OfferSink: what notify would get.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) Consume(_ context.Context, e Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
	return nil
}

// take returns and forgets the events of a type received so far.
func (l *eventLog) take(typ string) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out, keep []Event
	for _, e := range l.events {
		if e.Type == typ {
			out = append(out, e)
		} else {
			keep = append(keep, e)
		}
	}
	l.events = keep
	return out
}

// waves is a matcher with its dispatcher and worker, driven by hand.
type waves struct {
	f      *fixture
	m      *Matcher
	log    *eventLog
	disp   *Dispatcher
	worker *OfferWaves
}

func newWaves(f *fixture, cfg MatcherConfig) *waves {
	w := &waves{f: f, m: f.matcher(cfg), log: &eventLog{}}
	w.disp = f.svc.NewDispatcher(w.m.OfferSink(w.log), nil)
	w.worker = w.m.OfferWaves()
	return w
}

// deliver runs the dispatcher until nothing is pending (a wave's own
// event is delivered on the pass after the one that consumed its trigger).
func (w *waves) deliver() {
	w.f.t.Helper()
	for range 5 {
		n, err := w.disp.RunOnce(w.f.ctx)
		if err != nil {
			w.f.t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
	w.f.t.Fatal("events keep coming")
}

// tick runs the wave worker once and delivers what it wrote.
func (w *waves) tick() int {
	w.f.t.Helper()
	n, err := w.worker.RunOnce(w.f.ctx)
	if err != nil {
		w.f.t.Fatal(err)
	}
	w.deliver()
	return n
}

func (w *waves) offerDoc(id string) offerDoc {
	w.f.t.Helper()
	d, err := w.f.svc.st.OfferDoc(w.f.ctx, id)
	if err != nil {
		w.f.t.Fatal(err)
	}
	return *d
}

// twelve volunteers at increasing distance north of Stora Torg.
func (f *fixture) volunteerLine(n int) []auth.Identity {
	vs := make([]auth.Identity, n)
	for i := range vs {
		vs[i] = f.volunteerAt(fmt.Sprintf("Volunteer %02d", i), 56.6744+0.005*float64(i+1), 12.8578, 20)
	}
	return vs
}

func recipients(evs []Event) [][]string {
	var out [][]string
	for _, e := range evs {
		out = append(out, e.Recipients)
	}
	return out
}

func TestOfferWavesWidenAfterTheWaitNotBefore(t *testing.T) {
	f := newFixture(t)
	w := newWaves(f, MatcherConfig{OfferWave: 5})
	vs := f.volunteerLine(12)
	ids := func(from, to int) []string {
		var out []string
		for _, v := range vs[from:to] {
			out = append(out, v.UserID)
		}
		return out
	}
	p := f.user(auth.RoleParticipant, "Sara Lind")
	o := f.outing(p, thursdayTen) // three days ahead: the wait is the full 2 h

	// At creation: the first wave, the five best (nearest, all else equal).
	w.deliver()
	first := w.log.take(EventOffer)
	if len(first) != 1 || !slices.Equal(first[0].Recipients, ids(0, 5)) || first[0].OutingID != o.ID {
		t.Fatalf("first wave %v, want %v", recipients(first), ids(0, 5))
	}
	d := w.offerDoc(o.ID)
	if d.OfferWave != 1 || len(d.OfferedTo) != 5 || !d.NextWaveAt.Equal(f.clock.Now().Add(2*time.Hour)) {
		t.Fatalf("after wave 1: wave %d, offered %d, next %v", d.OfferWave, len(d.OfferedTo), d.NextWaveAt)
	}

	// Before the wait is over: nothing, however often the worker looks.
	for range 3 {
		f.clock.Advance(39 * time.Minute)
		if n := w.tick(); n != 0 {
			t.Fatalf("the worker acted %d times before the wait was over", n)
		}
	}
	if got := w.log.take(EventOffer); len(got) != 0 {
		t.Fatalf("a wave before the wait: %v", recipients(got))
	}

	// After it: the next five, none of the first again.
	f.clock.Advance(3 * time.Minute) // 2 h since the first wave
	if n := w.tick(); n != 1 {
		t.Fatalf("the worker acted %d times once the wait was over", n)
	}
	second := w.log.take(EventOffer)
	if len(second) != 1 || !slices.Equal(second[0].Recipients, ids(5, 10)) {
		t.Fatalf("second wave %v, want %v", recipients(second), ids(5, 10))
	}

	// Then the last two; then nobody is left, and the coordinators hear it once.
	f.clock.Advance(2 * time.Hour)
	w.tick()
	if third := w.log.take(EventOffer); len(third) != 1 || !slices.Equal(third[0].Recipients, ids(10, 12)) {
		t.Fatalf("third wave %v", recipients(third))
	}
	f.clock.Advance(2 * time.Hour)
	w.tick()
	f.clock.Advance(2 * time.Hour)
	w.tick()
	alerts := w.log.take(EventNoCandidates)
	if len(alerts) != 1 || !alerts[0].ToCoordinators || len(w.log.take(EventOffer)) != 0 {
		t.Fatalf("no-candidates alerts %+v", alerts)
	}

	// Accepted: no more waves or alerts.
	must(t)(f.svc.Accept(f.ctx, vs[3], o.ID))
	f.clock.Advance(6 * time.Hour)
	if n := w.tick(); n != 0 {
		t.Fatalf("the worker acted on an accepted outing")
	}
}

func TestDeclinedVolunteerIsNeverOfferedAgain(t *testing.T) {
	f := newFixture(t)
	w := newWaves(f, MatcherConfig{OfferWave: 2})
	vs := f.volunteerLine(5)
	p := f.user(auth.RoleParticipant, "Sara Lind")
	c := f.coordinator()
	o := f.outing(p, thursdayTen)
	w.deliver()
	if got := w.log.take(EventOffer); len(got) != 1 || !slices.Equal(got[0].Recipients, []string{vs[0].UserID, vs[1].UserID}) {
		t.Fatalf("first wave %v", recipients(got))
	}
	if err := f.svc.Decline(f.ctx, vs[0], o.ID); err != nil {
		t.Fatal(err)
	}
	// vs[1] accepts and is rejected: the outing reopens and a wave goes out
	// at once, to neither of them.
	must(t)(f.svc.Accept(f.ctx, vs[1], o.ID))
	must(t)(f.svc.Reject(f.ctx, c, o.ID, "another volunteer knows her"))
	w.deliver()
	got := w.log.take(EventOffer)
	if len(got) != 1 || !slices.Equal(got[0].Recipients, []string{vs[2].UserID, vs[3].UserID}) {
		t.Fatalf("wave after the reopening %v", recipients(got))
	}
	for range 4 {
		f.clock.Advance(2 * time.Hour)
		w.tick()
	}
	var all []string
	for _, e := range w.log.take(EventOffer) {
		all = append(all, e.Recipients...)
	}
	if !slices.Equal(all, []string{vs[4].UserID}) {
		t.Fatalf("later waves reached %v, want only %s", all, vs[4].UserID)
	}
	// Nor does the decliner see it among their offers, or the coordinator
	// among the candidates.
	page, err := w.m.Offers(f.ctx, vs[0], 20, "")
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("decliner's offers: %+v %v", page.Items, err)
	}
	cands, err := w.m.Candidates(f.ctx, c, o.ID, CandidatesQuery{IncludeExcluded: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range cands.Items {
		if s.VolunteerID == vs[0].UserID || s.VolunteerID == vs[1].UserID {
			t.Fatalf("declined or rejected volunteer %s is a candidate", s.VolunteerID)
		}
	}
	for _, e := range cands.Excluded {
		if (e.VolunteerID == vs[0].UserID || e.VolunteerID == vs[1].UserID) && e.Rule != RuleExcluded {
			t.Fatalf("exclusion %+v, want rule excluded", e)
		}
	}
}

func TestNoCandidatesAlertsCoordinatorsAtOnce(t *testing.T) {
	f := newFixture(t)
	w := newWaves(f, MatcherConfig{})
	f.volunteerAt("Far Away", 58.0, 12.8578, 10) // Gothenburg-ish: outside every cell
	p := f.user(auth.RoleParticipant, "Sara Lind")
	o := f.outing(p, thursdayTen)
	w.deliver()
	alerts := w.log.take(EventNoCandidates)
	if len(alerts) != 1 || !alerts[0].ToCoordinators || alerts[0].OutingID != o.ID || len(w.log.take(EventOffer)) != 0 {
		t.Fatalf("alerts %+v", alerts)
	}
	// The worker keeps looking, without repeating the alert.
	f.clock.Advance(3 * time.Hour)
	w.tick()
	if again := w.log.take(EventNoCandidates); len(again) != 0 {
		t.Fatalf("alert repeated: %+v", again)
	}
	// Someone moves close by: they are offered it on the next look.
	v := f.volunteerAt("New Neighbour", 56.6744, 12.8578, 5)
	f.clock.Advance(2 * time.Hour)
	w.tick()
	if got := w.log.take(EventOffer); len(got) != 1 || !slices.Equal(got[0].Recipients, []string{v.UserID}) {
		t.Fatalf("offers after a volunteer appeared: %v", recipients(got))
	}
}

func TestUnansweredOfferAlertsCoordinators24HoursBefore(t *testing.T) {
	f := newFixture(t)
	w := newWaves(f, MatcherConfig{OfferWave: 1})
	f.volunteerLine(20)
	p := f.user(auth.RoleParticipant, "Sara Lind")
	o := f.outing(p, 30*time.Hour)
	w.deliver()
	d := w.offerDoc(o.ID)
	if want := o.StartsAt.Add(-24 * time.Hour); !d.UnansweredAlertAt.Equal(want) {
		t.Fatalf("alert at %v, want %v", d.UnansweredAlertAt, want)
	}
	// Waves every 2 h; the alert exactly when 24 h are left, once.
	var alertedAt []time.Duration
	start := f.clock.Now()
	for f.clock.Now().Before(o.StartsAt.Add(-20 * time.Hour)) {
		f.clock.Advance(15 * time.Minute)
		w.tick()
		if n := len(w.log.take(EventNoCandidates)); n > 0 {
			alertedAt = append(alertedAt, f.clock.Now().Sub(start))
		}
	}
	if len(alertedAt) != 1 || alertedAt[0] != 6*time.Hour {
		t.Fatalf("alerts after %v, want once after 6h", alertedAt)
	}
	if n := len(w.log.take(EventOffer)); n < 4 {
		t.Fatalf("only %d waves in 10 hours", n)
	}
}

// The wait shrinks to a quarter of the time left, and the worker picks up
// an outing whose "offers needed" event never reached a matcher.
func TestShortNoticeWaitAndLostTrigger(t *testing.T) {
	f := newFixture(t)
	w := newWaves(f, MatcherConfig{OfferWave: 1})
	f.volunteerLine(3)
	p := f.user(auth.RoleParticipant, "Sara Lind")
	o := f.outing(p, 2*time.Hour)
	// Deliver with a plain sink: the trigger is consumed without a wave.
	if _, err := f.svc.NewDispatcher(&eventLog{}, nil).RunOnce(f.ctx); err != nil {
		t.Fatal(err)
	}
	if n := w.tick(); n != 1 {
		t.Fatalf("worker acted %d times on an outing never offered", n)
	}
	if got := w.log.take(EventOffer); len(got) != 1 {
		t.Fatalf("waves %v", recipients(got))
	}
	d := w.offerDoc(o.ID)
	if want := f.clock.Now().Add(30 * time.Minute); !d.NextWaveAt.Equal(want) {
		t.Fatalf("next wave %v, want a quarter of 2 h later: %v", d.NextWaveAt, want)
	}
	// A short-notice outing: coordinators hear when the first wait is over.
	if !d.UnansweredAlertAt.Equal(d.NextWaveAt) {
		t.Fatalf("unanswered alert at %v, want %v", d.UnansweredAlertAt, d.NextWaveAt)
	}
}

func TestVolunteerOffersListIsRankedLimitedAndPaged(t *testing.T) {
	f := newFixture(t)
	m := f.matcher(MatcherConfig{})
	places := loadPlaces(t)
	v := f.volunteerAt("Vera Holm", 56.6744, 12.8578, 15)
	p := f.user(auth.RoleParticipant, "Sara Lind Andersson")
	var ids []string
	for i, name := range []string{"Halmstad Centralstation", "Stora Torg", "Halmstad stadsbibliotek", "Tylösand strand"} {
		o := f.outingAt(p, mustPlace(t, places, name), thursdayTen+time.Duration(i)*24*time.Hour, func(r *OutingRequest) {
			r.Note = "I get anxious in crowds"
		})
		ids = append(ids, o.ID)
	}
	// Not offered: too far (Blekinge), and already taken.
	f.outingAt(p, mustPlace(t, places, "Karlskrona Stortorget"), thursdayTen+5*24*time.Hour)
	taken := f.outingAt(p, mustPlace(t, places, "Stora Torg"), thursdayTen+6*24*time.Hour)
	must(t)(f.svc.Accept(f.ctx, f.volunteerAt("Other", 56.6744, 12.8578, 10), taken.ID))

	var got []Offer
	cursor := ""
	for range 4 {
		page, err := m.Offers(f.ctx, v, 3, cursor)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Items...)
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	var gotIDs []string
	for i, o := range got {
		gotIDs = append(gotIDs, o.ID)
		if i > 0 && o.Score > got[i-1].Score {
			t.Fatalf("not best first: %v then %v", got[i-1].Score, o.Score)
		}
		raw, _ := json.Marshal(o)
		for _, secret := range []string{"anxious", "Andersson", "Stora Torg", "description", `"meeting_point"`, fmt.Sprint(o.Area.Lat) + "9"} {
			if strings.Contains(string(raw), secret) {
				t.Fatalf("the limited view shows %q: %s", secret, raw)
			}
		}
		if !o.Limited || o.Area == nil || o.ParticipantName != "Sara" || o.Score <= 0 {
			t.Fatalf("offer %s", raw)
		}
	}
	slices.Sort(gotIDs)
	slices.Sort(ids)
	if !slices.Equal(gotIDs, ids) {
		t.Fatalf("offers %v, want %v", gotIDs, ids)
	}
	_, err := m.Offers(f.ctx, v, 3, "bogus")
	wantKind(t, err, fault.Validation)
	_, err = m.Offers(f.ctx, p, 3, "")
	wantKind(t, err, fault.Forbidden)
	// A volunteer without a profile has no offers yet.
	if page, err := m.Offers(f.ctx, auth.Identity{UserID: "nobody", Role: auth.RoleVolunteer, OrgID: "org1", Status: auth.StatusActive}, 3, ""); err != nil || len(page.Items) != 0 {
		t.Fatalf("offers without a profile: %+v %v", page, err)
	}
}
