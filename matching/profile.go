package matching

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/matching/availability"
)

// Genders a volunteer may state.
var Genders = []string{"female", "male", "other", "unspecified"}

// Profile limits.
const (
	MaxSkills          = 20
	MaxSkillLength     = 40
	MaxOutingsPerWeek  = 21
	MaxSupportNeedsLen = 2000
)

// GeoPoint is a latitude and longitude in degrees.
type GeoPoint struct {
	Lat float64 `bson:"lat" json:"lat"`
	Lon float64 `bson:"lon" json:"lon"`
}

// Commitment is a volunteer's hold on the time of an outing they accepted.
// It lives on the profile so that "is this volunteer busy then?" is a read
// by _id, not a scan of every outing; it is checked against the outing
// before it counts, so one left behind by a crash does no harm.
type Commitment struct {
	OutingID string    `bson:"outing_id"`
	StartsAt time.Time `bson:"starts_at"`
	EndsAt   time.Time `bson:"ends_at"`
	// At is when it was reserved (zero on commitments older than the field).
	At time.Time `bson:"at,omitempty"`
}

// VolunteerProfile is what matching knows of a volunteer. One document per
// volunteer, keyed by user id, holding profile and availability.
type VolunteerProfile struct {
	UserID string `bson:"_id"`
	OrgID  string `bson:"organisation_id"`
	// Status is the account status as last told (profile writes, or
	// SetVolunteerStatus); the candidate query filters on it and re-checks.
	Status            auth.Status `bson:"status"`
	HasProfile        bool        `bson:"has_profile"`
	Home              GeoPoint    `bson:"home"`
	HomeCell          string      `bson:"home_cell"`
	TravelRadiusKm    float64     `bson:"travel_radius_km"`
	Languages         []string    `bson:"languages"`
	Gender            string      `bson:"gender"`
	Skills            []string    `bson:"skills"`
	MaxOutingsPerWeek int         `bson:"max_outings_per_week"`
	// About is the volunteer's line about themselves on the participant's
	// what-to-expect card (care.go).
	About string `bson:"about,omitempty"`
	// Availability is nil until the volunteer sets it.
	Availability *availability.Spec `bson:"availability,omitempty"`
	Commitments  []Commitment       `bson:"commitments"`
	Rev          int64              `bson:"rev"`
	UpdatedAt    time.Time          `bson:"updated_at"`
	// week, set on the read-only profiles a store keeps in memory
	// (memoiseWeek), compiles their availability once for every request
	// that ranks them; nil elsewhere: compiled at each call.
	week *weekMemo
}

type weekMemo struct {
	once sync.Once
	w    *availability.Week
}

// memoiseWeek makes Week compile once for p and its copies. Only for a
// profile no one changes any more (a store's cached doc).
func (p *VolunteerProfile) memoiseWeek() { p.week = &weekMemo{} }

// Week compiles the stored availability; nil when there is none.
func (p *VolunteerProfile) Week() *availability.Week {
	if p == nil || p.Availability == nil {
		return nil
	}
	if m := p.week; m != nil {
		m.once.Do(func() { m.w = compileWeek(p.Availability) })
		return m.w
	}
	return compileWeek(p.Availability)
}

func compileWeek(spec *availability.Spec) *availability.Week {
	w, err := availability.Compile(*spec)
	if err != nil {
		return nil // stored specs were valid when written
	}
	return w
}

// VolunteerProfileInput is the body of PUT /v1/volunteers/me/profile.
type VolunteerProfileInput struct {
	Home              GeoPoint
	TravelRadiusKm    float64
	Languages         []string
	Gender            string
	Skills            []string
	MaxOutingsPerWeek int
	About             string
}

// Validate names each broken field.
func (in VolunteerProfileInput) Validate() error {
	var errs []fault.FieldError
	bad := func(field, msg string) { errs = append(errs, fault.FieldError{Field: field, Message: msg}) }
	if in.Home.Lat < -90 || in.Home.Lat > 90 {
		bad("home.lat", "must be a latitude between -90 and 90")
	}
	if in.Home.Lon < -180 || in.Home.Lon > 180 {
		bad("home.lon", "must be a longitude between -180 and 180")
	}
	if !(in.TravelRadiusKm > 0 && in.TravelRadiusKm <= MaxTravelRadiusKm) {
		bad("travel_radius_km", fmt.Sprintf("must be more than 0 and at most %g", MaxTravelRadiusKm))
	}
	errs = append(errs, checkLanguages(in.Languages)...)
	if !isOneOf(in.Gender, Genders...) {
		bad("gender", "must be one of: female, male, other, unspecified")
	}
	if len(in.Skills) > MaxSkills {
		bad("skills", fmt.Sprintf("must have at most %d items", MaxSkills))
	}
	for i, s := range in.Skills {
		if n := utf8.RuneCountInString(strings.TrimSpace(s)); n == 0 || n > MaxSkillLength {
			bad(fmt.Sprintf("skills[%d]", i), fmt.Sprintf("must be 1 to %d characters", MaxSkillLength))
		}
	}
	if in.MaxOutingsPerWeek < 1 || in.MaxOutingsPerWeek > MaxOutingsPerWeek {
		bad("max_outings_per_week", fmt.Sprintf("must be from 1 to %d", MaxOutingsPerWeek))
	}
	if err := CheckAbout(strings.TrimSpace(in.About)); err != nil {
		var fe *fault.Error
		if errors.As(err, &fe) {
			errs = append(errs, fe.Fields...)
		}
	}
	if len(errs) > 0 {
		return fault.Invalid(errs...)
	}
	return nil
}

