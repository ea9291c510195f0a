package matching

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
)

// Postponing (docs/api.md, "Participant care"): a bad day is not a failure.
// The participant (or a coordinator for them) asks to move a confirmed
// outing; its companion is asked first and, until they answer, the old
// time's reminders and check-in watch are gone (notify drops them on
// outing.postpone_asked), so nobody is chased for a time already given up.
// Accepting keeps the outing confirmed at the new time; declining or not
// answering by AnswerBy reopens it at the new time for others. Nothing of
// this is a cancellation, an expiry or a missed check-in: no figure that
// counts failures sees it.

// Event types of the care around an outing.
const (
	EventPostponeAsked = "outing.postpone_asked"
	EventPostponed     = "outing.postponed"
	EventEndedEarly    = "outing.ended_early"
	EventHelp          = "outing.help"
)

// Postponement limits.
const (
	MaxPostponeAhead     = 90 * 24 * time.Hour
	DefaultPostponeWait  = 12 * time.Hour
	postponeSweepBatch   = 200
	postponeAskedReason  = "postponement asked"
	postponeAcceptReason = "postponed; the same companion comes"
	postponeReopenReason = "postponed; looking for a companion for the new time"
)

// Postponement is a move asked for and not yet answered.
type Postponement struct {
	StartsAt    time.Time `bson:"starts_at"`
	EndsAt      time.Time `bson:"ends_at"`
	AskedAt     time.Time `bson:"asked_at"`
	AskedBy     string    `bson:"asked_by"`
	AnswerBy    time.Time `bson:"answer_by"`
	Reason      string    `bson:"reason,omitempty"`
	FromStartAt time.Time `bson:"from_starts_at"`
	// AnswerByMs is AnswerBy in Unix milliseconds: the SQLite engine
	// indexes it inside the JSON document (migration 00020).
	AnswerByMs int64 `bson:"answer_by_ms"`
}

// PostponementView is the pending move as the API shows it.
type PostponementView struct {
	StartsAt time.Time `json:"starts_at"`
	EndsAt   time.Time `json:"ends_at"`
	AskedAt  time.Time `json:"asked_at"`
	AnswerBy time.Time `json:"answer_by" doc:"the companion's answer is awaited until then; after it the outing reopens at the new time"`
}

// OutingPatch is what a care move changes besides the status. Zero fields
// stay as they are.
type OutingPatch struct {
	StartsAt, EndsAt  time.Time
	Postponement      *Postponement
	ClearPostponement bool
	// PostponeAsks is the new count of postponements asked (0: unchanged).
	PostponeAsks int
	EndedEarly   bool
	RecogniseBy  *string
}

func (p *OutingPatch) apply(o *Outing) {
	if !p.StartsAt.IsZero() {
		o.StartsAt, o.EndsAt = p.StartsAt, p.EndsAt
	}
	if p.Postponement != nil {
		c := *p.Postponement
		o.Postponement = &c
	}
	if p.ClearPostponement {
		o.Postponement = nil
	}
	if p.PostponeAsks > 0 {
		o.PostponeAsks = p.PostponeAsks
	}
	if p.EndedEarly {
		o.EndedEarly = true
	}
	if p.RecogniseBy != nil {
		o.RecogniseBy = *p.RecogniseBy
	}
}

// mongo adds the patch to a MongoDB update.
func (p *OutingPatch) mongo(set, unset map[string]any) {
	if !p.StartsAt.IsZero() {
		set["starts_at"], set["ends_at"] = p.StartsAt, p.EndsAt
	}
	if p.Postponement != nil {
		set["postponement"] = *p.Postponement
	}
	if p.ClearPostponement {
		unset["postponement"] = ""
	}
	if p.PostponeAsks > 0 {
		set["postpone_asks"] = p.PostponeAsks
	}
	if p.EndedEarly {
		set["ended_early"] = true
	}
	if p.RecogniseBy != nil {
		if *p.RecogniseBy == "" {
			unset["recognise_by"] = ""
		} else {
			set["recognise_by"] = *p.RecogniseBy
		}
	}
}

