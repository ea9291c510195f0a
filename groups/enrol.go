package groups

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/internal/ids"
)

// enrolee is the participant an enrolment is for: the caller, or the one a
// coordinator names, who must be an active participant of the group's
// organisation.
func (s *Service) enrolee(ctx context.Context, who auth.Identity, g *Group, participantID string) (string, error) {
	switch who.Role {
	case auth.RoleParticipant:
		if participantID != "" && participantID != who.UserID {
			return "", fault.InvalidField("participant_id", "only a coordinator may enrol someone else")
		}
		if who.Status != auth.StatusActive {
			return "", fault.Forbiddenf("your account is %s; a coordinator must approve it first", who.Status)
		}
		return who.UserID, nil
	case auth.RoleCoordinator:
		if participantID == "" {
			return "", fault.InvalidField("participant_id", "is required when a coordinator enrols")
		}
		u, err := s.dir.User(ctx, participantID)
		if err != nil || u.Role != auth.RoleParticipant || u.OrgID != g.OrgID || u.Status != auth.StatusActive {
			if err != nil && fault.KindOf(err) != fault.NotFound {
				return "", err
			}
			return "", fault.InvalidField("participant_id", "is not an active participant of your organisation")
		}
		return participantID, nil
	}
	return "", fault.Forbiddenf("a %s may not enrol", who.Role)
}

// Enrol gives a participant a place, or a place on the waiting list.
func (s *Service) Enrol(ctx context.Context, who auth.Identity, groupID, participantID string) (EnrolmentView, error) {
	g, err := s.group(ctx, who, groupID)
	if err != nil {
		return EnrolmentView{}, err
	}
	pid, err := s.enrolee(ctx, who, g, participantID)
	if err != nil {
		return EnrolmentView{}, err
	}
	now := s.now()
	if st := g.statusAt(now); st == StatusFinished || st == StatusCancelled {
		return EnrolmentView{}, fault.StateConflictf("the group is %s", st)
	}
	e, err := s.st.Enrol(ctx, Enrolment{ID: ids.New(), GroupID: g.ID, ParticipantID: pid, At: now}, g.Capacity)
	if errors.Is(err, ErrDuplicate) {
		return EnrolmentView{}, fault.New(fault.Conflict, "already enrolled or waiting in this group")
	}
	if err != nil {
		return EnrolmentView{}, fault.Wrap(err, "enrol")
	}
	if e.Status == Enrolled {
		s.placeGiven(ctx, g, e, PushEnrolled)
	}
	tallies, err := s.tallies(ctx, g)
	if err != nil {
		return EnrolmentView{}, err
	}
	return enrolmentView(e, tallies), nil
}

// placeGiven tells a participant of their place and updates the reminders.
// Both are retried by nothing but the next change: a failure is logged.
func (s *Service) placeGiven(ctx context.Context, g *Group, e Enrolment, pushType string) {
	if s.push == nil {
		return
	}
	sessions, err := s.st.Sessions(ctx, g.ID)
	if err == nil {
		next := s.nextSession(sessions)
		err = s.push.GroupPush(ctx, Push{Key: pushType + "|" + e.ID, Type: pushType, OrgID: g.OrgID, GroupID: g.ID,
			SessionID: next.ID, StartsAt: next.StartsAt, Recipients: []string{e.ParticipantID}})
	}
	if err == nil {
		err = s.syncReminders(ctx, g, sessions)
	}
	if err != nil {
		s.log.Warn("group push failed", "group_id", g.ID, "type", pushType, "error", err.Error())
	}
}

func (s *Service) nextSession(sessions []Session) Session {
	now := s.now()
	for _, ss := range sessions {
		if ss.Status != SessionCancelled && ss.StartsAt.After(now) {
			return ss
		}
	}
	return Session{}
}

