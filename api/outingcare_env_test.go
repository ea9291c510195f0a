package api_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/clavis-app/clavis/api"
	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/expenses"
	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/notify"
)

// The expenses join every test env. This file's name sorts after
// outing_env_test.go and outing_matrix_test.go: its init runs after theirs
// (the matching service, the "id" parameter it wraps).

var (
	envExpenses sync.Map // *testEnv -> *expenses.Service
	// envPushes holds a test env's notify service when a test wired one
	// (care walk-throughs); expense decisions then become pushes.
	envPushes sync.Map // *testEnv -> *notify.Service
)

func init() {
	envServices = append(envServices, func(e *testEnv, d *api.Deps) {
		ctx := context.Background()
		st, err := expenses.NewSQLiteStore(ctx, e.SQL)
		if err != nil {
			panic(fmt.Sprintf("expenses store: %v", err))
		}
		svc, err := expenses.New(st, expenses.Config{Clock: e.Clock, Outings: testExpenseOutings{d.Matching},
			Notifier: testExpensePushes{e}, Name: func(ctx context.Context, id string) string {
				u, err := e.Auth.User(ctx, id)
				if err != nil {
					return ""
				}
				return u.Name
			}})
		if err != nil {
			panic(fmt.Sprintf("expenses service: %v", err))
		}
		d.Expenses = svc
		e.Personal.Register(svc.PersonalHook())
		envExpenses.Store(e, svc)
	})
	openapi3filter.RegisterBodyDecoder("text/csv", func(r io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		b, err := io.ReadAll(r)
		return string(b), err
	})
}

func expensesOf(e *testEnv) *expenses.Service {
	v, ok := envExpenses.Load(e)
	if !ok {
		panic("test env without expenses")
	}
	return v.(*expenses.Service)
}

// testExpenseOutings is main's ExpenseOutings (serve_care.go) for tests.
type testExpenseOutings struct{ m *matching.Service }

func (a testExpenseOutings) CompanionOuting(ctx context.Context, who auth.Identity, id string) (expenses.Outing, error) {
	f, err := a.m.CompanionOuting(ctx, who, id)
	return expenses.Outing{ID: f.ID, OrgID: f.OrgID, VolunteerID: f.VolunteerID, Completed: f.Completed,
		CompletedAt: f.CompletedAt, StartsAt: f.StartsAt}, err
}

// testExpensePushes is main's ExpensePushes, when the env has pushes.
type testExpensePushes struct{ e *testEnv }

func (p testExpensePushes) ExpenseDecided(ctx context.Context, x expenses.Expense) error {
	v, ok := envPushes.Load(p.e)
	if !ok {
		return nil
	}
	return v.(*notify.Service).PushAboutOuting(ctx, notify.ExpenseDecided, x.ID+":"+string(x.Status), x.VolunteerID, x.OrgID, x.OutingID,
		x.OutingDate, x.DecidedAt.Add(7*24*time.Hour))
}
