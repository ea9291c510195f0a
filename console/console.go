// Package console is the coordinators' web pages under /console: server-
// rendered html/template pages with vendored htmx for the live parts. It
// works on the same domain services as the API (auth, matching), never on
// the HTTP API and never on a store, so every rule (organisation scoping,
// audit of personal reads, state machine, throttling) holds here too.
package console

import (
	"context"
	"embed"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/filesystem"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/matching"
)

//go:embed static/htmx.min.js static/console.css
var staticFS embed.FS

//go:embed templates/*.html
var templateFS embed.FS

// Prefix is where the console is served.
const Prefix = "/console"

// Config builds a Console. Accounts, Outings and Matcher are required;
// Groups and Reports plug in later pages, whose navigation is hidden while
// they are nil.
type Config struct {
	Accounts *auth.Service
	Outings  *matching.Service
	Matcher  *matching.Matcher
	Groups   Groups
	Reports  Reports
	// Progress shows a participant's wellbeing and milestones on their page.
	Progress Progress
	Clock    clock.Clock
	Logger   *slog.Logger
	// IdleTimeout ends a session after this long without a request (default 30 minutes).
	IdleTimeout time.Duration
	// SecureCookie marks the session cookie Secure even on plain HTTP (behind a TLS proxy).
	SecureCookie bool
	// CheckinGrace is how long after the start a confirmed outing without a
	// check-in counts as missed (the same setting that sends the push).
	CheckinGrace time.Duration
	// Poll is how often an open Today page asks for changes (default 5 s).
	Poll time.Duration
	// ClientAddr is the client's address for sign-in throttling (api.ClientIP).
	ClientAddr func(*fiber.Ctx) string
}

// Groups is what the Groups page needs from the groups domain (issue 14).
type Groups interface {
	Groups(ctx context.Context, who auth.Identity) ([]GroupRow, error)
	Sessions(ctx context.Context, who auth.Identity, groupID string) ([]SessionRow, error)
	Register(ctx context.Context, who auth.Identity, sessionID string) ([]AttendanceRow, error)
	// MarkAttendance sets one participant's mark: present, absent or excused.
	MarkAttendance(ctx context.Context, who auth.Identity, sessionID, participantID, mark string) error
	// GroupsOf lists a participant's groups for their page (not left).
	GroupsOf(ctx context.Context, who auth.Identity, participantID string) ([]PersonGroup, error)
}

// PersonGroup is one of a participant's groups with their place in it.
type PersonGroup struct {
	ID, Name string
	// Status is enrolled, waiting, completed or not_completed.
	Status string
	// Position is the place on the waiting list (waiting only).
	Position       int
	Attended, Held int
}

// GroupRow is one group as the Groups page lists it.
type GroupRow struct {
	ID, Name string
	Members  int
}

// SessionRow is one session of a group.
type SessionRow struct {
	ID       string
	StartsAt time.Time
	Place    string
}

// AttendanceRow is one line of a session's register.
type AttendanceRow struct {
	ParticipantID, Name string
	// Mark is present, absent, excused or "" (not marked yet).
	Mark string
}

// The attendance marks, as groups takes them.
var attendanceMarks = []string{"present", "absent", "excused"}

// Reports is what the Reports page needs from the outcomes domain (issue 15).
type Reports interface {
	OutcomeReport(ctx context.Context, who auth.Identity, from, to time.Time) (Report, error)
	OutcomeCSV(ctx context.Context, who auth.Identity, from, to time.Time, w io.Writer) error
}

// Report is the outcome report as the Reports page shows it: one line per
// goal, goal against actual, and the main figures split by gender.
type Report struct {
	From, To time.Time
	Lines    []ReportLine
	Figures  []ReportFigure
}

// ReportLine is one goal of a Report. Measure is the outcome goal's key
// (participants, group_completion_rate, …); a key ending in _rate or
// _share is a fraction 0–1. Met is the outcomes service's verdict.
type ReportLine struct {
	Measure      string
	Goal, Actual float64
	Met          bool
	ByGender     map[string]float64
}

// ReportFigure is one of the report's main figures (participants.served,
// outings.requested, …). ByGender is nil when the report does not split
// the figure; Share marks a fraction 0–1 rather than a count.
type ReportFigure struct {
	Measure  string
	Total    float64
	Share    bool
	ByGender map[string]float64
}

// Console serves the pages.
type Console struct {
	cfg   Config
	log   *slog.Logger
	clock clock.Clock
	pages map[string]map[string]*pageTemplate // lang → page → template
}

// New checks cfg and parses the templates.
func New(cfg Config) (*Console, error) {
	if cfg.Accounts == nil || cfg.Outings == nil || cfg.Matcher == nil {
		return nil, errors.New("console: Accounts, Outings and Matcher are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Minute
	}
	if cfg.CheckinGrace <= 0 {
		cfg.CheckinGrace = 10 * time.Minute
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 5 * time.Second
	}
	if cfg.ClientAddr == nil {
		cfg.ClientAddr = func(c *fiber.Ctx) string { return c.IP() }
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	return &Console{cfg: cfg, log: cfg.Logger, clock: cfg.Clock, pages: pages}, nil
}

// Mount adds the console's routes to r (the API's Fiber app).
func (c *Console) Mount(r fiber.Router) {
	g := r.Group(Prefix, c.headers)
	sub, _ := fs.Sub(staticFS, "static")
	g.Use("/static", filesystem.New(filesystem.Config{Root: http.FS(sub), MaxAge: 3600}))
	g.Get("/login", c.loginPage)
	g.Post("/login", c.login)
	g.Get("/lang/:lang", c.setLang)
	g.Use(c.requireSession)
	g.Get("/", func(f *fiber.Ctx) error { return f.Redirect(Prefix+"/today", fiber.StatusSeeOther) })
	g.Post("/logout", c.logout)
	g.Get("/today", c.today)
	g.Get("/today/list", c.todayList)
	g.Get("/requests", c.requests)
	g.Get("/requests/:id", c.request)
	g.Get("/approvals", c.approvals)
	g.Post("/approvals/:id/approve", c.approve)
	g.Post("/approvals/:id/reject", c.reject)
	g.Get("/members", c.members)
	g.Post("/members/:id/vet", c.vet)
	g.Post("/members/:id/suspend", c.suspend)
	g.Post("/members/:id/support", c.support)
	g.Get("/people/:id", c.person)
	if c.cfg.Groups != nil {
		g.Get("/groups", c.groups)
		g.Get("/groups/:id", c.groupSessions)
		g.Get("/sessions/:id", c.register)
		g.Post("/sessions/:id/attendance", c.markAttendance)
	}
	if c.cfg.Reports != nil {
		g.Get("/reports", c.reports)
		g.Get("/reports.csv", c.reportCSV)
	}
	g.Use(func(f *fiber.Ctx) error { return c.fail(f, fiber.StatusNotFound, "err.notfound") })
}

// headers sets the security headers on every console response: no inline
// script (htmx's own inline styles are switched off in the page's config),
// no framing, no referrer outside the site.
func (c *Console) headers(f *fiber.Ctx) error {
	f.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	f.Set("X-Frame-Options", "DENY")
	f.Set("Referrer-Policy", "same-origin")
	f.Set("X-Content-Type-Options", "nosniff")
	f.Set("Cache-Control", "no-store")
	return f.Next()
}
