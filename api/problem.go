package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/clavis-app/clavis/internal/fault"
)

// ProblemBase is the prefix of every problem type.
const ProblemBase = "https://clavis.app/problems/"

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type     string             `json:"type"`
	Title    string             `json:"title"`
	Status   int                `json:"status"`
	Detail   string             `json:"detail,omitempty"`
	Instance string             `json:"instance,omitempty"`
	Errors   []fault.FieldError `json:"errors,omitempty"`
}

type kindInfo struct {
	status int
	slug   string
	title  string
}

// kinds is the one place a fault kind becomes an HTTP status.
var kinds = map[fault.Kind]kindInfo{
	fault.Internal:        {fiber.StatusInternalServerError, "internal", "Internal error"},
	fault.Validation:      {fiber.StatusUnprocessableEntity, "validation", "The request breaks a rule"},
	fault.Unauthenticated: {fiber.StatusUnauthorized, "unauthenticated", "Authentication required"},
	fault.Forbidden:       {fiber.StatusForbidden, "forbidden", "Not allowed"},
	fault.NotFound:        {fiber.StatusNotFound, "not-found", "Not found"},
	fault.Conflict:        {fiber.StatusConflict, "conflict", "Conflict"},
	fault.StateConflict:   {fiber.StatusConflict, "state-conflict", "The resource is not in a state that allows this"},
	fault.RateLimited:     {fiber.StatusTooManyRequests, "rate-limited", "Too many requests"},
	fault.Malformed:       {fiber.StatusBadRequest, "malformed", "Malformed request"},
	fault.TooLarge:        {fiber.StatusRequestEntityTooLarge, "payload-too-large", "Request body too large"},
}

// statusSlugs covers statuses that reach us as plain Fiber errors.
var statusSlugs = map[int]kindInfo{
	fiber.StatusBadRequest:                  kinds[fault.Malformed],
	fiber.StatusUnauthorized:                kinds[fault.Unauthenticated],
	fiber.StatusForbidden:                   kinds[fault.Forbidden],
	fiber.StatusNotFound:                    kinds[fault.NotFound],
	fiber.StatusMethodNotAllowed:            {fiber.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed"},
	fiber.StatusRequestEntityTooLarge:       kinds[fault.TooLarge],
	fiber.StatusUnsupportedMediaType:        {fiber.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type"},
	fiber.StatusTooManyRequests:             kinds[fault.RateLimited],
	fiber.StatusRequestTimeout:              {fiber.StatusRequestTimeout, "timeout", "Request timeout"},
	fiber.StatusRequestHeaderFieldsTooLarge: {fiber.StatusRequestHeaderFieldsTooLarge, "headers-too-large", "Request headers too large"},
	fiber.StatusServiceUnavailable:          {fiber.StatusServiceUnavailable, "unavailable", "Service unavailable"},
}

// errorHandler turns every error a handler or Fiber returns into a problem.
func (s *Server) errorHandler(c *fiber.Ctx, err error) error {
	p := Problem{Instance: c.Path()}
	// Without the access log's mark, fasthttp refused the request before
	// routing (413, 431, 408): no middleware ran, and the raw path may hold
	// ids, so the route is "unmatched" and this handler logs and counts it.
	logged, _ := c.Locals(accessLogged).(bool)
	route := "unmatched"
	if logged {
		route = routeTemplate(c)
	}
	var fe *fiber.Error
	if f, ok := fault.As(err); ok {
		info, known := kinds[f.Kind]
		if !known {
			info = kinds[fault.Internal]
		}
		p.Status, p.Title = info.status, info.title
		slug := info.slug
		if f.Slug != "" {
			slug = f.Slug
		}
		p.Type = ProblemBase + slug
		if f.Kind != fault.Internal {
			p.Detail = f.Message
			p.Errors = f.Fields
		}
		if f.Kind == fault.RateLimited && f.RetryAfter > 0 {
			c.Set(fiber.HeaderRetryAfter, strconv.Itoa(f.RetryAfter))
		}
	} else if errors.As(err, &fe) {
		info, known := statusSlugs[fe.Code]
		if !known {
			info = kindInfo{fe.Code, "http-" + strconv.Itoa(fe.Code), fe.Message}
		}
		p.Status, p.Title, p.Type = fe.Code, info.title, ProblemBase+info.slug
		if fe.Code < 500 {
			p.Detail = fe.Message
		}
	} else {
		info := kinds[fault.Internal]
		p.Status, p.Title, p.Type = info.status, info.title, ProblemBase+info.slug
	}
	if p.Status >= 500 {
		s.log.Error("request failed", "request_id", requestID(c), "method", c.Method(),
			"route", route, "error", err.Error())
	}
	body, _ := json.Marshal(p)
	c.Set(fiber.HeaderContentType, "application/problem+json")
	err = c.Status(p.Status).Send(body)
	if !logged {
		s.logRequest(c, route, 0)
	}
	return err
}

// panicHandler logs a recovered panic; the recover middleware then answers 500.
func (s *Server) panicHandler(c *fiber.Ctx, e any) {
	s.log.Error("panic in handler", "request_id", requestID(c), "route", routeTemplate(c), "panic", slog.AnyValue(e).String())
}
