package console

import (
	"bytes"
	"slices"
	"time"

	"github.com/gofiber/fiber/v2"
)

// The Groups and Reports pages: served only when their domains are wired.

type groupsData struct {
	Groups []GroupRow
}

func (c *Console) groups(f *fiber.Ctx) error {
	gs, err := c.cfg.Groups.Groups(f.UserContext(), identityOf(f))
	if err != nil {
		return c.domainError(f, err)
	}
	return c.render(f, fiber.StatusOK, "groups", groupsData{Groups: gs}, "")
}

type groupData struct {
	GroupID  string
	Sessions []SessionRow
}

func (c *Console) groupSessions(f *fiber.Ctx) error {
	ss, err := c.cfg.Groups.Sessions(f.UserContext(), identityOf(f), f.Params("id"))
	if err != nil {
		return c.domainError(f, err)
	}
	return c.render(f, fiber.StatusOK, "group", groupData{GroupID: f.Params("id"), Sessions: ss}, "")
}

type registerData struct {
	SessionID string
	Rows      []AttendanceRow
	Marks     []string
}

func (c *Console) register(f *fiber.Ctx) error {
	rows, err := c.cfg.Groups.Register(f.UserContext(), identityOf(f), f.Params("id"))
	if err != nil {
		return c.domainError(f, err)
	}
	return c.render(f, fiber.StatusOK, "register", registerData{SessionID: f.Params("id"), Rows: rows, Marks: attendanceMarks}, "")
}

func (c *Console) markAttendance(f *fiber.Ctx) error {
	id := f.Params("id")
	mark := f.FormValue("mark")
	if !slices.Contains(attendanceMarks, mark) {
		return c.fail(f, fiber.StatusUnprocessableEntity, "err.validation")
	}
	err := c.cfg.Groups.MarkAttendance(f.UserContext(), identityOf(f), id, f.FormValue("participant"), mark)
	if err != nil {
		return c.domainError(f, err)
	}
	return f.Redirect(Prefix+"/sessions/"+id, fiber.StatusSeeOther)
}

type reportData struct {
	Report   Report
	View     reportView
	From, To string
}

// period reads ?from=&to= (dates in the organisation's zone); default: this year so far.
func (c *Console) period(f *fiber.Ctx) (time.Time, time.Time, error) {
	loc := c.orgLoc(f.UserContext(), identityOf(f).OrgID)
	now := c.clock.Now().In(loc)
	from := time.Date(now.Year(), 1, 1, 0, 0, 0, 0, loc)
	to := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, 1)
	var err error
	if s := f.Query("from"); s != "" {
		if from, err = time.ParseInLocation("2006-01-02", s, loc); err != nil {
			return from, to, err
		}
	}
	if s := f.Query("to"); s != "" {
		if to, err = time.ParseInLocation("2006-01-02", s, loc); err != nil {
			return from, to, err
		}
		to = to.AddDate(0, 0, 1)
	}
	return from, to, nil
}

func (c *Console) reports(f *fiber.Ctx) error {
	from, to, err := c.period(f)
	if err != nil {
		return c.fail(f, fiber.StatusUnprocessableEntity, "err.validation")
	}
	r, err := c.cfg.Reports.OutcomeReport(f.UserContext(), identityOf(f), from, to)
	if err != nil {
		return c.domainError(f, err)
	}
	return c.render(f, fiber.StatusOK, "reports", reportData{Report: r, View: viewOf(r), From: from.Format("2006-01-02"), To: to.AddDate(0, 0, -1).Format("2006-01-02")}, "")
}

func (c *Console) reportCSV(f *fiber.Ctx) error {
	from, to, err := c.period(f)
	if err != nil {
		return c.fail(f, fiber.StatusUnprocessableEntity, "err.validation")
	}
	var buf bytes.Buffer
	if err := c.cfg.Reports.OutcomeCSV(f.UserContext(), identityOf(f), from, to, &buf); err != nil {
		return c.domainError(f, err)
	}
	f.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	f.Set(fiber.HeaderContentDisposition, `attachment; filename="clavis-report-`+from.Format("2006-01-02")+`.csv"`)
	return f.Send(buf.Bytes())
}
