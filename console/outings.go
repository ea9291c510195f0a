package console

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/matching"
)

// Bounds of the lists: a page never reads more than this many outings.
const (
	listCap       = 500
	queueCap      = 200
	approvalsPage = 10 // each shows its history and earlier outings together
	togetherCap   = 5
)

var liveStatuses = []matching.OutingStatus{matching.StatusConfirmed, matching.StatusInProgress, matching.StatusPendingApproval, matching.StatusOpen}

// ---- Today ----

type todayRow struct {
	matching.OutingView
	Missed bool
}

type todayDay struct {
	Date     time.Time
	ByStatus []statusGroup
}

type statusGroup struct {
	Status matching.OutingStatus
	Rows   []todayRow
}

type todayData struct {
	Missed []todayRow
	Days   []todayDay
	Poll   int // milliseconds
}

func (c *Console) orgLoc(ctx context.Context, orgID string) *time.Location {
	if orgID != "" {
		if org, err := c.cfg.Accounts.Organisation(ctx, orgID); err == nil {
			if loc, err := time.LoadLocation(org.TimeZone); err == nil {
				return loc
			}
		}
	}
	return time.UTC
}

// missed: confirmed, nobody checked in, the grace after the start gone.
func (c *Console) missed(o matching.OutingView, now time.Time) bool {
	return o.Status == matching.StatusConfirmed && now.After(o.StartsAt.Add(c.cfg.CheckinGrace))
}

func (c *Console) todayData(f *fiber.Ctx) (todayData, error) {
	ctx, who := f.UserContext(), identityOf(f)
	now := c.clock.Now()
	loc := c.orgLoc(ctx, who.OrgID)
	y, m, d := now.In(loc).Date()
	start := time.Date(y, m, d, 0, 0, 0, 0, loc)
	days := []time.Time{start, start.AddDate(0, 0, 1), start.AddDate(0, 0, 2)}
	data := todayData{Poll: int(c.cfg.Poll / time.Millisecond)}
	for i := range 2 {
		data.Days = append(data.Days, todayDay{Date: days[i]})
	}
	rows, err := c.cfg.Outings.OutingsStarting(ctx, who, liveStatuses, days[0], days[2], listCap)
	if err != nil {
		return data, err
	}
	for _, st := range liveStatuses {
		for _, o := range rows {
			if o.Status != st {
				continue
			}
			r := todayRow{OutingView: o, Missed: c.missed(o, now)}
			if r.Missed {
				data.Missed = append(data.Missed, r)
				continue
			}
			i := 0
			if !o.StartsAt.Before(days[1]) {
				i = 1
			}
			g := &data.Days[i]
			if len(g.ByStatus) == 0 || g.ByStatus[len(g.ByStatus)-1].Status != st {
				g.ByStatus = append(g.ByStatus, statusGroup{Status: st})
			}
			g.ByStatus[len(g.ByStatus)-1].Rows = append(g.ByStatus[len(g.ByStatus)-1].Rows, r)
		}
	}
	return data, nil
}

func (c *Console) today(f *fiber.Ctx) error {
	data, err := c.todayData(f)
	if err != nil {
		return c.domainError(f, err)
	}
	return c.render(f, fiber.StatusOK, "today", data, "")
}

func (c *Console) todayList(f *fiber.Ctx) error {
	data, err := c.todayData(f)
	if err != nil {
		return c.domainError(f, err)
	}
	return c.render(f, fiber.StatusOK, "today_list", data, "")
}

// domainError shows a domain failure in words with its status.
func (c *Console) domainError(f *fiber.Ctx, err error) error {
	switch fault.KindOf(err) {
	case fault.NotFound:
		return c.fail(f, fiber.StatusNotFound, "err.notfound")
	case fault.Forbidden:
		return c.fail(f, fiber.StatusForbidden, "err.forbidden")
	case fault.StateConflict, fault.Conflict:
		return c.fail(f, fiber.StatusConflict, "err.conflict")
	case fault.Validation:
		return c.fail(f, fiber.StatusUnprocessableEntity, "err.validation")
	}
	c.log.Error("console: domain call failed", "path", f.Path(), "error", err.Error())
	return c.fail(f, fiber.StatusInternalServerError, "err.internal")
}

