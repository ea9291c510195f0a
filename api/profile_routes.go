package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/matching/availability"
)

// Profiles: docs/api.md, "Profiles". Pending accounts may set theirs (they log
// in to do so before a coordinator approves them).

type geoPointBody struct {
	Lat *float64 `json:"lat" validate:"required,latitude"`
	Lon *float64 `json:"lon" validate:"required,longitude"`
}

type volunteerProfileBody struct {
	Home              *geoPointBody `json:"home" validate:"required"`
	TravelRadiusKm    float64       `json:"travel_radius_km" validate:"required,gt=0,lte=50"`
	Languages         []string      `json:"languages" validate:"required,min=1,max=2,dive,oneof=sv en"`
	Gender            string        `json:"gender" validate:"required,oneof=female male other unspecified"`
	Skills            []string      `json:"skills" validate:"max=20,dive,min=1,max=40"`
	MaxOutingsPerWeek int           `json:"max_outings_per_week" validate:"required,min=1,max=21"`
	About             string        `json:"about,omitempty" doc:"up to 200 characters about yourself, shown on the participant's what-to-expect card; no phone number, e-mail or street address"`
}

type slotBody struct {
	Weekday string `json:"weekday" validate:"required,oneof=mon tue wed thu fri sat sun"`
	Start   string `json:"start" validate:"required" doc:"HH:MM local wall time"`
	End     string `json:"end" validate:"required" doc:"HH:MM local wall time; 24:00 allowed"`
}

type exceptionBody struct {
	From string `json:"from" validate:"required" doc:"RFC 3339"`
	To   string `json:"to" validate:"required" doc:"RFC 3339"`
}

type availabilityBody struct {
	TimeZone   string          `json:"time_zone,omitempty" doc:"IANA time zone; the organisation's when left out"`
	Weekly     []slotBody      `json:"weekly" validate:"max=50,dive"`
	Exceptions []exceptionBody `json:"exceptions" validate:"max=100,dive"`
}

type participantProfileBody struct {
	Languages       []string `json:"languages" validate:"required,min=1,max=2,dive,oneof=sv en"`
	CompanionGender string   `json:"companion_gender" validate:"required,oneof=any female male"`
	Gender          string   `json:"gender,omitempty" validate:"omitempty,oneof=female male other unspecified" doc:"for follow-up by gender in reports only; left out: unchanged (unspecified at first)"`
}

type supportNeedsBody struct {
	SupportNeeds string `json:"support_needs" validate:"max=2000"`
}

