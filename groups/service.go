package groups

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/internal/ids"
)

// Push types of docs/api.md.
const (
	PushEnrolled         = "group.enrolled"
	PushPromoted         = "group.promoted"
	PushSessionReminder  = "group.session_reminder"
	PushSessionMoved     = "group.session_moved"
	PushSessionCancelled = "group.session_cancelled"
)

// Push is news for some participants, sent once per Key.
type Push struct {
	// Key identifies the news: the same key is pushed once, however often
	// it is handed over.
	Key        string
	Type       string
	OrgID      string
	GroupID    string
	SessionID  string
	StartsAt   time.Time
	Recipients []string
}

// SessionReminder is the full set of people a session's reminders go to
// (none: the session was cancelled). Handing it over replaces the pending
// reminders of the session; reminders already sent are not sent again.
type SessionReminder struct {
	SessionID    string
	OrgID        string
	StartsAt     time.Time
	Participants []string
}

// Notifier delivers group pushes through durable jobs. The notify package
// implements it; groups must not import notify.
type Notifier interface {
	GroupPush(ctx context.Context, p Push) error
	SessionReminders(ctx context.Context, rs []SessionReminder) error
	// ForgetParticipant drops the participant's pushes of these sessions
	// not sent yet (they left the group).
	ForgetParticipant(ctx context.Context, participantID string, sessionIDs []string) error
}

// Directory answers who a user is and an organisation's time zone;
// *auth.Service implements it.
type Directory interface {
	User(ctx context.Context, id string) (auth.User, error)
	Organisation(ctx context.Context, id string) (auth.Organisation, error)
}

// Config is what NewService needs.
type Config struct {
	Store     Store
	Directory Directory
	Notifier  Notifier
	Clock     clock.Clock
	Logger    *slog.Logger
}

// Service is the groups domain.
type Service struct {
	st    Store
	dir   Directory
	push  Notifier
	clock clock.Clock
	log   *slog.Logger
}

