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
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	_ "time/tzdata" // a bare container still knows Europe/Stockholm

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/clavis-app/clavis/api"
	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/db"
	"github.com/clavis-app/clavis/internal/personal"
	"github.com/clavis-app/clavis/internal/sqlite"
	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/notify"
	"github.com/clavis-app/clavis/seed"
)

// version is set at build time: -ldflags "-X main.version=1.2.3".
var version = "dev"

func main() {
	privateFiles()
	if len(os.Args) > 1 && os.Args[1] == "version" {
		fmt.Println("clavis", version)
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == "seed" {
		if err := runSeed(ctx, os.Getenv, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "clavis seed:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "import-ferretdb" {
		if err := runImportFerretDB(ctx, os.Getenv, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "clavis import-ferretdb:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "backup" {
		if err := runBackup(ctx, os.Getenv, os.Args[2:], os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "clavis backup:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx, os.Getenv, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "clavis:", err)
		os.Exit(1)
	}
}

// config is every setting, read once from the environment.
type config struct {
	Port int
	// ListenAddr is host:port for the HTTP listener (CLAVIS_LISTEN_ADDR
	// names the host; empty listens on all interfaces).
	ListenAddr       string
	MongoURI         string
	DataDir          string
	EmbeddedAddr     string
	LogLevel         slog.Level
	CORSOrigins      string
	TrustedProxies   []string
	AdminEmail       string
	AdminPassword    string
	JWTKeyFile       string
	FCMEndpoint      string
	FCMProjectID     string
	GoogleCreds      string
	ReminderOffsets  []time.Duration
	CheckinGrace     time.Duration
	OfferWave        int
	OfferWait        time.Duration
	MatchWeights     matching.Weights
	ShutdownTimeout  time.Duration
	AuditRetention   time.Duration
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
		TrustedProxies:  splitList(str("CLAVIS_TRUSTED_PROXIES", "")),
		AdminEmail:      str("CLAVIS_ADMIN_EMAIL", ""),
		AdminPassword:   getenv("CLAVIS_ADMIN_PASSWORD"),
		JWTKeyFile:      str("CLAVIS_JWT_KEY_FILE", ""),
		FCMEndpoint:     str("CLAVIS_FCM_ENDPOINT", ""),
		FCMProjectID:    str("CLAVIS_FCM_PROJECT_ID", ""),
		GoogleCreds:     str("GOOGLE_APPLICATION_CREDENTIALS", ""),
		CheckinGrace:    duration("CLAVIS_CHECKIN_GRACE", 10*time.Minute),
		OfferWave:       integer("CLAVIS_OFFER_WAVE", 5, 1, 100),
		OfferWait:       duration("CLAVIS_OFFER_WAIT", matching.DefaultOfferWait),
		ShutdownTimeout: duration("CLAVIS_SHUTDOWN_TIMEOUT", 10*time.Second),
		AuditRetention:  duration("CLAVIS_AUDIT_RETENTION", auth.DefaultAuditRetention),
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
	if w, err := matching.ParseWeights(getenv("CLAVIS_MATCH_WEIGHTS")); err != nil {
		bad("CLAVIS_MATCH_WEIGHTS", getenv("CLAVIS_MATCH_WEIGHTS"), err.Error())
	} else {
		c.MatchWeights = w
	}
	if (c.AdminEmail == "") != (c.AdminPassword == "") {
		errs = append(errs, "CLAVIS_ADMIN_EMAIL and CLAVIS_ADMIN_PASSWORD go together: set both or neither")
	}
	if c.MongoURI != "" && !strings.HasPrefix(c.MongoURI, "mongodb://") && !strings.HasPrefix(c.MongoURI, "mongodb+srv://") {
		bad("MONGODB_URI", "(hidden)", "want a mongodb:// or mongodb+srv:// URI")
	}
	host := str("CLAVIS_LISTEN_ADDR", "")
	if h, err := listenHost(host); err != nil {
		bad("CLAVIS_LISTEN_ADDR", host, err.Error())
	} else {
		c.ListenAddr = net.JoinHostPort(h, strconv.Itoa(c.Port))
	}
	for _, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				bad("CLAVIS_TRUSTED_PROXIES", p, "want IP addresses or CIDR prefixes separated by commas")
			}
		}
	}
	if c.FCMEndpoint != "" && c.FCMProjectID == "" {
		c.FCMProjectID = "clavis-local"
	}
	if len(errs) > 0 {
		return c, errors.New("bad configuration:\n  " + strings.Join(errs, "\n  "))
	}
	return c, nil
}

// listenHost checks CLAVIS_LISTEN_ADDR: an IP address (IPv6 with or
// without brackets) or localhost; the port always comes from PORT.
func listenHost(h string) (string, error) {
	if h == "" || h == "localhost" {
		return h, nil
	}
	if strings.Count(h, ":") == 1 || strings.Contains(h, "]:") {
		return "", errors.New("want an address without a port (the port is PORT), such as 127.0.0.1 or ::1")
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"))
	if err != nil || a.Zone() != "" {
		return "", errors.New("want an IP address such as 127.0.0.1 or ::1, or localhost (empty: all interfaces)")
	}
	return a.String(), nil
}

// warnOpenDataDir warns, once, when the data directory (the database, the
// token signing key) or a file in it may be read or written by group or
// others: files made by this process are 0600 (privateFiles), but the
// directory may predate it or have been made by hand.
func warnOpenDataDir(log *slog.Logger, dir string) {
	st, err := os.Stat(dir)
	if err != nil {
		return // not created yet: it will be, 0700
	}
	var open []string
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			if info, err := e.Info(); err == nil && info.Mode().IsRegular() && info.Mode().Perm()&0o066 != 0 {
				open = append(open, e.Name())
			}
		}
	}
	if perm := st.Mode().Perm(); perm&0o066 != 0 || len(open) > 0 {
		log.Warn("the data directory or files in it are readable or writable by group or others; restrict them with chmod -R go-rwx",
			"dir", dir, "mode", fmt.Sprintf("%04o", perm), "open_files", open)
	}
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
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
	warnOpenDataDir(log, cfg.DataDir)
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
	// Which build is running, for dashboards and for telling replicas apart mid-rollout.
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "clavis_build_info",
		Help:        "Always 1; the labels name the running build.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	}, func() float64 { return 1 }))
	clk := clock.Real{}

	// Accounts register their export/erase hook first, so that erasing runs
	// every other package's hook before the account itself is deleted.
	people := &personal.Registry{}
	keys, keyPath, keyCreated, err := auth.LoadKeys(cfg.JWTKeyFile, cfg.DataDir)
	if err != nil {
		return err
	}
	if keyCreated {
		log.Info("generated an access-token signing key", "path", keyPath, "kid", keys.SigningKeyID())
	}
	accountStore, closeAccounts, err := openAuthStore(ctx, cfg, database)
	if err != nil {
		return err
	}
	defer closeAccounts()
	accounts, err := auth.New(ctx, auth.Config{Store: accountStore, Keys: keys, Clock: clk, Personal: people, Logger: log,
		AuditRetention: cfg.AuditRetention})
	if err != nil {
		return err
	}
	if cfg.AdminEmail != "" {
		created, err := accounts.EnsureAdmin(ctx, cfg.AdminEmail, cfg.AdminPassword)
		if err != nil {
			return fmt.Errorf("CLAVIS_ADMIN_EMAIL/CLAVIS_ADMIN_PASSWORD: %w", err)
		}
		if created {
			log.Info("admin account created from CLAVIS_ADMIN_EMAIL")
		}
	}

	matchingStore, closeMatching, err := openMatchingStore(ctx, cfg, database)
	if err != nil {
		return err
	}
	defer closeMatching()
	outings, err := matching.NewService(ctx, matchingStore, matching.Config{Clock: clk, Directory: matching.AccountsDirectory(accounts), Logger: log})
	if err != nil {
		return err
	}
	people.Register(outings.PersonalHook())
	accounts.OnStatusChange(outings.VolunteerStatusHook)
	matcher, err := matching.NewMatcher(ctx, outings, matching.MatcherConfig{
		Weights: cfg.MatchWeights, OfferWave: cfg.OfferWave, OfferWait: cfg.OfferWait, Logger: log,
	})
	if err != nil {
		return err
	}
	people.Register(matcher.PersonalHook())
	var idempotency api.IdempotencyStore
	if cfg.MongoURI == "" {
		sdb, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, sqlite.FileName))
		if err != nil {
			return err
		}
		defer sdb.Close()
		idempotency, err = api.NewIdempotencySQLite(ctx, sdb)
		if err != nil {
			return err
		}
	} else if idempotency, err = api.NewIdempotencyMongo(ctx, database); err != nil {
		return err
	}

	sender, err := pushSender(ctx, cfg, log)
	if err != nil {
		return err
	}
	// notify's store: SQLite in the data directory, unless MONGODB_URI names
	// a shared MongoDB (then the Mongo engine, as before).
	var pushStore notify.Store
	if cfg.MongoURI == "" {
		sdb, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, sqlite.FileName))
		if err != nil {
			return err
		}
		defer sdb.Close()
		pushStore, err = notify.NewSQLiteStore(ctx, sdb)
		if err != nil {
			return err
		}
	} else if pushStore, err = notify.NewMongoStore(ctx, database); err != nil {
		return err
	}
	notifier, err := notify.New(ctx, notify.Config{
		Store: pushStore, Sender: sender, Directory: notify.AccountsDirectory(accounts), Clock: clk, Logger: log,
		Registerer: reg, ReminderOffsets: cfg.ReminderOffsets, CheckinGrace: cfg.CheckinGrace, Workers: cfg.WorkerCount,
		Outings: notify.OutingsFunc(func(ctx context.Context, from, to time.Time) ([]notify.OutingRef, error) {
			confirmed, err := outings.ConfirmedOutingsBetween(ctx, from, to)
			refs := make([]notify.OutingRef, len(confirmed))
			for i, o := range confirmed {
				refs[i] = notify.OutingRef{ID: o.ID, OrgID: o.OrgID, ParticipantID: o.ParticipantID,
					VolunteerID: o.VolunteerID, StartsAt: o.StartsAt, EndsAt: o.EndsAt}
			}
			return refs, err
		}),
	})
	if err != nil {
		return err
	}
	people.Register(notifier.PersonalHook())

	workerCtx, stopWorkers := context.WithCancel(context.Background())
	var workers sync.WaitGroup
	_ = workerCtx
	workers.Add(1)
	go func() {
		defer workers.Done()
		accounts.RunSweeper(workerCtx, time.Hour)
	}()
	// Outing events become pushes (notify is the EventSink); the matcher's
	// sink first turns "offers needed" events into waves of offers.
	dispatcher := outings.NewDispatcher(matcher.OfferSink(notifier), log)
	// Push workers and the reminder reconciler; several servers share the jobs.
	workers.Add(1)
	go func() {
		defer workers.Done()
		notifier.Run(workerCtx)
	}()
	workers.Add(4)
	go func() {
		defer workers.Done()
		matcher.OfferWaves().Run(workerCtx)
	}()
	go func() {
		defer workers.Done()
		dispatcher.Run(workerCtx)
	}()
	go func() {
		defer workers.Done()
		outings.RunExpirySweep(workerCtx, time.Minute)
	}()
	go func() {
		defer workers.Done()
		api.RunIdempotencySweeper(workerCtx, idempotency, clk, time.Hour, log)
	}()

	srv, err := api.New(api.Deps{
		Logger: log, DB: database, Registry: reg, Clock: clk,
		Version: version, CORSOrigins: cfg.CORSOrigins, TrustedProxies: cfg.TrustedProxies,
		Auth: accounts, Accounts: accounts,
		Matching: outings, Idempotency: idempotency, Matcher: matcher,
		Devices: notifier.Devices(),
	})
	if err != nil {
		stopWorkers()
		return err
	}

	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		stopWorkers()
		return fmt.Errorf("listen on %s (PORT, CLAVIS_LISTEN_ADDR): %w", cfg.ListenAddr, err)
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

