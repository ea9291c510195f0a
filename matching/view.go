package matching

import (
	"math"
	"time"

	"github.com/clavis-app/clavis/auth"
)

// OutingView is an outing as one caller may see it. The limited view (a
// volunteer who is not the approved companion) leaves out the note, the
// meeting point and all but the participant's first name, and shows an
// area instead: the fields are absent from the JSON, not blanked.
type OutingView struct {
	ID              string       `json:"id"`
	ParticipantID   string       `json:"participant_id"`
	ParticipantName string       `json:"participant_name,omitempty" doc:"the first name only in the limited view"`
	OrganisationID  string       `json:"organisation_id"`
	Kind            OutingKind   `json:"kind"`
	Note            string       `json:"note,omitempty"`
	StartsAt        time.Time    `json:"starts_at"`
	EndsAt          time.Time    `json:"ends_at"`
	MeetingPoint    *PointView   `json:"meeting_point,omitempty"`
	Area            *AreaView    `json:"area,omitempty"`
	CompanionGender string       `json:"companion_gender" enum:"any female male"`
	Language        string       `json:"language" enum:"sv en"`
	Status          OutingStatus `json:"status"`
	VolunteerID     string       `json:"volunteer_id,omitempty"`
	VolunteerName   string       `json:"volunteer_name,omitempty" doc:"the companion's first name, for the participant and coordinators once a volunteer has accepted"`
	Version         int64        `json:"version"`
	CreatedAt       time.Time    `json:"created_at"`
	Limited         bool         `json:"limited,omitempty" doc:"true in the view for a volunteer who is not the approved companion"`
	SupportNeeds    string       `json:"support_needs,omitempty" doc:"coordinators only"`
	// Postponement is set while the companion is asked about a new time.
	Postponement *PostponementView `json:"postponement,omitempty" doc:"a move to a new time waiting for the companion's answer"`
	EndedEarly   bool              `json:"ended_early,omitempty" doc:"true when one of the pair stopped the outing"`
}

// PointView is an exact meeting point.
type PointView struct {
	Lat         float64 `json:"lat"`
	Lon         float64 `json:"lon"`
	Description string  `json:"description"`
}

// AreaView is the ~500 m square a meeting point lies in.
type AreaView struct {
	Lat     float64 `json:"lat"`
	Lon     float64 `json:"lon"`
	RadiusM int     `json:"radius_m"`
}

// approvedCompanion reports whether who is o's companion after approval,
// the only volunteer who sees the exact meeting point.
func approvedCompanion(o *Outing, who auth.Identity) bool {
	if who.Role != auth.RoleVolunteer || o.VolunteerID != who.UserID {
		return false
	}
	switch o.Status {
	case StatusConfirmed, StatusInProgress, StatusCompleted:
		return true
	}
	return false
}

// ViewFor renders o for who. Callers have checked who may see o at all.
func ViewFor(o *Outing, who auth.Identity) OutingView {
	v := OutingView{
		ID: o.ID, ParticipantID: o.ParticipantID, OrganisationID: o.OrgID, Kind: o.Kind,
		StartsAt: o.StartsAt, EndsAt: o.EndsAt, CompanionGender: o.CompanionGender,
		Language: o.Language, Status: o.Status, VolunteerID: o.VolunteerID,
		Version: o.Version, CreatedAt: o.CreatedAt, EndedEarly: o.EndedEarly,
	}
	if p := o.Postponement; p != nil {
		v.Postponement = &PostponementView{StartsAt: p.StartsAt, EndsAt: p.EndsAt, AskedAt: p.AskedAt, AnswerBy: p.AnswerBy}
	}
	if who.Role == auth.RoleVolunteer && !approvedCompanion(o, who) {
		v.Limited = true
		v.ParticipantName = firstName(o.ParticipantName)
		if !o.Erased {
			lat, lon := AreaCentre(o.MeetingPoint.Lat, o.MeetingPoint.Lon)
			v.Area = &AreaView{Lat: roundPlaces(lat, 5), Lon: roundPlaces(lon, 5), RadiusM: int(AreaGridKm * 1000)}
		}
		return v
	}
	v.ParticipantName = o.ParticipantName
	v.Note = o.Note
	if (who.Role == auth.RoleParticipant || who.Role == auth.RoleCoordinator) && o.VolunteerID != "" && o.VolunteerID != ErasedActor {
		v.VolunteerName = o.VolunteerName
	}
	if !o.Erased {
		mp := o.MeetingPoint
		v.MeetingPoint = &PointView{Lat: mp.Lat, Lon: mp.Lon, Description: mp.Description}
	}
	return v
}

func roundPlaces(x float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(x*p) / p
}
