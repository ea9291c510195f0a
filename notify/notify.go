// Package notify tells people what happened to their outings: it keeps
// their devices, turns outing events into durable push jobs, and sends them
// through Firebase Cloud Messaging exactly once, on time, in their language.
//
// Jobs live in the Store (SQLite or MongoDB) so that a crash, a restart or
// a second server neither loses nor doubles a reminder: the store leases
// each due job to exactly one worker at a time (ClaimDueJobs), and a
// worker whose lease was taken over cannot write its result.
package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/internal/personal"
)

// Directory answers who a recipient is. The auth package implements it.
type Directory interface {
	// CoordinatorsOf returns the user ids of an organisation's active coordinators.
	CoordinatorsOf(ctx context.Context, orgID string) ([]string, error)
	// Recipient tells how to address a user. An unknown or erased user is a
	// fault.NotFound (the push is then dropped, not retried).
	Recipient(ctx context.Context, userID string) (Recipient, error)
}

// Recipient is what notify needs to know about a person it pushes to.
type Recipient struct {
	// Language is "sv" or "en"; anything else reads Swedish.
	Language string
	// TimeZone is an IANA zone (the organisation's); empty means Europe/Stockholm.
	TimeZone string
	// QuietHours is true for people who get no pushes 22:00–07:00 local time
	// (participants), except about an outing that starts before they end plus an hour.
	QuietHours bool
}

// Outings lists confirmed outings for the reconciler. The matching package
// implements it.
type Outings interface {
	ConfirmedOutingsBetween(ctx context.Context, from, to time.Time) ([]OutingRef, error)
}

// OutingsFunc adapts a function to Outings: matching must not import
// notify, so main.go wraps matching's list of confirmed outings with it.
type OutingsFunc func(ctx context.Context, from, to time.Time) ([]OutingRef, error)

// ConfirmedOutingsBetween calls f.
func (f OutingsFunc) ConfirmedOutingsBetween(ctx context.Context, from, to time.Time) ([]OutingRef, error) {
	return f(ctx, from, to)
}

// OutingRef is a confirmed outing as the reconciler needs it.
type OutingRef struct {
	ID            string
	OrgID         string
	ParticipantID string
	VolunteerID   string
	StartsAt      time.Time
	EndsAt        time.Time
}

// Config is what New needs; main.go builds it.
type Config struct {
	Store     Store
	Sender    Sender
	Directory Directory
	// Outings feeds the reconciler; nil turns the reconciler off.
	Outings    Outings
	Clock      clock.Clock
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// ReminderOffsets are the reminder times before start (default 24h, 2h).
	ReminderOffsets []time.Duration
	// CheckinGrace is how long after start a missing check-in alerts (default 10m).
	CheckinGrace time.Duration
	// Workers is the number of sending workers in this process (default 4).
	Workers int
	Tuning  Tuning
}

// Tuning holds knobs with sound defaults; tests and benchmarks change them.
type Tuning struct {
	// BatchSize is the most jobs one worker claims and sends at once (default 100).
	BatchSize int
	// IdlePoll is the longest an idle worker waits before looking for due
	// jobs again (default 5s): it also wakes when the next known job falls
	// due, and at once for jobs made in this process.
	IdlePoll time.Duration
	// Lease is how long a claim lasts (default 60s).
	Lease time.Duration
	// SendTimeout bounds one call to FCM (default 20s); it must be well under Lease.
	SendTimeout time.Duration
	// MaxAttempts is how many failed sends make a job dead (default 20; a
	// job also dies when its next try would fall after the outing's start).
	MaxAttempts int
	// RetryBase and RetryMax bound the exponential backoff (default 15s,
	// 10m): with the defaults a push keeps trying through an FCM outage of
	// about two hours.
	RetryBase, RetryMax time.Duration
	// ReconcileEvery is the reconciler's period (default 5m).
	ReconcileEvery time.Duration
	// Owner names this process in leases (default host-pid-random).
	Owner string
}

func (t *Tuning) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if t.BatchSize <= 0 || t.BatchSize > maxBatch {
		t.BatchSize = 100
	}
	def(&t.IdlePoll, 5*time.Second)
	def(&t.Lease, 60*time.Second)
	def(&t.SendTimeout, 20*time.Second)
	def(&t.RetryBase, 15*time.Second)
	def(&t.RetryMax, 10*time.Minute)
	def(&t.ReconcileEvery, 5*time.Minute)
	if t.MaxAttempts <= 0 {
		t.MaxAttempts = 20
	}
	if t.Owner == "" {
		host, _ := os.Hostname()
		t.Owner = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), randomID(4))
	}
}

// maxBatch keeps one worker's messages within one SendEach call (FCM: 500).
const maxBatch = 500