// runSeed loads the demo organisation (`go run . seed`) into the database
// the server would use, and prints the demo logins. Running it again
// changes nothing.
func runSeed(ctx context.Context, getenv func(string) string, out io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	database, err := db.Open(ctx, db.Config{URI: cfg.MongoURI, DataDir: cfg.DataDir, EmbeddedAddr: cfg.EmbeddedAddr, Logger: log})
	if err != nil {
		return err
	}
	defer func() { _ = database.Close(context.Background()) }()
	keys, _, _, err := auth.LoadKeys(cfg.JWTKeyFile, cfg.DataDir)
	if err != nil {
		return err
	}
	accountStore, closeAccounts, err := openAuthStore(ctx, cfg, database)
	if err != nil {
		return err
	}
	defer closeAccounts()
	accounts, err := auth.New(ctx, auth.Config{Store: accountStore, Keys: keys, Clock: clock.Real{}, Logger: log})
	if err != nil {
		return err
	}
	ms, closeMatching, err := openMatchingStore(ctx, cfg, database)
	if err != nil {
		return err
	}
	defer closeMatching()
	return seed.Run(ctx, database, ms, accounts, time.Now(), out)
}

// openMatchingStore is matching's store: the SQLite file in the data
// directory, or MongoDB when MONGODB_URI is set. (Interim wiring while the
// other packages move to their stores.)
func openMatchingStore(ctx context.Context, cfg config, database *db.DB) (matching.Store, func(), error) {
	if cfg.MongoURI != "" {
		st, err := matching.NewMongoStore(ctx, database)
		return st, func() {}, err
	}
	sq, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, sqlite.FileName))
	if err != nil {
		return nil, nil, err
	}
	st, err := matching.NewSQLiteStore(ctx, sq)
	if err != nil {
		_ = sq.Close()
		return nil, nil, err
	}
	return st, func() { _ = sq.Close() }, nil
}

