package matching

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/fault"
	randid "github.com/clavis-app/clavis/internal/ids"
	"github.com/clavis-app/clavis/matching/availability"
)

// Member is what matching needs to know of a user from the accounts.
type Member struct {
	ID       string
	Name     string
	OrgID    string
	Role     auth.Role
	Status   auth.Status
	Language string
}

// Directory answers who a user is and an organisation's time zone. The
// auth package knows; main.go adapts it (matching does not import auth's
// service, only its identity types).
type Directory interface {
	// Member returns a user, or a NotFound fault.
	Member(ctx context.Context, userID string) (Member, error)
	// OrgTimeZone returns an organisation's IANA time zone.
	OrgTimeZone(ctx context.Context, orgID string) (string, error)
}

// Auditor records access to a participant's record (design.md, Privacy).
// The directory may implement it too.
type Auditor interface {
	Audit(ctx context.Context, actorID, subjectID, action string) error
}

// DefaultTimeZone is used when neither the volunteer nor the organisation
// names one.
const DefaultTimeZone = "Europe/Stockholm"

// Config is what the service needs besides the database.
type Config struct {
	Clock     clock.Clock
	Directory Directory
	Logger    *slog.Logger
	// PostponeWait is how long a companion has to answer a postponement
	// (CLAVIS_POSTPONE_WAIT; default 12 h, never past the new start).
	PostponeWait time.Duration
}

// Service is matching's API for the HTTP layer, the sweeps and main.go:
// profiles, availability, outings and their transitions, feedback.
type Service struct {
	st    Store
	clock clock.Clock
	dir   Directory
	log   *slog.Logger
	// wake carries ids of outings that just got events to a running
	// dispatcher; a full channel only delays delivery to the next scan.
	wake chan string
	// postponeWait: Config.PostponeWait.
	postponeWait time.Duration
}

// NewService builds the service over st (NewSQLiteStore or NewMongoStore).
func NewService(ctx context.Context, st Store, cfg Config) (*Service, error) {
	if st == nil {
		return nil, errors.New("matching: no store")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.PostponeWait <= 0 {
		cfg.PostponeWait = DefaultPostponeWait
	}
	return &Service{st: st, clock: cfg.Clock, dir: cfg.Directory, log: cfg.Logger, wake: make(chan string, 1024), postponeWait: cfg.PostponeWait}, nil
}

// now is the service's time, at the millisecond precision MongoDB keeps,
// so that what is returned equals what is stored.
func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Millisecond) }

func newID() string { return randid.New() }

func (s *Service) member(ctx context.Context, userID string) (Member, error) {
	if s.dir == nil {
		return Member{ID: userID}, nil
	}
	return s.dir.Member(ctx, userID)
}

func (s *Service) audit(ctx context.Context, actorID, subjectID, action string) {
	a, ok := s.dir.(Auditor)
	if !ok {
		return
	}
	if err := a.Audit(ctx, actorID, subjectID, action); err != nil {
		s.log.Warn("audit write failed", "actor_id", actorID, "subject_id", subjectID, "action", action, "error", err.Error())
	}
}

// ---- outings ----

