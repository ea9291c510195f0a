package matching

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// ImportMongoDocuments writes documents of one of matching's MongoDB
// collections, as the Mongo engine stores them, into dst, keeping ids,
// histories, pending events, versions, revisions and times. It returns how
// many it wrote; a document whose id dst already holds (an outing or a
// feedback) is skipped, so an interrupted import can run again.
// Profiles and preferences are written over what dst holds.
func ImportMongoDocuments(ctx context.Context, dst Store, collection string, docs []bson.Raw) (int, error) {
	switch collection {
	case CollOutings, CollVolunteers, CollParticipants, CollFeedback, CollPreferences:
	default:
		return 0, fmt.Errorf("matching has no collection %q (want %s, %s, %s, %s or %s)",
			collection, CollOutings, CollVolunteers, CollParticipants, CollFeedback, CollPreferences)
	}
	n := 0
	for i, raw := range docs {
		wrote, err := importOne(ctx, dst, collection, raw)
		if err != nil {
			return n, fmt.Errorf("%s document %d: %w", collection, i, err)
		}
		if wrote {
			n++
		}
	}
	return n, nil
}

func importOne(ctx context.Context, dst Store, collection string, raw bson.Raw) (bool, error) {
	switch collection {
	case CollOutings:
		var d offerDoc
		if err := bson.Unmarshal(raw, &d); err != nil {
			return false, err
		}
		o := d.Outing
		if err := dst.InsertOuting(ctx, &o); errors.Is(err, ErrDuplicate) {
			return false, nil
		} else if err != nil {
			return false, err
		}
		if d.OfferRev == 0 && len(d.OfferedTo) == 0 && d.OfferCheckAt.IsZero() && d.LastWaveAt.IsZero() {
			return true, nil
		}
		// UpdateOffers counts one revision for its own write.
		st := d.OfferState
		st.OfferRev = max(0, st.OfferRev-1)
		return true, dst.UpdateOffers(ctx, o.ID, func(x *offerDoc) ([]Event, bool, error) {
			x.OfferState = st
			return nil, true, nil
		})
	case CollVolunteers:
		var p VolunteerProfile
		if err := bson.Unmarshal(raw, &p); err != nil {
			return false, err
		}
		_, err := dst.UpdateVolunteer(ctx, p.UserID, true, func(x *VolunteerProfile) (bool, error) {
			*x = p
			x.Rev = max(0, p.Rev-1) // the store counts its write
			return true, nil
		})
		return err == nil, err
	case CollParticipants:
		var p ParticipantProfile
		if err := bson.Unmarshal(raw, &p); err != nil {
			return false, err
		}
		_, err := dst.UpdateParticipant(ctx, p.UserID, func(x *ParticipantProfile) {
			*x = p
			x.Rev = max(0, p.Rev-1)
		})
		return err == nil, err
	case CollFeedback:
		var f Feedback
		if err := bson.Unmarshal(raw, &f); err != nil {
			return false, err
		}
		if err := dst.InsertFeedback(ctx, &f); errors.Is(err, ErrDuplicate) {
			return false, nil
		} else if err != nil {
			return false, err
		}
		return true, nil
	case CollPreferences:
		var d prefsDoc
		if err := bson.Unmarshal(raw, &d); err != nil {
			return false, err
		}
		err := dst.UpdatePreferences(ctx, d.ParticipantID, d.OrgID, func(x *prefsDoc) (bool, error) {
			*x = d
			x.Rev = max(0, d.Rev-1)
			return true, nil
		})
		return err == nil, err
	}
	return false, fmt.Errorf("matching has no collection %q", collection)
}
