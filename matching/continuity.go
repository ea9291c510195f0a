package matching

import (
	"context"
	"errors"
	"slices"
	"time"
)

// Continuity within a series (for example escorts to every session of a
// group): a later outing may be made with its offers held back
// (OfferHoldUntil) until the companion of an earlier one is known. When
// they are, PreferCompanion offers it to them alone at once; the next,
// general wave follows only after the usual wait, so they have the first
// chance. When nobody is named by OfferHoldUntil, the waves start then as
// for any outing.

// heldBack reports whether d's first wave still waits for a companion.
func (d *offerDoc) heldBack(now time.Time) bool {
	return d.OfferWave == 0 && d.PreferredFirst == "" && d.OfferHoldUntil.After(now)
}

// holdOffers has the wave worker look at a held-back outing again when its
// hold ends, not on every tick.
func (m *Matcher) holdOffers(ctx context.Context, snap *offerDoc) (bool, error) {
	if snap.OfferCheckAt.Equal(snap.OfferHoldUntil) {
		return false, nil
	}
	err := m.st.UpdateOffers(ctx, snap.ID, func(d *offerDoc) ([]Event, bool, error) {
		if d.OfferRev != snap.OfferRev || d.Version != snap.Version {
			return nil, false, ErrConflict
		}
		d.OfferCheckAt = d.OfferHoldUntil
		return nil, true, nil
	})
	return err == nil, err
}

// PreferCompanion offers an open outing to volunteerID alone, now, unless
// they were offered it already (they had their chance) or it is no longer
// open. The waves go on as usual after the wave's wait.
func (m *Matcher) PreferCompanion(ctx context.Context, outingID, volunteerID string) error {
	now := m.svc.now()
	err := m.st.UpdateOffers(ctx, outingID, func(d *offerDoc) ([]Event, bool, error) {
		if d.Status != StatusOpen || !now.Before(d.StartsAt) || slices.Contains(d.OfferedIDs, volunteerID) || d.PreferredFirst == volunteerID {
			return nil, false, nil
		}
		d.PreferredFirst, d.NextWaveAt, d.OfferCheckAt = volunteerID, now, now
		return nil, true, nil
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = m.offerWave(ctx, outingID, false)
	return err
}