// enrolledIDs lists the participants holding a place.
func (s *Service) enrolledIDs(ctx context.Context, groupID string) ([]string, error) {
	var out []string
	for after := int64(0); ; {
		list, err := s.st.Enrolments(ctx, groupID, after, 200)
		if err != nil {
			return nil, err
		}
		for _, e := range list {
			if e.Status == Enrolled {
				out = append(out, e.ParticipantID)
			}
		}
		if len(list) < 200 {
			return out, nil
		}
		after = list[len(list)-1].Seq
	}
}

// syncReminders hands notify the reminder set of every future session.
func (s *Service) syncReminders(ctx context.Context, g *Group, sessions []Session) error {
	people, err := s.enrolledIDs(ctx, g.ID)
	if err != nil {
		return err
	}
	now := s.now()
	var rs []SessionReminder
	for _, ss := range sessions {
		if !ss.StartsAt.After(now) {
			continue
		}
		r := SessionReminder{SessionID: ss.ID, OrgID: g.OrgID, StartsAt: ss.StartsAt}
		if ss.Status != SessionCancelled {
			r.Participants = people
		}
		rs = append(rs, r)
	}
	return s.push.SessionReminders(ctx, rs)
}

// Leave ends a participant's place (themselves or a coordinator); the first
// waiting is promoted and told.
func (s *Service) Leave(ctx context.Context, who auth.Identity, groupID, participantID string) error {
	g, err := s.group(ctx, who, groupID)
	if err != nil {
		return err
	}
	switch {
	case who.Role == auth.RoleParticipant && who.UserID == participantID:
	case isCoordinatorOf(who, g.OrgID):
	case who.Role == auth.RoleParticipant:
		return fault.NotFoundf("no such enrolment")
	default:
		return fault.Forbiddenf("a %s may not end an enrolment", who.Role)
	}
	_, promoted, err := s.st.Leave(ctx, g.ID, participantID, s.now())
	if errors.Is(err, ErrNotFound) {
		return fault.NotFoundf("no such enrolment")
	}
	if err != nil {
		return fault.Wrap(err, "leave")
	}
	if promoted != nil {
		s.placeGiven(ctx, g, *promoted, PushPromoted)
	}
	if s.push == nil {
		return nil
	}
	// The leaver's news not sent yet goes with them; the reminders of those
	// who stay are handed over again.
	sessions, err := s.st.Sessions(ctx, g.ID)
	if err == nil {
		ids := make([]string, len(sessions))
		for i := range sessions {
			ids[i] = sessions[i].ID
		}
		err = s.push.ForgetParticipant(ctx, participantID, ids)
	}
	if err == nil && promoted == nil {
		err = s.syncReminders(ctx, g, sessions)
	}
	if err != nil {
		s.log.Warn("group pushes not updated after a leave", "group_id", g.ID, "error", err.Error())
	}
	return nil
}

// Enrolments lists a group's enrolments (its coordinators only).
func (s *Service) Enrolments(ctx context.Context, who auth.Identity, groupID string, limit int, cursor string) (EnrolmentPage, error) {
	g, err := s.group(ctx, who, groupID)
	if err != nil {
		return EnrolmentPage{}, err
	}
	if !isCoordinatorOf(who, g.OrgID) {
		return EnrolmentPage{}, fault.Forbiddenf("only coordinators see who is enrolled")
	}
	var after int64
	if cursor != "" {
		if after, err = strconv.ParseInt(cursor, 10, 64); err != nil {
			return EnrolmentPage{}, fault.InvalidField("cursor", "is not a cursor this list gave")
		}
	}
	list, err := s.st.Enrolments(ctx, g.ID, after, limit)
	if err != nil {
		return EnrolmentPage{}, fault.Wrap(err, "list enrolments")
	}
	tallies, err := s.tallies(ctx, g)
	if err != nil {
		return EnrolmentPage{}, err
	}
	page := EnrolmentPage{Items: make([]EnrolmentView, 0, len(list))}
	for _, e := range list {
		page.Items = append(page.Items, enrolmentView(e, tallies))
	}
	if len(list) == limit {
		page.NextCursor = strconv.FormatInt(list[len(list)-1].Seq, 10)
	}
	return page, nil
}