// ---- Requests ----

type requestsData struct {
	Open []matching.OutingView
}

func (c *Console) requests(f *fiber.Ctx) error {
	now := c.clock.Now()
	open, err := c.cfg.Outings.OutingsStarting(f.UserContext(), identityOf(f), []matching.OutingStatus{matching.StatusOpen},
		now, now.Add(matching.MaxOutingAhead), queueCap)
	if err != nil {
		return c.domainError(f, err)
	}
	return c.render(f, fiber.StatusOK, "requests", requestsData{Open: open}, "")
}

type requestData struct {
	Outing     matching.OutingView
	Candidates matching.CandidatesPage
}

func (c *Console) request(f *fiber.Ctx) error {
	ctx, who := f.UserContext(), identityOf(f)
	o, err := c.cfg.Outings.Outing(ctx, who, f.Params("id"))
	if err != nil {
		return c.domainError(f, err)
	}
	cands, err := c.cfg.Matcher.Candidates(ctx, who, o.ID, matching.CandidatesQuery{Lang: c.lang(f), Limit: 10, IncludeExcluded: true})
	if err != nil {
		return c.domainError(f, err)
	}
	return c.render(f, fiber.StatusOK, "request", requestData{Outing: o, Candidates: cands}, "")
}

// ---- Approvals ----

type approval struct {
	matching.OutingView
	History  []matching.HistoryEntry
	Together []together
}

// together is an earlier outing of the same two, with its feedback.
type together struct {
	matching.OutingView
	Feedback []matching.Feedback
}

type approvalsData struct {
	Items []approval
	Done  string // "approved" or "rejected" after a redirect
	More  bool   // more wait after these, the soonest

}

func (c *Console) approvals(f *fiber.Ctx) error {
	ctx, who := f.UserContext(), identityOf(f)
	// Pending outings whose start has passed are expired by the sweep; a
	// day back covers one that has not run yet.
	now := c.clock.Now()
	pending, err := c.cfg.Outings.OutingsStarting(ctx, who, []matching.OutingStatus{matching.StatusPendingApproval},
		now.Add(-24*time.Hour), now.Add(matching.MaxOutingAhead), approvalsPage+1)
	if err != nil {
		return c.domainError(f, err)
	}
	data := approvalsData{Done: f.Query("done")}
	if len(pending) > approvalsPage {
		pending, data.More = pending[:approvalsPage], true
	}
	for _, o := range pending {
		a := approval{OutingView: o}
		if a.History, err = c.cfg.Outings.History(ctx, who, o.ID); err != nil {
			return c.domainError(f, err)
		}
		earlier, err := c.cfg.Outings.OutingsTogether(ctx, who, o.ParticipantID, o.VolunteerID, togetherCap)
		if err != nil {
			return c.domainError(f, err)
		}
		for _, d := range earlier {
			fb, err := c.cfg.Outings.FeedbackOn(ctx, who, d.ID)
			if err != nil {
				return c.domainError(f, err)
			}
			a.Together = append(a.Together, together{OutingView: d, Feedback: fb.Items})
		}
		data.Items = append(data.Items, a)
	}
	return c.render(f, fiber.StatusOK, "approvals", data, "")
}

func (c *Console) approve(f *fiber.Ctx) error {
	_, err := c.cfg.Outings.Approve(f.UserContext(), identityOf(f), f.Params("id"))
	if err != nil {
		return c.domainError(f, err)
	}
	return f.Redirect(Prefix+"/approvals?done=approved", fiber.StatusSeeOther)
}

func (c *Console) reject(f *fiber.Ctx) error {
	_, err := c.cfg.Outings.Reject(f.UserContext(), identityOf(f), f.Params("id"), f.FormValue("reason"))
	if err != nil {
		return c.domainError(f, err)
	}
	return f.Redirect(Prefix+"/approvals?done=rejected", fiber.StatusSeeOther)
}
