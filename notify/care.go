package notify

import (
	"context"
	"fmt"
	"time"

	"firebase.google.com/go/v4/messaging"

	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/matching"
)

// The pushes of the care around an outing (docs/api.md, "Participant care").

// ExpenseDecided is the push a volunteer gets when a coordinator approved
// or rejected an expense they recorded.
const ExpenseDecided = "expense.decided"

// reminderCard is the text (not a push type) of a reminder due within
// cardReminderLead of the start: it says the what-to-expect card is ready,
// and carries none of it.
const (
	reminderCard     = "outing.reminder.card"
	cardReminderLead = 2 * time.Hour
)

// textType is the template a job is rendered with.
func textType(j Job) string {
	if j.Kind == kindReminder && j.StartsAt.Sub(j.DueAt) <= cardReminderLead {
		return reminderCard
	}
	return j.Type
}

// urgent pushes skip quiet hours and ask devices to break through.
func urgent(pushType string) bool { return pushType == matching.EventHelp }

// careDeadline: news from during an outing is useful until well after its
// end, and a decided expense for a week.
func careDeadline(pushType string, start, end time.Time) (time.Time, bool) {
	switch pushType {
	case matching.EventHelp, matching.EventEndedEarly:
		return later(start, end).Add(12 * time.Hour), true
	}
	return time.Time{}, false
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// careJobs handles the care events: a postponement asked drops the old
// time's reminders and check-in watch and asks the companion; one accepted
// makes them again at the new time and tells the participant and the
// coordinators; a stop or a help press tells the coordinators.
func (s *Service) careJobs(ctx context.Context, e matching.Event, now time.Time) ([]Job, error) {
	drop := func() error {
		_, err := s.st.DropOutingJobs(ctx, e.OutingID, Drop{Kinds: []string{kindReminder, kindCheckin}})
		return fault.Wrap(err, "drop push jobs")
	}
	switch e.Type {
	case matching.EventPostponeAsked:
		if err := drop(); err != nil {
			return nil, err
		}
		return s.eventJobs(e, e.Type, e.Recipients, e.ToCoordinators, now), nil
	case matching.EventPostponed:
		if err := drop(); err != nil {
			return nil, err
		}
		jobs := s.outingJobs(e.OutingID, e.OrgID, e.ParticipantID, e.VolunteerID, e.StartsAt, e.EndsAt, now, 0)
		return append(jobs, s.eventJobs(e, e.Type, e.Recipients, e.ToCoordinators, now)...), nil
	case matching.EventEndedEarly, matching.EventHelp:
		return s.eventJobs(e, e.Type, e.Recipients, e.ToCoordinators, now), nil
	}
	return nil, nil
}

// PushAboutOuting queues one push to one user about an outing (expense.decided),
// once per key, useful until deadline; start is the outing's, for the text.
func (s *Service) PushAboutOuting(ctx context.Context, pushType, key, userID, orgID, outingID string, start, deadline time.Time) error {
	now := s.clock.Now()
	if !now.Before(deadline) {
		return nil
	}
	j := s.newJob(fmt.Sprintf("direct|%s|%s|user:%s", pushType, key, userID), kindEvent, pushType, outingID, orgID, toUser, userID, start, deadline, now, now)
	n, err := s.st.EnqueueJobs(ctx, []Job{j})
	if err != nil {
		return fault.Wrap(err, "insert push job")
	}
	s.countCreated([]Job{j}, n, "direct")
	if n > 0 {
		s.wake()
	}
	return nil
}

// urgentMessage makes a help alert break through: the highest Android
// priority on its own channel, a time-sensitive iOS alert, and data the app
// can sort by.
func urgentMessage(m *messaging.Message) {
	m.Data["priority"] = "urgent"
	m.Android.Notification = &messaging.AndroidNotification{Priority: messaging.PriorityMax, ChannelID: "clavis_help"}
	m.APNS.Payload.Aps.CustomData = map[string]any{"interruption-level": "time-sensitive"}
}
