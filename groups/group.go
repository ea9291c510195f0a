// Package groups owns theme groups, study circles, meeting places and
// courses: their sessions (made from weekly slots in the group's time
// zone), enrolment with a waiting list, attendance and completion.
//
// Groups link to escort outings (a session's outing ids) but the matching
// package knows no groups; pushes go through the Notifier interface, which
// the notify package implements.
package groups

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clavis-app/clavis/internal/fault"
)

// Kinds of group (docs/api.md, "Groups").
const (
	KindCourse       = "course"
	KindThemeGroup   = "theme_group"
	KindStudyCircle  = "study_circle"
	KindMeetingPlace = "meeting_place"
)

// Group statuses. Planned, running and finished follow from the clock and
// the sessions; only cancelled is stored as such.
const (
	StatusPlanned   = "planned"
	StatusRunning   = "running"
	StatusFinished  = "finished"
	StatusCancelled = "cancelled"
)

// Session statuses; held is what a session not cancelled becomes once it has ended.
const (
	SessionScheduled = "scheduled"
	SessionMoved     = "moved"
	SessionCancelled = "cancelled"
	SessionHeld      = "held"
)

// Enrolment statuses.
const (
	Enrolled     = "enrolled"
	Waiting      = "waiting"
	Left         = "left"
	Completed    = "completed"
	NotCompleted = "not_completed"
)

// Attendance marks.
const (
	MarkPresent = "present"
	MarkAbsent  = "absent"
	MarkExcused = "excused"
)

// Limits of docs/api.md and the issue.
const (
	MaxWeeks           = 104
	DefaultThreshold   = 0.75
	MaxSlotsPerWeek    = 14
	maxNameLength      = 120
	maxDescriptionLen  = 2000
	maxReasonLength    = 500
	maxAttendanceMarks = 500
	slotTimeLayout     = "15:04"
)

// Place is where a group meets.
type Place struct {
	Lat         float64 `json:"lat" bson:"lat"`
	Lon         float64 `json:"lon" bson:"lon"`
	Description string  `json:"description" bson:"description"`
}

// Slot is a weekly meeting in local wall time: weekday mon..sun, start and
// end as HH:MM.
type Slot struct {
	Weekday string `json:"weekday" bson:"weekday"`
	Start   string `json:"start" bson:"start"`
	End     string `json:"end" bson:"end"`
}

// Group is a group as stored; Status holds only "cancelled" or "" (derived).
type Group struct {
	ID                  string    `bson:"_id"`
	OrgID               string    `bson:"organisation_id"`
	Name                string    `bson:"name"`
	Kind                string    `bson:"kind"`
	Description         string    `bson:"description"`
	Place               Place     `bson:"place"`
	TimeZone            string    `bson:"time_zone"`
	FirstDay            string    `bson:"first_day"`
	Weeks               int       `bson:"weeks"`
	Weekly              []Slot    `bson:"weekly"`
	Capacity            int       `bson:"capacity"`
	CompletionThreshold float64   `bson:"completion_threshold"`
	Cancelled           bool      `bson:"cancelled"`
	StartsAt            time.Time `bson:"starts_at"`
	EndsAt              time.Time `bson:"ends_at"`
	// Decided is set once completion was decided for every enrolment.
	Decided   bool      `bson:"decided"`
	CreatedAt time.Time `bson:"created_at"`
	// Counts are filled by reads, never stored.
	EnrolledCount int `bson:"-"`
	WaitingCount  int `bson:"-"`
}

// Session is one meeting of a group.
type Session struct {
	ID       string    `bson:"_id"`
	GroupID  string    `bson:"group_id"`
	OrgID    string    `bson:"organisation_id"`
	StartsAt time.Time `bson:"starts_at"`
	EndsAt   time.Time `bson:"ends_at"`
	// Status is scheduled, moved or cancelled as stored; held is derived.
	Status string `bson:"status"`
	Reason string `bson:"reason,omitempty"`
}

