package groups

import (
	"context"
	"errors"
	"time"
)

// Store keeps groups, sessions, enrolments, attendance and escort links.
// Two engines implement it: SQLite (store_sqlite.go) and MongoDB/FerretDB
// (store_mongo.go); store_contract_test.go holds both to the same rules.
type Store interface {
	// CreateGroup stores a group with its sessions.
	CreateGroup(ctx context.Context, g *Group, sessions []Session) error
	// Group returns a group with its enrolled and waiting counts.
	Group(ctx context.Context, id string) (*Group, error)
	// OrgGroups lists an organisation's groups by id after the cursor id,
	// at most limit, with counts.
	OrgGroups(ctx context.Context, orgID, after string, limit int) ([]Group, error)
	// GroupsByID returns the groups with these ids (missing ones left out), with counts.
	GroupsByID(ctx context.Context, ids []string) ([]Group, error)
	// Decide writes the end-of-group status of each enrolled participant
	// and marks the group decided; a group decided already is left alone
	// and false returned.
	Decide(ctx context.Context, groupID string, results map[string]string) (bool, error)

	// Sessions returns a group's sessions, earliest first.
	Sessions(ctx context.Context, groupID string) ([]Session, error)
	// Session returns one session.
	Session(ctx context.Context, id string) (*Session, error)
	// UpdateSession writes a session's times, status and reason, and the
	// group's new first start and last end.
	UpdateSession(ctx context.Context, s Session, groupStarts, groupEnds time.Time) error

	// Enrol adds e to its group: enrolled while fewer than capacity are,
	// else waiting behind everyone waiting already. ErrDuplicate when the
	// participant is enrolled or waiting there. The answer has Status, Seq
	// and (waiting) Position set. Concurrent calls never overfill the group.
	Enrol(ctx context.Context, e Enrolment, capacity int) (Enrolment, error)
	// Leave ends a participant's enrolled or waiting place (ErrNotFound when
	// there is none); an enrolled leaver's place goes to the first waiting,
	// who is returned with At set to at (when their place began).
	Leave(ctx context.Context, groupID, participantID string, at time.Time) (left Enrolment, promoted *Enrolment, err error)
	// Enrolment returns a participant's latest enrolment in a group, with
	// Position when waiting.
	Enrolment(ctx context.Context, groupID, participantID string) (*Enrolment, error)
	// Enrolments lists a group's enrolments by Seq after afterSeq, at most
	// limit, with positions.
	Enrolments(ctx context.Context, groupID string, afterSeq int64, limit int) ([]Enrolment, error)
	// EnrolmentsOf lists a participant's enrolments not left, by group id
	// after the cursor id, at most limit, with positions.
	EnrolmentsOf(ctx context.Context, participantID, after string, limit int) ([]Enrolment, error)
	// EraseParticipant puts tombstone in the participant's place in their
	// enrolments and marks (so that a past period's figures stay) and
	// forgets their escort links. Places held should be left first.
	EraseParticipant(ctx context.Context, participantID, tombstone string) error
	// PeriodEnrolments lists the enrolled, completed and not completed
	// enrolments in an organisation's groups whose span overlaps
	// [from, to), at most limit (cancelled groups included: the caller
	// leaves them out).
	PeriodEnrolments(ctx context.Context, orgID string, from, to time.Time, limit int) ([]Enrolment, error)
	// EnrolmentIDsOf lists the ids of a participant's enrolments, at most limit.
	EnrolmentIDsOf(ctx context.Context, participantID string, limit int) ([]string, error)

	// PutMarks sets attendance marks (one per session and participant; a
	// new mark replaces the old).
	PutMarks(ctx context.Context, marks []Mark) error
	// Marks returns every mark of a group.
	Marks(ctx context.Context, groupID string) ([]Mark, error)

	// LinkEscort records that an escort outing goes to a session.
	LinkEscort(ctx context.Context, l EscortLink) error
	// Escorts returns the escort links of a session.
	Escorts(ctx context.Context, sessionID string) ([]EscortLink, error)
	// EscortsOf returns a participant's escort links in a group.
	EscortsOf(ctx context.Context, groupID, participantID string) ([]EscortLink, error)
	// EscortByOuting returns the link of an escort outing (ErrNotFound
	// when the outing escorts nobody to a session).
	EscortByOuting(ctx context.Context, outingID string) (*EscortLink, error)
}

// Store errors.
var (
	ErrNotFound  = errors.New("groups: not found")
	ErrDuplicate = errors.New("groups: duplicate")
)

// maxSessions bounds one group's sessions (104 weeks of 14 slots).
const maxSessions = MaxWeeks * MaxSlotsPerWeek
