package matching

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
)

// The care during an outing (docs/api.md, "Participant care"): what the
// participant can expect, stopping early, and calling for help.

// Limits of the card's lines.
const (
	MaxAboutLength     = 200
	MaxRecogniseLength = 140
)

// The needed_by values of a stop.
const (
	NeededByParticipant = "participant"
	NeededByVolunteer   = "volunteer"
)

var (
	aboutEmail = regexp.MustCompile(`[^\s@]+@[^\s@]+\.[^\s@]+`)
	aboutPhone = regexp.MustCompile(`\+?\d[\d\s\-().]{5,}\d`)
	// Swedish "Storgatan 5", "Kungsvägen 12B", and "12 Baker Street".
	aboutStreetSv = regexp.MustCompile(`(?i)\p{L}*(gatan|gata|vägen|väg|gränd|stigen|allén|allé|backen|torget|plan|street|road|avenue|lane)\s+\d+`)
	aboutStreetEn = regexp.MustCompile(`(?i)\b\d+[a-z]?\s+(\p{L}+\s+)+(street|st|road|rd|avenue|ave|lane|ln|drive|dr)\b`)
)

// CheckAbout validates a volunteer's line about themselves: it is shown to
// a participant before they have met, so it must not say how to reach or
// find the volunteer outside Clavis.
func CheckAbout(about string) error {
	bad := func(msg string) error { return fault.InvalidField("about", msg) }
	if utf8.RuneCountInString(about) > MaxAboutLength {
		return bad("must be at most 200 characters")
	}
	const why = ": it is shown to a participant before trust is built; share contact details in person"
	if aboutEmail.MatchString(about) {
		return bad("must not hold an e-mail address" + why)
	}
	for _, m := range aboutPhone.FindAllString(about, -1) {
		digits := 0
		for _, r := range m {
			if r >= '0' && r <= '9' {
				digits++
			}
		}
		if digits >= 7 {
			return bad("must not hold a phone number" + why)
		}
	}
	if aboutStreetSv.MatchString(about) || aboutStreetEn.MatchString(about) {
		return bad("must not hold a street address" + why)
	}
	return nil
}

// CompanionCard is the matching half of the what-to-expect card; the
// organisation's contact is the accounts' (the API joins them).
type CompanionCard struct {
	FirstName   string `json:"first_name"`
	About       string `json:"about"`
	RecogniseBy string `json:"recognise_by"`
}

// ExpectCard is the card without the contact.
type ExpectCard struct {
	OrgID        string
	Companion    CompanionCard
	MeetingPoint PointView
	View         OutingView
}

// Expect is the what-to-expect card of a confirmed (or started) outing for
// its participant and coordinators. Any other volunteer than the companion
// may not know the outing: NotFound.
func (s *Service) Expect(ctx context.Context, who auth.Identity, id string) (ExpectCard, error) {
	o, err := s.st.Outing(ctx, id)
	if err != nil {
		return ExpectCard{}, notFoundOr(err, "outing")
	}
	rel, err := s.relationTo(ctx, o, who)
	if err != nil {
		return ExpectCard{}, err
	}
	switch rel {
	case RelParticipant, RelCoordinator:
	case RelCompanion:
		return ExpectCard{}, fault.Forbiddenf("the card is for the participant")
	default:
		return ExpectCard{}, fault.NotFoundf("no such outing")
	}
	if o.Status != StatusConfirmed && o.Status != StatusInProgress {
		return ExpectCard{}, fault.StateConflictf("an outing that is %s has no card; it is ready once the outing is confirmed", o.Status)
	}
	card := ExpectCard{OrgID: o.OrgID, View: ViewFor(o, who),
		Companion:    CompanionCard{FirstName: o.VolunteerName, RecogniseBy: o.RecogniseBy},
		MeetingPoint: PointView{Lat: o.MeetingPoint.Lat, Lon: o.MeetingPoint.Lon, Description: o.MeetingPoint.Description}}
	p, err := s.st.Volunteer(ctx, o.VolunteerID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return ExpectCard{}, fault.Wrap(err, "read volunteer profile")
	}
	if p != nil {
		card.Companion.About = p.About
	}
	if rel == RelCoordinator {
		s.audit(ctx, who.UserID, o.ParticipantID, "outing.expect.read")
	}
	return card, nil
}

