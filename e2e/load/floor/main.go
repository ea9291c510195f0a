// Command floor is the cheapest HTTP server this stack can be: Fiber with
// no middleware, answering GET /healthz with a fixed 15-byte JSON body.
// e2e/load/run.sh drives it with the same wrk settings as the real server:
// its req/s is the most any endpoint could reach on this machine with the
// client on the same cores, which bounds the API/store ratio of a read
// whose store work alone runs at R/s by floor/(floor+R). Tooling, not part
// of the product binary.
//
//	go run ./e2e/load/floor -addr 127.0.0.1:18090
package main

import (
	"flag"
	"log"

	"github.com/gofiber/fiber/v2"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18090", "listen address")
	flag.Parse()
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	body := []byte(`{"status":"ok"}`)
	app.Get("/healthz", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(body)
	})
	log.Fatal(app.Listen(*addr))
}
