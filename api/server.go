// Package api is Clavis' HTTP interface: the Fiber app, its routes, and the
// one place where domain errors become HTTP statuses.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-playground/validator/v10"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/expenses"
	"github.com/clavis-app/clavis/groups"
	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/outcomes"
)

// BodyLimit is the largest request body accepted (docs/api.md: 64 KiB).
const BodyLimit = 64 * 1024

// Pinger answers whether the database is reachable.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Authenticator verifies a bearer token and returns the caller, refusing
// tokens of suspended or erased users.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (auth.Identity, error)
}

// Deps are what the app needs; main.go builds them.
type Deps struct {
	Logger   *slog.Logger
	DB       Pinger
	Auth     Authenticator
	Registry *prometheus.Registry
	Clock    clock.Clock
	Version  string
	// CORSOrigins is a comma-separated allow list; empty leaves CORS off.
	CORSOrigins string
	// TrustedProxies are addresses or CIDRs of reverse proxies whose
	// X-Forwarded-For names the client; without them every client behind an
	// ingress would share the proxy's address (and its login-failure limit).
	TrustedProxies []string
	// ReadTimeout, WriteTimeout and IdleTimeout default to 15 s, 15 s and 60 s.
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// Extra registers more routes; tests use it (for example a route that panics).
	Extra func(s *Server)
	// Devices keeps push tokens (notify.Devices); main.go passes the notify
	// service's registry.
	Devices DeviceRegistry
	// Accounts serves /v1/auth/*, /v1/me* and /v1/organisations/*; main.go
	// passes the same service as Auth.
	Accounts *auth.Service
	// Matching serves profiles and outings; main.go builds it.
	Matching *matching.Service
	// Idempotency keeps the first answers of creating POSTs sent with an
	// Idempotency-Key; nil ignores the header.
	Idempotency IdempotencyStore
	// Matcher serves candidates, offers and participants' volunteer
	// preferences; main.go builds it on Matching.
	Matcher *matching.Matcher
	// Groups serves groups, sessions, enrolments and attendance.
	Groups *groups.Service
	// Outcomes serves check-ins, milestones, pulse, goals and the report (nil: 503).
	Outcomes *outcomes.Service
	// Expenses records and decides volunteers' expenses (care_routes.go).
	Expenses *expenses.Service
}

// Server holds the app, its document and its dependencies.
type Server struct {
	App      *fiber.App
	deps     Deps
	log      *slog.Logger
	validate *validator.Validate
	doc      *openapi3.T
	gen      *schemaGen
	docJSON  []byte
	routes   []Route
	metrics  *httpMetrics
	proxies  []netip.Prefix
}

