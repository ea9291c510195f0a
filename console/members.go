package console

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/matching"
)

type membersData struct {
	Pending, Active, Suspended, Participants []auth.User
	// Next holds each list's next page, by its query parameter.
	Next map[string]string
	Done string
}

func (c *Console) members(f *fiber.Ctx) error {
	ctx, who := f.UserContext(), identityOf(f)
	data := membersData{Done: f.Query("done"), Next: map[string]string{}}
	for _, l := range []struct {
		param  string
		into   *[]auth.User
		role   auth.Role
		status auth.Status
	}{
		{"pending", &data.Pending, auth.RoleVolunteer, auth.StatusPending},
		{"active", &data.Active, auth.RoleVolunteer, auth.StatusActive},
		{"suspended", &data.Suspended, auth.RoleVolunteer, auth.StatusSuspended},
		{"participants", &data.Participants, auth.RoleParticipant, auth.StatusActive},
	} {
		p, err := c.cfg.Accounts.Members(ctx, who, who.OrgID, auth.MemberFilter{Role: l.role, Status: l.status, Limit: 50, Cursor: f.Query(l.param)})
		if err != nil {
			return c.domainError(f, err)
		}
		*l.into = p.Items
		if p.NextCursor != "" {
			data.Next[l.param] = p.NextCursor
		}
	}
	return c.render(f, fiber.StatusOK, "members", data, "")
}

func (c *Console) vet(f *fiber.Ctx) error {
	who := identityOf(f)
	if _, err := c.cfg.Accounts.Approve(f.UserContext(), who, who.OrgID, f.Params("id"), f.FormValue("note")); err != nil {
		return c.domainError(f, err)
	}
	return f.Redirect(Prefix+"/members?done=vetted", fiber.StatusSeeOther)
}

func (c *Console) suspend(f *fiber.Ctx) error {
	who := identityOf(f)
	if _, err := c.cfg.Accounts.Suspend(f.UserContext(), who, who.OrgID, f.Params("id"), f.FormValue("reason")); err != nil {
		return c.domainError(f, err)
	}
	return f.Redirect(Prefix+"/members?done=suspended", fiber.StatusSeeOther)
}

func (c *Console) support(f *fiber.Ctx) error {
	id := f.Params("id")
	if _, err := c.cfg.Outings.SetSupportNeeds(f.UserContext(), identityOf(f), id, f.FormValue("support_needs")); err != nil {
		return c.domainError(f, err)
	}
	return f.Redirect(Prefix+"/people/"+id+"?done=support", fiber.StatusSeeOther)
}

// ---- A person ----

type personData struct {
	User         auth.User
	Outings      []matching.OutingView
	SupportNeeds string
	Comfort      []comfortPoint
	Chart        chart
	// Volunteers only.
	Overview matching.VolunteerOverview
	Week     []weekDay
	Feedback []matching.Feedback
	Done     string
	Progress progressData
	// Participants only, when the groups page is served.
	Groups      []PersonGroup
	GroupsShown bool
}

type comfortPoint struct {
	Outing        matching.OutingView
	Before, After int
}

type weekDay struct {
	Key   string
	Slots []string
}

// person is a participant's or a volunteer's page. Another organisation's
// person, or an id that is neither, is a 404 like an unknown one.
func (c *Console) person(f *fiber.Ctx) error {
	ctx, who := f.UserContext(), identityOf(f)
	id := f.Params("id")
	u, err := c.cfg.Accounts.User(ctx, id)
	if fault.KindOf(err) == fault.NotFound || (err == nil && (u.OrgID == "" || u.OrgID != who.OrgID ||
		(u.Role != auth.RoleParticipant && u.Role != auth.RoleVolunteer))) {
		return c.fail(f, fiber.StatusNotFound, "err.notfound")
	}
	if err != nil {
		return c.domainError(f, err)
	}
	data := personData{User: u, Done: f.Query("done")}
	if u.Role == auth.RoleVolunteer {
		if data.User, err = c.cfg.Accounts.Volunteer(ctx, who, who.OrgID, id); err != nil {
			return c.domainError(f, err)
		}
		if data.Overview, err = c.cfg.Outings.VolunteerOverviewOf(ctx, who, id); err != nil {
			return c.domainError(f, err)
		}
		data.Week = weekOf(data.Overview.Availability)
	}
	if data.Outings, err = c.cfg.Outings.OutingsOfMember(ctx, who, id, 50); err != nil {
		return c.domainError(f, err)
	}
	byID := map[string]matching.OutingView{}
	for _, o := range data.Outings {
		byID[o.ID] = o
	}
	if u.Role == auth.RoleParticipant {
		sn, err := c.cfg.Outings.SupportNeedsOf(ctx, who, id)
		if err != nil {
			return c.domainError(f, err)
		}
		data.SupportNeeds = sn.SupportNeeds
		if data.Progress, err = c.progress(ctx, who, id); err != nil {
			return c.domainError(f, err)
		}
		if c.cfg.Groups != nil {
			data.GroupsShown = true
			if data.Groups, err = c.cfg.Groups.GroupsOf(ctx, who, id); err != nil {
				return c.domainError(f, err)
			}
		}
		given, err := c.cfg.Outings.FeedbackGivenBy(ctx, who, id, 50)
		if err != nil {
			return c.domainError(f, err)
		}
		for _, x := range given {
			if x.ComfortBefore != nil && x.ComfortAfter != nil && len(data.Comfort) < 12 {
				o, ok := byID[x.OutingID]
				if !ok {
					o.StartsAt = x.CreatedAt
				}
				data.Comfort = append(data.Comfort, comfortPoint{Outing: o, Before: *x.ComfortBefore, After: *x.ComfortAfter})
			}
		}
	} else {
		read := 0
		for _, o := range data.Outings {
			if o.Status != matching.StatusCompleted || read == 10 {
				continue
			}
			read++
			fb, err := c.cfg.Outings.FeedbackOn(ctx, who, o.ID)
			if err != nil {
				return c.domainError(f, err)
			}
			for _, x := range fb.Items {
				if x.AuthorRole == auth.RoleParticipant {
					data.Feedback = append(data.Feedback, x)
				}
			}
		}
	}
	slices.SortFunc(data.Outings, func(a, b matching.OutingView) int { return b.StartsAt.Compare(a.StartsAt) })
	slices.Reverse(data.Comfort) // oldest first, left to right
	data.Chart = comfortChart(data.Comfort)
	return c.render(f, fiber.StatusOK, "person", data, "")
}

func weekOf(a *matching.AvailabilityView) []weekDay {
	days := []weekDay{{Key: "mon"}, {Key: "tue"}, {Key: "wed"}, {Key: "thu"}, {Key: "fri"}, {Key: "sat"}, {Key: "sun"}}
	if a == nil {
		return days
	}
	for _, s := range a.Weekly {
		for i := range days {
			if days[i].Key == strings.ToLower(s.Weekday) {
				days[i].Slots = append(days[i].Slots, fmt.Sprintf("%s–%s", s.Start, s.End))
			}
		}
	}
	return days
}
