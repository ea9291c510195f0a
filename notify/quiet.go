package notify

import (
	"time"
)

// Quiet hours: a recipient who has them gets no pushes from 22:00 to 07:00
// in their own time zone. A push waits for 07:00 only if it can: one about
// an outing that starts before the quiet hours end, plus an hour (news of
// a late-night outing, or of one early next morning), goes at once, whatever
// its type; waiting would bring it after the outing, or too late to act on.
const (
	quietFrom = 22
	quietTo   = 7
	// morningLead is how long after the quiet hours end an outing must start
	// for news of it to wait for the morning.
	morningLead = time.Hour
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

// deferUntil reports whether a push about an outing starting at startsAt
// waits for the end of the recipient's quiet hours, and until when.
func deferUntil(startsAt, now time.Time, loc *time.Location) (time.Time, bool) {
	until, quiet := quietUntil(now, loc)
	if !quiet || startsAt.Before(until.Add(morningLead)) {
		return time.Time{}, false
	}
	return until, true
}