// PostponeInput is the body of POST /v1/outings/{id}/postpone.
type PostponeInput struct {
	StartsAt, EndsAt time.Time
	Reason           string
}

func (in PostponeInput) validate(o *Outing, now time.Time) error {
	var errs []fault.FieldError
	bad := func(field, msg string) { errs = append(errs, fault.FieldError{Field: field, Message: msg}) }
	switch {
	case in.StartsAt.IsZero():
		bad("starts_at", "is required")
	case !in.StartsAt.After(now):
		bad("starts_at", "is in the past")
	case in.StartsAt.Sub(now) > MaxPostponeAhead:
		bad("starts_at", "must be within 90 days from now")
	case in.StartsAt.Equal(o.StartsAt) && in.EndsAt.Equal(o.EndsAt):
		bad("starts_at", "is the outing's time already")
	}
	switch {
	case in.EndsAt.IsZero():
		bad("ends_at", "is required")
	case !in.StartsAt.IsZero() && !in.EndsAt.After(in.StartsAt):
		bad("ends_at", "must be after starts_at")
	case !in.StartsAt.IsZero() && in.EndsAt.Sub(in.StartsAt) > MaxOutingLength:
		bad("ends_at", "must be at most 12 hours after starts_at")
	}
	if len(errs) > 0 {
		return fault.Invalid(errs...)
	}
	return checkReason(in.Reason, false)
}

// cancelPostponed is what a cancel does to a pending postponement: the
// outing the companion reopens is the one at the new time the participant
// asked for; any other cancel just ends the question.
func cancelPostponed(o *Outing, to OutingStatus) *OutingPatch {
	p := o.Postponement
	if p == nil {
		return nil
	}
	if to == StatusOpen {
		return &OutingPatch{StartsAt: p.StartsAt, EndsAt: p.EndsAt, ClearPostponement: true}
	}
	return &OutingPatch{ClearPostponement: true}
}

// Postpone asks the companion of a confirmed outing whether they can come
// at a new time (its participant, or a coordinator for them). Of two asks
// at once exactly one wins; the other gets a StateConflict.
func (s *Service) Postpone(ctx context.Context, who auth.Identity, id string, in PostponeInput) (OutingView, error) {
	in.StartsAt = in.StartsAt.UTC().Truncate(time.Millisecond)
	in.EndsAt = in.EndsAt.UTC().Truncate(time.Millisecond)
	in.Reason = strings.TrimSpace(in.Reason)
	o, err := s.careMove(ctx, who, id, func(o *Outing, rel Relation, now time.Time) (Move, error) {
		if rel != RelParticipant && rel != RelCoordinator {
			return Move{}, fault.Forbiddenf("only the participant or a coordinator may postpone an outing")
		}
		if o.Status != StatusConfirmed {
			return Move{}, fault.StateConflictf("an outing that is %s cannot be postponed", o.Status)
		}
		if o.Postponement != nil {
			return Move{}, fault.StateConflictf("the outing is already being postponed; wait for the companion's answer")
		}
		if err := in.validate(o, now); err != nil {
			return Move{}, err
		}
		answerBy := now.Add(s.postponeWait)
		if answerBy.After(in.StartsAt) {
			answerBy = in.StartsAt
		}
		p := &Postponement{StartsAt: in.StartsAt, EndsAt: in.EndsAt, AskedAt: now, AskedBy: who.UserID,
			AnswerBy: answerBy, AnswerByMs: answerBy.UnixMilli(), Reason: in.Reason, FromStartAt: o.StartsAt}
		reason := fmt.Sprintf("%s: to %s", postponeAskedReason, in.StartsAt.Format(time.RFC3339))
		return Move{Action: ActionPostpone, Actor: who.UserID, From: o.Status, To: o.Status, Record: true, Reason: reason,
			Patch:  &OutingPatch{Postponement: p, PostponeAsks: o.PostponeAsks + 1},
			Events: []Event{{Type: EventPostponeAsked, VolunteerID: o.VolunteerID, Recipients: []string{o.VolunteerID}}}}, nil
	})
	if err != nil {
		return OutingView{}, err
	}
	return ViewFor(o, who), nil
}