// openAuthStore keeps accounts in MongoDB when MONGODB_URI is set and in
// the SQLite file in the data directory otherwise (issue 11: the other
// packages still use database until they move too).
func openAuthStore(ctx context.Context, cfg config, database *db.DB) (auth.Store, func(), error) {
	if cfg.MongoURI != "" {
		st, err := auth.NewMongoStore(ctx, database)
		return st, func() {}, err
	}
	d, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, sqlite.FileName))
	if err != nil {
		return nil, nil, err
	}
	st, err := auth.NewSQLiteStore(ctx, d)
	if err != nil {
		_ = d.Close()
		return nil, nil, err
	}
	return st, func() { _ = d.Close() }, nil
}

// pushSender picks how pushes leave: an FCM emulator or fake
// (CLAVIS_FCM_ENDPOINT, no Google auth), real FCM
// (GOOGLE_APPLICATION_CREDENTIALS), or, with neither, the log.
func pushSender(ctx context.Context, cfg config, log *slog.Logger) (notify.Sender, error) {
	switch {
	case cfg.FCMEndpoint != "":
		log.Info("pushes go to the FCM endpoint without Google auth", "endpoint", cfg.FCMEndpoint, "project", cfg.FCMProjectID)
		return notify.NewFCMSender(ctx, notify.FCMConfig{Endpoint: cfg.FCMEndpoint, ProjectID: cfg.FCMProjectID})
	case cfg.GoogleCreds != "":
		s, err := notify.NewFCMSender(ctx, notify.FCMConfig{ProjectID: cfg.FCMProjectID, CredentialsFile: cfg.GoogleCreds})
		if err != nil {
			return nil, fmt.Errorf("GOOGLE_APPLICATION_CREDENTIALS: %w", err)
		}
		log.Info("pushes go to Firebase Cloud Messaging")
		return s, nil
	default:
		log.Warn("no FCM configured: pushes are logged (type and recipient id), not sent")
		return notify.LogSender{Log: log.With("component", "notify")}, nil
	}
}