// CreateOuting records a new open outing for who (a participant), or for
// req.ParticipantID (who is a coordinator of that participant's organisation).
func (s *Service) CreateOuting(ctx context.Context, who auth.Identity, req OutingRequest) (OutingView, error) {
	now := s.now()
	participant, err := s.outingParticipant(ctx, who, req.ParticipantID)
	if err != nil {
		return OutingView{}, err
	}
	if err := req.Validate(now); err != nil {
		return OutingView{}, err
	}
	if req.CompanionGender == "" || req.Language == "" {
		prof, err := s.st.Participant(ctx, participant.ID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return OutingView{}, fault.Wrap(err, "read participant profile")
		}
		if req.CompanionGender == "" {
			req.CompanionGender = "any"
			if prof != nil && prof.CompanionGender != "" {
				req.CompanionGender = prof.CompanionGender
			}
		}
		if req.Language == "" {
			switch {
			case prof != nil && len(prof.Languages) > 0:
				req.Language = prof.Languages[0]
			case isOneOf(participant.Language, Languages...):
				req.Language = participant.Language
			default:
				req.Language = "sv"
			}
		}
	}
	o := &Outing{
		ID: newID(), ParticipantID: participant.ID, ParticipantName: participant.Name, OrgID: participant.OrgID,
		Kind: req.Kind, Note: strings.TrimSpace(req.Note),
		StartsAt: req.StartsAt.UTC().Truncate(time.Millisecond), EndsAt: req.EndsAt.UTC().Truncate(time.Millisecond),
		MeetingPoint:    MeetingPoint{Lat: req.MeetingPoint.Lat, Lon: req.MeetingPoint.Lon, Description: strings.TrimSpace(req.MeetingPoint.Description)},
		CompanionGender: req.CompanionGender, Language: req.Language, Status: StatusOpen, Version: 1,
		CreatedAt: now, CreatedBy: who.UserID, UpdatedAt: now,
		History:            []HistoryEntry{{At: now, ActorID: who.UserID, To: StatusOpen}},
		ExcludedVolunteers: []string{}, DeclinedBy: []string{}, OfferFirst: req.OfferFirst,
		OfferHoldUntil: req.HoldOffersUntil.UTC().Truncate(time.Millisecond),
	}
	// The first offer wave's recipients are chosen by the ranking when the
	// event is delivered (matching issue); the event says "a new outing".
	o.PendingEvents = s.stampEvents(o, now, []Event{{Type: EventOffer}})
	o.HasPendingEvents = true
	if err := s.st.InsertOuting(ctx, o); err != nil {
		return OutingView{}, fault.Wrap(err, "store outing")
	}
	s.notifyDispatcher(o.ID)
	return ViewFor(o, who), nil
}

// outingParticipant is the participant an outing is for: the caller, or the
// participant a coordinator names, who must be an active participant of the
// coordinator's organisation.
func (s *Service) outingParticipant(ctx context.Context, who auth.Identity, participantID string) (Member, error) {
	switch who.Role {
	case auth.RoleParticipant:
		if participantID != "" && participantID != who.UserID {
			return Member{}, fault.InvalidField("participant_id", "only a coordinator may ask for someone else")
		}
		if who.Status != auth.StatusActive {
			return Member{}, fault.Forbiddenf("your account is %s; a coordinator must approve it first", who.Status)
		}
		m, err := s.member(ctx, who.UserID)
		if err != nil {
			return Member{}, fault.Wrap(err, "look up participant")
		}
		m.ID, m.OrgID = who.UserID, who.OrgID
		return m, nil
	case auth.RoleCoordinator:
		if participantID == "" {
			return Member{}, fault.InvalidField("participant_id", "is required when a coordinator asks")
		}
		notOurs := fault.InvalidField("participant_id", "is not an active participant of your organisation")
		if s.dir == nil {
			return Member{}, notOurs
		}
		m, err := s.dir.Member(ctx, participantID)
		if fault.KindOf(err) == fault.NotFound {
			return Member{}, notOurs
		}
		if err != nil {
			return Member{}, fault.Wrap(err, "look up participant")
		}
		if m.Role != auth.RoleParticipant || m.OrgID != who.OrgID || m.Status != auth.StatusActive {
			return Member{}, notOurs
		}
		return m, nil
	}
	return Member{}, fault.Forbiddenf("a %s may not ask for an outing", who.Role)
}

// stampEvents gives events their ids and the outing's common fields.
func (s *Service) stampEvents(o *Outing, now time.Time, events []Event) []Event {
	out := make([]Event, len(events))
	for i, e := range events {
		e.ID = newID()
		e.OutingID, e.OrgID, e.ParticipantID = o.ID, o.OrgID, o.ParticipantID
		e.At, e.StartsAt, e.EndsAt = now, o.StartsAt, o.EndsAt
		out[i] = e
	}
	return out
}

func (s *Service) notifyDispatcher(outingID string) {
	select {
	case s.wake <- outingID:
	default:
	}
}

