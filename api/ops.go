package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

//go:embed docs.html
var docsPage []byte

type healthBody struct {
	Status string `json:"status"`
}

func (s *Server) opsRoutes() error {
	ops := []struct {
		r Route
		h fiber.Handler
	}{
		{Route{Method: "GET", Path: "/healthz", Summary: "Liveness: 200 while the process runs", Tag: "operations", Response: healthBody{}}, s.healthz},
		{Route{Method: "GET", Path: "/readyz", Summary: "Readiness: 200 when the database answers within 1 s, else 503", Tag: "operations", Response: healthBody{}, Problems: []int{503}}, s.readyz},
		{Route{Method: "GET", Path: "/metrics", Summary: "Prometheus metrics (restrict at the ingress)", Tag: "operations", Produces: "text/plain"},
			adaptor.HTTPHandler(promhttp.HandlerFor(s.deps.Registry, promhttp.HandlerOpts{}))},
		{Route{Method: "GET", Path: "/openapi.json", Summary: "This document (OpenAPI 3.1)", Tag: "operations", Produces: "application/json"}, s.openapi},
		{Route{Method: "GET", Path: "/docs", Summary: "A page that renders this document", Tag: "operations", Produces: "text/html"}, s.docs},
	}
	for _, o := range ops {
		if err := s.Handle(o.r, o.h); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) healthz(c *fiber.Ctx) error {
	return c.JSON(healthBody{Status: "ok"})
}

func (s *Server) readyz(c *fiber.Ctx) error {
	if s.deps.DB == nil {
		return fiber.NewError(fiber.StatusServiceUnavailable, errNoDB.Error())
	}
	ctx, cancel := context.WithTimeout(c.UserContext(), time.Second)
	defer cancel()
	if err := s.deps.DB.Ping(ctx); err != nil {
		s.log.Warn("readiness check failed", "error", err.Error())
		return fiber.NewError(fiber.StatusServiceUnavailable, "the database does not answer")
	}
	return c.JSON(healthBody{Status: "ready"})
}

func (s *Server) openapi(c *fiber.Ctx) error {
	if s.docJSON == nil {
		b, err := json.Marshal(s.doc)
		if err != nil {
			return err
		}
		s.docJSON = b
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(s.docJSON)
}

func (s *Server) docs(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.Send(docsPage)
}
