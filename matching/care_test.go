package matching

import (
	"strings"
	"testing"
	"time"

	"github.com/clavis-app/clavis/internal/fault"
)

// The volunteer's line is read before trust is built: contact details and
// a home address are refused, saying which and why; ordinary lines pass.
func TestCheckAbout(t *testing.T) {
	for about, want := range map[string]string{
		"Jag är 34 och gillar fika, hundar och långa promenader.": "",
		"Pensionerad lärare, 67 år. Två barnbarn.":                "",
		"Mejla mig: vera.holm@example.org":                        "e-mail",
		"Ring 070-123 45 67 så pratar vi":                         "phone number",
		"+46701234567":                                            "phone number",
		"Jag bor på Storgatan 12 i Halmstad":                      "street address",
		"I live at 12 Baker Street":                               "street address",
		"Kungsvägen 3B, trappa 2":                                 "street address",
		strings.Repeat("a", 201):                                  "at most 200",
	} {
		err := CheckAbout(about)
		if want == "" {
			if err != nil {
				t.Errorf("CheckAbout(%q) = %v, want nil", about, err)
			}
			continue
		}
		fe, ok := fault.As(err)
		if !ok || fe.Kind != fault.Validation || len(fe.Fields) != 1 || fe.Fields[0].Field != "about" || !strings.Contains(fe.Fields[0].Message, want) {
			t.Errorf("CheckAbout(%q) = %v, want a 422 on about naming %q", about, err, want)
		}
		if want != "at most 200" && !strings.Contains(fe.Fields[0].Message, "before trust is built") {
			t.Errorf("CheckAbout(%q) does not say why: %v", about, err)
		}
	}
}

// Whatever ends the companion's part while a postponement waits ends the
// question too: an outing reopened by a suspension (at the asked-for time)
// or cancelled by an erasure keeps no postponement, which would otherwise
// block a later check-in and be swept again once re-confirmed.
func TestCompanionGoneEndsPostponement(t *testing.T) {
	now := time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)
	start, later := now.Add(48*time.Hour), now.Add(96*time.Hour)
	o := &Outing{ID: "o1", OrgID: "org1", ParticipantID: "p1", VolunteerID: "v1", Status: StatusConfirmed, StartsAt: start, EndsAt: start.Add(time.Hour),
		Postponement: &Postponement{StartsAt: later, EndsAt: later.Add(time.Hour), AnswerBy: now.Add(12 * time.Hour)}}
	m, err := DecideVolunteerSuspended(o, now)
	if err != nil {
		t.Fatal(err)
	}
	after := applyMove(*o, m, now)
	if after.Status != StatusOpen || after.Postponement != nil || !after.StartsAt.Equal(later) {
		t.Fatalf("suspended companion: %s at %s, postponement %+v", after.Status, after.StartsAt, after.Postponement)
	}
	m, err = DecideVolunteerErased(o, start.Add(time.Minute)) // past the old start: cancelled
	if err != nil {
		t.Fatal(err)
	}
	if after := applyMove(*o, m, now); after.Status != StatusCancelled || after.Postponement != nil {
		t.Fatalf("erased companion: %s, postponement %+v", after.Status, after.Postponement)
	}
	m, err = Decide(o, ActionErase, System, now, "account erased")
	if err != nil {
		t.Fatal(err)
	}
	if after := applyMove(*o, m, now); after.Postponement != nil {
		t.Fatalf("erased participant: postponement %+v", after.Postponement)
	}
}