// New builds the app with every route. It fails only on a programming error
// (a route whose schema cannot be generated).
func New(deps Deps) (*Server, error) {
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Clock == nil {
		deps.Clock = clock.Real{}
	}
	if deps.Registry == nil {
		deps.Registry = prometheus.NewRegistry()
	}
	if deps.Version == "" {
		deps.Version = "dev"
	}
	s := &Server{deps: deps, log: deps.Logger, validate: newValidator(), doc: newDoc(deps.Version)}
	proxies, err := parseProxies(deps.TrustedProxies)
	if err != nil {
		return nil, err
	}
	s.proxies = proxies
	s.metrics = newHTTPMetrics(deps.Registry)
	s.App = fiber.New(fiber.Config{
		AppName:      "clavis",
		BodyLimit:    BodyLimit,
		ReadTimeout:  orDefault(deps.ReadTimeout, 15*time.Second),
		WriteTimeout: orDefault(deps.WriteTimeout, 15*time.Second),
		IdleTimeout:  orDefault(deps.IdleTimeout, 60*time.Second),
		ErrorHandler: s.errorHandler,
		// Fiber's strings point into fasthttp buffers that are reused after
		// the request; metric labels, caches and goroutines keep them, so
		// copy (measured: a method label read "GETTTE" without this).
		Immutable:             true,
		DisableStartupMessage: true,
		// Wrong method on a known path answers 405, not 404.
		EnableIPValidation: true,
		ReadBufferSize:     8192,
		// No ProxyHeader: Fiber would take the leftmost X-Forwarded-For
		// entry, which the client writes; ClientIP reads it from the right.
		EnableTrustedProxyCheck: len(deps.TrustedProxies) > 0,
		TrustedProxies:          deps.TrustedProxies,
	})
	s.App.Use(requestid.New(requestid.Config{Header: fiber.HeaderXRequestID}))
	s.App.Use(s.accessLog)
	s.App.Use(s.clientAddress)
	s.App.Use(refuseEncodedBodies)
	s.App.Use(recover.New(recover.Config{EnableStackTrace: true, StackTraceHandler: s.panicHandler}))
	if deps.CORSOrigins != "" {
		s.App.Use(cors.New(cors.Config{AllowOrigins: deps.CORSOrigins, AllowHeaders: "Authorization, Content-Type, Idempotency-Key", ExposeHeaders: "X-Request-Id, Retry-After"}))
	}
	if err := s.registerRoutes(); err != nil {
		return nil, err
	}
	if deps.Extra != nil {
		deps.Extra(s)
	}
	if err := s.finishDoc(); err != nil {
		return nil, err
	}
	// Unknown routes: a 404 problem (405 when only the method is wrong).
	s.App.Use(s.notFound)
	return s, nil
}

// registerRoutes is where each area adds its routes.
func (s *Server) registerRoutes() error {
	for _, register := range []func() error{
		s.opsRoutes,
		s.authRoutes,
		s.orgRoutes,
		s.inviteRoutes,
		s.profileRoutes,
		s.outingRoutes,
		s.candidateRoutes,
		s.preferenceRoutes,
		s.deviceRoutes,
		s.groupRoutes,
		s.outcomeRoutes,
		s.careRoutes,
		s.expenseRoutes,
	} {
		if err := register(); err != nil {
			return err
		}
	}
	return nil
}

// Routes lists every documented route (for the authorization matrix and the
// OpenAPI parity test).
func (s *Server) Routes() []Route { return slices.Clone(s.routes) }

// Doc returns the OpenAPI document.
func (s *Server) Doc() *openapi3.T { return s.doc }

// Handle registers a route, its authorization, and its OpenAPI operation.
func (s *Server) Handle(r Route, h fiber.Handler) error {
	if err := s.addToDoc(r); err != nil {
		return err
	}
	s.routes = append(s.routes, r)
	handlers := []fiber.Handler{}
	if len(r.Roles) > 0 {
		handlers = append(handlers, s.authenticate(r))
	}
	handlers = append(handlers, h)
	s.App.Add(r.Method, r.Path, handlers...)
	return nil
}

const identityKey = "clavis.identity"

// authenticate verifies the bearer token and the caller's role for r.
func (s *Server) authenticate(r Route) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if s.deps.Auth == nil {
			return fault.New(fault.Unauthenticated, "authentication is not configured")
		}
		token, ok := bearerToken(c.Get(fiber.HeaderAuthorization))
		if !ok {
			return fault.New(fault.Unauthenticated, "send a bearer access token")
		}
		id, err := s.deps.Auth.Authenticate(c.UserContext(), token)
		if err != nil {
			if fault.KindOf(err) == fault.Internal {
				return err
			}
			return fault.New(fault.Unauthenticated, "the access token is not valid")
		}
		if !slices.Contains(r.Roles, id.Role) {
			return fault.Forbiddenf("a %s may not do this", id.Role)
		}
		if id.Status != auth.StatusActive && !r.AllowPending {
			return fault.Forbiddenf("your account is %s; a coordinator must approve it first", id.Status)
		}
		c.Locals(identityKey, id)
		return c.Next()
	}
}