// NewService returns the service.
func NewService(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Directory == nil {
		return nil, errors.New("groups: Store and Directory are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{st: cfg.Store, dir: cfg.Directory, push: cfg.Notifier, clock: cfg.Clock, log: cfg.Logger}, nil
}

// SetNotifier wires the pushes after construction (main builds notify later).
func (s *Service) SetNotifier(n Notifier) { s.push = n }

func (s *Service) now() time.Time { return s.clock.Now().UTC().Truncate(time.Millisecond) }

// MaxCapacity bounds a group's places (and so its pushes and reminders).
const MaxCapacity = 500

var errNoGroup = fault.NotFoundf("no such group")

// isCoordinatorOf reports whether who coordinates orgID.
func isCoordinatorOf(who auth.Identity, orgID string) bool {
	return who.Role == auth.RoleCoordinator && who.OrgID == orgID && who.Status == auth.StatusActive
}

// CreateGroup makes a group and its sessions (coordinator of orgID).
func (s *Service) CreateGroup(ctx context.Context, who auth.Identity, orgID string, in GroupInput) (GroupView, error) {
	if who.Role != auth.RoleCoordinator {
		return GroupView{}, fault.Forbiddenf("only coordinators create groups")
	}
	if who.OrgID != orgID {
		return GroupView{}, fault.NotFoundf("no such organisation")
	}
	if in.TimeZone == "" {
		org, err := s.dir.Organisation(ctx, orgID)
		if err != nil {
			return GroupView{}, err
		}
		in.TimeZone = org.TimeZone
	}
	loc, err := in.validate()
	if err != nil {
		return GroupView{}, err
	}
	if in.Capacity > MaxCapacity {
		return GroupView{}, fault.InvalidField("capacity", "must be at most 500")
	}
	threshold := DefaultThreshold
	if in.CompletionThreshold != nil {
		threshold = *in.CompletionThreshold
	}
	now := s.now()
	g := &Group{ID: ids.New(), OrgID: orgID, Name: in.Name, Kind: in.Kind, Description: strings.TrimSpace(in.Description),
		Place: in.Place, TimeZone: in.TimeZone, FirstDay: in.FirstDay, Weeks: in.Weeks, Weekly: in.Weekly,
		Capacity: in.Capacity, CompletionThreshold: threshold, CreatedAt: now}
	sessions, err := GenerateSessions(g.ID, orgID, in.FirstDay, in.Weeks, in.Weekly, loc, ids.New)
	if err != nil {
		return GroupView{}, fault.InvalidField("first_day", "must be a date, YYYY-MM-DD")
	}
	g.StartsAt, g.EndsAt = span(sessions)
	if !g.StartsAt.After(now) {
		return GroupView{}, fault.InvalidField("first_day", "the first session must be in the future")
	}
	if err := s.st.CreateGroup(ctx, g, sessions); err != nil {
		return GroupView{}, fault.Wrap(err, "store group")
	}
	return g.view(now), nil
}

// group reads a group who may see: any active member of its organisation.
func (s *Service) group(ctx context.Context, who auth.Identity, id string) (*Group, error) {
	g, err := s.st.Group(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, errNoGroup
	}
	if err != nil {
		return nil, fault.Wrap(err, "read group")
	}
	if who.OrgID != g.OrgID || who.Role == auth.RoleAdmin {
		return nil, errNoGroup
	}
	decided := g.Decided
	if err := s.settle(ctx, g); err != nil {
		return nil, err
	}
	if !decided && g.Decided {
		// Decided just now: the counts read before have changed.
		if g, err = s.st.Group(ctx, id); err != nil {
			return nil, fault.Wrap(err, "read group")
		}
	}
	return g, nil
}

// Groups lists an organisation's groups: all of them for its coordinators,
// those planned or running for its participants.
func (s *Service) Groups(ctx context.Context, who auth.Identity, orgID string, limit int, cursor string) (GroupPage, error) {
	if who.OrgID != orgID {
		return GroupPage{}, fault.NotFoundf("no such organisation")
	}
	list, err := s.st.OrgGroups(ctx, orgID, cursor, limit)
	if err != nil {
		return GroupPage{}, fault.Wrap(err, "list groups")
	}
	now := s.now()
	page := GroupPage{Items: []GroupView{}}
	for i := range list {
		g := &list[i]
		st := g.statusAt(now)
		if who.Role != auth.RoleCoordinator && st != StatusPlanned && st != StatusRunning {
			continue
		}
		page.Items = append(page.Items, g.view(now))
	}
	if len(list) == limit {
		page.NextCursor = list[len(list)-1].ID
	}
	return page, nil
}

// Group returns one group.
func (s *Service) Group(ctx context.Context, who auth.Identity, id string) (GroupView, error) {
	g, err := s.group(ctx, who, id)
	if err != nil {
		return GroupView{}, err
	}
	return g.view(s.now()), nil
}

// Sessions lists a group's sessions, earliest first; the cursor is an offset.
func (s *Service) Sessions(ctx context.Context, who auth.Identity, groupID string, limit int, cursor string) (SessionPage, error) {
	if _, err := s.group(ctx, who, groupID); err != nil {
		return SessionPage{}, err
	}
	from := 0
	if cursor != "" {
		n, err := strconv.Atoi(cursor)
		if err != nil || n < 0 {
			return SessionPage{}, fault.InvalidField("cursor", "is not a cursor this list gave")
		}
		from = n
	}
	list, err := s.st.Sessions(ctx, groupID)
	if err != nil {
		return SessionPage{}, fault.Wrap(err, "list sessions")
	}
	now := s.now()
	page := SessionPage{Items: []SessionView{}}
	for i := from; i < len(list) && i < from+limit; i++ {
		page.Items = append(page.Items, list[i].view(now))
	}
	if from+limit < len(list) {
		page.NextCursor = strconv.Itoa(from + limit)
	}
	return page, nil
}

// settle decides completion once a group has finished.
func (s *Service) settle(ctx context.Context, g *Group) error {
	if g.Decided || g.Cancelled || s.now().Before(g.EndsAt) {
		return nil
	}
	tallies, err := s.tallies(ctx, g)
	if err != nil {
		return err
	}
	results := map[string]string{}
	for after := int64(0); ; {
		list, err := s.st.Enrolments(ctx, g.ID, after, 100)
		if err != nil {
			return fault.Wrap(err, "list enrolments")
		}
		for _, e := range list {
			if e.Status == Enrolled {
				results[e.ParticipantID] = NotCompleted
				if tallies.of(e).Completes(g.CompletionThreshold) {
					results[e.ParticipantID] = Completed
				}
			}
		}
		if len(list) < 100 {
			break
		}
		after = list[len(list)-1].Seq
	}
	if _, err := s.st.Decide(ctx, g.ID, results); err != nil {
		return fault.Wrap(err, "decide completion")
	}
	g.Decided = true
	return nil
}

// tallyBook holds a group's held sessions and marks; of counts one
// participant's tally over the sessions held since their place began.
type tallyBook struct {
	held  map[string]time.Time // held session id -> start
	marks map[string][]Mark    // participant -> marks
}

// tallies reads what completion is counted from.
func (s *Service) tallies(ctx context.Context, g *Group) (tallyBook, error) {
	sessions, err := s.st.Sessions(ctx, g.ID)
	if err != nil {
		return tallyBook{}, fault.Wrap(err, "list sessions")
	}
	now := s.now()
	b := tallyBook{held: map[string]time.Time{}, marks: map[string][]Mark{}}
	for i := range sessions {
		if sessions[i].statusAt(now) == SessionHeld {
			b.held[sessions[i].ID] = sessions[i].StartsAt
		}
	}
	marks, err := s.st.Marks(ctx, g.ID)
	if err != nil {
		return tallyBook{}, fault.Wrap(err, "read attendance")
	}
	for _, m := range marks {
		b.marks[m.ParticipantID] = append(b.marks[m.ParticipantID], m)
	}
	return b, nil
}

// of counts e's tally: sessions that began before e got their place
// (enrolment, or promotion from the waiting list) are not theirs to attend.
func (b tallyBook) of(e Enrolment) Tally {
	since := func(id string) bool {
		start, ok := b.held[id]
		return ok && !start.Before(e.At)
	}
	var t Tally
	for id := range b.held {
		if since(id) {
			t.Held++
		}
	}
	for _, m := range b.marks[e.ParticipantID] {
		if !since(m.SessionID) {
			continue
		}
		switch m.Mark {
		case MarkPresent:
			t.Attended++
		case MarkExcused:
			t.Excused++
		}
	}
	return t
}

func enrolmentView(e Enrolment, tallies tallyBook) EnrolmentView {
	t := tallies.of(e)
	return EnrolmentView{GroupID: e.GroupID, ParticipantID: e.ParticipantID, Status: e.Status, Position: e.Position,
		Attended: t.Attended, Held: t.Held, Excused: t.Excused}
}