// PostponeAccept is the companion saying yes to the new time: the outing
// stays confirmed, at the new time, with the companion's hold moved.
func (s *Service) PostponeAccept(ctx context.Context, who auth.Identity, id string) (OutingView, error) {
	o, err := s.careMove(ctx, who, id, func(o *Outing, rel Relation, now time.Time) (Move, error) {
		p, err := answerable(o, rel)
		if err != nil {
			return Move{}, err
		}
		if now.After(p.AnswerBy) {
			return Move{}, fault.StateConflictf("the time to answer has passed; the outing is offered to others")
		}
		return Move{Action: ActionPostpone, Actor: who.UserID, From: o.Status, To: o.Status, Record: true, Reason: postponeAcceptReason,
			Patch: &OutingPatch{StartsAt: p.StartsAt, EndsAt: p.EndsAt, ClearPostponement: true},
			// outing.postponed makes the reminders again at the new time
			// (those of the old time went when the question was asked).
			Events: []Event{{Type: EventPostponed, VolunteerID: o.VolunteerID, Recipients: []string{o.ParticipantID}, ToCoordinators: true}}}, nil
	}, func(tctx context.Context, moved *Outing) error {
		// The hold moves with the outing; another outing of theirs at the
		// new time refuses the yes.
		return s.reserve(tctx, who.UserID, moved, 0)
	})
	if err != nil {
		return OutingView{}, err
	}
	return ViewFor(o, who), nil
}

// PostponeDecline is the companion saying no: the outing reopens at the new
// time for others, and the participant is told kindly.
func (s *Service) PostponeDecline(ctx context.Context, who auth.Identity, id string) (OutingView, error) {
	o, err := s.reopenPostponed(ctx, who, id)
	if err != nil {
		return OutingView{}, err
	}
	return ViewFor(o, who), nil
}

func answerable(o *Outing, rel Relation) (*Postponement, error) {
	if rel != RelCompanion {
		return nil, fault.Forbiddenf("only the outing's companion answers a postponement")
	}
	if o.Status != StatusConfirmed || o.Postponement == nil {
		return nil, fault.StateConflictf("the outing has no postponement waiting for an answer")
	}
	return o.Postponement, nil
}

// reopenPostponed opens the outing at its new time for other volunteers:
// the companion's no, or the system when nobody answered in time.
func (s *Service) reopenPostponed(ctx context.Context, who auth.Identity, id string) (*Outing, error) {
	// Refuse before anything is written.
	o, err := s.st.Outing(ctx, id)
	if err != nil {
		return nil, notFoundOr(err, "outing")
	}
	if rel, err := s.relationTo(ctx, o, who); err != nil {
		return nil, err
	} else if rel == RelNone {
		return nil, fault.NotFoundf("no such outing")
	} else if rel != RelSystem {
		if _, err := answerable(o, rel); err != nil {
			return nil, err
		}
	}
	// Everyone is offered the new time afresh, including volunteers who let
	// the old time pass; the offer state matters only once it is open.
	if err := s.st.UpdateOffers(ctx, id, func(d *offerDoc) ([]Event, bool, error) {
		if d.Status != StatusConfirmed || d.Postponement == nil {
			return nil, false, nil
		}
		rev := d.OfferRev
		d.OfferState = OfferState{OfferedTo: []OfferRecord{}, OfferedIDs: []string{}, OfferRev: rev}
		return nil, true, nil
	}); err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fault.Wrap(err, "reset offers")
	}
	return s.careMove(ctx, who, id, func(o *Outing, rel Relation, now time.Time) (Move, error) {
		var p *Postponement
		if rel == RelSystem {
			if o.Status != StatusConfirmed || o.Postponement == nil || now.Before(o.Postponement.AnswerBy) {
				return Move{}, fault.StateConflictf("no postponement is due")
			}
			p = o.Postponement
		} else {
			var err error
			if p, err = answerable(o, rel); err != nil {
				return Move{}, err
			}
		}
		reason := postponeReopenReason
		if rel == RelSystem {
			reason += " (no answer in time)"
		}
		empty := ""
		return Move{Action: ActionPostpone, Actor: who.UserID, From: o.Status, To: StatusOpen, Reason: reason,
			ClearVolunteer: true, Decline: o.VolunteerID, Release: o.VolunteerID,
			Patch: &OutingPatch{StartsAt: p.StartsAt, EndsAt: p.EndsAt, ClearPostponement: true, RecogniseBy: &empty},
			// The participant hears the kind "we're finding new company"
			// of any reopening; the volunteer who could not is not chased.
			Events: []Event{
				{Type: EventReopened, VolunteerID: o.VolunteerID, Recipients: []string{o.ParticipantID}, ToCoordinators: true},
				{Type: EventOffer},
			}}, nil
	})
}

