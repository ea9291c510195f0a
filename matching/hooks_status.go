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
// companion is active.
// The suspension hook normally reopens their outings first; this covers a
// hook that failed or has not run yet, and finishes its work on this
// outing. The answer is 409 state-conflict, not 403: the caller may act on
// the outing, its state (a companion who can no longer go) is what is wrong.
func (s *Service) actWithActiveCompanion(ctx context.Context, who auth.Identity, id string, a Action) (OutingView, error) {
	// The companion's status is read before the outing's write transaction:
	// inside it, a read from the accounts' store needs a second connection,
	// and with every pooled connection held by writers queued for the lock,
	// the holder would wait for a connection until busy_timeout (seen as a
	// 500 under 20 concurrent approve/cancel). The transaction checks the
	// companion is still the one whose status was read.
	var companion string
	var status auth.Status
	var lookupErr error
	if s.dir != nil {
		if cur, err := s.st.Outing(ctx, id); err == nil && cur.VolunteerID != "" {
			companion = cur.VolunteerID
			mb, err := s.dir.Member(ctx, companion)
			status, lookupErr = mb.Status, err
		}
	}
	suspended := ""
	o, err := s.act(ctx, who, id, a, "", func(_ context.Context, o *Outing) error {
		if s.dir == nil || o.VolunteerID == "" {
			return nil
		}
		if o.VolunteerID != companion {
			return fault.StateConflictf("the outing changed meanwhile; reload it and try again")
		}
		if fault.KindOf(lookupErr) == fault.NotFound {
			return inactiveCompanion(a)
		}
		if lookupErr != nil {
			return fault.Wrap(lookupErr, "look up the volunteer")
		}
		if status == auth.StatusActive {
			return nil
		}
		if status == auth.StatusSuspended {
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
