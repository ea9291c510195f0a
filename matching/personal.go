package matching

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/internal/personal"
)

// ErasedActor replaces an erased user's id in outing histories.
const ErasedActor = "erased"

// PersonalHook is matching's part of a user's export and erasure; main.go
// registers it with the accounts' personal.Registry.
func (s *Service) PersonalHook() personal.Hook {
	return personal.Hook{Name: "matching", Export: s.exportUser, Erase: s.eraseUser}
}

// Export is everything matching stores about one user, in the API's
// snake_case (the stored structs carry only bson names).
type Export struct {
	VolunteerProfile   *VolunteerProfileExport   `json:"volunteer_profile,omitempty"`
	ParticipantProfile *ParticipantProfileExport `json:"participant_profile,omitempty"`
	Outings            []ExportedOuting          `json:"outings"`
	Feedback           []Feedback                `json:"feedback"`
}

// VolunteerProfileExport is the stored volunteer profile: what the app
// shows, availability and the account status it was last told of. The
// home cell and the holds on outings' time are derived bookkeeping (the
// outings themselves are exported).
type VolunteerProfileExport struct {
	VolunteerProfileView
	HasProfile   bool              `json:"has_profile"`
	Status       auth.Status       `json:"status"`
	Availability *AvailabilityView `json:"availability,omitempty"`
}

// ParticipantProfileExport is the stored participant profile, with the
// support needs coordinators wrote about the participant (art. 15 covers
// them; the app never shows them).
type ParticipantProfileExport struct {
	ParticipantProfileView
	OrganisationID string     `json:"organisation_id"`
	SupportNeeds   string     `json:"support_needs,omitempty"`
	SupportNeedsBy string     `json:"support_needs_by,omitempty"`
	SupportNeedsAt *time.Time `json:"support_needs_at,omitempty"`
}

func exportVolunteer(p *VolunteerProfile) *VolunteerProfileExport {
	return &VolunteerProfileExport{VolunteerProfileView: p.view(), HasProfile: p.HasProfile, Status: p.Status, Availability: p.availabilityView()}
}

func exportParticipant(p *ParticipantProfile) *ParticipantProfileExport {
	e := &ParticipantProfileExport{
		ParticipantProfileView: p.view(),
		OrganisationID:         p.OrgID, SupportNeeds: p.SupportNeeds, SupportNeedsBy: p.SupportNeedsBy,
	}
	if !p.SupportNeedsAt.IsZero() {
		at := p.SupportNeedsAt
		e.SupportNeedsAt = &at
	}
	return e
}

// ExportedOuting is an outing as the user may see it, with its history
// when it is their own request.
type ExportedOuting struct {
	OutingView
	History []HistoryEntry `json:"history,omitempty"`
}

