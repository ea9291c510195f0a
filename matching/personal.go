package matching

import (
	"context"
	"errors"
	"slices"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/db"
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

// Export is everything matching stores about one user.
type Export struct {
	VolunteerProfile   *VolunteerProfile   `json:"volunteer_profile,omitempty"`
	ParticipantProfile *ParticipantProfile `json:"participant_profile,omitempty"`
	Outings            []ExportedOuting    `json:"outings"`
	Feedback           []Feedback          `json:"feedback"`
}

// ExportedOuting is an outing as the user may see it, with its history
// when it is their own request.
type ExportedOuting struct {
	OutingView
	History []HistoryEntry `json:"history,omitempty"`
}

func (s *Service) exportUser(ctx context.Context, userID string) (any, error) {
	out := Export{Outings: []ExportedOuting{}, Feedback: []Feedback{}}
	vp, err := s.st.volunteerByID(ctx, userID)
	if err != nil && !db.IsNotFound(err) {
		return nil, err
	}
	if vp != nil {
		vp.Commitments = nil // internal bookkeeping, mirrored by the outings below
		out.VolunteerProfile = vp
	}
	pp, err := s.st.participantByID(ctx, userID)
	if err != nil && !db.IsNotFound(err) {
		return nil, err
	}
	out.ParticipantProfile = pp
	outings, err := s.st.outingsOfUser(ctx, userID)
	if err != nil {
		return nil, err
	}
	for i := range outings {
		o := &outings[i]
		// The export shows no more than the app would: a volunteer sees
		// others' requests in the limited view.
		who := auth.Identity{UserID: userID, OrgID: o.OrgID, Role: auth.RoleVolunteer}
		e := ExportedOuting{}
		if o.ParticipantID == userID {
			who.Role = auth.RoleParticipant
			e.History = o.History
		}
		e.OutingView = ViewFor(o, who)
		out.Outings = append(out.Outings, e)
	}
	cur, err := s.st.feedback.Find(ctx, bson.M{"author_id": userID})
	if err != nil {
		return nil, err
	}
	if err := cur.All(ctx, &out.Feedback); err != nil {
		return nil, err
	}
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
	if _, err := s.st.d.Gate().DeleteOne(ctx, s.st.volunteers, bson.M{"_id": userID}); err != nil {
		return err
	}
	if _, err := s.st.d.Gate().DeleteOne(ctx, s.st.participants, bson.M{"_id": userID}); err != nil {
		return err
	}
	outings, err := s.st.outingsOfUser(ctx, userID)
	if err != nil {
		return err
	}
	for _, o := range outings {
		if err := s.eraseFromOuting(ctx, o.ID, userID); err != nil {
			return err
		}
	}
	upd := func(filter, update bson.M) error {
		_, err := s.st.d.Gate().UpdateMany(ctx, s.st.feedback, filter, update)
		return err
	}
	if err := upd(bson.M{"author_id": userID}, bson.M{"$set": bson.M{"author_id": ErasedActor, "comment": ""}}); err != nil {
		return err
	}
	// Comments by others on the erased participant's outings may name them.
	if err := upd(bson.M{"participant_id": userID}, bson.M{"$set": bson.M{"participant_id": ErasedActor, "comment": ""}}); err != nil {
		return err
	}
	return upd(bson.M{"volunteer_id": userID}, bson.M{"$set": bson.M{"volunteer_id": ErasedActor}})
}

// eraseFromOuting ends userID's live part in one outing, then strips them
// from it.
func (s *Service) eraseFromOuting(ctx context.Context, outingID, userID string) error {
	for attempt := 0; ; attempt++ {
		now := s.now()
		_, move, err := s.st.transitionOuting(ctx, outingID, now, func(o *Outing) (Move, error) {
			var m Move
			switch {
			case o.ParticipantID == userID && slices.Contains(rules[ActionErase].from, o.Status):
				mv, err := Decide(o, ActionErase, System, now, "account erased")
				if err != nil {
					return Move{}, err
				}
				m = mv
			case o.VolunteerID == userID && (o.Status == StatusPendingApproval || o.Status == StatusConfirmed):
				mv, err := DecideVolunteerErased(o, now)
				if err != nil {
					return Move{}, err
				}
				m = mv
			default:
				return Move{Actor: SystemActor, From: o.Status, To: o.Status}, nil
			}
			m.Events = s.stampEvents(o, now, m.Events)
			return m, nil
		})
		if errors.Is(err, errMissed) && attempt < 5 {
			continue
		}
		if err != nil && !db.IsNotFound(err) {
			return err
		}
		if err == nil && move.Release != "" && move.Release != userID {
			if err := s.st.release(ctx, move.Release, outingID); err != nil {
				s.log.Warn("release volunteer hold failed", "outing_id", outingID, "volunteer_id", move.Release, "error", err.Error())
			}
		}
		if err == nil && len(move.Events) > 0 {
			s.notifyDispatcher(outingID)
		}
		break
	}
	for attempt := 0; ; attempt++ {
		_, err := casByID(ctx, s.st.d, s.st.outings, outingID, "version", outingVersion, func(o *Outing) (bson.M, error) {
			return stripUser(o, userID), nil
		})
		if errors.Is(err, errMissed) && attempt < 5 {
			continue
		}
		if db.IsNotFound(err) {
			return nil
		}
		return err
	}
}

// stripUser is the update removing userID's personal data from o.
func stripUser(o *Outing, userID string) bson.M {
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
	set := bson.M{
		"history":             history,
		"declined_by":         drop(o.DeclinedBy),
		"excluded_volunteers": drop(o.ExcludedVolunteers),
	}
	unset := bson.M{}
	if o.ParticipantID == userID {
		// Reasons may tell why someone could not go: health. Drop them all.
		for i := range history {
			history[i].Reason = ""
		}
		set["participant_id"] = ErasedActor
		set["meeting_point"] = MeetingPoint{}
		set["erased"] = true
		unset["note"] = ""
		unset["participant_name"] = ""
	}
	if o.VolunteerID == userID {
		set["volunteer_id"] = ErasedActor
	}
	upd := bson.M{"$set": set, "$inc": bson.M{"version": 1}}
	if len(unset) > 0 {
		upd["$unset"] = unset
	}
	return upd
}