// MyGroups lists the caller's enrolments (not left) with their groups.
func (s *Service) MyGroups(ctx context.Context, who auth.Identity, limit int, cursor string) (MyGroupPage, error) {
	if who.Role != auth.RoleParticipant {
		return MyGroupPage{}, fault.Forbiddenf("only participants enrol in groups")
	}
	return s.groupsOf(ctx, who.UserID, limit, cursor)
}

// ParticipantGroups lists a participant's enrolments (not left) with their
// groups, for a coordinator of the participant's organisation (the
// console's page of a person); anyone else's participant is a NotFound.
func (s *Service) ParticipantGroups(ctx context.Context, who auth.Identity, participantID string, limit int, cursor string) (MyGroupPage, error) {
	if who.Role != auth.RoleCoordinator || who.OrgID == "" {
		return MyGroupPage{}, fault.Forbiddenf("only coordinators list a participant's groups")
	}
	if limit < 1 || limit > 100 {
		return MyGroupPage{}, fault.InvalidField("limit", "must be from 1 to 100")
	}
	u, err := s.dir.User(ctx, participantID)
	if fault.KindOf(err) == fault.NotFound || (err == nil && (u.Role != auth.RoleParticipant || u.OrgID != who.OrgID)) {
		return MyGroupPage{}, fault.NotFoundf("no such participant")
	}
	if err != nil {
		return MyGroupPage{}, fault.Wrap(err, "look up participant")
	}
	return s.groupsOf(ctx, participantID, limit, cursor)
}

func (s *Service) groupsOf(ctx context.Context, participantID string, limit int, cursor string) (MyGroupPage, error) {
	list, err := s.st.EnrolmentsOf(ctx, participantID, cursor, limit)
	if err != nil {
		return MyGroupPage{}, fault.Wrap(err, "list enrolments")
	}
	gids := make([]string, len(list))
	for i, e := range list {
		gids[i] = e.GroupID
	}
	gs, err := s.st.GroupsByID(ctx, gids)
	if err != nil {
		return MyGroupPage{}, fault.Wrap(err, "read groups")
	}
	byID := map[string]*Group{}
	for i := range gs {
		byID[gs[i].ID] = &gs[i]
	}
	now := s.now()
	page := MyGroupPage{Items: make([]MyGroup, 0, len(list))}
	var placed []Enrolment // page.Items[i]'s enrolment
	for _, e := range list {
		g := byID[e.GroupID]
		if g == nil {
			continue
		}
		if err := s.settle(ctx, g); err != nil {
			return MyGroupPage{}, err
		}
		if !g.Decided || e.Status != Enrolled {
			page.Items = append(page.Items, MyGroup{EnrolmentView: EnrolmentView{GroupID: e.GroupID, ParticipantID: e.ParticipantID,
				Status: e.Status, Position: e.Position}, Group: g.view(now)})
			placed = append(placed, e)
			continue
		}
		fresh, err := s.st.Enrolment(ctx, g.ID, participantID)
		if err != nil {
			return MyGroupPage{}, fault.Wrap(err, "read enrolment")
		}
		page.Items = append(page.Items, MyGroup{EnrolmentView: EnrolmentView{GroupID: e.GroupID, ParticipantID: e.ParticipantID,
			Status: fresh.Status}, Group: g.view(now)})
		placed = append(placed, e)
	}
	// Attendance per enrolment: one read of the marks per group.
	for i := range page.Items {
		g := byID[page.Items[i].GroupID]
		tallies, err := s.talliesOf(ctx, g, placed[i])
		if err != nil {
			return MyGroupPage{}, err
		}
		page.Items[i].Attended, page.Items[i].Held, page.Items[i].Excused = tallies.Attended, tallies.Held, tallies.Excused
	}
	if len(list) == limit {
		page.NextCursor = list[len(list)-1].GroupID
	}
	return page, nil
}

