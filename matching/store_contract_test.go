package matching

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/db/dbtest"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
)

func TestStoreSQLite(t *testing.T) { testStore(t, sqlitetest.Opener(NewSQLiteStore)) }

func TestStoreMongo(t *testing.T) { testStore(t, dbtest.Opener(NewMongoStore)) }

var contractNow = time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC) // a Monday

// contractOuting is an open outing of org1 created at created.
func contractOuting(id, participant string, start, created time.Time) *Outing {
	return &Outing{ID: id, ParticipantID: participant, ParticipantName: "Sara Lind", OrgID: "org1", Kind: KindCafe, Note: "note",
		StartsAt: start, EndsAt: start.Add(2 * time.Hour), MeetingPoint: MeetingPoint{Lat: 56.6744, Lon: 12.8578, Description: "Stora Torg"},
		CompanionGender: "any", Language: "sv", Status: StatusOpen, Version: 1, CreatedAt: created, CreatedBy: participant, UpdatedAt: created,
		History: []HistoryEntry{{At: created, ActorID: participant, To: StatusOpen}}, PendingEvents: []Event{},
		ExcludedVolunteers: []string{}, DeclinedBy: []string{}}
}

// testStore holds an engine to matching's store contract.
func testStore(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	insert := func(t *testing.T, st Store, o *Outing) {
		t.Helper()
		if err := st.InsertOuting(ctx, o); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("report rows", func(t *testing.T) {
		st := open(t)
		two, four := 2, 4
		from, to := contractNow, contractNow.Add(72*time.Hour)
		var want []string
		for i, h := range []int{-1, 0, 0, 5, 71, 72} {
			o := contractOuting(fmt.Sprintf("r%d", i), "p1", contractNow.Add(100*time.Hour), contractNow.Add(time.Duration(h)*time.Hour))
			if i == 3 {
				o.Status, o.VolunteerID = StatusCompleted, "v1"
				o.History = append(o.History,
					HistoryEntry{At: o.CreatedAt.Add(20 * time.Minute), ActorID: "v1", From: StatusOpen, To: StatusPendingApproval},
					HistoryEntry{At: o.CreatedAt.Add(30 * time.Minute), ActorID: "c1", From: StatusPendingApproval, To: StatusConfirmed},
					HistoryEntry{At: o.CreatedAt.Add(90 * time.Minute), ActorID: "c1", From: StatusConfirmed, To: StatusConfirmed})
			}
			insert(t, st, o)
			if i == 3 {
				for _, f := range []Feedback{
					{ID: "r3:p", OutingID: "r3", OrgID: "org1", AuthorID: "p1", AuthorRole: auth.RoleParticipant, ParticipantID: "p1", VolunteerID: "v1", Rating: 5, ComfortBefore: &two, ComfortAfter: &four, CreatedAt: contractNow},
					{ID: "r3:v", OutingID: "r3", OrgID: "org1", AuthorID: "v1", AuthorRole: auth.RoleVolunteer, ParticipantID: "p1", VolunteerID: "v1", Rating: 4, CreatedAt: contractNow},
				} {
					if err := st.InsertFeedback(ctx, &f); err != nil {
						t.Fatal(err)
					}
				}
			}
			if h >= 0 && h < 72 {
				want = append(want, o.ID)
			}
		}
		other := contractOuting("x1", "p2", contractNow.Add(100*time.Hour), contractNow.Add(time.Hour))
		other.OrgID = "org2"
		insert(t, st, other)
		var got []string
		var after *pageCursor
		for {
			page, err := st.ReportRows(ctx, "org1", from, to, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page {
				got = append(got, r.ID)
				if r.ID == "r3" && (r.Status != StatusCompleted || r.VolunteerID != "v1" || !r.ConfirmedAt.Equal(contractNow.Add(5*time.Hour+30*time.Minute)) ||
					!r.StartsAt.Equal(contractNow.Add(100*time.Hour)) || !r.EndsAt.Equal(contractNow.Add(102*time.Hour)) || !r.CreatedAt.Equal(contractNow.Add(5*time.Hour)) || r.ComfortBefore != 2 || r.ComfortAfter != 4) {
					t.Fatalf("r3 read as %+v", r)
				}
				if r.ID != "r3" && (!r.ConfirmedAt.IsZero() || r.ComfortBefore != 0) {
					t.Fatalf("%s never confirmed, read %+v", r.ID, r)
				}
			}
			if len(page) < 2 {
				break
			}
			after = &pageCursor{at: page[len(page)-1].CreatedAt, id: page[len(page)-1].ID}
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("report rows %v, want %v", got, want)
		}
	})

	t.Run("outings", func(t *testing.T) {
		st := open(t)
		o := contractOuting("o1", "p1", contractNow.Add(48*time.Hour), contractNow)
		insert(t, st, o)
		if err := st.InsertOuting(ctx, o); !errors.Is(err, ErrDuplicate) {
			t.Fatalf("second insert: %v, want ErrDuplicate", err)
		}
		got, err := st.Outing(ctx, "o1")
		if err != nil || got.ParticipantName != "Sara Lind" || !got.StartsAt.Equal(o.StartsAt) || got.MeetingPoint != o.MeetingPoint || len(got.History) != 1 {
			t.Fatalf("read back %+v %v", got, err)
		}
		if _, err := st.Outing(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing outing: %v", err)
		}
		if _, _, err := st.TransitionOuting(ctx, "nope", contractNow, func(context.Context, *Outing) (Move, error) { return Move{}, nil }); !errors.Is(err, ErrNotFound) {
			t.Fatalf("transition of a missing outing: %v", err)
		}
		// decide's error comes back as it is, and nothing is written.
		boom := fault.StateConflictf("no")
		if _, _, err := st.TransitionOuting(ctx, "o1", contractNow, func(context.Context, *Outing) (Move, error) { return Move{}, boom }); err != boom {
			t.Fatalf("decide's error: %v", err)
		}
		// A move with events flags the outing for the dispatcher.
		at := contractNow.Add(time.Minute)
		before, m, err := st.TransitionOuting(ctx, "o1", at, func(_ context.Context, o *Outing) (Move, error) {
			return Move{Action: ActionAccept, Actor: "v1", From: o.Status, To: StatusPendingApproval, SetVolunteer: "v1", SetVolunteerName: "Vera",
				Events: []Event{{ID: "e1", Type: EventAccepted}, {ID: "e2", Type: EventOffer}}}, nil
		})
		if err != nil || before.Status != StatusOpen || m.To != StatusPendingApproval {
			t.Fatalf("transition: %+v %+v %v", before, m, err)
		}
		got, _ = st.Outing(ctx, "o1")
		if got.Status != StatusPendingApproval || got.Version != 2 || got.VolunteerID != "v1" || got.VolunteerName != "Vera" || len(got.History) != 2 || !got.UpdatedAt.Equal(at) {
			t.Fatalf("after transition %+v", got)
		}
		// A recorded move keeps the status but adds a history entry and a version.
		if _, _, err := st.TransitionOuting(ctx, "o1", at.Add(time.Second), func(_ context.Context, o *Outing) (Move, error) {
			return Move{Action: ActionCheckIn, Actor: "p1", From: o.Status, To: o.Status, Record: true, Reason: CheckedInReason}, nil
		}); err != nil {
			t.Fatal(err)
		}
		got, _ = st.Outing(ctx, "o1")
		if got.Status != StatusPendingApproval || got.Version != 3 || len(got.History) != 3 || got.History[2].ActorID != "p1" ||
			got.History[2].From != got.History[2].To || got.History[2].Reason != CheckedInReason {
			t.Fatalf("after a recorded move %+v", got)
		}
		ids, err := st.OutingIDsWithPendingEvents(ctx, 10)
		if err != nil || !slices.Equal(ids, []string{"o1"}) {
			t.Fatalf("pending %v %v", ids, err)
		}
		evs, flagged, err := st.PendingEvents(ctx, "o1")
		if err != nil || !flagged || len(evs) != 2 || evs[0].ID != "e1" {
			t.Fatalf("events %+v %v %v", evs, flagged, err)
		}
		if err := st.RemoveDeliveredEvents(ctx, "o1", []string{"e1"}); err != nil {
			t.Fatal(err)
		}
		if evs, flagged, _ = st.PendingEvents(ctx, "o1"); len(evs) != 1 || evs[0].ID != "e2" || !flagged {
			t.Fatalf("after removing e1: %+v %v", evs, flagged)
		}
		if err := st.RemoveDeliveredEvents(ctx, "o1", []string{"e2"}); err != nil {
			t.Fatal(err)
		}
		if ids, _ := st.OutingIDsWithPendingEvents(ctx, 10); len(ids) != 0 {
			t.Fatalf("still pending: %v", ids)
		}
		// Clear the volunteer again (reject): the companion's list forgets it.
		if _, _, err := st.TransitionOuting(ctx, "o1", at, func(_ context.Context, o *Outing) (Move, error) {
			return Move{Actor: "c1", From: o.Status, To: StatusOpen, ClearVolunteer: true, Exclude: "v1"}, nil
		}); err != nil {
			t.Fatal(err)
		}
		got, _ = st.Outing(ctx, "o1")
		if got.VolunteerID != "" || got.VolunteerName != "" || !slices.Equal(got.ExcludedVolunteers, []string{"v1"}) || got.Version != 4 {
			t.Fatalf("after reject %+v", got)
		}
		if page, _, _ := st.OutingsPage(ctx, OutingFilter{VolunteerID: "v1"}, 10, nil); len(page) != 0 {
			t.Fatalf("volunteer's list after reject: %d", len(page))
		}
	})

	t.Run("postponements and care fields", func(t *testing.T) { testCareStore(t, open(t)) })

	t.Run("transition race", func(t *testing.T) {
		st := open(t)
		insert(t, st, contractOuting("o1", "p1", contractNow.Add(48*time.Hour), contractNow))
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v := fmt.Sprintf("v%d", i)
				_, _, err := st.TransitionOuting(ctx, "o1", contractNow, func(_ context.Context, o *Outing) (Move, error) {
					if o.Status != StatusOpen {
						return Move{}, fault.StateConflictf("taken")
					}
					return Move{Actor: v, From: o.Status, To: StatusPendingApproval, SetVolunteer: v}, nil
				})
				if err == nil {
					wins.Add(1)
				} else if fault.KindOf(err) != fault.StateConflict && !errors.Is(err, ErrConflict) {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		got, _ := st.Outing(ctx, "o1")
		t.Logf("20 racing transitions: %d won", wins.Load())
		if wins.Load() != 1 || got.Version != 2 || len(got.History) != 2 {
			t.Fatalf("%d winners, version %d, history %d", wins.Load(), got.Version, len(got.History))
		}
	})

	t.Run("pages while inserting", func(t *testing.T) {
		st := open(t)
		var want []string
		for i := range 30 {
			id := fmt.Sprintf("o%02d", i)
			// Pairs share a creation time: the id breaks the tie.
			insert(t, st, contractOuting(id, "p1", contractNow.Add(72*time.Hour), contractNow.Add(time.Duration(i/2)*time.Second)))
			want = append(want, id)
		}
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				o := contractOuting(fmt.Sprintf("new%03d", i), "p1", contractNow.Add(72*time.Hour), contractNow.Add(time.Hour+time.Duration(i)*time.Millisecond))
				if err := st.InsertOuting(ctx, o); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		var got []string
		var after *pageCursor
		for pages := 0; ; pages++ {
			rows, next, err := st.OutingsPage(ctx, OutingFilter{ParticipantID: "p1"}, 7, after)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range rows {
				if o.CreatedAt.Before(contractNow.Add(time.Hour)) {
					got = append(got, o.ID)
				}
			}
			if next == nil || pages > 50 {
				break
			}
			after = next
		}
		close(stop)
		<-done
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Fatalf("paged %v\nwant %v", got, want)
		}
		// Filters: status and organisation.
		if rows, _, _ := st.OutingsPage(ctx, OutingFilter{OrgID: "org1", Status: StatusConfirmed}, 5, nil); len(rows) != 0 {
			t.Fatalf("confirmed: %d", len(rows))
		}
		if rows, next, _ := st.OutingsPage(ctx, OutingFilter{OrgID: "org1", Status: StatusOpen}, 5, nil); len(rows) != 5 || next == nil {
			t.Fatalf("open page: %d %v", len(rows), next)
		}
	})

	contractOutingsStarting(t, open)
	contractBookings(t, open)
	contractRatingTotals(t, open)
	contractPostponeAsks(t, open)

	t.Run("sweeps and bookings", func(t *testing.T) {
		st := open(t)
		started := contractOuting("started", "p1", contractNow.Add(-time.Hour), contractNow.Add(-48*time.Hour))
		future := contractOuting("future", "p1", contractNow.Add(30*time.Hour), contractNow)
		confirmed := contractOuting("conf", "p1", contractNow.Add(10*time.Hour), contractNow)
		confirmed.Status, confirmed.VolunteerID = StatusConfirmed, "v1"
		done := contractOuting("done", "p2", contractNow.Add(-72*time.Hour), contractNow.Add(-96*time.Hour))
		done.Status, done.VolunteerID = StatusCompleted, "v1"
		for _, o := range []*Outing{started, future, confirmed, done} {
			insert(t, st, o)
		}
		if ids, err := st.StartedUnmatchedOutingIDs(ctx, contractNow, 10); err != nil || !slices.Equal(ids, []string{"started"}) {
			t.Fatalf("started unmatched %v %v", ids, err)
		}
		cs, err := st.ConfirmedOutingsBetween(ctx, contractNow, contractNow.Add(48*time.Hour), 10)
		if err != nil || len(cs) != 1 || cs[0].ID != "conf" || cs[0].VolunteerID != "v1" || !cs[0].StartsAt.Equal(confirmed.StartsAt) {
			t.Fatalf("confirmed %+v %v", cs, err)
		}
		if ok, err := st.HasCompletedOutingTogether(ctx, "p2", "v1"); !ok || err != nil {
			t.Fatalf("together: %v %v", ok, err)
		}
		if ok, _ := st.HasCompletedOutingTogether(ctx, "p1", "v1"); ok {
			t.Fatal("p1 and v1 never completed one")
		}
		rows, err := st.BookingsOf(ctx, []string{"v1", "v2"}, bookingQuery{
			busy: span{contractNow.Add(9 * time.Hour), contractNow.Add(11 * time.Hour)},
			load: []span{{contractNow.Add(-100 * time.Hour), contractNow.Add(-50 * time.Hour)}, {contractNow, contractNow}}, participants: []string{"p2"},
		})
		ids := []string{}
		for _, r := range rows {
			ids = append(ids, r.ID)
		}
		sort.Strings(ids)
		if err != nil || !slices.Equal(ids, []string{"conf", "done"}) {
			t.Fatalf("bookings %v %v", ids, err)
		}
		// The offer worker: due when never checked, not after its check moved on.
		due, err := st.OutingsDueForOfferCheck(ctx, contractNow, 10)
		if err != nil || !slices.Equal(due, []string{"future"}) {
			t.Fatalf("due %v %v", due, err)
		}
	})

	t.Run("completed outings together", func(t *testing.T) {
		st := open(t)
		mk := func(id, participant, volunteer string, status OutingStatus, hoursAgo int) {
			o := contractOuting(id, participant, contractNow.Add(-time.Duration(hoursAgo)*time.Hour), contractNow.Add(-1000*time.Hour))
			o.Status, o.VolunteerID = status, volunteer
			insert(t, st, o)
		}
		mk("older", "p2", "v1", StatusCompleted, 200)
		mk("newer", "p2", "v1", StatusCompleted, 72)
		mk("live", "p2", "v1", StatusConfirmed, 24)
		mk("other-volunteer", "p2", "v2", StatusCompleted, 48)
		mk("other-participant", "p3", "v1", StatusCompleted, 60)
		got := func(limit int) []string {
			t.Helper()
			os, err := st.CompletedOutingsTogether(ctx, "p2", "v1", limit)
			if err != nil {
				t.Fatal(err)
			}
			ids := []string{}
			for _, o := range os {
				ids = append(ids, o.ID)
			}
			return ids
		}
		if ids := got(5); !slices.Equal(ids, []string{"newer", "older"}) {
			t.Fatalf("together, latest first: %v", ids)
		}
		if ids := got(1); !slices.Equal(ids, []string{"newer"}) {
			t.Fatalf("together, limit 1: %v", ids)
		}
		if os, err := st.CompletedOutingsTogether(ctx, "p1", "v1", 5); err != nil || len(os) != 0 {
			t.Fatalf("never together: %v %v", os, err)
		}
	})

	t.Run("offers", func(t *testing.T) {
		st := open(t)
		insert(t, st, contractOuting("o1", "p1", contractNow.Add(30*time.Hour), contractNow))
		insert(t, st, contractOuting("o2", "p1", contractNow.Add(40*time.Hour), contractNow))
		check := contractNow.Add(2 * time.Hour)
		offer := func(id string, vols ...string) error {
			return st.UpdateOffers(ctx, id, func(d *offerDoc) ([]Event, bool, error) {
				for _, v := range vols {
					d.OfferedTo = append(d.OfferedTo, OfferRecord{VolunteerID: v, Wave: d.OfferWave + 1, At: contractNow})
					d.OfferedIDs = append(d.OfferedIDs, v)
				}
				d.OfferWave++
				d.OfferCheckAt = check
				return []Event{{ID: "w-" + id, Type: EventOffer, Recipients: vols}}, true, nil
			})
		}
		if err := offer("o1", "v1", "v2"); err != nil {
			t.Fatal(err)
		}
		if err := offer("o2", "v1"); err != nil {
			t.Fatal(err)
		}
		d, err := st.OfferDoc(ctx, "o1")
		if err != nil || d.OfferRev != 1 || d.OfferWave != 1 || len(d.OfferedTo) != 2 || !d.OfferCheckAt.Equal(check) || d.Version != 1 {
			t.Fatalf("offer doc %+v %v", d, err)
		}
		if evs, flagged, _ := st.PendingEvents(ctx, "o1"); !flagged || len(evs) != 1 || len(evs[0].Recipients) != 2 {
			t.Fatalf("wave event %+v", evs)
		}
		if due, _ := st.OutingsDueForOfferCheck(ctx, contractNow, 10); len(due) != 0 {
			t.Fatalf("due before the check: %v", due)
		}
		if due, _ := st.OutingsDueForOfferCheck(ctx, check, 10); len(due) != 2 {
			t.Fatalf("due at the check: %v", due)
		}
		recs, err := st.OffersFor(ctx, "v1")
		if err != nil || len(recs) != 2 || recs[0].VolunteerID != "v1" {
			t.Fatalf("offers for v1 %+v %v", recs, err)
		}
		// A wave that read an older offer_rev loses; the outing's version is untouched.
		var lost atomic.Int32
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := st.UpdateOffers(ctx, "o1", func(d *offerDoc) ([]Event, bool, error) {
					if d.OfferRev != 1 {
						return nil, false, ErrConflict
					}
					d.OfferWave = 2
					return nil, true, nil
				})
				if errors.Is(err, ErrConflict) {
					lost.Add(1)
				} else if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if d, _ := st.OfferDoc(ctx, "o1"); lost.Load() != 19 || d.OfferRev != 2 {
			t.Fatalf("offer race: %d lost, rev %d", lost.Load(), d.OfferRev)
		}
		if err := st.StripOffers(ctx, "v1"); err != nil {
			t.Fatal(err)
		}
		if recs, _ := st.OffersFor(ctx, "v1"); len(recs) != 0 {
			t.Fatalf("offers after strip %+v", recs)
		}
		if d, _ := st.OfferDoc(ctx, "o1"); len(d.OfferedTo) != 1 || d.OfferedTo[0].VolunteerID != "v2" || !slices.Equal(d.OfferedIDs, []string{"v2"}) {
			t.Fatalf("o1 after strip %+v", d.OfferState)
		}
		near, err := st.OpenOutingsNear(ctx, "org1", boxAround(GeoPoint{Lat: 56.68, Lon: 12.86}, 5), contractNow, 10)
		if err != nil || len(near) != 2 || near[0].ID != "o1" {
			t.Fatalf("near %d %v", len(near), err)
		}
		if far, _ := st.OpenOutingsNear(ctx, "org1", boxAround(GeoPoint{Lat: 59.33, Lon: 18.07}, 5), contractNow, 10); len(far) != 0 {
			t.Fatalf("near Stockholm: %d", len(far))
		}
	})

	t.Run("volunteers", func(t *testing.T) {
		st := open(t)
		if _, err := st.Volunteer(ctx, "v1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing profile: %v", err)
		}
		if _, err := st.UpdateVolunteer(ctx, "v1", false, func(*VolunteerProfile) (bool, error) { return true, nil }); !errors.Is(err, ErrNotFound) {
			t.Fatalf("update without create: %v", err)
		}
		cell := HomeCell(56.6744, 12.8578)
		p, err := st.UpdateVolunteer(ctx, "v1", true, func(p *VolunteerProfile) (bool, error) {
			p.OrgID, p.Status, p.HasProfile, p.HomeCell, p.Home = "org1", auth.StatusActive, true, cell, GeoPoint{Lat: 56.6744, Lon: 12.8578}
			p.Commitments = []Commitment{}
			return true, nil
		})
		if err != nil || p.Rev != 1 {
			t.Fatalf("create %+v %v", p, err)
		}
		// 20 concurrent read-modify-writes: none is lost.
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := st.UpdateVolunteer(ctx, "v1", false, func(p *VolunteerProfile) (bool, error) {
					p.MaxOutingsPerWeek++
					return true, nil
				}); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if p, _ := st.Volunteer(ctx, "v1"); p.MaxOutingsPerWeek != 20 || p.Rev != 21 {
			t.Fatalf("after 20 increments: cap %d rev %d", p.MaxOutingsPerWeek, p.Rev)
		}
		q := VolunteerQuery{OrgID: "org1", Status: auth.StatusActive, Cells: []string{cell}, WithProfile: true, Limit: 10}
		if ps, err := st.VolunteersInCells(ctx, q); err != nil || len(ps) != 1 {
			t.Fatalf("in cells %d %v", len(ps), err)
		}
		if err := st.SetVolunteerStatus(ctx, "v1", auth.StatusSuspended); err != nil {
			t.Fatal(err)
		}
		if err := st.SetVolunteerStatus(ctx, "nobody", auth.StatusSuspended); err != nil {
			t.Fatalf("status of a missing profile: %v", err)
		}
		if ps, _ := st.VolunteersInCells(ctx, q); len(ps) != 0 {
			t.Fatalf("suspended still found: %d", len(ps))
		}
		if err := st.DeleteVolunteer(ctx, "v1"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Volunteer(ctx, "v1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("after delete: %v", err)
		}
		// Participants.
		pp, err := st.UpdateParticipant(ctx, "p1", func(p *ParticipantProfile) { p.OrgID, p.SupportNeeds = "org1", "quiet places" })
		if err != nil || pp.Rev != 1 {
			t.Fatalf("participant %+v %v", pp, err)
		}
		pp, err = st.UpdateParticipant(ctx, "p1", func(p *ParticipantProfile) { p.SupportNeeds = "" })
		if got, _ := st.Participant(ctx, "p1"); err != nil || got.SupportNeeds != "" || got.Rev != 2 || pp.Rev != 2 {
			t.Fatalf("participant update %+v %v", got, err)
		}
		if err := st.DeleteParticipant(ctx, "p1"); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Participant(ctx, "p1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("participant after delete: %v", err)
		}
	})

	t.Run("volunteers reaching a point", func(t *testing.T) {
		st := open(t)
		at := GeoPoint{Lat: 56.6744, Lon: 12.8578}
		north := func(km float64) GeoPoint { return GeoPoint{Lat: at.Lat + km/111.195, Lon: at.Lon} }
		east := func(km float64) GeoPoint {
			return GeoPoint{Lat: at.Lat, Lon: at.Lon + km/(111.195*math.Cos(at.Lat*math.Pi/180))}
		}
		put := func(id string, home GeoPoint, radius float64) {
			t.Helper()
			if _, err := st.UpdateVolunteer(ctx, id, true, func(p *VolunteerProfile) (bool, error) {
				p.OrgID, p.Status, p.HasProfile, p.Home, p.HomeCell = "org1", auth.StatusActive, true, home, HomeCell(home.Lat, home.Lon)
				p.TravelRadiusKm, p.Commitments = radius, []Commitment{}
				return true, nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		homes := map[string]struct {
			home   GeoPoint
			radius float64
			reach  bool
		}{
			"near": {north(5), 6, true}, "edge north": {north(9.95), 10, true}, "edge east": {east(9.95), 10, true},
			"short north": {north(8), 5, false}, "short east": {east(8), 5, false}, "far": {north(40), 30, false},
		}
		for id, h := range homes {
			if d := DistanceKm(at.Lat, at.Lon, h.home.Lat, h.home.Lon); (d <= h.radius) != h.reach {
				t.Fatalf("%s: set up wrong, %.3f km with a radius of %g", id, d, h.radius)
			}
			put(id, h.home, h.radius)
		}
		ids := func(reach *GeoPoint) []string {
			t.Helper()
			ps, err := st.VolunteersInCells(ctx, VolunteerQuery{OrgID: "org1", Status: auth.StatusActive,
				Cells: CellsCovering(at.Lat, at.Lon, MaxTravelRadiusKm), WithProfile: true, Limit: 100, Reach: reach})
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, p := range ps {
				out = append(out, p.UserID)
			}
			slices.Sort(out)
			return out
		}
		if got, want := ids(nil), []string{"edge east", "edge north", "far", "near", "short east", "short north"}; !slices.Equal(got, want) {
			t.Fatalf("without reach: %v, want %v", got, want)
		}
		if got, want := ids(&at), []string{"edge east", "edge north", "near"}; !slices.Equal(got, want) {
			t.Fatalf("reaching: %v, want %v", got, want)
		}
		// The radius is kept up to date by every write of a profile.
		put("short north", north(8), 9)
		if got, want := ids(&at), []string{"edge east", "edge north", "near", "short north"}; !slices.Equal(got, want) {
			t.Fatalf("after a wider radius: %v, want %v", got, want)
		}
	})

	t.Run("feedback", func(t *testing.T) {
		st := open(t)
		four := 4
		fb := Feedback{ID: "o1:p1", OutingID: "o1", OrgID: "org1", AuthorID: "p1", AuthorRole: auth.RoleParticipant, ParticipantID: "p1",
			VolunteerID: "v1", Rating: 5, Comment: "lovely", ComfortAfter: &four, CreatedAt: contractNow}
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f := fb
				if err := st.InsertFeedback(ctx, &f); err == nil {
					wins.Add(1)
				} else if !errors.Is(err, ErrDuplicate) {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d feedback inserts won", wins.Load())
		}
		vfb := Feedback{ID: "o1:v1", OutingID: "o1", OrgID: "org1", AuthorID: "v1", AuthorRole: auth.RoleVolunteer, ParticipantID: "p1",
			VolunteerID: "v1", Rating: 3, Comment: "p1 was late", CreatedAt: contractNow.Add(time.Minute)}
		if err := st.InsertFeedback(ctx, &vfb); err != nil {
			t.Fatal(err)
		}
		got, err := st.FeedbackByAuthor(ctx, "p1")
		if err != nil || len(got) != 1 || got[0].ComfortAfter == nil || *got[0].ComfortAfter != 4 || got[0].ComfortBefore != nil || got[0].VolunteerID != "v1" {
			t.Fatalf("by author %+v %v", got, err)
		}
		rs, err := st.RatingsOf(ctx, []string{"v1"})
		if err != nil || len(rs) != 1 || rs[0].Rating != 5 {
			t.Fatalf("ratings %+v %v", rs, err)
		}
		if err := st.EraseFeedbackOf(ctx, "p1"); err != nil {
			t.Fatal(err)
		}
		all, _ := st.FeedbackOnOuting(ctx, "o1")
		if len(all) != 2 {
			t.Fatalf("feedback on o1: %d", len(all))
		}
		for _, f := range all {
			if f.AuthorID == "p1" || f.ParticipantID == "p1" || f.Comment != "" || f.Rating == 0 {
				t.Fatalf("after erasure %+v", f)
			}
		}
	})

	t.Run("preferences", func(t *testing.T) {
		st := open(t)
		if d, err := st.Preferences(ctx, "p1"); d != nil || err != nil {
			t.Fatalf("none yet: %+v %v", d, err)
		}
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v := fmt.Sprintf("v%02d", i)
				if err := st.UpdatePreferences(ctx, "p1", "org1", func(d *prefsDoc) (bool, error) {
					d.Entries = append(d.Entries, prefEntry{VolunteerID: v, Preference: PreferenceNever, At: contractNow})
					d.VolunteerIDs = entryIDs(d.Entries)
					return true, nil
				}); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		d, err := st.Preferences(ctx, "p1")
		if err != nil || d == nil || len(d.Entries) != 20 || d.Rev != 20 || d.OrgID != "org1" {
			t.Fatalf("after 20 concurrent additions: %+v %v", d, err)
		}
		if many, err := st.PreferencesOfMany(ctx, []string{"p1", "p2"}); err != nil || len(many) != 1 || len(many["p1"].Entries) != 20 {
			t.Fatalf("of many %v %v", many, err)
		}
		if ps, err := st.ParticipantsListing(ctx, "v07"); err != nil || !slices.Equal(ps, []string{"p1"}) {
			t.Fatalf("listing %v %v", ps, err)
		}
		if err := st.DeletePreferences(ctx, "p1"); err != nil {
			t.Fatal(err)
		}
		if ps, _ := st.ParticipantsListing(ctx, "v07"); len(ps) != 0 {
			t.Fatalf("listing after delete %v", ps)
		}
	})

	t.Run("export and erase", func(t *testing.T) {
		f := newFixtureOn(t, open(t))
		p := f.user(auth.RoleParticipant, "Sara Lind")
		c := f.user(auth.RoleCoordinator, "Cecilia Berg")
		v := f.volunteer("Vera Holm")
		o := f.outing(p, 48*time.Hour)
		must(t)(f.svc.Accept(f.ctx, v, o.ID))
		must(t)(f.svc.Approve(f.ctx, c, o.ID))
		for _, id := range []string{p.UserID, v.UserID, c.UserID} {
			outs, err := f.svc.st.OutingsOfUser(f.ctx, id)
			if err != nil || len(outs) != 1 {
				t.Fatalf("outings of %s: %d %v", id, len(outs), err)
			}
		}
		hook := f.svc.PersonalHook()
		if _, err := hook.Export(f.ctx, v.UserID); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{v.UserID, c.UserID, p.UserID} {
			if err := hook.Erase(f.ctx, id); err != nil {
				t.Fatal(err)
			}
		}
		got := f.stored(o.ID)
		if got.ParticipantID != ErasedActor || got.CreatedBy != ErasedActor || got.Note != "" || !got.Erased {
			t.Fatalf("after erasure %+v", got)
		}
		for _, h := range got.History {
			if h.ActorID == p.UserID || h.ActorID == v.UserID || h.ActorID == c.UserID {
				t.Fatalf("history keeps an erased id: %+v", got.History)
			}
		}
		for _, id := range []string{p.UserID, v.UserID, c.UserID} {
			if outs, _ := f.svc.st.OutingsOfUser(f.ctx, id); len(outs) != 0 {
				t.Fatalf("%s still named by %d outings", id, len(outs))
			}
		}
	})

	t.Run("concurrent accepts of one outing", func(t *testing.T) {
		f := newFixtureOn(t, open(t))
		p := f.user(auth.RoleParticipant, "Sara Lind")
		o := f.outing(p, 48*time.Hour)
		vs := make([]auth.Identity, 20)
		for i := range vs {
			vs[i] = f.volunteer(fmt.Sprintf("Volunteer %d", i))
		}
		var wins atomic.Int32
		var wg sync.WaitGroup
		for _, v := range vs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := f.svc.Accept(f.ctx, v, o.ID); err == nil {
					wins.Add(1)
				} else if k := fault.KindOf(err); k != fault.StateConflict {
					t.Errorf("losing accept: %v", err)
				}
			}()
		}
		wg.Wait()
		t.Logf("20 concurrent accepts of one outing: %d won", wins.Load())
		if wins.Load() != 1 {
			t.Fatalf("%d accepts won", wins.Load())
		}
		// Only the winner holds the time.
		held := 0
		for _, v := range vs {
			pr, err := f.svc.st.Volunteer(f.ctx, v.UserID)
			if err != nil {
				t.Fatal(err)
			}
			held += len(pr.Commitments)
		}
		if held != 1 {
			t.Fatalf("%d commitments after one accept", held)
		}
	})

	t.Run("weekly cap under concurrent accepts", func(t *testing.T) {
		f := newFixtureOn(t, open(t))
		p := f.user(auth.RoleParticipant, "Sara Lind")
		v := f.volunteer("Vera Holm")
		if _, err := f.svc.PutVolunteerProfile(f.ctx, v, VolunteerProfileInput{Home: GeoPoint{Lat: 56.6744, Lon: 12.8578},
			TravelRadiusKm: MaxTravelRadiusKm, Languages: []string{"sv", "en"}, Gender: "female", MaxOutingsPerWeek: 1}); err != nil {
			t.Fatal(err)
		}
		// Ten outings of this week, none overlapping: the week has begun,
		// so accept reads the volunteer's outings before its guarded write
		// (the read that let two accepts pass a cap of one).
		var ids []string
		for i := range 10 {
			ids = append(ids, f.outing(p, 4*time.Hour+time.Duration(i)*12*time.Hour).ID)
		}
		var wins atomic.Int32
		var wg sync.WaitGroup
		for _, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := f.svc.Accept(f.ctx, v, id); err == nil {
					wins.Add(1)
				} else if k := fault.KindOf(err); k != fault.Forbidden && k != fault.StateConflict {
					t.Errorf("refused accept: %v", err)
				}
			}()
		}
		wg.Wait()
		t.Logf("cap 1, 10 concurrent accepts in one week: %d won", wins.Load())
		if wins.Load() != 1 {
			t.Fatalf("%d accepts won with a weekly cap of 1", wins.Load())
		}
	})
}
