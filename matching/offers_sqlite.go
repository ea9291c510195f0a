package matching

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/clavis-app/clavis/internal/sqlite"
)

// The SQLite engine's offer bookkeeping: the offer state as JSON on the
// outing's row (offer_check_at and offer_rev as columns), and each record
// of who was offered what in outing_offers, for a volunteer's export.
const (
	sqlOfferDoc      = `SELECT doc, offers, offer_rev FROM outings WHERE id = ?`
	sqlSaveOffers    = `UPDATE outings SET offers = ?, offer_check_at = ?, offer_rev = ? WHERE id = ?`
	sqlDropOffers    = `DELETE FROM outing_offers WHERE outing_id = ?`
	sqlAddOffer      = `INSERT OR IGNORE INTO outing_offers (volunteer_id, outing_id, wave, at) VALUES (?, ?, ?, ?)`
	sqlOffersFor     = `SELECT outing_id, wave, at FROM outing_offers WHERE volunteer_id = ? ORDER BY at, outing_id`
	sqlOfferedOuting = `SELECT DISTINCT outing_id FROM outing_offers WHERE volunteer_id = ?`
	sqlOpenNear      = `SELECT doc FROM outings WHERE ` + whereOpenNear
	// The same from the index alone (id and stamp), for the doc cache;
	// sqlOutingDocs reads the docs it lacks.
	sqlOpenNearKeys = `SELECT id, doc_stamp FROM outings WHERE ` + whereOpenNear
	sqlOutingDocs   = `SELECT id, doc_stamp, doc FROM outings WHERE id IN (SELECT value FROM json_each(?))`
	whereOpenNear   = `organisation_id = ? AND status = 'open' AND starts_at > ?
		AND lat BETWEEN ? AND ? AND lon BETWEEN ? AND ? ORDER BY starts_at, id LIMIT ?`
)

func (s *sqliteStore) offerDocIn(ctx context.Context, q querier, id string) (*offerDoc, error) {
	var doc, offers []byte
	var rev int64
	if err := q.QueryRowContext(ctx, sqlOfferDoc, id).Scan(&doc, &offers, &rev); err != nil {
		return nil, sqliteErr(err)
	}
	var d offerDoc
	if err := json.Unmarshal(doc, &d.Outing); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(offers, &d.OfferState); err != nil {
		return nil, err
	}
	d.OfferRev = rev
	return &d, nil
}

func (s *sqliteStore) OfferDoc(ctx context.Context, id string) (*offerDoc, error) {
	return s.offerDocIn(ctx, s.q(ctx), id)
}

func (s *sqliteStore) UpdateOffers(ctx context.Context, id string, change func(*offerDoc) ([]Event, bool, error)) error {
	return s.write(ctx, func(ctx context.Context, tx *sql.Tx) error {
		d, err := s.offerDocIn(ctx, tx, id)
		if err != nil {
			return err
		}
		events, write, err := change(d)
		if err != nil || !write {
			return err
		}
		d.OfferRev++
		offers, err := json.Marshal(d.OfferState)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, sqlSaveOffers, string(offers), sqlite.Millis(d.OfferCheckAt), d.OfferRev, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, sqlDropOffers, id); err != nil {
			return err
		}
		for _, r := range d.OfferedTo {
			if _, err := tx.ExecContext(ctx, sqlAddOffer, r.VolunteerID, id, r.Wave, sqlite.Millis(r.At)); err != nil {
				return err
			}
		}
		if len(events) == 0 {
			return nil
		}
		o, err := s.outingIn(ctx, tx, id)
		if err != nil {
			return err
		}
		o.PendingEvents = append(o.PendingEvents, events...)
		o.HasPendingEvents = true
		return saveOuting(ctx, tx, o)
	})
}

func (s *sqliteStore) OffersFor(ctx context.Context, volunteerID string) ([]OfferRecord, error) {
	rows, err := s.q(ctx).QueryContext(ctx, sqlOffersFor, volunteerID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []OfferRecord{}
	for rows.Next() {
		r := OfferRecord{VolunteerID: volunteerID}
		var at int64
		if err := rows.Scan(&r.OutingID, &r.Wave, &at); err != nil {
			return nil, err
		}
		r.At = sqlite.Time(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *sqliteStore) StripOffers(ctx context.Context, volunteerID string) error {
	ids, err := s.strings(ctx, sqlOfferedOuting, volunteerID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		err := s.UpdateOffers(ctx, id, func(d *offerDoc) ([]Event, bool, error) {
			stripOfferRecords(&d.OfferState, volunteerID)
			return nil, true, nil
		})
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}

func (s *sqliteStore) OpenOutingsNear(ctx context.Context, orgID string, box geoBox, now time.Time, limit int) ([]Outing, error) {
	minLon, maxLon := -1000.0, 1000.0
	if box.HasLon {
		minLon, maxLon = box.MinLon, box.MaxLon
	}
	args := []any{orgID, sqlite.Millis(now), box.MinLat, box.MaxLat, minLon, maxLon, limit}
	if !s.inTx(ctx) {
		os, err := cachedDocs(ctx, s.q(ctx), s.outings, sqlOpenNearKeys, args, sqlOutingDocs)
		if !errors.Is(err, errStale) {
			return os, err
		}
	}
	return s.outingDocs(ctx, sqlOpenNear, args...)
}
