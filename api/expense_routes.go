package api

import (
	"bytes"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/expenses"
)

// Expenses: docs/api.md, "Participant care". The rules live in expenses/.

type expenseBody struct {
	Kind      string `json:"kind" validate:"required,oneof=bus_ticket cafe entrance other"`
	AmountOre int64  `json:"amount_ore" validate:"required" doc:"in öre (1/100 krona), more than 0, at most CLAVIS_EXPENSE_MAX for the outing"`
	Note      string `json:"note,omitempty" validate:"max=500"`
}

type approveExpenseBody struct {
	Reason string `json:"reason,omitempty" validate:"max=500"`
}

func (s *Server) expenseRoutes() error {
	coord := []auth.Role{auth.RoleCoordinator}
	routes := []struct {
		r Route
		h fiber.Handler
	}{
		{Route{Method: "POST", Path: "/v1/outings/:id/expenses", Summary: "Record what an outing cost you (its volunteer)", Tag: "care",
			Roles: outingRolesVolunteer, Request: expenseBody{}, Response: expenses.Expense{}, Status: fiber.StatusCreated,
			Idempotent: true, Problems: []int{404, 409},
			Description: "For a completed outing you were the companion of, within 30 days of its completion: 409 otherwise. Zero, negative or over the outing's cap (CLAVIS_EXPENSE_MAX, default 30000 öre, counting the outing's expenses not rejected): 422."},
			s.needsExpenses(s.idempotent(s.recordExpense))},
		{Route{Method: "POST", Path: "/v1/expenses/:id/approve", Summary: "Approve an expense (coordinator)", Tag: "care",
			Roles: coord, Request: approveExpenseBody{}, Response: expenses.Expense{}, Problems: []int{404, 409},
			Description: "The volunteer is told (expense.decided). A decided expense: 409. The body is optional."},
			s.needsExpenses(s.decideExpense(true))},
		{Route{Method: "POST", Path: "/v1/expenses/:id/reject", Summary: "Reject an expense with a reason (coordinator)", Tag: "care",
			Roles: coord, Request: reasonBody{}, Response: expenses.Expense{}, Problems: []int{404, 409},
			Description: "The volunteer is told (expense.decided). A decided expense: 409."},
			s.needsExpenses(s.decideExpense(false))},
		{Route{Method: "GET", Path: "/v1/organisations/:org_id/expenses", Summary: "An organisation's expenses; CSV for payout", Tag: "care",
			Roles: coord, Response: expenses.Page{}, Produces: "text/csv", Problems: []int{404, 409},
			Query: map[string]string{"status": "pending, approved or rejected (the CSV: approved unless named)", "from": "first outing date, YYYY-MM-DD (UTC)",
				"to": "last outing date, YYYY-MM-DD (UTC), inclusive", "limit": "1 to 100, default 50", "cursor": "next_cursor of the previous page"},
			QueryTypes:  map[string]any{"status": expenses.Status("")},
			Description: "Sorted by outing date. With Accept: text/csv: the whole period (at most 10000 rows, else 409) as CSV with columns " + strings.Join(expenses.CSVHeader, ", ") + "."},
			s.needsExpenses(s.listExpenses)},
	}
	for _, r := range routes {
		if err := s.Handle(r.r, r.h); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) needsExpenses(h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if s.deps.Expenses == nil {
			return fiber.NewError(fiber.StatusServiceUnavailable, "expenses are not configured")
		}
		return h(c)
	}
}

func (s *Server) recordExpense(c *fiber.Ctx) error {
	var b expenseBody
	if err := s.bind(c, &b); err != nil {
		return err
	}
	e, err := s.deps.Expenses.Record(c.UserContext(), Caller(c), pathID(c, "id"),
		expenses.Input{Kind: expenses.Kind(b.Kind), AmountOre: b.AmountOre, Note: b.Note})
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(e)
}

func (s *Server) decideExpense(approve bool) fiber.Handler {
	return func(c *fiber.Ctx) error {
		reason := ""
		if approve {
			var b approveExpenseBody
			if len(bytes.TrimSpace(c.Body())) > 0 {
				if err := s.bind(c, &b); err != nil {
					return err
				}
			}
			reason = b.Reason
		} else {
			var b reasonBody
			if err := s.bind(c, &b); err != nil {
				return err
			}
			reason = b.Reason
		}
		e, err := s.deps.Expenses.Decide(c.UserContext(), Caller(c), pathID(c, "id"), approve, reason)
		if err != nil {
			return err
		}
		return c.JSON(e)
	}
}

func (s *Server) listExpenses(c *fiber.Ctx) error {
	q := expenses.Query{Status: c.Query("status"), From: c.Query("from"), To: c.Query("to"), Cursor: c.Query("cursor")}
	if strings.Contains(c.Get(fiber.HeaderAccept), "text/csv") {
		var buf bytes.Buffer
		if err := s.deps.Expenses.ExportCSV(c.UserContext(), Caller(c), pathID(c, "org_id"), q, &buf); err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="expenses.csv"`)
		c.Set(fiber.HeaderCacheControl, "no-store")
		return c.Send(buf.Bytes())
	}
	if raw := c.Query("limit"); raw != "" {
		n, err := queryLimit(c)
		if err != nil {
			return err
		}
		q.Limit = n
	}
	page, err := s.deps.Expenses.List(c.UserContext(), Caller(c), pathID(c, "org_id"), q)
	if err != nil {
		return err
	}
	return c.JSON(page)
}
