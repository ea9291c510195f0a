package matching

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"errors"
)

// Dispatcher hands outing events to an EventSink and then removes them from
// the outing: the outbox pattern on the outing document itself, since
// FerretDB has no transactions. A crash between Consume and the removal
// re-delivers on the next pass; the sink is idempotent by Event.ID.
//
// New events reach a running dispatcher by outing id straight from the
// service (no query); a periodic scan of outings flagged
// has_pending_events catches what a crash or another process left behind.
// That scan reads the whole collection on the embedded store, hence its
// long default interval.
type Dispatcher struct {
	svc  *Service
	sink EventSink
	log  *slog.Logger
	// ScanEvery is how often the safety-net scan runs in Run (default 1 min).
	ScanEvery time.Duration
	// BatchSize bounds one scan (default 100).
	BatchSize int
	mu        sync.Mutex // one delivery pass at a time
}

// NewDispatcher returns a dispatcher of s's events into sink.
func (s *Service) NewDispatcher(sink EventSink, log *slog.Logger) *Dispatcher {
	if log == nil {
		log = s.log
	}
	return &Dispatcher{svc: s, sink: sink, log: log, ScanEvery: time.Minute, BatchSize: 100}
}

// Run delivers until ctx ends: promptly for outings the service names, and
// every ScanEvery for anything left pending.
func (d *Dispatcher) Run(ctx context.Context) {
	scan := time.NewTicker(d.ScanEvery)
	defer scan.Stop()
	if _, err := d.RunOnce(ctx); err != nil && ctx.Err() == nil {
		d.log.Warn("event dispatch scan failed", "error", err.Error())
	}
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-d.svc.wake:
			if _, err := d.DeliverOuting(ctx, id); err != nil && ctx.Err() == nil {
				d.log.Warn("event delivery failed; will retry on the next scan", "outing_id", id, "error", err.Error())
			}
		case <-scan.C:
			if _, err := d.RunOnce(ctx); err != nil && ctx.Err() == nil {
				d.log.Warn("event dispatch scan failed", "error", err.Error())
			}
		}
	}
}

// RunOnce delivers the pending events of up to BatchSize outings and
// returns how many events were consumed.
func (d *Dispatcher) RunOnce(ctx context.Context) (int, error) {
	ids, err := d.svc.st.OutingIDsWithPendingEvents(ctx, d.BatchSize)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, id := range ids {
		n, err := d.DeliverOuting(ctx, id)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// DeliverOuting hands one outing's pending events to the sink, in order,
// and removes those consumed. It stops at the first failure, leaving that
// event and the later ones for the next pass.
func (d *Dispatcher) DeliverOuting(ctx context.Context, outingID string) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	pending, flagged, err := d.svc.st.PendingEvents(ctx, outingID)
	if errors.Is(err, ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var delivered []string
	var failure error
	for _, e := range pending {
		if err := d.sink.Consume(ctx, e); err != nil {
			failure = err
			break
		}
		delivered = append(delivered, e.ID)
	}
	// An empty list still flagged (another dispatcher emptied it) is
	// unflagged too, or the scan would find it forever.
	if len(delivered) > 0 || (len(pending) == 0 && flagged) {
		if err := d.svc.st.RemoveDeliveredEvents(ctx, outingID, delivered); err != nil {
			return len(delivered), err
		}
	}
	return len(delivered), failure
}

// LogSink is the EventSink used until notify is wired: it logs each event's
// type and ids, never names or places.
type LogSink struct{ Log *slog.Logger }

// Consume logs e.
func (l LogSink) Consume(_ context.Context, e Event) error {
	l.Log.Info("outing event", "event_id", e.ID, "type", e.Type, "outing_id", e.OutingID,
		"organisation_id", e.OrgID, "recipients", len(e.Recipients), "to_coordinators", e.ToCoordinators)
	return nil
}