// bearerToken reads "Bearer <token>"; the scheme is case-insensitive
// (RFC 9110, section 11.1).
func bearerToken(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// Caller returns the verified caller of an authenticated route.
func Caller(c *fiber.Ctx) auth.Identity {
	id, _ := c.Locals(identityKey).(auth.Identity)
	return id
}

func (s *Server) notFound(c *fiber.Ctx) error {
	var allow []string
	for _, r := range s.routes {
		if pathMatches(r.Path, c.Path()) && !slices.Contains(allow, r.Method) {
			allow = append(allow, r.Method)
		}
	}
	if len(allow) > 0 {
		slices.Sort(allow)
		c.Set(fiber.HeaderAllow, strings.Join(allow, ", "))
		return fiber.NewError(fiber.StatusMethodNotAllowed, c.Method()+" is not allowed on "+c.Path())
	}
	return fault.NotFoundf("no such resource: %s", c.Path())
}

// pathMatches compares a Fiber route template with a concrete path.
func pathMatches(tmpl, path string) bool {
	t := strings.Split(strings.Trim(tmpl, "/"), "/")
	p := strings.Split(strings.Trim(path, "/"), "/")
	if len(t) != len(p) {
		return false
	}
	for i := range t {
		if !strings.HasPrefix(t[i], ":") && t[i] != p[i] {
			return false
		}
	}
	return true
}

func requestID(c *fiber.Ctx) string {
	id, _ := c.Locals("requestid").(string)
	return id
}

// routeTemplate is the matched route's template, never the raw path (which
// holds ids), so logs and metric labels stay bounded and free of data.
func routeTemplate(c *fiber.Ctx) string {
	r := c.Route()
	if r == nil || r.Path == "" || (r.Path == "/" && c.Path() != "/") {
		return "unmatched"
	}
	return r.Path
}

// accessLogged marks a request that went through accessLog, so that the
// error handler can tell the errors fasthttp raises before any middleware
// runs (413, 431, 408) and log and count those itself.
const accessLogged = "clavis.logged"

func (s *Server) accessLog(c *fiber.Ctx) error {
	start := time.Now()
	c.Locals(accessLogged, true)
	err := c.Next()
	if err != nil {
		// Let the error handler write the response now so the status is known.
		if herr := s.App.ErrorHandler(c, err); herr != nil {
			_ = c.SendStatus(fiber.StatusInternalServerError)
		}
	}
	s.logRequest(c, routeTemplate(c), time.Since(start))
	return nil
}

func (s *Server) logRequest(c *fiber.Ctx, route string, d time.Duration) {
	status := c.Response().StatusCode()
	s.metrics.observe(c.Method(), route, status, d)
	s.log.Info("request", "method", c.Method(), "route", route, "status", status,
		"duration_ms", float64(d.Microseconds())/1000, "request_id", requestID(c))
}

// refuseEncodedBodies answers 415 to a request body sent with a
// Content-Encoding: Fiber would inflate it (layer after layer) with no
// bound, so a kilobyte could cost gigabytes; no client of this API
// compresses its small JSON bodies.
func refuseEncodedBodies(c *fiber.Ctx) error {
	enc := strings.TrimSpace(string(c.Request().Header.Peek(fiber.HeaderContentEncoding)))
	if enc != "" && !strings.EqualFold(enc, "identity") {
		return fiber.NewError(fiber.StatusUnsupportedMediaType, "compressed request bodies are not accepted (Content-Encoding: "+enc+")")
	}
	return c.Next()
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// pathID reads a path parameter.
func pathID(c *fiber.Ctx, name string) string { return c.Params(name) }

// queryLimit reads ?limit= (default 20, 1..100).
func queryLimit(c *fiber.Ctx) (int, error) {
	raw := c.Query("limit")
	if raw == "" {
		return 20, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > 100 {
		return 0, fault.InvalidField("limit", "must be a whole number from 1 to 100")
	}
	return n, nil
}

var errNoDB = errors.New("no database configured")
