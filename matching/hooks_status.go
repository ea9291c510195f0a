package matching

import (
	"context"
	"errors"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
)

// VolunteerStatusHook keeps the status copy on a volunteer's profile (part
// of the candidate prefilter index) in step with the account, and takes a
// suspended volunteer off their live outings; main.go registers it with
// auth.Service.OnStatusChange.
func (s *Service) VolunteerStatusHook(ctx context.Context, userID string, role auth.Role, status auth.Status) error {
	if role != auth.RoleVolunteer {
		return nil
	}
	err := s.SetVolunteerStatus(ctx, userID, status)
	if status == auth.StatusSuspended {
		// The suspension has happened whatever the coordinator's connection
		// does now: their outings must not be left half reopened.
		err = errors.Join(err, s.suspendFromOutings(context.WithoutCancel(ctx), userID))
	}
	return err
}

// suspendFromOutings reopens (or, within the hour, cancels) every pending
// and confirmed outing whose companion is volunteerID. Should it fail half
// way, approve and check-in still refuse the suspended companion
// (requireActiveCompanion) and reopen the outing they touch.
func (s *Service) suspendFromOutings(ctx context.Context, volunteerID string) error {
	var errs []error
	for _, st := range []OutingStatus{StatusPendingApproval, StatusConfirmed} {
		var after *pageCursor
		for {
			rows, next, err := s.st.OutingsPage(ctx, OutingFilter{VolunteerID: volunteerID, Status: st}, 100, after)
			if err != nil {
				errs = append(errs, err)
				break
			}
			for _, o := range rows {
				errs = append(errs, s.suspendFromOuting(ctx, o.ID, volunteerID))
			}
			if next == nil {
				break
			}
			after = next
		}
	}
	return errors.Join(errs...)
}

// suspendFromOuting takes the suspended volunteerID off one outing, if it
// is still theirs and live.
func (s *Service) suspendFromOuting(ctx context.Context, outingID, volunteerID string) error {
	return s.systemMove(ctx, outingID, "", func(o *Outing, now time.Time) (Move, error) {
		if o.VolunteerID != volunteerID || (o.Status != StatusPendingApproval && o.Status != StatusConfirmed) {
			return Move{Actor: SystemActor, From: o.Status, To: o.Status}, nil
		}
		return DecideVolunteerSuspended(o, now)
	})
}

// actWithActiveCompanion approves or checks in only while the outing's
// companion is active, read from the accounts in the outing's decision.
// The suspension hook normally reopens their outings first; this covers a
// hook that failed or has not run yet, and finishes its work on this
// outing. The answer is 409 state-conflict, not 403: the caller may act on
// the outing, its state (a companion who can no longer go) is what is wrong.
func (s *Service) actWithActiveCompanion(ctx context.Context, who auth.Identity, id string, a Action) (OutingView, error) {
	suspended := ""
	o, err := s.act(ctx, who, id, a, "", func(tctx context.Context, o *Outing) error {
		if s.dir == nil || o.VolunteerID == "" {
			return nil
		}
		mb, err := s.dir.Member(tctx, o.VolunteerID)
		if fault.KindOf(err) == fault.NotFound {
			return inactiveCompanion(a)
		}
		if err != nil {
			return fault.Wrap(err, "look up the volunteer")
		}
		if mb.Status == auth.StatusActive {
			return nil
		}
		if mb.Status == auth.StatusSuspended {
			suspended = o.VolunteerID
		}
		return inactiveCompanion(a)
	})
	if suspended != "" {
		if herr := s.suspendFromOuting(context.WithoutCancel(ctx), id, suspended); herr != nil {
			s.log.Warn("reopen after a suspended companion failed", "outing_id", id, "volunteer_id", suspended, "error", herr.Error())
		}
	}
	if err != nil {
		return OutingView{}, err
	}
	return ViewFor(o, who), nil
}

func inactiveCompanion(a Action) error {
	if a == ActionApprove {
		return fault.StateConflictf("the volunteer who accepted is no longer active and cannot be confirmed; the outing goes back to the offer stage")
	}
	return fault.StateConflictf("the companion can no longer come to this outing; the coordinators have been told")
}