func (s *Server) profileRoutes() error {
	routes := []struct {
		r Route
		h fiber.Handler
	}{
		{Route{Method: "PUT", Path: "/v1/volunteers/me/profile", Summary: "Set the caller's volunteer profile", Tag: "profiles",
			Roles: []auth.Role{auth.RoleVolunteer}, AllowPending: true, Request: volunteerProfileBody{}, Response: matching.VolunteerProfileView{}},
			s.putVolunteerProfile},
		{Route{Method: "PUT", Path: "/v1/volunteers/me/availability", Summary: "Set the caller's weekly availability and absences", Tag: "profiles",
			Roles: []auth.Role{auth.RoleVolunteer}, AllowPending: true, Request: availabilityBody{}, Response: matching.AvailabilityView{},
			Description: "Slots are local wall time in time_zone (end may be 24:00); overlapping or reversed slots: 422."},
			s.putAvailability},
		{Route{Method: "PUT", Path: "/v1/participants/me/profile", Summary: "Set the caller's wishes as a participant", Tag: "profiles",
			Roles: []auth.Role{auth.RoleParticipant}, AllowPending: true, Request: participantProfileBody{}, Response: matching.ParticipantProfileView{}},
			s.putParticipantProfile},
		{Route{Method: "GET", Path: "/v1/volunteers/me/profile", Summary: "The caller's volunteer profile", Tag: "profiles",
			Roles: []auth.Role{auth.RoleVolunteer}, AllowPending: true, Response: matching.VolunteerProfileView{}, Problems: []int{404},
			Description: "404 before the first PUT."},
			func(c *fiber.Ctx) error {
				return sendView[matching.VolunteerProfileView](c)(s.deps.Matching.VolunteerProfileOf(c.UserContext(), Caller(c)))
			}},
		{Route{Method: "GET", Path: "/v1/volunteers/me/availability", Summary: "The caller's weekly availability and absences", Tag: "profiles",
			Roles: []auth.Role{auth.RoleVolunteer}, AllowPending: true, Response: matching.AvailabilityView{}, Problems: []int{404},
			Description: "404 before the first PUT."},
			func(c *fiber.Ctx) error {
				return sendView[matching.AvailabilityView](c)(s.deps.Matching.AvailabilityOf(c.UserContext(), Caller(c)))
			}},
		{Route{Method: "GET", Path: "/v1/participants/me/profile", Summary: "The caller's wishes as a participant", Tag: "profiles",
			Roles: []auth.Role{auth.RoleParticipant}, AllowPending: true, Response: matching.ParticipantProfileView{}, Problems: []int{404},
			Description: "404 before the first PUT."},
			func(c *fiber.Ctx) error {
				return sendView[matching.ParticipantProfileView](c)(s.deps.Matching.ParticipantProfileOf(c.UserContext(), Caller(c)))
			}},
		{Route{Method: "PUT", Path: "/v1/participants/:user_id/support-needs", Summary: "Write a participant's support needs (coordinator; only coordinators read them)", Tag: "profiles",
			Roles: []auth.Role{auth.RoleCoordinator}, Request: supportNeedsBody{}, Response: matching.SupportNeedsView{}, Problems: []int{404}},
			s.putSupportNeeds},
	}
	for _, r := range routes {
		if err := s.Handle(r.r, s.needsMatching(r.h)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) putVolunteerProfile(c *fiber.Ctx) error {
	var b volunteerProfileBody
	if err := s.bind(c, &b); err != nil {
		return err
	}
	v, err := s.deps.Matching.PutVolunteerProfile(c.UserContext(), Caller(c), matching.VolunteerProfileInput{
		Home: matching.GeoPoint{Lat: *b.Home.Lat, Lon: *b.Home.Lon}, TravelRadiusKm: b.TravelRadiusKm,
		Languages: b.Languages, Gender: b.Gender, Skills: b.Skills, MaxOutingsPerWeek: b.MaxOutingsPerWeek,
		About: b.About,
	})
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (s *Server) putAvailability(c *fiber.Ctx) error {
	var b availabilityBody
	if err := s.bind(c, &b); err != nil {
		return err
	}
	spec := availability.Spec{TimeZone: b.TimeZone}
	for _, w := range b.Weekly {
		spec.Weekly = append(spec.Weekly, availability.SlotSpec{Weekday: w.Weekday, Start: w.Start, End: w.End})
	}
	for _, e := range b.Exceptions {
		spec.Exceptions = append(spec.Exceptions, availability.Exception{From: e.From, To: e.To})
	}
	v, err := s.deps.Matching.PutAvailability(c.UserContext(), Caller(c), spec)
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (s *Server) putParticipantProfile(c *fiber.Ctx) error {
	var b participantProfileBody
	if err := s.bind(c, &b); err != nil {
		return err
	}
	v, err := s.deps.Matching.PutParticipantProfile(c.UserContext(), Caller(c), matching.ParticipantProfileInput{
		Languages: b.Languages, CompanionGender: b.CompanionGender, Gender: b.Gender,
	})
	if err != nil {
		return err
	}
	return c.JSON(v)
}

func (s *Server) putSupportNeeds(c *fiber.Ctx) error {
	var b supportNeedsBody
	if err := s.bind(c, &b); err != nil {
		return err
	}
	v, err := s.deps.Matching.SetSupportNeeds(c.UserContext(), Caller(c), pathID(c, "user_id"), b.SupportNeeds)
	if err != nil {
		return err
	}
	return c.JSON(v)
}

// sendView answers 200 with v, or the error: sendView(c)(svc.Read(...)).
func sendView[T any](c *fiber.Ctx) func(T, error) error {
	return func(v T, err error) error {
		if err != nil {
			return err
		}
		return c.JSON(v)
	}
}
