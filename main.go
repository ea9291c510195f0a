// Command clavis is the Clavis backend: `go run .` starts it with an embedded
// database; see README.md for configuration.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	_ "time/tzdata" // a bare container still knows Europe/Stockholm

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/clavis-app/clavis/api"
	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/db"
)

// version is set at build time: -ldflags "-X main.version=1.2.3".
var version = "dev"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "version" {
		fmt.Println("clavis", version)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "clavis:", err)
		os.Exit(1)
	}
}

// config is every setting, read once from the environment.
type config struct {
	Port             int
	MongoURI         string
	DataDir          string
	EmbeddedAddr     string
	LogLevel         slog.Level
	CORSOrigins      string
	AdminEmail       string
	AdminPassword    string
	JWTKeyFile       string
	FCMEndpoint      string
	FCMProjectID     string
	GoogleCreds      string
	ReminderOffsets  []time.Duration
	CheckinGrace     time.Duration
	OfferWave        int
	ShutdownTimeout  time.Duration
	WorkerCount      int
	DebugEmbeddedLog bool
}

// loadConfig reads and validates the environment, naming every bad value.
func loadConfig(getenv func(string) string) (config, error) {
	var errs []string
	bad := func(name, value, want string) { errs = append(errs, fmt.Sprintf("%s=%q: %s", name, value, want)) }
	str := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	integer := func(name string, def, min, max int) int {
		v := str(name, "")
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < min || n > max {
			bad(name, v, fmt.Sprintf("want a whole number from %d to %d", min, max))
			return def
		}
		return n
	}
	duration := func(name string, def time.Duration) time.Duration {
		v := str(name, "")
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			bad(name, v, "want a positive Go duration such as 10m or 2h")
			return def
		}
		return d
	}
	c := config{
		Port:            integer("PORT", 8080, 1, 65535),
		MongoURI:        str("MONGODB_URI", ""),
		DataDir:         str("CLAVIS_DATA_DIR", "./data"),
		EmbeddedAddr:    str("CLAVIS_EMBEDDED_DB_ADDR", "127.0.0.1:0"),
		CORSOrigins:     str("CLAVIS_CORS_ORIGINS", ""),
		AdminEmail:      str("CLAVIS_ADMIN_EMAIL", ""),
		AdminPassword:   getenv("CLAVIS_ADMIN_PASSWORD"),
		JWTKeyFile:      str("CLAVIS_JWT_KEY_FILE", ""),
		FCMEndpoint:     str("CLAVIS_FCM_ENDPOINT", ""),
		FCMProjectID:    str("CLAVIS_FCM_PROJECT_ID", ""),
		GoogleCreds:     str("GOOGLE_APPLICATION_CREDENTIALS", ""),
		CheckinGrace:    duration("CLAVIS_CHECKIN_GRACE", 10*time.Minute),
		OfferWave:       integer("CLAVIS_OFFER_WAVE", 5, 1, 100),
		ShutdownTimeout: duration("CLAVIS_SHUTDOWN_TIMEOUT", 10*time.Second),
		WorkerCount:     integer("CLAVIS_WORKERS", 4, 1, 64),
	}
	switch lv := strings.ToLower(str("LOG_LEVEL", "info")); lv {
	case "debug":
		c.LogLevel, c.DebugEmbeddedLog = slog.LevelDebug, true
	case "info":
		c.LogLevel = slog.LevelInfo
	case "warn":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		bad("LOG_LEVEL", lv, "want debug, info, warn or error")
	}
	for _, part := range strings.Split(str("CLAVIS_REMINDER_OFFSETS", "24h,2h"), ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d <= 0 {
			bad("CLAVIS_REMINDER_OFFSETS", part, "want positive Go durations separated by commas, such as 24h,2h")
			continue
		}
		c.ReminderOffsets = append(c.ReminderOffsets, d)
	}
	if (c.AdminEmail == "") != (c.AdminPassword == "") {
		errs = append(errs, "CLAVIS_ADMIN_EMAIL and CLAVIS_ADMIN_PASSWORD go together: set both or neither")
	}
	if c.MongoURI != "" && !strings.HasPrefix(c.MongoURI, "mongodb://") && !strings.HasPrefix(c.MongoURI, "mongodb+srv://") {
		bad("MONGODB_URI", "(hidden)", "want a mongodb:// or mongodb+srv:// URI")
	}
	if c.FCMEndpoint != "" && c.FCMProjectID == "" {
		c.FCMProjectID = "clavis-local"
	}
	if len(errs) > 0 {
		return c, errors.New("bad configuration:\n  " + strings.Join(errs, "\n  "))
	}
	return c, nil
}

// run starts everything, waits for ctx to end, then stops in order: stop
// accepting and finish in-flight requests, stop background workers,
// disconnect the driver and stop the embedded database.
func run(ctx context.Context, getenv func(string) string, logOut io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: cfg.LogLevel}))
	var embeddedLog *slog.Logger
	if cfg.DebugEmbeddedLog {
		embeddedLog = log.With("component", "ferretdb")
	}
	started := time.Now()
	database, err := db.Open(ctx, db.Config{
		URI: cfg.MongoURI, DataDir: cfg.DataDir, EmbeddedAddr: cfg.EmbeddedAddr,
		Logger: log, EmbeddedLogger: embeddedLog,
	})
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		log.Info("shutdown: disconnecting from the database")
		_ = database.Close(closeCtx)
		if database.Embedded {
			log.Info("shutdown: embedded database stopped")
		}
	}()
	if !database.Embedded {
		log.Info("connected to MongoDB")
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	clk := clock.Real{}

	workerCtx, stopWorkers := context.WithCancel(context.Background())
	var workers sync.WaitGroup
	_ = workerCtx

	srv, err := api.New(api.Deps{
		Logger: log, DB: database, Registry: reg, Clock: clk,
		Version: version, CORSOrigins: cfg.CORSOrigins,
	})
	if err != nil {
		stopWorkers()
		return err
	}

	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", cfg.Port))
	if err != nil {
		stopWorkers()
		return fmt.Errorf("listen on port %d: %w", cfg.Port, err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.App.Listener(ln) }()
	log.Info("listening", "addr", ln.Addr().String(), "embedded_db", database.Embedded,
		"version", version, "startup_ms", time.Since(started).Milliseconds())

	select {
	case <-ctx.Done():
		log.Info("shutdown: signal received; no new connections, finishing requests in flight",
			"timeout", cfg.ShutdownTimeout.String())
	case err := <-serveErr:
		stopWorkers()
		return fmt.Errorf("http server: %w", err)
	}
	if err := srv.App.ShutdownWithTimeout(cfg.ShutdownTimeout); err != nil {
		log.Warn("shutdown: requests still running at the deadline were cut", "error", err.Error())
	} else {
		log.Info("shutdown: http server stopped, all requests finished")
	}
	stopWorkers()
	workers.Wait()
	log.Info("shutdown: background workers stopped")
	return nil
}