// SetRecognise writes the companion's line for the day.
func (s *Service) SetRecognise(ctx context.Context, who auth.Identity, id, text string) (OutingView, error) {
	text = strings.TrimSpace(text)
	if utf8.RuneCountInString(text) > MaxRecogniseLength {
		return OutingView{}, fault.InvalidField("text", "must be at most 140 characters")
	}
	o, err := s.careMove(ctx, who, id, func(o *Outing, rel Relation, _ time.Time) (Move, error) {
		if rel != RelCompanion {
			return Move{}, fault.Forbiddenf("only the outing's companion says how to recognise them")
		}
		if o.Status != StatusConfirmed && o.Status != StatusInProgress {
			return Move{}, fault.StateConflictf("an outing that is %s has no card", o.Status)
		}
		return Move{Action: ActionRecognise, Actor: who.UserID, From: o.Status, To: o.Status, Patch: &OutingPatch{RecogniseBy: &text}}, nil
	})
	if err != nil {
		return OutingView{}, err
	}
	return ViewFor(o, who), nil
}

// Stop ends an outing in progress early (participant or companion): it is
// completed, marked ended_early, and coordinators are told at once.
func (s *Service) Stop(ctx context.Context, who auth.Identity, id, neededBy, reason string) (OutingView, error) {
	if neededBy != NeededByParticipant && neededBy != NeededByVolunteer {
		return OutingView{}, fault.InvalidField("needed_by", "must be one of: participant, volunteer")
	}
	if err := checkReason(reason, false); err != nil {
		return OutingView{}, err
	}
	o, err := s.careMove(ctx, who, id, func(o *Outing, rel Relation, _ time.Time) (Move, error) {
		if rel != RelParticipant && rel != RelCompanion {
			return Move{}, fault.Forbiddenf("only the participant or the companion may stop an outing")
		}
		if o.Status != StatusInProgress {
			return Move{}, fault.StateConflictf("an outing that is %s cannot be stopped; only one in progress can", o.Status)
		}
		r := "ended early; needed by the " + neededBy
		if t := strings.TrimSpace(reason); t != "" {
			r += ": " + t
		}
		return Move{Action: ActionStop, Actor: who.UserID, From: o.Status, To: StatusCompleted, Reason: r,
			Release: o.VolunteerID, Patch: &OutingPatch{EndedEarly: true},
			Events: []Event{
				{Type: EventCompleted, VolunteerID: o.VolunteerID},
				{Type: EventEndedEarly, VolunteerID: o.VolunteerID, ToCoordinators: true},
			}}, nil
	})
	if err != nil {
		return OutingView{}, err
	}
	return ViewFor(o, who), nil
}

// Help records a press of the help button (participant or companion, on a
// confirmed outing or one in progress) and alerts the coordinators. The
// status stays; the press is in the history.
func (s *Service) Help(ctx context.Context, who auth.Identity, id, note string) error {
	note = strings.TrimSpace(note)
	if utf8.RuneCountInString(note) > MaxReasonLength {
		return fault.InvalidField("note", "must be at most 500 characters")
	}
	_, err := s.careMove(ctx, who, id, func(o *Outing, rel Relation, _ time.Time) (Move, error) {
		if rel != RelParticipant && rel != RelCompanion {
			return Move{}, fault.Forbiddenf("only the participant or the companion may call for help")
		}
		if o.Status != StatusConfirmed && o.Status != StatusInProgress {
			return Move{}, fault.StateConflictf("an outing that is %s has nobody to help", o.Status)
		}
		r := "help pressed by the " + rel.String()
		if note != "" {
			r += ": " + note
		}
		return Move{Action: ActionHelp, Actor: who.UserID, From: o.Status, To: o.Status, Record: true, Reason: r,
			Events: []Event{{Type: EventHelp, VolunteerID: o.VolunteerID, ToCoordinators: true}}}, nil
	})
	return err
}

// CompanionFacts is what the expenses need of an outing its companion asks about.
type CompanionFacts struct {
	ID, OrgID, VolunteerID string
	Completed              bool
	CompletedAt, StartsAt  time.Time
}

// CompanionOuting tells the expenses about an outing who was the companion
// of: NotFound when who may not know it, Forbidden when who knows it but
// is not its companion.
func (s *Service) CompanionOuting(ctx context.Context, who auth.Identity, id string) (CompanionFacts, error) {
	o, err := s.st.Outing(ctx, id)
	if err != nil {
		return CompanionFacts{}, notFoundOr(err, "outing")
	}
	rel, err := s.relationTo(ctx, o, who)
	if err != nil {
		return CompanionFacts{}, err
	}
	switch rel {
	case RelCompanion:
	case RelNone:
		return CompanionFacts{}, fault.NotFoundf("no such outing")
	default:
		return CompanionFacts{}, fault.Forbiddenf("only the outing's companion records its expenses")
	}
	f := CompanionFacts{ID: o.ID, OrgID: o.OrgID, VolunteerID: o.VolunteerID, StartsAt: o.StartsAt, Completed: o.Status == StatusCompleted}
	for _, h := range o.History {
		if h.To == StatusCompleted && h.From != StatusCompleted {
			f.CompletedAt = h.At
		}
	}
	return f, nil
}