// Enrolment is one participant in one group. Seq orders the waiting list.
type Enrolment struct {
	ID            string    `bson:"_id"`
	GroupID       string    `bson:"group_id"`
	ParticipantID string    `bson:"participant_id"`
	Status        string    `bson:"status"`
	Seq           int64     `bson:"seq"`
	At            time.Time `bson:"at"`
	// Position is the 1-based place on the waiting list (reads fill it).
	Position int `bson:"-"`
}

// Mark is one participant's attendance at one session.
type Mark struct {
	SessionID     string `json:"-" bson:"session_id"`
	GroupID       string `json:"-" bson:"group_id"`
	ParticipantID string `json:"participant_id" bson:"participant_id"`
	Mark          string `json:"mark" bson:"mark"`
}

// EscortLink ties an escort outing to the session it goes to.
type EscortLink struct {
	SessionID     string `bson:"session_id"`
	GroupID       string `bson:"group_id"`
	ParticipantID string `bson:"participant_id"`
	OutingID      string `bson:"outing_id"`
}

// GroupInput is the body of POST /v1/organisations/{org_id}/groups.
type GroupInput struct {
	Name                string
	Kind                string
	Description         string
	Place               Place
	TimeZone            string
	FirstDay            string
	Weeks               int
	Weekly              []Slot
	Capacity            int
	CompletionThreshold *float64
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday,
	"wed": time.Wednesday, "thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// minutes reads HH:MM (24:00 allowed as an end) as minutes after midnight.
func minutes(s string) (int, bool) {
	if s == "24:00" {
		return 24 * 60, true
	}
	t, err := time.Parse(slotTimeLayout, s)
	if err != nil || len(s) != 5 {
		return 0, false
	}
	return t.Hour()*60 + t.Minute(), true
}

// validate checks in, naming every broken field, and returns the zone.
func (in *GroupInput) validate() (*time.Location, error) {
	var errs []fault.FieldError
	bad := func(field, msg string) { errs = append(errs, fault.FieldError{Field: field, Message: msg}) }
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || utf8.RuneCountInString(in.Name) > maxNameLength {
		bad("name", fmt.Sprintf("is required, at most %d characters", maxNameLength))
	}
	if !slices.Contains([]string{KindCourse, KindThemeGroup, KindStudyCircle, KindMeetingPlace}, in.Kind) {
		bad("kind", "must be course, theme_group, study_circle or meeting_place")
	}
	if utf8.RuneCountInString(in.Description) > maxDescriptionLen {
		bad("description", fmt.Sprintf("must be at most %d characters", maxDescriptionLen))
	}
	if in.Place.Lat < -90 || in.Place.Lat > 90 {
		bad("place.lat", "must be a latitude")
	}
	if in.Place.Lon < -180 || in.Place.Lon > 180 {
		bad("place.lon", "must be a longitude")
	}
	loc, err := time.LoadLocation(in.TimeZone)
	if in.TimeZone == "" || err != nil {
		bad("time_zone", "must be an IANA time zone such as Europe/Stockholm")
		loc = nil
	}
	if _, err := time.Parse(time.DateOnly, in.FirstDay); err != nil {
		bad("first_day", "must be a date, YYYY-MM-DD")
	}
	if in.Weeks < 1 || in.Weeks > MaxWeeks {
		bad("weeks", fmt.Sprintf("must be from 1 to %d", MaxWeeks))
	}
	if in.Capacity < 1 {
		bad("capacity", "must be at least 1")
	}
	if in.CompletionThreshold != nil && (*in.CompletionThreshold < 0 || *in.CompletionThreshold > 1) {
		bad("completion_threshold", "must be from 0 to 1")
	}
	if len(in.Weekly) == 0 || len(in.Weekly) > MaxSlotsPerWeek {
		bad("weekly", fmt.Sprintf("must have 1 to %d slots", MaxSlotsPerWeek))
	}
	type span struct{ from, to int }
	byDay := map[string][]span{}
	for i, sl := range in.Weekly {
		field := fmt.Sprintf("weekly[%d]", i)
		if _, ok := weekdays[sl.Weekday]; !ok {
			bad(field+".weekday", "must be mon, tue, wed, thu, fri, sat or sun")
			continue
		}
		from, ok1 := minutes(sl.Start)
		to, ok2 := minutes(sl.End)
		if !ok1 || from >= 24*60 {
			bad(field+".start", "must be HH:MM")
			continue
		}
		if !ok2 {
			bad(field+".end", "must be HH:MM")
			continue
		}
		if to <= from {
			bad(field+".end", "must be after start")
			continue
		}
		for _, o := range byDay[sl.Weekday] {
			if from < o.to && o.from < to {
				bad(field, "overlaps another slot on the same day")
			}
		}
		byDay[sl.Weekday] = append(byDay[sl.Weekday], span{from, to})
	}
	if len(errs) > 0 {
		return nil, fault.Invalid(errs...)
	}
	return loc, nil
}

// GenerateSessions makes the sessions of weeks weeks from firstDay: week w
// is the seven days from firstDay+7w, and each slot falls on its weekday in
// that week at its local wall time. Building each time with time.Date in
// loc keeps the wall time across daylight-saving changes.
func GenerateSessions(groupID, orgID, firstDay string, weeks int, weekly []Slot, loc *time.Location, newID func() string) ([]Session, error) {
	day, err := time.ParseInLocation(time.DateOnly, firstDay, loc)
	if err != nil {
		return nil, err
	}
	out := make([]Session, 0, weeks*len(weekly))
	for w := 0; w < weeks; w++ {
		for _, sl := range weekly {
			wd, ok := weekdays[sl.Weekday]
			if !ok {
				return nil, fmt.Errorf("weekday %q", sl.Weekday)
			}
			offset := 7*w + (int(wd)-int(day.Weekday())+7)%7
			from, _ := minutes(sl.Start)
			to, _ := minutes(sl.End)
			y, m, d := day.Date()
			start := time.Date(y, m, d+offset, from/60, from%60, 0, 0, loc)
			end := time.Date(y, m, d+offset, to/60, to%60, 0, 0, loc)
			out = append(out, Session{ID: newID(), GroupID: groupID, OrgID: orgID,
				StartsAt: start.UTC(), EndsAt: end.UTC(), Status: SessionScheduled})
		}
	}
	slices.SortFunc(out, func(a, b Session) int { return a.StartsAt.Compare(b.StartsAt) })
	return out, nil
}

// statusAt is the group's status at now.
func (g *Group) statusAt(now time.Time) string {
	switch {
	case g.Cancelled:
		return StatusCancelled
	case !now.Before(g.EndsAt):
		return StatusFinished
	case !now.Before(g.StartsAt):
		return StatusRunning
	}
	return StatusPlanned
}

// statusAt is the session's status at now.
func (s *Session) statusAt(now time.Time) string {
	if s.Status != SessionCancelled && !now.Before(s.EndsAt) {
		return SessionHeld
	}
	return s.Status
}

// span returns the first start and the last end of the sessions not cancelled.
func span(sessions []Session) (time.Time, time.Time) {
	var from, to time.Time
	for _, s := range sessions {
		if s.Status == SessionCancelled {
			continue
		}
		if from.IsZero() || s.StartsAt.Before(from) {
			from = s.StartsAt
		}
		if s.EndsAt.After(to) {
			to = s.EndsAt
		}
	}
	return from, to
}

// Tally is one participant's attendance over a group's held sessions.
type Tally struct {
	Attended, Held, Excused int
}

// Completes reports whether t meets threshold: attended ÷ (held −
// excused) ≥ threshold. With nothing to attend (every held session
// excused, or none held) there is no evidence of completion.
func (t Tally) Completes(threshold float64) bool {
	den := t.Held - t.Excused
	if den <= 0 {
		return false
	}
	return float64(t.Attended) >= threshold*float64(den)-1e-9
}
