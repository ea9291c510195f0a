package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"time"
	_ "time/tzdata" // a bare container still knows Europe/Stockholm

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/clavis-app/clavis/api"
	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/logbuf"
	"github.com/clavis-app/clavis/internal/personal"
	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/notify"
	"github.com/clavis-app/clavis/seed"
)

// run starts everything, waits for ctx to end, then stops in order: stop
// accepting and finish in-flight requests, stop background workers,
// close the database.
func run(ctx context.Context, getenv func(string) string, logOut io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	// Info lines (the access log) go out in batches; warnings at once.
	lw := logbuf.New(logOut, 100*time.Millisecond)
	defer lw.Close()
	log := slog.New(logbuf.Urgent(slog.NewJSONHandler(lw, &slog.HandlerOptions{Level: cfg.LogLevel}), lw, slog.LevelWarn))
	warnOpenDataDir(log, cfg.DataDir)
	started := time.Now()
	if cfg.MongoURI == "" {
		if err := checkFerretDBImported(ctx, cfg.DataDir); err != nil {
			return err
		}
	}
	st, err := openStores(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		log.Info("shutdown: closing the database", "engine", st.engine)
		st.close()
	}()

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
	accounts, err := auth.New(ctx, auth.Config{Store: st.auth, Keys: keys, Clock: clk, Personal: people, Logger: log,
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

	outings, err := matching.NewService(ctx, st.matching, matching.Config{Clock: clk, Directory: matching.AccountsDirectory(accounts), Logger: log,
		PostponeWait: cfg.PostponeWait})
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
	sender, err := pushSender(ctx, cfg, log)
	if err != nil {
		return err
	}
	notifier, err := notify.New(ctx, notify.Config{
		Store: st.notify, Sender: sender, Directory: notify.AccountsDirectory(accounts), Clock: clk, Logger: log,
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
	groupSvc, err := newGroups(st, accounts, notifier, clk, log, people)
	if err != nil {
		return err
	}
	spending, err := careServices(cfg, st, clk, outings, accounts, notifier)
	if err != nil {
		return err
	}
	people.Register(spending.PersonalHook())
	outcomeSvc, err := newOutcomes(st.outcomes, clk, log, cfg.WellbeingEvery, accounts, outings, notifier, groupSvc, people, spending)
	if err != nil {
		return err
	}

	workerCtx, stopWorkers := context.WithCancel(context.Background())
	var workers sync.WaitGroup
	_ = workerCtx
	workers.Add(1)
	go func() {
		defer workers.Done()
		accounts.RunSweeper(workerCtx, time.Hour)
	}()
	// Outing events become pushes (notify is the EventSink); the matcher's
	// sink first turns "offers needed" events into waves of offers; groups
	// offer a confirmed escort's companion the participant's next sessions.
	dispatcher := outings.NewDispatcher(matcher.OfferSink(groupSvc.EscortSink(notifier, matcher)), log)
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
	workers.Add(1)
	go func() {
		defer workers.Done()
		outings.RunPostponeSweep(workerCtx, time.Minute)
	}()
	go func() {
		defer workers.Done()
		api.RunIdempotencySweeper(workerCtx, st.idempotency, clk, time.Hour, log)
	}()
	workers.Add(1)
	go func() {
		defer workers.Done()
		outcomeSvc.RunAskSweep(workerCtx, outcomeAskSweep)
	}()

	mountConsole, err := consoleMount(cfg, accounts, outings, matcher, clk, log, groupSvc, outcomeSvc)
	if err != nil {
		stopWorkers()
		return err
	}
	srv, err := api.New(api.Deps{
		Logger: log, DB: st, Registry: reg, Clock: clk,
		Version: version, CORSOrigins: cfg.CORSOrigins, TrustedProxies: cfg.TrustedProxies,
		Auth: accounts, Accounts: accounts,
		Matching: outings, Idempotency: st.idempotency, Matcher: matcher,
		Devices: notifier.Devices(), Groups: groupSvc, Outcomes: outcomeSvc, Expenses: spending, Extra: mountConsole,
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
	log.Info("listening", "addr", ln.Addr().String(), "engine", st.engine,
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

// runSeed loads the demo organisation (`clavis seed`) into the database the
// server would use, and prints the demo logins. Running it again changes
// nothing.
func runSeed(ctx context.Context, getenv func(string) string, out io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := openStores(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer st.close()
	keys, _, _, err := auth.LoadKeys(cfg.JWTKeyFile, cfg.DataDir)
	if err != nil {
		return err
	}
	accounts, err := auth.New(ctx, auth.Config{Store: st.auth, Keys: keys, Clock: clock.Real{}, Logger: log})
	if err != nil {
		return err
	}
	return seed.Run(ctx, st.seedRuns, st.matching, accounts, time.Now(), out)
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