// Service is the notify package at run time: devices, event consumer,
// workers and reconciler.
type Service struct {
	cfg     Config
	tune    Tuning
	log     *slog.Logger
	clock   clock.Clock
	st      Store
	devices *Devices
	texts   catalogue
	metrics *metrics
	people  *recipientCache

	mu    sync.Mutex
	pools []*pool
}

// New checks the configuration and returns the service. Start its workers
// with Run.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Sender == nil || cfg.Directory == nil {
		return nil, errors.New("notify: Store, Sender and Directory are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	if len(cfg.ReminderOffsets) == 0 {
		cfg.ReminderOffsets = []time.Duration{24 * time.Hour, 2 * time.Hour}
	}
	if cfg.CheckinGrace <= 0 {
		cfg.CheckinGrace = 10 * time.Minute
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 4
	}
	tune := cfg.Tuning
	tune.defaults()
	if tune.SendTimeout+leaseMargin(tune.Lease) >= tune.Lease {
		return nil, fmt.Errorf("notify: lease %s must be longer than the send timeout %s plus a margin", tune.Lease, tune.SendTimeout)
	}
	texts, err := loadCatalogue()
	if err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger.With("component", "notify")
	s := &Service{
		cfg: cfg, tune: tune, log: log, clock: cfg.Clock, texts: texts, metrics: m,
		st: cfg.Store, devices: NewDevices(cfg.Store, cfg.Clock),
		people: newRecipientCache(cfg.Directory, cfg.Clock),
	}
	return s, nil
}

// Devices is the device registry the HTTP handlers use.
func (s *Service) Devices() *Devices { return s.devices }

// Run starts the workers, the reconciler and the sweeper, and blocks until
// ctx ends; then it stops taking jobs, lets sends in flight finish (up to
// the send timeout) and returns.
func (s *Service) Run(ctx context.Context) {
	p := newPool(s)
	s.mu.Lock()
	s.pools = append(s.pools, p)
	s.mu.Unlock()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.run(ctx) }()
	go func() { defer wg.Done(); s.housekeeping(ctx) }()
	s.log.Info("push workers started", "workers", s.cfg.Workers, "owner", s.tune.Owner)
	wg.Wait()
	s.mu.Lock()
	for i, q := range s.pools {
		if q == p {
			s.pools = append(s.pools[:i], s.pools[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	s.log.Info("push workers stopped", "owner", s.tune.Owner)
}

// wake tells running pools that new jobs exist.
func (s *Service) wake() {
	for _, p := range s.running() {
		p.kick()
	}
}

func (s *Service) running() []*pool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*pool(nil), s.pools...)
}

// housekeeping runs the reconciler and the sweeper until ctx ends.
func (s *Service) housekeeping(ctx context.Context) {
	reconcile := time.NewTicker(s.tune.ReconcileEvery)
	defer reconcile.Stop()
	sweep := time.NewTicker(10 * time.Minute)
	defer sweep.Stop()
	s.reconcileLogged(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-reconcile.C:
			s.reconcileLogged(ctx)
		case <-sweep.C:
			if err := s.st.Sweep(ctx, s.clock.Now().Add(-doneRetention)); err != nil && ctx.Err() == nil {
				s.log.Warn("push sweep failed", "error", err.Error())
			}
		}
	}
}

func (s *Service) reconcileLogged(ctx context.Context) {
	if s.cfg.Outings == nil {
		return
	}
	n, err := s.Reconcile(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("push reconciler failed", "error", err.Error())
		}
		return
	}
	if n > 0 {
		s.log.Info("push reconciler created missing jobs", "jobs", n)
	}
}

// PersonalHook exports and erases what notify stores about a user: devices
// and pending or recent pushes.
func (s *Service) PersonalHook() personal.Hook {
	return personal.Hook{
		Name: "notifications",
		Export: func(ctx context.Context, userID string) (any, error) {
			devs, err := s.devices.export(ctx, userID)
			if err != nil {
				return nil, err
			}
			js, err := s.st.PendingJobsOf(ctx, userID)
			if err != nil {
				return nil, fault.Wrap(err, "export push jobs")
			}
			pending := make([]PendingPush, 0, len(js))
			for _, j := range js {
				pending = append(pending, PendingPush{Type: j.Type, OutingID: j.OutingID, RunAt: j.RunAt})
			}
			return map[string]any{"devices": devs, "pending_pushes": pending}, nil
		},
		Erase: func(ctx context.Context, userID string) error {
			if err := s.devices.eraseUser(ctx, userID); err != nil {
				return err
			}
			return fault.Wrap(s.st.EraseRecipient(ctx, userID), "erase push jobs")
		},
	}
}
