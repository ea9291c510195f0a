package groups

import "time"

// GroupView is a group as docs/api.md shows it.
type GroupView struct {
	ID                  string  `json:"id"`
	OrgID               string  `json:"organisation_id"`
	Name                string  `json:"name"`
	Kind                string  `json:"kind" enum:"course theme_group study_circle meeting_place"`
	Description         string  `json:"description"`
	Place               Place   `json:"place"`
	TimeZone            string  `json:"time_zone"`
	FirstDay            string  `json:"first_day" doc:"YYYY-MM-DD"`
	Weeks               int     `json:"weeks"`
	Weekly              []Slot  `json:"weekly"`
	Capacity            int     `json:"capacity"`
	CompletionThreshold float64 `json:"completion_threshold"`
	Status              string  `json:"status" enum:"planned running finished cancelled"`
	EnrolledCount       int     `json:"enrolled_count"`
	WaitingCount        int     `json:"waiting_count"`
}

// SessionView is a session as docs/api.md shows it.
type SessionView struct {
	ID       string    `json:"id"`
	GroupID  string    `json:"group_id"`
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at"`
	Status   string    `json:"status" enum:"scheduled moved cancelled held"`
	Reason   string    `json:"reason,omitempty"`
}

// EnrolmentView is an enrolment with the participant's attendance so far.
type EnrolmentView struct {
	GroupID       string `json:"group_id"`
	ParticipantID string `json:"participant_id"`
	Status        string `json:"status" enum:"enrolled waiting left completed not_completed"`
	Position      int    `json:"position,omitempty" doc:"place on the waiting list, from 1 (waiting only)"`
	Attended      int    `json:"attended"`
	Held          int    `json:"held"`
	Excused       int    `json:"excused"`
}

// MyGroup is one of the caller's enrolments with its group.
type MyGroup struct {
	EnrolmentView
	Group GroupView `json:"group"`
}

// Page types: {"items": [...], "next_cursor": "..."}.
type (
	GroupPage struct {
		Items      []GroupView `json:"items"`
		NextCursor string      `json:"next_cursor,omitempty"`
	}
	SessionPage struct {
		Items      []SessionView `json:"items"`
		NextCursor string        `json:"next_cursor,omitempty"`
	}
	EnrolmentPage struct {
		Items      []EnrolmentView `json:"items"`
		NextCursor string          `json:"next_cursor,omitempty"`
	}
	MyGroupPage struct {
		Items      []MyGroup `json:"items"`
		NextCursor string    `json:"next_cursor,omitempty"`
	}
	// Attendance is a session's marks after a PUT.
	Attendance struct {
		SessionID string `json:"session_id"`
		Items     []Mark `json:"items"`
	}
)

func (g *Group) view(now time.Time) GroupView {
	weekly := g.Weekly
	if weekly == nil {
		weekly = []Slot{}
	}
	return GroupView{ID: g.ID, OrgID: g.OrgID, Name: g.Name, Kind: g.Kind, Description: g.Description, Place: g.Place,
		TimeZone: g.TimeZone, FirstDay: g.FirstDay, Weeks: g.Weeks, Weekly: weekly, Capacity: g.Capacity,
		CompletionThreshold: g.CompletionThreshold, Status: g.statusAt(now), EnrolledCount: g.EnrolledCount, WaitingCount: g.WaitingCount}
}

func (s *Session) view(now time.Time) SessionView {
	return SessionView{ID: s.ID, GroupID: s.GroupID, StartsAt: s.StartsAt, EndsAt: s.EndsAt, Status: s.statusAt(now), Reason: s.Reason}
}