func (s *Service) talliesOf(ctx context.Context, g *Group, e Enrolment) (Tally, error) {
	if g.statusAt(s.now()) == StatusPlanned {
		return Tally{}, nil // nothing held yet: no reads
	}
	b, err := s.tallies(ctx, g)
	if err != nil {
		return Tally{}, err
	}
	return b.of(e), nil
}

// MarkInput is one attendance mark.
type MarkInput struct {
	ParticipantID string
	Mark          string
}

// PutAttendance sets marks for a session that has begun (coordinators).
func (s *Service) PutAttendance(ctx context.Context, who auth.Identity, groupID, sessionID string, items []MarkInput) (Attendance, error) {
	g, ss, err := s.coordinatorSession(ctx, who, groupID, sessionID)
	if err != nil {
		return Attendance{}, err
	}
	now := s.now()
	if ss.Status == SessionCancelled {
		return Attendance{}, fault.StateConflictf("the session was cancelled")
	}
	if ss.StartsAt.After(now) {
		return Attendance{}, fault.StateConflictf("the session has not begun")
	}
	if len(items) == 0 || len(items) > maxAttendanceMarks {
		return Attendance{}, fault.InvalidField("items", fmt.Sprintf("must have 1 to %d marks", maxAttendanceMarks))
	}
	var errs []fault.FieldError
	seen := map[string]bool{}
	marks := make([]Mark, 0, len(items))
	for i, it := range items {
		field := fmt.Sprintf("items[%d]", i)
		if it.Mark != MarkPresent && it.Mark != MarkAbsent && it.Mark != MarkExcused {
			errs = append(errs, fault.FieldError{Field: field + ".mark", Message: "must be present, absent or excused"})
		}
		if seen[it.ParticipantID] {
			errs = append(errs, fault.FieldError{Field: field + ".participant_id", Message: "is marked twice"})
			continue
		}
		seen[it.ParticipantID] = true
		e, err := s.st.Enrolment(ctx, g.ID, it.ParticipantID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return Attendance{}, fault.Wrap(err, "read enrolment")
		}
		if e == nil || e.Status == Waiting || e.Status == Left {
			errs = append(errs, fault.FieldError{Field: field + ".participant_id", Message: "is not enrolled in this group"})
			continue
		}
		marks = append(marks, Mark{SessionID: ss.ID, GroupID: g.ID, ParticipantID: it.ParticipantID, Mark: it.Mark})
	}
	if len(errs) > 0 {
		return Attendance{}, fault.Invalid(errs...)
	}
	if err := s.st.PutMarks(ctx, marks); err != nil {
		return Attendance{}, fault.Wrap(err, "store attendance")
	}
	return Attendance{SessionID: ss.ID, Items: marks}, nil
}

// coordinatorSession reads a session of a group that who coordinates.
func (s *Service) coordinatorSession(ctx context.Context, who auth.Identity, groupID, sessionID string) (*Group, *Session, error) {
	g, err := s.group(ctx, who, groupID)
	if err != nil {
		return nil, nil, err
	}
	if !isCoordinatorOf(who, g.OrgID) {
		return nil, nil, fault.Forbiddenf("only coordinators change sessions")
	}
	ss, err := s.st.Session(ctx, sessionID)
	if errors.Is(err, ErrNotFound) || err == nil && ss.GroupID != g.ID {
		return nil, nil, fault.NotFoundf("no such session")
	}
	if err != nil {
		return nil, nil, fault.Wrap(err, "read session")
	}
	return g, ss, nil
}

// SessionChange is the body of PATCH .../sessions/{id}.
type SessionChange struct {
	StartsAt, EndsAt *time.Time
	Cancel           bool
	Reason           string
}

