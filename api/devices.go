package api

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/notify"
)

// Devices: docs/api.md, "Devices and pushes".

// DeviceRegistry keeps push tokens; notify.Devices implements it.
type DeviceRegistry interface {
	Register(ctx context.Context, userID, token, platform string) (notify.Device, bool, error)
	Unregister(ctx context.Context, userID, token string) error
}

type deviceRequest struct {
	Token    string `json:"token" validate:"required,max=1024" doc:"the FCM registration token of this app installation"`
	Platform string `json:"platform" validate:"required,oneof=android ios web"`
}

type deviceBody struct {
	Token        string    `json:"token"`
	Platform     string    `json:"platform" enum:"android ios web"`
	RegisteredAt time.Time `json:"registered_at"`
}

// deviceToken is what an FCM registration token is made of. Refusing
// anything else keeps tokens usable as a path segment of DELETE.
var deviceToken = regexp.MustCompile(`^[A-Za-z0-9_:.\-]+$`)

func (s *Server) deviceRoutes() error {
	everyone := []auth.Role{auth.RoleParticipant, auth.RoleVolunteer, auth.RoleCoordinator, auth.RoleAdmin}
	if err := s.Handle(Route{Method: "POST", Path: "/v1/devices", Summary: "Register this device for pushes", Tag: "devices",
		Roles: everyone, AllowPending: true, Request: deviceRequest{}, Response: deviceBody{}, Status: fiber.StatusCreated,
		Idempotent: true, AlsoStatus: []int{fiber.StatusOK},
		Description: "201 when the token is new for the caller (a token registered by another user moves to the caller), " +
			"200 when the caller had registered it already. Pushes go to every device of a user (at most 10; " +
			"registering an 11th forgets the least recently registered)."}, s.idempotent(s.registerDevice)); err != nil {
		return err
	}
	return s.Handle(Route{Method: "DELETE", Path: "/v1/devices/:token", Summary: "Stop pushes to this device", Tag: "devices",
		Roles: everyone, AllowPending: true, Status: fiber.StatusNoContent, Problems: []int{404},
		Description: "Only the caller's own device; another user's token, or an unknown one, answers 404."}, s.unregisterDevice)
}

var errNoDevices = errors.New("no device registry configured")

func (s *Server) registerDevice(c *fiber.Ctx) error {
	if s.deps.Devices == nil {
		return fault.Wrap(errNoDevices, "register device")
	}
	var body deviceRequest
	if err := s.bind(c, &body); err != nil {
		return err
	}
	if !deviceToken.MatchString(body.Token) {
		return fault.InvalidField("token", "must be an FCM registration token (letters, digits and : _ - .)")
	}
	dev, created, err := s.deps.Devices.Register(c.UserContext(), Caller(c).UserID, body.Token, body.Platform)
	if err != nil {
		return err
	}
	status := fiber.StatusOK
	if created {
		status = fiber.StatusCreated
	}
	return c.Status(status).JSON(deviceBody{Token: dev.Token, Platform: dev.Platform, RegisteredAt: dev.RegisteredAt})
}

func (s *Server) unregisterDevice(c *fiber.Ctx) error {
	if s.deps.Devices == nil {
		return fault.Wrap(errNoDevices, "unregister device")
	}
	token, err := url.PathUnescape(c.Params("token"))
	if err != nil || len(token) > 1024 || !deviceToken.MatchString(token) {
		return fault.NotFoundf("no such device")
	}
	if err := s.deps.Devices.Unregister(c.UserContext(), Caller(c).UserID, token); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}