func (s *Service) exportUser(ctx context.Context, userID string) (any, error) {
	out := Export{Outings: []ExportedOuting{}, Feedback: []Feedback{}}
	vp, err := s.st.Volunteer(ctx, userID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if vp != nil {
		out.VolunteerProfile = exportVolunteer(vp)
	}
	pp, err := s.st.Participant(ctx, userID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if pp != nil {
		out.ParticipantProfile = exportParticipant(pp)
	}
	outings, err := s.st.OutingsOfUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	for i := range outings {
		o := &outings[i]
		// The export shows no more than the app would: a volunteer sees
		// others' requests in the limited view.
		if o.ParticipantID != userID && o.VolunteerID != userID && !slices.Contains(o.DeclinedBy, userID) && !slices.Contains(o.ExcludedVolunteers, userID) {
			continue // only created or acted on it (a coordinator): not theirs to export
		}
		who := auth.Identity{UserID: userID, OrgID: o.OrgID, Role: auth.RoleVolunteer}
		e := ExportedOuting{}
		if o.ParticipantID == userID {
			who.Role = auth.RoleParticipant
			e.History = o.History
		}
		e.OutingView = ViewFor(o, who)
		out.Outings = append(out.Outings, e)
	}
	fb, err := s.st.FeedbackByAuthor(ctx, userID)
	if err != nil {
		return nil, err
	}
	out.Feedback = append(out.Feedback, fb...)
	return out, nil
}

// eraseUser removes a user's personal data from matching: profiles and
// availability go; a participant's live outings are cancelled and a
// companion's reopened (events tell the others); finished outings keep
// kind, times, status and organisation for statistics, without note,
// meeting point, names, reasons or the erased id; feedback keeps its
// ratings without comment or author.
func (s *Service) eraseUser(ctx context.Context, userID string) error {
	if userID == "" || userID == SystemActor || userID == ErasedActor {
		return fault.InvalidField("user_id", "is not a user")
	}
	if err := s.st.DeleteVolunteer(ctx, userID); err != nil {
		return err
	}
	if err := s.st.DeleteParticipant(ctx, userID); err != nil {
		return err
	}
	outings, err := s.st.OutingsOfUser(ctx, userID)
	if err != nil {
		return err
	}
	for _, o := range outings {
		if err := s.eraseFromOuting(ctx, o.ID, userID); err != nil {
			return err
		}
	}
	return s.st.EraseFeedbackOf(ctx, userID)
}

// eraseFromOuting ends userID's live part in one outing, then strips them
// from it.
func (s *Service) eraseFromOuting(ctx context.Context, outingID, userID string) error {
	err := s.systemMove(ctx, outingID, userID, func(o *Outing, now time.Time) (Move, error) {
		switch {
		case o.ParticipantID == userID && slices.Contains(rules[ActionErase].from, o.Status):
			return Decide(o, ActionErase, System, now, "account erased")
		case o.VolunteerID == userID && (o.Status == StatusPendingApproval || o.Status == StatusConfirmed):
			return DecideVolunteerErased(o, now)
		}
		return Move{Actor: SystemActor, From: o.Status, To: o.Status}, nil
	})
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		err := s.st.UpdateOuting(ctx, outingID, func(o *Outing) (bool, error) {
			stripUser(o, userID)
			return true, nil
		})
		if errors.Is(err, ErrConflict) && attempt < 5 {
			continue
		}
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	}
}

// stripUser removes userID's personal data from o: their id in the
// history, lists and creator becomes ErasedActor; a participant's outing
// also loses note, meeting point, name and every reason.
func stripUser(o *Outing, userID string) {
	history := make([]HistoryEntry, len(o.History))
	for i, h := range o.History {
		if h.ActorID == userID {
			h.ActorID = ErasedActor
		}
		history[i] = h
	}
	drop := func(ids []string) []string {
		out := []string{}
		for _, id := range ids {
			if id != userID {
				out = append(out, id)
			}
		}
		return out
	}
	o.History = history
	o.DeclinedBy, o.ExcludedVolunteers = drop(o.DeclinedBy), drop(o.ExcludedVolunteers)
	if o.CreatedBy == userID {
		o.CreatedBy = ErasedActor
	}
	if o.ParticipantID == userID {
		// Reasons may tell why someone could not go: health. Drop them all.
		for i := range o.History {
			o.History[i].Reason = ""
		}
		o.ParticipantID = ErasedActor
		o.MeetingPoint = MeetingPoint{}
		o.Erased = true
		o.Note, o.ParticipantName = "", ""
	}
	if o.VolunteerID == userID {
		o.VolunteerID, o.VolunteerName = ErasedActor, ""
	}
	o.Version++
}

// systemMove makes one move on an outing as the system (erasure,
// suspension), retrying a lost race, then releases the companion's hold
// (unless it is gone's, whose profile goes with them) and wakes the
// dispatcher. A vanished outing is no error.
func (s *Service) systemMove(ctx context.Context, outingID, gone string, decide func(o *Outing, now time.Time) (Move, error)) error {
	for attempt := 0; ; attempt++ {
		now := s.now()
		_, move, err := s.st.TransitionOuting(ctx, outingID, now, func(_ context.Context, o *Outing) (Move, error) {
			m, err := decide(o, now)
			if err != nil {
				return Move{}, err
			}
			m.Events = s.stampEvents(o, now, m.Events)
			return m, nil
		})
		if errors.Is(err, ErrConflict) && attempt < 5 {
			continue
		}
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if move.Release != "" && move.Release != gone {
			if err := s.release(ctx, move.Release, outingID); err != nil {
				s.log.Warn("release volunteer hold failed", "outing_id", outingID, "volunteer_id", move.Release, "error", err.Error())
			}
		}
		if len(move.Events) > 0 {
			s.notifyDispatcher(outingID)
		}
		return nil
	}
}