func checkLanguages(langs []string) []fault.FieldError {
	var errs []fault.FieldError
	if len(langs) == 0 {
		return []fault.FieldError{{Field: "languages", Message: "must have at least 1 item"}}
	}
	for i, l := range langs {
		if !isOneOf(l, Languages...) {
			errs = append(errs, fault.FieldError{Field: fmt.Sprintf("languages[%d]", i), Message: "must be one of: sv, en"})
		} else if slices.Index(langs, l) != i {
			errs = append(errs, fault.FieldError{Field: fmt.Sprintf("languages[%d]", i), Message: "must not repeat values"})
		}
	}
	return errs
}

// VolunteerProfileView is the answer to the profile PUT.
type VolunteerProfileView struct {
	UserID            string    `json:"user_id"`
	OrganisationID    string    `json:"organisation_id"`
	Home              GeoPoint  `json:"home"`
	TravelRadiusKm    float64   `json:"travel_radius_km"`
	Languages         []string  `json:"languages" enum:"sv en"`
	Gender            string    `json:"gender" enum:"female male other unspecified"`
	Skills            []string  `json:"skills"`
	MaxOutingsPerWeek int       `json:"max_outings_per_week"`
	About             string    `json:"about,omitempty" doc:"shown on the participant's what-to-expect card"`
	UpdatedAt         time.Time `json:"updated_at"`
}

func (p *VolunteerProfile) view() VolunteerProfileView {
	return VolunteerProfileView{
		UserID: p.UserID, OrganisationID: p.OrgID, Home: p.Home, TravelRadiusKm: p.TravelRadiusKm,
		Languages: nonNil(p.Languages), Gender: p.Gender, Skills: nonNil(p.Skills),
		MaxOutingsPerWeek: p.MaxOutingsPerWeek, About: p.About, UpdatedAt: p.UpdatedAt,
	}
}

// AvailabilityView is the answer to the availability PUT.
type AvailabilityView struct {
	UserID     string                   `json:"user_id"`
	TimeZone   string                   `json:"time_zone"`
	Weekly     []availability.SlotSpec  `json:"weekly"`
	Exceptions []availability.Exception `json:"exceptions"`
	UpdatedAt  time.Time                `json:"updated_at"`
}

// ParticipantProfile is what matching keeps about a participant: their
// wishes, and the support needs only coordinators write and read.
type ParticipantProfile struct {
	UserID          string   `bson:"_id"`
	OrgID           string   `bson:"organisation_id"`
	Languages       []string `bson:"languages"`
	CompanionGender string   `bson:"companion_gender"`
	// Gender is stated for follow-up by gender only (reports count it,
	// matching never uses it); empty means unspecified.
	Gender         string    `bson:"gender,omitempty"`
	SupportNeeds   string    `bson:"support_needs,omitempty"`
	SupportNeedsBy string    `bson:"support_needs_by,omitempty"`
	SupportNeedsAt time.Time `bson:"support_needs_at,omitempty"`
	Rev            int64     `bson:"rev"`
	UpdatedAt      time.Time `bson:"updated_at"`
}

// ParticipantProfileInput is the body of PUT /v1/participants/me/profile.
type ParticipantProfileInput struct {
	Languages       []string
	CompanionGender string
	// Gender: empty keeps the stated one (unspecified at first).
	Gender string
}

// Validate names each broken field.
func (in ParticipantProfileInput) Validate() error {
	errs := checkLanguages(in.Languages)
	if !isOneOf(in.CompanionGender, CompanionGenders...) {
		errs = append(errs, fault.FieldError{Field: "companion_gender", Message: "must be one of: any, female, male"})
	}
	if in.Gender != "" && !isOneOf(in.Gender, Genders...) {
		errs = append(errs, fault.FieldError{Field: "gender", Message: "must be one of: female, male, other, unspecified"})
	}
	if len(errs) > 0 {
		return fault.Invalid(errs...)
	}
	return nil
}

// ParticipantProfileView is the participant's own view: no support needs.
type ParticipantProfileView struct {
	UserID          string    `json:"user_id"`
	Languages       []string  `json:"languages" enum:"sv en"`
	CompanionGender string    `json:"companion_gender" enum:"any female male"`
	Gender          string    `json:"gender" enum:"female male other unspecified" doc:"for follow-up by gender in reports only"`
	UpdatedAt       time.Time `json:"updated_at"`
}

func (p *ParticipantProfile) view() ParticipantProfileView {
	g := p.Gender
	if g == "" {
		g = "unspecified"
	}
	return ParticipantProfileView{UserID: p.UserID, Languages: nonNil(p.Languages), CompanionGender: p.CompanionGender, Gender: g, UpdatedAt: p.UpdatedAt}
}

// SupportNeedsView is what a coordinator sees and writes.
type SupportNeedsView struct {
	ParticipantID string    `json:"participant_id"`
	SupportNeeds  string    `json:"support_needs"`
	UpdatedBy     string    `json:"updated_by,omitempty"`
	UpdatedAt     time.Time `json:"updated_at,omitempty"`
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// The weekly availability is what ranking checks candidates against.
var _ Availability = (*availability.Week)(nil)

// Bookings are the volunteer's holds as ranking's busy rule takes them. A
// hold may outlive its outing after a crash; callers that must be exact
// check each against its outing (as accept does).
func (p *VolunteerProfile) Bookings() []Booking {
	out := make([]Booking, 0, len(p.Commitments))
	for _, c := range p.Commitments {
		out = append(out, Booking{OutingID: c.OutingID, Start: c.StartsAt, End: c.EndsAt})
	}
	return out
}