// ExpirePostponements reopens the postponed outings whose companion did not
// answer by AnswerBy, and returns how many.
func (s *Service) ExpirePostponements(ctx context.Context) (int, error) {
	ids, err := s.st.PostponementsDue(ctx, s.now(), postponeSweepBatch)
	if err != nil {
		return 0, fault.Wrap(err, "find postponements due")
	}
	n := 0
	for _, id := range ids {
		_, err := s.reopenPostponed(ctx, System, id)
		switch fault.KindOf(err) {
		case fault.Internal:
			if err != nil {
				return n, err
			}
			n++
		default:
			// Answered meanwhile: fine.
		}
	}
	return n, nil
}

// RunPostponeSweep calls ExpirePostponements every interval until ctx ends.
func (s *Service) RunPostponeSweep(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := s.ExpirePostponements(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("postponement sweep failed", "error", err.Error())
		} else if n > 0 {
			s.log.Info("reopened postponed outings nobody answered", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// careMove runs one care decision as a single conditional write, like act:
// decide sees the outing and the caller's relation to it; checks, when
// given, run in the write with the outing as it will be.
func (s *Service) careMove(ctx context.Context, who auth.Identity, id string, decide func(o *Outing, rel Relation, now time.Time) (Move, error), checks ...func(context.Context, *Outing) error) (*Outing, error) {
	now := s.now()
	var after Outing
	before, move, err := s.st.TransitionOuting(ctx, id, now, func(tctx context.Context, o *Outing) (Move, error) {
		rel, err := s.relationTo(tctx, o, who)
		if err != nil {
			return Move{}, err
		}
		if rel == RelNone {
			return Move{}, fault.NotFoundf("no such outing")
		}
		m, err := decide(o, rel, now)
		if err != nil {
			return Move{}, err
		}
		// Events describe the outing at the time they are about: the new
		// one (asked for, or moved to).
		at := *o
		if m.Patch != nil {
			m.Patch.apply(&at)
		}
		if p := at.Postponement; p != nil {
			at.StartsAt, at.EndsAt = p.StartsAt, p.EndsAt
		}
		m.Events = s.stampEvents(&at, now, m.Events)
		after = applyMove(*o, m, now)
		for _, check := range checks {
			if err := check(tctx, &after); err != nil {
				return Move{}, err
			}
		}
		return m, nil
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, fault.NotFoundf("no such outing")
	case errors.Is(err, ErrConflict):
		return nil, fault.StateConflictf("the outing changed meanwhile; reload it and try again")
	case err != nil:
		return nil, fault.Wrap(err, "update outing")
	}
	if move.Release != "" {
		if err := s.release(ctx, move.Release, before.ID); err != nil {
			s.log.Warn("release volunteer hold failed", "outing_id", before.ID, "volunteer_id", move.Release, "error", err.Error())
		}
	}
	if len(move.Events) > 0 {
		s.notifyDispatcher(before.ID)
	}
	return &after, nil
}

// postponeAsksIn counts the asks a history records, for outings written
// before PostponeAsks was kept (migration 00031 does the same in SQL).
func postponeAsksIn(history []HistoryEntry) int {
	n := 0
	for _, h := range history {
		if strings.HasPrefix(h.Reason, postponeAskedReason) {
			n++
		}
	}
	return n
}
