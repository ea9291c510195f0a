package matching

import (
	"context"
	"errors"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
)

// acceptFacts is what the re-check on accept reads from other collections:
// the participant's preferences and, when needed, the volunteer's outings
// around the outing's time. Accept reads them before it takes the outing's
// write gate, so that on the embedded store (where that query scans the
// outings collection) other transitions do not wait behind the scan.
//
// The query is needed only when the outing's week has begun: a week still
// ahead can hold no completed outing, only pending and confirmed ones,
// and those are the commitments on the volunteer's profile, read by _id
// (measured with BenchmarkOutingTransitions at 10k outings: ~5 ms per
// accept without the query, ~2.8 s with it). Being busy is decided
// atomically by the reservation of the volunteer's time, as before; only
// the weekly cap could be passed by one if the same volunteer accepted two
// outings of one week at the same instant.
type acceptFacts struct {
	outingID string
	start    time.Time
	prefs    participantPrefs
	// scanned: rows are the volunteer's outings; otherwise the profile's
	// commitments stand for them.
	scanned bool
	rows    []bookingRow
}

// acceptFacts reads the facts for who accepting outing id; nil when the
// outing does not exist or is not open (the transition then says why).
func (s *Service) acceptFacts(ctx context.Context, who auth.Identity, id string) (*acceptFacts, error) {
	o, err := s.st.Outing(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fault.Wrap(err, "read outing")
	}
	if o.Status != StatusOpen || o.OrgID != who.OrgID || who.Role != auth.RoleVolunteer {
		return nil, nil
	}
	prefs, err := s.preferencesOf(ctx, o.ParticipantID)
	if err != nil {
		return nil, fault.Wrap(err, "read preferences")
	}
	f := &acceptFacts{outingID: o.ID, start: o.StartsAt, prefs: prefs}
	// The ISO week of the start begins at most 7 days and 14 hours (the
	// largest zone offset) before it.
	now := s.now()
	if weekBegun := !o.StartsAt.Add(-7*24*time.Hour - 14*time.Hour).After(now); weekBegun {
		req := matchRequest(o, now, prefs)
		if f.rows, err = s.st.BookingsOf(ctx, []string{who.UserID}, bookingQueryFor(&req)); err != nil {
			return nil, fault.Wrap(err, "read your outings")
		}
		f.scanned = true
	}
	return f, nil
}

// checkCandidate re-runs every hard rule for a volunteer about to accept
// o, with their current bookings and load, so a stale offer cannot be
// accepted (another outing taken at that time, the weekly cap reached, a
// profile changed, the participant's never-again). The status docs/api.md
// implies for "not a candidate" is 403 forbidden; a clash with another
// outing is the 409 conflict that the atomic reservation also answers, so
// both paths to it agree.
func (s *Service) checkCandidate(ctx context.Context, o *Outing, who auth.Identity, p *VolunteerProfile, f *acceptFacts) error {
	if p == nil || !p.HasProfile {
		return fault.Forbiddenf("set your volunteer profile (home, travel radius, languages) before accepting outings")
	}
	if f == nil || f.outingID != o.ID || !f.start.Equal(o.StartsAt) {
		// It was not open when the facts were read, or its time moved.
		return fault.StateConflictf("the outing changed meanwhile; reload it and try again")
	}
	req := matchRequest(o, s.now(), f.prefs)
	c := candidateFrom(p)
	// The caller's identity was read from the accounts for this request:
	// fresher than the profile's copy.
	c.Active = who.Status == auth.StatusActive
	c.Vetted, c.OrgID = c.Active, who.OrgID
	if f.scanned {
		applyBookings(&req, &c, f.rows)
	} else {
		base := c
		rows, _ := commitmentRows(p, nil)
		applyBookings(&req, &c, rows)
		// A commitment left behind by a crash must not block: the
		// reservation checks each clashing one against its outing, and the
		// cap is counted again from those that still hold (by _id; only
		// when the cap is reached).
		c.Busy = nil
		if ok, rule := Check(req, c); !ok && rule == RuleWeeklyCap {
			now := s.now()
			held := func(c Commitment) (bool, error) { return s.commitmentHeld(ctx, p.UserID, c, now) }
			rows, err := commitmentRows(p, held)
			if err != nil {
				return fault.Wrap(err, "read your outings")
			}
			c = base
			applyBookings(&req, &c, rows)
			c.Busy = nil
		}
	}
	if ok, rule := Check(req, c); !ok {
		return acceptRefusal(rule, o)
	}
	return nil
}

// commitmentRows are a volunteer's commitments as booking rows; with held,
// only those whose outing still holds the volunteer's time.
func commitmentRows(p *VolunteerProfile, held func(Commitment) (bool, error)) ([]bookingRow, error) {
	rows := make([]bookingRow, 0, len(p.Commitments))
	for _, h := range p.Commitments {
		if held != nil {
			ok, err := held(h)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
		}
		rows = append(rows, bookingRow{ID: h.OutingID, VolunteerID: p.UserID, Status: StatusConfirmed, StartsAt: h.StartsAt, EndsAt: h.EndsAt})
	}
	return rows, nil
}

// acceptRefusal tells a volunteer why they may not accept, in their words.
// A participant's never-again is not disclosed.
func acceptRefusal(rule string, o *Outing) error {
	switch rule {
	case RuleBusy:
		return fault.New(fault.Conflict, "you already have an outing at that time")
	case RuleNotActive, RuleNotVetted:
		return fault.Forbiddenf("your account is not active; a coordinator must approve it first")
	case RuleOtherOrganisation, RuleBlocked:
		// Blocked: the participant's never-again makes the volunteer an
		// outsider to the outing (relationTo), so it is not disclosed.
		return fault.NotFoundf("no such outing")
	case RuleUnavailable:
		return fault.Forbiddenf("your availability does not cover this outing with the travel time around it")
	case RuleTooFar:
		return fault.Forbiddenf("the meeting point is beyond your travel radius")
	case RuleLanguage:
		lang := map[string]string{"sv": "Swedish", "en": "English"}[o.Language]
		if lang == "" {
			lang = o.Language
		}
		return fault.Forbiddenf("this outing needs a companion who speaks %s", lang)
	case RuleGender:
		return fault.Forbiddenf("the participant's wish for a companion does not match your profile")
	case RuleWeeklyCap:
		return fault.Forbiddenf("you have reached your limit of outings for that week")
	case RuleExcluded:
		return fault.Forbiddenf("you have declined this outing, or a coordinator chose another companion")
	}
	return fault.Forbiddenf("you are not a candidate for this outing")
}