// Changed is a session after a change, with the escort outings to move or cancel.
type Changed struct {
	Session   SessionView
	Escorts   []EscortLink
	Cancelled bool
}

// ChangeSession moves or cancels a session (coordinators), tells the
// enrolled participants and updates their reminders. The caller moves or
// cancels the returned escort outings.
func (s *Service) ChangeSession(ctx context.Context, who auth.Identity, groupID, sessionID string, ch SessionChange) (Changed, error) {
	g, ss, err := s.coordinatorSession(ctx, who, groupID, sessionID)
	if err != nil {
		return Changed{}, err
	}
	now := s.now()
	if ch.Reason == "" || len([]rune(ch.Reason)) > maxReasonLength {
		return Changed{}, fault.InvalidField("reason", "is required, at most 500 characters")
	}
	if !ch.Cancel && ch.StartsAt == nil && ch.EndsAt == nil {
		return Changed{}, fault.InvalidField("starts_at", `give new times, or status "cancelled"`)
	}
	if ss.Status == SessionCancelled {
		return Changed{}, fault.StateConflictf("the session was cancelled")
	}
	if !ss.EndsAt.After(now) {
		return Changed{}, fault.StateConflictf("the session is over")
	}
	pushType := PushSessionMoved
	if ch.Cancel {
		ss.Status, pushType = SessionCancelled, PushSessionCancelled
	} else {
		start, end := ss.StartsAt, ss.EndsAt
		if ch.StartsAt != nil {
			start = ch.StartsAt.UTC().Truncate(time.Millisecond)
			if ch.EndsAt == nil {
				end = start.Add(ss.EndsAt.Sub(ss.StartsAt))
			}
		}
		if ch.EndsAt != nil {
			end = ch.EndsAt.UTC().Truncate(time.Millisecond)
		}
		if !start.After(now) {
			return Changed{}, fault.InvalidField("starts_at", "must be in the future")
		}
		if !end.After(start) || end.Sub(start) > 12*time.Hour {
			return Changed{}, fault.InvalidField("ends_at", "must be after starts_at, within 12 hours")
		}
		ss.StartsAt, ss.EndsAt, ss.Status = start, end, SessionMoved
	}
	ss.Reason = ch.Reason
	sessions, err := s.st.Sessions(ctx, g.ID)
	if err != nil {
		return Changed{}, fault.Wrap(err, "list sessions")
	}
	for i := range sessions {
		if sessions[i].ID == ss.ID {
			sessions[i] = *ss
		}
	}
	from, to := span(sessions)
	if from.IsZero() {
		from, to = g.StartsAt, g.EndsAt // every session cancelled: the span stays
	}
	if err := s.st.UpdateSession(ctx, *ss, from, to); err != nil {
		return Changed{}, fault.Wrap(err, "store session")
	}
	escorts, err := s.st.Escorts(ctx, ss.ID)
	if err != nil {
		return Changed{}, fault.Wrap(err, "read escorts")
	}
	if s.push != nil {
		people, err := s.enrolledIDs(ctx, g.ID)
		if err == nil && len(people) > 0 {
			err = s.push.GroupPush(ctx, Push{Key: fmt.Sprintf("%s|%s|%d", pushType, ss.ID, ss.StartsAt.UnixMilli()), Type: pushType,
				OrgID: g.OrgID, GroupID: g.ID, SessionID: ss.ID, StartsAt: ss.StartsAt, Recipients: people})
		}
		if err == nil {
			r := SessionReminder{SessionID: ss.ID, OrgID: g.OrgID, StartsAt: ss.StartsAt}
			if !ch.Cancel {
				r.Participants = people
			}
			err = s.push.SessionReminders(ctx, []SessionReminder{r})
		}
		if err != nil {
			s.log.Warn("group push failed", "group_id", g.ID, "type", pushType, "error", err.Error())
		}
	}
	return Changed{Session: ss.view(now), Escorts: escorts, Cancelled: ch.Cancel}, nil
}