// Outing returns outing id as who may see it; coordinators also see the
// participant's support needs (and that access is audited).
func (s *Service) Outing(ctx context.Context, who auth.Identity, id string) (OutingView, error) {
	o, err := s.st.Outing(ctx, id)
	if err != nil {
		return OutingView{}, notFoundOr(err, "outing")
	}
	rel, err := s.relationTo(ctx, o, who)
	if err != nil {
		return OutingView{}, err
	}
	if rel == RelNone {
		return OutingView{}, fault.NotFoundf("no such outing")
	}
	v := ViewFor(o, who)
	if rel != RelParticipant {
		s.audit(ctx, who.UserID, o.ParticipantID, "outing.read")
	}
	if rel == RelCoordinator && o.ParticipantID != "" {
		p, err := s.st.Participant(ctx, o.ParticipantID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return OutingView{}, fault.Wrap(err, "read participant profile")
		}
		if p != nil && p.SupportNeeds != "" {
			v.SupportNeeds = p.SupportNeeds
			s.audit(ctx, who.UserID, o.ParticipantID, "support_needs.read")
		}
	}
	return v, nil
}

// OutingPage is one page of a list of outings.
type OutingPage struct {
	Items      []OutingView `json:"items"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// Outings lists who's outings, newest first: a participant's own, those a
// volunteer accepted, all of a coordinator's organisation.
func (s *Service) Outings(ctx context.Context, who auth.Identity, status string, limit int, cursor string) (OutingPage, error) {
	var filter OutingFilter
	switch who.Role {
	case auth.RoleParticipant:
		filter.ParticipantID = who.UserID
	case auth.RoleVolunteer:
		filter.VolunteerID = who.UserID
	case auth.RoleCoordinator:
		filter.OrgID = who.OrgID
	default:
		return OutingPage{}, fault.Forbiddenf("a %s has no outings", who.Role)
	}
	if who.UserID == "" || (who.Role == auth.RoleCoordinator && who.OrgID == "") {
		return OutingPage{}, fault.Forbiddenf("no outings")
	}
	if status != "" {
		if !slices.Contains(OutingStatuses, OutingStatus(status)) {
			return OutingPage{}, fault.InvalidField("status", "must be one of: open, pending_approval, confirmed, in_progress, completed, cancelled, expired")
		}
		filter.Status = OutingStatus(status)
	}
	var after *pageCursor
	if cursor != "" {
		c, err := decodePageCursor(cursor)
		if err != nil {
			return OutingPage{}, err
		}
		after = &c
	}
	rows, next, err := s.st.OutingsPage(ctx, filter, limit, after)
	if err != nil {
		return OutingPage{}, fault.Wrap(err, "list outings")
	}
	page := OutingPage{Items: make([]OutingView, 0, len(rows))}
	audited := map[string]bool{}
	for i := range rows {
		page.Items = append(page.Items, ViewFor(&rows[i], who))
		if pid := rows[i].ParticipantID; pid != who.UserID && !audited[pid] {
			audited[pid] = true
			s.audit(ctx, who.UserID, pid, "outing.list")
		}
	}
	if next != nil {
		page.NextCursor = next.encode()
	}
	return page, nil
}

// History is an outing's transitions, oldest first (coordinators).
func (s *Service) History(ctx context.Context, who auth.Identity, id string) ([]HistoryEntry, error) {
	o, err := s.st.Outing(ctx, id)
	if err != nil {
		return nil, notFoundOr(err, "outing")
	}
	rel, err := s.relationTo(ctx, o, who)
	if err != nil {
		return nil, err
	}
	switch rel {
	case RelCoordinator:
		return nonNil(o.History), nil
	case RelNone:
		return nil, fault.NotFoundf("no such outing")
	}
	return nil, fault.Forbiddenf("only coordinators see an outing's history")
}

// Accept makes who (a volunteer) the outing's companion, pending approval.
// Of several volunteers accepting at once exactly one wins; the others get
// a StateConflict.
func (s *Service) Accept(ctx context.Context, who auth.Identity, id string) (OutingView, error) {
	// What the re-check of every hard rule needs from other collections,
	// read before the outing's write gate is taken (candidates.go).
	facts, err := s.acceptFacts(ctx, who, id)
	if err != nil {
		return OutingView{}, err
	}
	// The profile is read, the rules re-checked and the time reserved
	// (with the weekly cap) inside the outing's decision: on SQLite all of
	// it is one transaction; on MongoDB the reservation is a conditional
	// write of the profile, undone if the outing's write then loses.
	reserved := false
	o, err := s.act(ctx, who, id, ActionAccept, "", func(tctx context.Context, o *Outing) error {
		p, err := s.st.Volunteer(tctx, who.UserID)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return fault.Wrap(err, "read volunteer profile")
		}
		if err := CanAccept(o, who, p); err != nil {
			return err
		}
		if err := s.checkCandidate(tctx, o, who, p, facts); err != nil {
			return err
		}
		if err := s.reserve(tctx, who.UserID, o, facts.completedInWeek(o, p)); err != nil {
			return err
		}
		reserved = true
		return nil
	})
	if err != nil && reserved {
		// The transition lost after the hold was taken (MongoDB race).
		if rerr := s.release(context.WithoutCancel(ctx), who.UserID, id); rerr != nil {
			s.log.Warn("release after lost accept failed", "outing_id", id, "volunteer_id", who.UserID, "error", rerr.Error())
		}
	}
	if err != nil {
		return OutingView{}, err
	}
	return ViewFor(o, who), nil
}

// Decline records that who (a volunteer) does not want this outing; it is
// not offered to them again.
func (s *Service) Decline(ctx context.Context, who auth.Identity, id string) error {
	_, err := s.act(ctx, who, id, ActionDecline, "", nil)
	return err
}

// Approve confirms the pending companion (coordinators), if they are still
// active.
func (s *Service) Approve(ctx context.Context, who auth.Identity, id string) (OutingView, error) {
	return s.actWithActiveCompanion(ctx, who, id, ActionApprove)
}

// Reject turns the pending companion down and reopens the outing; that
// volunteer is excluded from it (coordinators).
func (s *Service) Reject(ctx context.Context, who auth.Identity, id, reason string) (OutingView, error) {
	return s.actView(ctx, who, id, ActionReject, reason)
}

// Cancel cancels the outing; its companion's cancel reopens it instead
// unless it starts within the hour.
func (s *Service) Cancel(ctx context.Context, who auth.Identity, id, reason string) (OutingView, error) {
	return s.actView(ctx, who, id, ActionCancel, reason)
}

// CheckIn starts the outing (participant or companion, from 30 minutes
// before the start).
func (s *Service) CheckIn(ctx context.Context, who auth.Identity, id string) (OutingView, error) {
	return s.actWithActiveCompanion(ctx, who, id, ActionCheckIn)
}

// Complete ends the outing.
func (s *Service) Complete(ctx context.Context, who auth.Identity, id string) (OutingView, error) {
	return s.actView(ctx, who, id, ActionComplete, "")
}

func (s *Service) actView(ctx context.Context, who auth.Identity, id string, a Action, reason string) (OutingView, error) {
	o, err := s.act(ctx, who, id, a, reason, nil)
	if err != nil {
		return OutingView{}, err
	}
	return ViewFor(o, who), nil
}

type expectVersionKey struct{}

// ExpectVersion makes the transitions called with the returned context
// conditional on the outing still being at version v (the API's If-Match):
// of two people acting on what they both saw, exactly one wins, even when
// the second action would be allowed after the first (approve, then cancel).
func ExpectVersion(ctx context.Context, v int64) context.Context {
	return context.WithValue(ctx, expectVersionKey{}, v)
}

// act runs one action as a single conditional write: read, decide by the
// rules (and check, for accept), write status, version, history and events
// together. It returns the outing as it is after the action.
func (s *Service) act(ctx context.Context, who auth.Identity, id string, a Action, reason string, check func(context.Context, *Outing) error) (*Outing, error) {
	if utf8.RuneCountInString(reason) > MaxReasonLength {
		return nil, fault.InvalidField("reason", "must be at most 500 characters")
	}
	var volunteerName string
	if a == ActionAccept {
		// An account the directory does not know is refused by the rules
		// below with their reason; the name is then moot.
		mem, err := s.member(ctx, who.UserID)
		if err != nil && fault.KindOf(err) != fault.NotFound {
			return nil, err
		}
		// Only the first name: enough to recognise someone at the meeting point.
		volunteerName = firstName(mem.Name)
	}
	now := s.now()
	var after Outing
	before, move, err := s.st.TransitionOuting(ctx, id, now, func(tctx context.Context, o *Outing) (Move, error) {
		if rel, err := s.relationTo(tctx, o, who); err != nil {
			return Move{}, err
		} else if rel == RelNone {
			return Move{}, fault.NotFoundf("no such outing")
		}
		m, err := Decide(o, a, who, now, reason)
		if err != nil {
			return Move{}, err
		}
		if m.SetVolunteer != "" {
			m.SetVolunteerName = volunteerName
		}
		if want, ok := ctx.Value(expectVersionKey{}).(int64); ok && o.Version != want {
			return Move{}, fault.StateConflictf("the outing is at version %d, not %d: reload it", o.Version, want)
		}
		if check != nil {
			if err := check(tctx, o); err != nil {
				return Move{}, err
			}
		}
		m.Events = s.stampEvents(o, now, m.Events)
		after = applyMove(*o, m, now)
		return m, nil
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, fault.NotFoundf("no such outing")
	case errors.Is(err, ErrConflict):
		// Someone else's write landed between our read and our write.
		return nil, fault.StateConflictf("the outing changed meanwhile; reload it and try again")
	case err != nil:
		return nil, fault.Wrap(err, "update outing")
	}
	if move.Release != "" {
		if err := s.release(ctx, move.Release, before.ID); err != nil {
			// The hold is re-checked before it blocks anyone: log and go on.
			s.log.Warn("release volunteer hold failed", "outing_id", before.ID, "volunteer_id", move.Release, "error", err.Error())
		}
	}
	if len(move.Events) > 0 {
		s.notifyDispatcher(before.ID)
	}
	return &after, nil
}

// ---- feedback ----

// FeedbackInput is the body of POST /v1/outings/{id}/feedback.
type FeedbackInput struct {
	Rating        int
	Comment       string
	ComfortBefore *int
	ComfortAfter  *int
}

// Feedback is one person's feedback on one outing. Its _id is
// outing id + ":" + author id, so "once per person" is a unique insert.
type Feedback struct {
	ID            string    `bson:"_id" json:"id"`
	OutingID      string    `bson:"outing_id" json:"outing_id"`
	OrgID         string    `bson:"organisation_id" json:"organisation_id"`
	AuthorID      string    `bson:"author_id" json:"author_id"`
	AuthorRole    auth.Role `bson:"author_role" json:"author_role"`
	ParticipantID string    `bson:"participant_id" json:"-"`
	VolunteerID   string    `bson:"volunteer_id" json:"-"`
	Rating        int       `bson:"rating" json:"rating"`
	Comment       string    `bson:"comment,omitempty" json:"comment,omitempty"`
	ComfortBefore *int      `bson:"comfort_before,omitempty" json:"comfort_before,omitempty"`
	ComfortAfter  *int      `bson:"comfort_after,omitempty" json:"comfort_after,omitempty"`
	CreatedAt     time.Time `bson:"created_at" json:"created_at"`
}

// GiveFeedback records who's feedback on a completed outing, once.
func (s *Service) GiveFeedback(ctx context.Context, who auth.Identity, outingID string, in FeedbackInput) (Feedback, error) {
	var errs []fault.FieldError
	if in.Rating < 1 || in.Rating > 5 {
		errs = append(errs, fault.FieldError{Field: "rating", Message: "must be from 1 to 5"})
	}
	if utf8.RuneCountInString(in.Comment) > MaxNoteLength {
		errs = append(errs, fault.FieldError{Field: "comment", Message: "must be at most 1000 characters"})
	}
	for field, v := range map[string]*int{"comfort_before": in.ComfortBefore, "comfort_after": in.ComfortAfter} {
		switch {
		case v == nil:
		case who.Role != auth.RoleParticipant:
			errs = append(errs, fault.FieldError{Field: field, Message: "only participants rate their comfort"})
		case *v < 1 || *v > 5:
			errs = append(errs, fault.FieldError{Field: field, Message: "must be from 1 to 5"})
		}
	}
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b fault.FieldError) int { return strings.Compare(a.Field, b.Field) })
		return Feedback{}, fault.Invalid(errs...)
	}
	o, err := s.st.Outing(ctx, outingID)
	if err != nil {
		return Feedback{}, notFoundOr(err, "outing")
	}
	if _, err := Decide(o, ActionFeedback, who, s.now(), ""); err != nil {
		return Feedback{}, err
	}
	f := Feedback{
		ID: o.ID + ":" + who.UserID, OutingID: o.ID, OrgID: o.OrgID, AuthorID: who.UserID, AuthorRole: who.Role,
		ParticipantID: o.ParticipantID, VolunteerID: o.VolunteerID, Rating: in.Rating,
		Comment: strings.TrimSpace(in.Comment), ComfortBefore: in.ComfortBefore, ComfortAfter: in.ComfortAfter,
		CreatedAt: s.now(),
	}
	if err := s.st.InsertFeedback(ctx, &f); err != nil {
		if errors.Is(err, ErrDuplicate) {
			return Feedback{}, fault.New(fault.Conflict, "you have already given feedback on this outing")
		}
		return Feedback{}, fault.Wrap(err, "store feedback")
	}
	return f, nil
}

// ---- profiles ----

// PutVolunteerProfile writes the caller's volunteer profile.
func (s *Service) PutVolunteerProfile(ctx context.Context, who auth.Identity, in VolunteerProfileInput) (VolunteerProfileView, error) {
	if who.Role != auth.RoleVolunteer {
		return VolunteerProfileView{}, fault.Forbiddenf("only volunteers have a volunteer profile")
	}
	if err := in.Validate(); err != nil {
		return VolunteerProfileView{}, err
	}
	skills := make([]string, 0, len(in.Skills))
	for _, sk := range in.Skills {
		sk = strings.ToLower(strings.TrimSpace(sk))
		if !slices.Contains(skills, sk) {
			skills = append(skills, sk)
		}
	}
	now := s.now()
	p, err := s.st.UpdateVolunteer(ctx, who.UserID, true, func(p *VolunteerProfile) (bool, error) {
		p.OrgID, p.Status, p.HasProfile = who.OrgID, who.Status, true
		p.Home, p.HomeCell = in.Home, HomeCell(in.Home.Lat, in.Home.Lon)
		p.TravelRadiusKm, p.Languages, p.Gender = in.TravelRadiusKm, in.Languages, in.Gender
		p.Skills, p.MaxOutingsPerWeek, p.About = skills, in.MaxOutingsPerWeek, strings.TrimSpace(in.About)
		p.Commitments, p.UpdatedAt = nonNil(p.Commitments), now
		return true, nil
	})
	if err != nil {
		return VolunteerProfileView{}, fault.Wrap(err, "store volunteer profile")
	}
	return p.view(), nil
}

// PutAvailability replaces the caller's weekly availability. An empty time
// zone means the organisation's (Europe/Stockholm if it names none).
func (s *Service) PutAvailability(ctx context.Context, who auth.Identity, spec availability.Spec) (AvailabilityView, error) {
	if who.Role != auth.RoleVolunteer {
		return AvailabilityView{}, fault.Forbiddenf("only volunteers have availability")
	}
	if spec.TimeZone == "" {
		spec.TimeZone = s.orgTimeZone(ctx, who.OrgID)
	}
	// A copy: the caller's slots stay theirs (two simulated towns share one).
	spec.Weekly, spec.Exceptions = slices.Clone(nonNil(spec.Weekly)), nonNil(spec.Exceptions)
	for i := range spec.Weekly {
		spec.Weekly[i].Weekday = strings.ToLower(spec.Weekly[i].Weekday)
	}
	if _, err := availability.Compile(spec); err != nil {
		return AvailabilityView{}, err
	}
	now := s.now()
	p, err := s.st.UpdateVolunteer(ctx, who.UserID, true, func(p *VolunteerProfile) (bool, error) {
		p.OrgID, p.Status, p.Availability = who.OrgID, who.Status, &spec
		p.Commitments, p.UpdatedAt = nonNil(p.Commitments), now
		return true, nil
	})
	if err != nil {
		return AvailabilityView{}, fault.Wrap(err, "store availability")
	}
	return AvailabilityView{UserID: p.UserID, TimeZone: spec.TimeZone, Weekly: spec.Weekly, Exceptions: spec.Exceptions, UpdatedAt: p.UpdatedAt}, nil
}

func (s *Service) orgTimeZone(ctx context.Context, orgID string) string {
	if s.dir != nil {
		if tz, err := s.dir.OrgTimeZone(ctx, orgID); err == nil && tz != "" {
			return tz
		}
	}
	return DefaultTimeZone
}

// SetVolunteerStatus keeps the account status on the volunteer's profile in
// step with the accounts (approve, suspend), for the candidate query.
func (s *Service) SetVolunteerStatus(ctx context.Context, userID string, status auth.Status) error {
	return s.st.SetVolunteerStatus(ctx, userID, status)
}

// PutParticipantProfile writes the caller's wishes.
func (s *Service) PutParticipantProfile(ctx context.Context, who auth.Identity, in ParticipantProfileInput) (ParticipantProfileView, error) {
	if who.Role != auth.RoleParticipant {
		return ParticipantProfileView{}, fault.Forbiddenf("only participants have a participant profile")
	}
	if err := in.Validate(); err != nil {
		return ParticipantProfileView{}, err
	}
	now := s.now()
	p, err := s.st.UpdateParticipant(ctx, who.UserID, func(p *ParticipantProfile) {
		p.OrgID, p.Languages, p.CompanionGender, p.UpdatedAt = who.OrgID, in.Languages, in.CompanionGender, now
		if in.Gender != "" {
			p.Gender = in.Gender
		}
	})
	if err != nil {
		return ParticipantProfileView{}, fault.Wrap(err, "store participant profile")
	}
	return p.view(), nil
}

// SetSupportNeeds writes a participant's support needs (coordinators of
// the participant's organisation only; audited).
func (s *Service) SetSupportNeeds(ctx context.Context, who auth.Identity, participantID, text string) (SupportNeedsView, error) {
	if who.Role != auth.RoleCoordinator {
		return SupportNeedsView{}, fault.Forbiddenf("only coordinators write support needs")
	}
	text = strings.TrimSpace(text)
	if utf8.RuneCountInString(text) > MaxSupportNeedsLen {
		return SupportNeedsView{}, fault.InvalidField("support_needs", "must be at most 2000 characters")
	}
	if s.dir == nil {
		return SupportNeedsView{}, fault.NotFoundf("no such participant")
	}
	m, err := s.dir.Member(ctx, participantID)
	if fault.KindOf(err) == fault.NotFound || (err == nil && (m.Role != auth.RoleParticipant || m.OrgID != who.OrgID)) {
		return SupportNeedsView{}, fault.NotFoundf("no such participant")
	}
	if err != nil {
		return SupportNeedsView{}, fault.Wrap(err, "look up participant")
	}
	now := s.now()
	p, err := s.st.UpdateParticipant(ctx, participantID, func(p *ParticipantProfile) {
		if p.Rev == 0 {
			p.Languages, p.CompanionGender = []string{}, "any"
		}
		p.OrgID, p.SupportNeeds, p.SupportNeedsBy, p.SupportNeedsAt, p.UpdatedAt = m.OrgID, text, who.UserID, now, now
	})
	if err != nil {
		return SupportNeedsView{}, fault.Wrap(err, "store support needs")
	}
	s.audit(ctx, who.UserID, participantID, "support_needs.write")
	return SupportNeedsView{ParticipantID: p.UserID, SupportNeeds: p.SupportNeeds, UpdatedBy: p.SupportNeedsBy, UpdatedAt: p.SupportNeedsAt}, nil
}

// VolunteersNear lists active volunteers of an organisation whose home cell
// lies within MaxTravelRadiusKm of a point: the indexed prefilter the
// ranking's candidates start from (each candidate's own radius is a hard
// rule checked by the ranking). Bounded by limit.
func (s *Service) VolunteersNear(ctx context.Context, orgID string, lat, lon float64, limit int) ([]VolunteerProfile, error) {
	return s.st.VolunteersInCells(ctx, VolunteerQuery{OrgID: orgID, Status: auth.StatusActive, Cells: CellsCovering(lat, lon, MaxTravelRadiusKm), Limit: limit})
}
