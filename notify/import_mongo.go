package notify

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// ImportMongoDocuments copies documents of one of notify's MongoDB
// collections, as the Mongo engine stores them, into dst and returns how
// many it wrote.
//
//   - devices: each device with its user, platform and both times.
//   - push_jobs: pending jobs with their attempt, failures, last error and
//     delivered tokens; a lease held at export time is dropped (the job is
//     claimable at its run time).
//   - push_events: the consumed-event inbox, so that a re-delivered event is
//     still ignored after the move.
//   - push_claims and push_done are skipped (0, nil): claims are leases of
//     running workers, and finished jobs are history. A sent reminder is
//     not made again without its outcome: the reconciler makes none whose
//     time has passed, and a re-delivered event is caught by push_events.
func ImportMongoDocuments(ctx context.Context, dst Store, collection string, docs []bson.Raw) (int, error) {
	switch collection {
	case "devices":
		n := 0
		for _, raw := range docs {
			var d deviceDoc
			if err := bson.Unmarshal(raw, &d); err != nil {
				return n, fmt.Errorf("devices: %w", err)
			}
			// Registered, then refreshed: both times survive.
			if _, _, err := dst.RegisterDevice(ctx, d.UserID, d.Token, d.Platform, d.RegisteredAt.UTC(), MaxDevicesPerUser); err != nil {
				return n, err
			}
			if d.UpdatedAt.After(d.RegisteredAt) {
				if _, _, err := dst.RegisterDevice(ctx, d.UserID, d.Token, d.Platform, d.UpdatedAt.UTC(), MaxDevicesPerUser); err != nil {
					return n, err
				}
			}
			n++
		}
		return n, nil
	case "push_jobs":
		jobs := make([]Job, 0, len(docs))
		for _, raw := range docs {
			var d jobDoc
			if err := bson.Unmarshal(raw, &d); err != nil {
				return 0, fmt.Errorf("push_jobs: %w", err)
			}
			jobs = append(jobs, d.job())
		}
		return dst.EnqueueJobs(ctx, jobs)
	case "push_events":
		n := 0
		for _, raw := range docs {
			var e struct {
				ID string        `bson:"_id"`
				At bson.DateTime `bson:"at"`
			}
			if err := bson.Unmarshal(raw, &e); err != nil {
				return n, fmt.Errorf("push_events: %w", err)
			}
			if err := dst.RecordEvent(ctx, e.ID, e.At.Time().UTC()); err != nil {
				return n, err
			}
			n++
		}
		return n, nil
	case "push_claims", "push_done":
		return 0, nil
	}
	return 0, fmt.Errorf("notify has no collection %q", collection)
}
