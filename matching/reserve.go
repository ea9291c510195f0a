package matching

import (
	"context"
	"errors"
	"time"

	"github.com/clavis-app/clavis/internal/fault"
)

// reserveGrace is how long a fresh commitment whose outing does not name
// the volunteer yet still counts: on MongoDB the reservation is written
// just before the outing's move, and a second accept in between must see
// it (on SQLite both are one transaction, so the window never shows).
const reserveGrace = time.Minute

// reserve adds o's time to the volunteer's commitments under the profile's
// guard, unless a commitment still held overlaps it (Conflict) or the
// week's cap is reached (Forbidden): held commitments in o's ISO week plus
// completedInWeek (finished outings, whose commitments are gone) are
// counted in the same guarded write, so concurrent accepts by one
// volunteer cannot pass the cap together. A commitment whose outing no
// longer holds the volunteer (left behind by a crash) is dropped.
func (s *Service) reserve(ctx context.Context, volunteerID string, o *Outing, completedInWeek int) error {
	now := s.now()
	_, err := s.st.UpdateVolunteer(ctx, volunteerID, false, func(p *VolunteerProfile) (bool, error) {
		week := isoWeek(o.StartsAt, profileZone(p))
		keep := []Commitment{}
		inWeek := 0
		for _, c := range p.Commitments {
			if c.OutingID == o.ID {
				continue
			}
			clash := overlaps(c, o)
			counts := !c.StartsAt.Before(week.from) && c.StartsAt.Before(week.to)
			if clash || counts {
				held, err := s.commitmentHeld(ctx, volunteerID, c, now)
				if err != nil {
					return false, err
				}
				if !held {
					continue
				}
				if clash {
					return false, acceptRefusal(RuleBusy, o)
				}
				inWeek++
			}
			keep = append(keep, c)
		}
		if inWeek+completedInWeek >= p.MaxOutingsPerWeek {
			return false, acceptRefusal(RuleWeeklyCap, o)
		}
		p.Commitments = append(keep, Commitment{OutingID: o.ID, StartsAt: o.StartsAt, EndsAt: o.EndsAt, At: now})
		return true, nil
	})
	if errors.Is(err, ErrNotFound) {
		return fault.Forbiddenf("set your weekly availability before accepting outings")
	}
	return err
}

// commitmentHeld reports whether c still ties the volunteer's time.
func (s *Service) commitmentHeld(ctx context.Context, volunteerID string, c Commitment, now time.Time) (bool, error) {
	x, err := s.st.Outing(ctx, c.OutingID)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if holdsOutingTime(x, volunteerID) {
		return true, nil
	}
	return x.Status == StatusOpen && x.VolunteerID == "" && !c.At.IsZero() && now.Sub(c.At) < reserveGrace, nil
}

// release drops the volunteer's commitment for an outing.
func (s *Service) release(ctx context.Context, volunteerID, outingID string) error {
	_, err := s.st.UpdateVolunteer(ctx, volunteerID, false, func(p *VolunteerProfile) (bool, error) {
		n := len(p.Commitments)
		keep := make([]Commitment, 0, n)
		for _, c := range p.Commitments {
			if c.OutingID != outingID {
				keep = append(keep, c)
			}
		}
		p.Commitments = keep
		return len(keep) != n, nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// profileZone is the time zone a volunteer's week is counted in.
func profileZone(p *VolunteerProfile) *time.Location {
	c := Candidate{}
	if p.Availability != nil {
		c.Availability = &lazyAvailability{p: p}
	}
	return zoneOf(&c)
}

// completedInWeek counts the finished outings (completed, so no longer
// among the commitments) in o's ISO week that the facts found.
func (f *acceptFacts) completedInWeek(o *Outing, p *VolunteerProfile) int {
	if f == nil || !f.scanned || p == nil {
		return 0
	}
	week := isoWeek(o.StartsAt, profileZone(p))
	n := 0
	for _, r := range f.rows {
		if r.ID != o.ID && r.Status == StatusCompleted && !r.StartsAt.Before(week.from) && r.StartsAt.Before(week.to) {
			n++
		}
	}
	return n
}
