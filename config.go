package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/expenses"
	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/outcomes"
)

// config is every setting, read once from the environment.
type config struct {
	Port int
	// ListenAddr is host:port for the HTTP listener (CLAVIS_LISTEN_ADDR
	// names the host; empty listens on all interfaces).
	ListenAddr      string
	MongoURI        string
	DataDir         string
	LogLevel        slog.Level
	CORSOrigins     string
	TrustedProxies  []string
	AdminEmail      string
	AdminPassword   string
	JWTKeyFile      string
	FCMEndpoint     string
	FCMProjectID    string
	GoogleCreds     string
	ReminderOffsets []time.Duration
	CheckinGrace    time.Duration
	WellbeingEvery  time.Duration
	OfferWave       int
	OfferWait       time.Duration
	MatchWeights    matching.Weights
	ShutdownTimeout time.Duration
	AuditRetention  time.Duration
	WorkerCount     int
	// PostponeWait and ExpenseMaxOre: the care around an outing (serve_care.go).
	PostponeWait  time.Duration
	ExpenseMaxOre int
	// ConsoleIdle and ConsoleSecureCookie configure the coordinators' console (/console).
	ConsoleIdle         time.Duration
	ConsoleSecureCookie bool
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
		CORSOrigins:     str("CLAVIS_CORS_ORIGINS", ""),
		TrustedProxies:  splitList(str("CLAVIS_TRUSTED_PROXIES", "")),
		AdminEmail:      str("CLAVIS_ADMIN_EMAIL", ""),
		AdminPassword:   getenv("CLAVIS_ADMIN_PASSWORD"),
		JWTKeyFile:      str("CLAVIS_JWT_KEY_FILE", ""),
		FCMEndpoint:     str("CLAVIS_FCM_ENDPOINT", ""),
		FCMProjectID:    str("CLAVIS_FCM_PROJECT_ID", ""),
		GoogleCreds:     str("GOOGLE_APPLICATION_CREDENTIALS", ""),
		CheckinGrace:    duration("CLAVIS_CHECKIN_GRACE", 10*time.Minute),
		WellbeingEvery:  duration("CLAVIS_WELLBEING_EVERY", outcomes.DefaultWellbeingEvery),
		OfferWave:       integer("CLAVIS_OFFER_WAVE", 5, 1, 100),
		OfferWait:       duration("CLAVIS_OFFER_WAIT", matching.DefaultOfferWait),
		ShutdownTimeout: duration("CLAVIS_SHUTDOWN_TIMEOUT", 10*time.Second),
		AuditRetention:  duration("CLAVIS_AUDIT_RETENTION", auth.DefaultAuditRetention),
		WorkerCount:     integer("CLAVIS_WORKERS", 4, 1, 64),
		ConsoleIdle:     duration("CLAVIS_CONSOLE_IDLE_TIMEOUT", 30*time.Minute),
		PostponeWait:    duration("CLAVIS_POSTPONE_WAIT", matching.DefaultPostponeWait),
		ExpenseMaxOre:   integer("CLAVIS_EXPENSE_MAX", int(expenses.DefaultMaxPerOuting), 1, 10_000_000),
	}
	switch v := str("CLAVIS_CONSOLE_SECURE_COOKIE", "false"); v {
	case "true", "1":
		c.ConsoleSecureCookie = true
	case "false", "0":
	default:
		bad("CLAVIS_CONSOLE_SECURE_COOKIE", v, "want true or false")
	}
	switch lv := strings.ToLower(str("LOG_LEVEL", "info")); lv {
	case "debug":
		c.LogLevel = slog.LevelDebug
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
