package notify

import (
	"time"

	"github.com/clavis-app/clavis/matching"
)

// Quiet hours: a recipient who has them gets no pushes from 22:00 to 07:00
// local time. Pushes are deferred to 07:00, never dropped, except those a
// person needs before the night is over: a reminder, a missed check-in or
// a cancellation for an outing starting within three hours goes at once.
const (
	quietFrom   = 22
	quietTo     = 7
	urgentAhead = 3 * time.Hour
)

var defaultLocation = func() *time.Location {
	if loc, err := time.LoadLocation("Europe/Stockholm"); err == nil {
		return loc
	}
	return time.FixedZone("CET", 3600)
}()

// quietUntil reports whether now is inside the quiet hours in loc, and if so
// when they end.
func quietUntil(now time.Time, loc *time.Location) (time.Time, bool) {
	l := now.In(loc)
	h := l.Hour()
	if h >= quietTo && h < quietFrom {
		return time.Time{}, false
	}
	day := l
	if h >= quietFrom {
		day = l.AddDate(0, 0, 1)
	}
	return time.Date(day.Year(), day.Month(), day.Day(), quietTo, 0, 0, 0, loc), true
}

// urgent reports whether a push may break quiet hours.
func urgent(pushType string, startsAt, now time.Time) bool {
	switch pushType {
	case matching.EventReminder, matching.EventCheckinMissed, matching.EventCancelled:
		return startsAt.Sub(now) <= urgentAhead
	}
	return false
}
