package matching

import (
	"slices"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
)

func TestPreferencesSetListDeleteAndRank(t *testing.T) {
	f := newFixture(t)
	m := f.matcher(MatcherConfig{})
	p := f.user(auth.RoleParticipant, "Sara Lind")
	c := f.coordinator()
	const lat, lon = 56.6744, 12.8578
	known := f.volunteerAt("Karin Ek", lat+0.02, lon, 10)
	near := f.volunteerAt("Nora Berg", lat+0.001, lon, 10)
	other := f.volunteerAt("Olle Strand", lat+0.001, lon, 10)

	// Preferred needs a completed outing together.
	_, err := m.SetPreference(f.ctx, p, known.UserID, PreferencePreferred)
	wantKind(t, err, fault.Validation)
	f.clock.Set(fixtureNow.Add(-10 * 24 * time.Hour))
	past := f.outing(p, 2*time.Hour)
	must(t)(f.svc.Accept(f.ctx, known, past.ID))
	must(t)(f.svc.Approve(f.ctx, c, past.ID))
	f.clock.Set(past.StartsAt)
	must(t)(f.svc.CheckIn(f.ctx, p, past.ID))
	must(t)(f.svc.Complete(f.ctx, p, past.ID))
	f.clock.Set(fixtureNow)

	v, err := m.SetPreference(f.ctx, p, known.UserID, PreferencePreferred)
	if err != nil || v.Preference != PreferencePreferred || v.Name != "Karin" {
		t.Fatalf("prefer: %+v %v", v, err)
	}
	f.clock.Advance(time.Minute)
	if _, err := m.SetPreference(f.ctx, p, other.UserID, PreferenceNever); err != nil {
		t.Fatal(err)
	}
	// Bad input and people the participant may not name.
	_, err = m.SetPreference(f.ctx, p, near.UserID, "maybe")
	wantKind(t, err, fault.Validation)
	_, err = m.SetPreference(f.ctx, p, c.UserID, PreferenceNever)
	wantKind(t, err, fault.NotFound)
	_, err = m.SetPreference(f.ctx, p, "nobody", PreferenceNever)
	wantKind(t, err, fault.NotFound)
	_, err = m.SetPreference(f.ctx, near, other.UserID, PreferenceNever)
	wantKind(t, err, fault.Forbidden)

	page, err := m.Preferences(f.ctx, p, 1, "")
	if err != nil || len(page.Items) != 1 || page.Items[0].VolunteerID != other.UserID || page.NextCursor == "" {
		t.Fatalf("first page %+v %v", page, err)
	}
	page2, err := m.Preferences(f.ctx, p, 1, page.NextCursor)
	if err != nil || len(page2.Items) != 1 || page2.Items[0].VolunteerID != known.UserID || page2.NextCursor != "" {
		t.Fatalf("second page %+v %v", page2, err)
	}

	// Ranking: the preferred (and familiar) volunteer first although 2 km
	// further; the never-again one is not a candidate.
	o := f.outing(p, thursdayTen)
	cands, err := m.Candidates(f.ctx, c, o.ID, CandidatesQuery{Lang: "en", IncludeExcluded: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := scoredIDs(cands.Items); !slices.Equal(got, []string{known.UserID, near.UserID}) {
		t.Fatalf("candidates %v", got)
	}
	if !containsText(cands.Items[0].Reasons, "preferred by Sara") {
		t.Fatalf("reasons %v", cands.Items[0].Reasons)
	}
	if len(cands.Excluded) != 1 || cands.Excluded[0].VolunteerID != other.UserID || cands.Excluded[0].Rule != RuleBlocked {
		t.Fatalf("excluded %+v", cands.Excluded)
	}

	// Forgetting the never-again makes them a candidate again; forgetting
	// twice is fine; an unknown volunteer is 404.
	for range 2 {
		if err := m.DeletePreference(f.ctx, p, other.UserID); err != nil {
			t.Fatal(err)
		}
	}
	wantKind(t, m.DeletePreference(f.ctx, p, "nobody"), fault.NotFound)
	cands, err = m.Candidates(f.ctx, c, o.ID, CandidatesQuery{})
	if err != nil || len(cands.Items) != 3 {
		t.Fatalf("after forgetting: %v %v", scoredIDs(cands.Items), err)
	}
}

func TestPreferencesExportAndErase(t *testing.T) {
	f := newFixture(t)
	w := newWaves(f, MatcherConfig{})
	m := w.m
	p := f.user(auth.RoleParticipant, "Sara Lind")
	q := f.user(auth.RoleParticipant, "Pia Ny")
	v := f.volunteerAt("Vera Holm", 56.6744, 12.8578, 10)
	for _, who := range []auth.Identity{p, q} {
		if _, err := m.SetPreference(f.ctx, who, v.UserID, PreferenceNever); err != nil {
			t.Fatal(err)
		}
	}
	u := f.volunteerAt("Ulla Ek", 56.6744, 12.8578, 10)
	o := f.outing(f.user(auth.RoleParticipant, "Ada Lund"), thursdayTen)
	w.deliver()

	hook := m.PersonalHook()
	exp, err := hook.Export(f.ctx, p.UserID)
	if err != nil || len(exp.(PreferencesExport).Preferences) != 1 {
		t.Fatalf("participant export %+v %v", exp, err)
	}
	exp, err = hook.Export(f.ctx, u.UserID)
	if err != nil {
		t.Fatal(err)
	}
	got := exp.(PreferencesExport)
	if len(got.OffersReceived) != 1 || got.OffersReceived[0].OutingID != o.ID || len(got.Preferences) != 0 {
		t.Fatalf("volunteer export %+v", got)
	}

	// Erasing the participant drops their list; erasing a volunteer takes
	// them out of everyone's lists and out of the offer records.
	if err := hook.Erase(f.ctx, p.UserID); err != nil {
		t.Fatal(err)
	}
	if d, err := m.st.Preferences(f.ctx, p.UserID); err != nil || d != nil {
		t.Fatal("participant's preferences survived their erasure")
	}
	for _, id := range []string{v.UserID, u.UserID} {
		if err := hook.Erase(f.ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if ids, err := m.st.ParticipantsListing(f.ctx, v.UserID); err != nil || len(ids) != 0 {
		t.Fatal("an erased volunteer is still in a participant's list")
	}
	d := w.offerDoc(o.ID)
	if len(d.OfferedTo) != 0 || len(d.OfferedIDs) != 0 {
		t.Fatalf("offer records keep an erased volunteer: %+v", d.OfferedTo)
	}
	if page, err := m.Preferences(f.ctx, q, 20, ""); err != nil || len(page.Items) != 0 {
		t.Fatalf("q's list after the volunteer's erasure: %+v %v", page, err)
	}
}
