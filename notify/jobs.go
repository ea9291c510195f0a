package notify

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strings"
	"time"
)

// Job kinds.
const (
	kindReminder = "reminder" // outing.reminder at an offset before start
	kindCheckin  = "checkin"  // outing.checkin_missed after start + grace
	kindEvent    = "event"    // an immediate push caused by one event
)

// Audiences of a job: one user, or an organisation's coordinators resolved
// when the job runs.
const (
	toUser         = "user"
	toCoordinators = "coordinators"
)

// Outcomes of a finished job.
const (
	outcomeDelivered = "delivered" // every reachable device got it (pruned tokens aside)
	outcomeNoDevice  = "no_device"
	outcomeExpired   = "expired" // the outing started before it could go
	outcomeGaveUp    = "gave_up" // FCM refused it for a reason a retry cannot fix
	outcomeNobody    = "no_recipient"
	outcomeDead      = "dead"
)

// doneRetention is how long finished jobs and consumed events are
// remembered: long enough that a re-delivered event or the reconciler
// cannot make a sent push again.
const doneRetention = 7 * 24 * time.Hour

// leaseMargin is how long before its lease ends a worker stops starting
// sends, so that a send never runs into a successor's.
func leaseMargin(lease time.Duration) time.Duration {
	return min(5*time.Second, lease/4)
}

// jobID derives the id from the dedup key, so the same push always has the
// same id (the app may use it to drop a duplicate).
func jobID(dedupKey string) string {
	sum := sha256.Sum256([]byte(dedupKey))
	return "p" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:15]))
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:8])
}

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// PendingPush is a scheduled push in a data export.
type PendingPush struct {
	Type     string    `json:"type"`
	OutingID string    `json:"outing_id"`
	RunAt    time.Time `json:"run_at"`
}
