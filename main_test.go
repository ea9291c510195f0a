package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigDefaults(t *testing.T) {
	c, err := loadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 8080 || c.DataDir != "./data" || c.MongoURI != "" || c.OfferWave != 5 || c.CheckinGrace != 10*time.Minute {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if len(c.ReminderOffsets) != 2 || c.ReminderOffsets[0] != 24*time.Hour || c.ReminderOffsets[1] != 2*time.Hour {
		t.Fatalf("reminder offsets %v", c.ReminderOffsets)
	}
}

func TestConfigNamesEveryBadValue(t *testing.T) {
	_, err := loadConfig(env(map[string]string{
		"PORT":                    "80x",
		"CLAVIS_REMINDER_OFFSETS": "24h,soon",
		"CLAVIS_CHECKIN_GRACE":    "-5m",
		"CLAVIS_OFFER_WAVE":       "0",
		"LOG_LEVEL":               "loud",
		"CLAVIS_ADMIN_EMAIL":      "admin@example.org",
		"MONGODB_URI":             "postgres://user:secret@db/clavis",
	}))
	if err == nil {
		t.Fatal("bad configuration accepted")
	}
	msg := err.Error()
	for _, name := range []string{"PORT", "CLAVIS_REMINDER_OFFSETS", "CLAVIS_CHECKIN_GRACE", "CLAVIS_OFFER_WAVE", "LOG_LEVEL", "CLAVIS_ADMIN_PASSWORD", "MONGODB_URI"} {
		if !strings.Contains(msg, name) {
			t.Errorf("error does not name %s:\n%s", name, msg)
		}
	}
	if strings.Contains(msg, "secret") {
		t.Errorf("the error leaks a database password:\n%s", msg)
	}
}

func TestConfigListenAddr(t *testing.T) {
	for _, tc := range []struct{ port, addr, want string }{
		{"", "", ":8080"},
		{"9000", "", ":9000"},
		{"", "127.0.0.1", "127.0.0.1:8080"},
		{"9000", "::1", "[::1]:9000"},
		{"", "[::1]", "[::1]:8080"},
		{"", "localhost", "localhost:8080"},
	} {
		c, err := loadConfig(env(map[string]string{"PORT": tc.port, "CLAVIS_LISTEN_ADDR": tc.addr}))
		if err != nil || c.ListenAddr != tc.want {
			t.Errorf("PORT=%q CLAVIS_LISTEN_ADDR=%q: %q, %v; want %q", tc.port, tc.addr, c.ListenAddr, err, tc.want)
		}
	}
	for _, bad := range []string{"127.0.0.1:80", "[::1]:80", "example.org", "300.1.1.1", "fe80::1%eth0"} {
		_, err := loadConfig(env(map[string]string{"CLAVIS_LISTEN_ADDR": bad}))
		if err == nil || !strings.Contains(err.Error(), "CLAVIS_LISTEN_ADDR") {
			t.Errorf("CLAVIS_LISTEN_ADDR=%q accepted: %v", bad, err)
		}
	}
	if _, err := loadConfig(env(map[string]string{"CLAVIS_TRUSTED_PROXIES": "10.0.0.0/8, ingress"})); err == nil || !strings.Contains(err.Error(), "CLAVIS_TRUSTED_PROXIES") {
		t.Errorf("a trusted proxy that is not an address was accepted: %v", err)
	}
}

func TestOpenDataDirWarnsOnce(t *testing.T) {
	restore := privateFiles()
	defer restore()
	for _, tc := range []struct {
		mode  os.FileMode
		warns int
	}{{0o755, 1}, {0o770, 1}, {0o700, 0}, {0o711, 0}} {
		dir := t.TempDir()
		if err := os.Chmod(dir, tc.mode); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		warnOpenDataDir(slog.New(slog.NewJSONHandler(&out, nil)), dir)
		if n := strings.Count(out.String(), `"level":"WARN"`); n != tc.warns {
			t.Errorf("data dir %04o: %d warnings, want %d:\n%s", tc.mode, n, tc.warns, out.String())
		}
	}
	// A file left open by an older version is named.
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "clavis.sqlite"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "clavis.sqlite"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	warnOpenDataDir(slog.New(slog.NewJSONHandler(&out, nil)), dir)
	if strings.Count(out.String(), `"level":"WARN"`) != 1 || !strings.Contains(out.String(), "clavis.sqlite") {
		t.Errorf("open file in a private dir: %s", out.String())
	}
}

// Files the process creates in an existing data directory are 0600 even
// with a permissive umask (the FerretDB files were 0644).
func TestCreatedFilesArePrivate(t *testing.T) {
	restore := privateFiles()
	defer restore()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "made-like-ferretdb.sqlite")
	if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{path: 0o600, sub: 0o700} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", p, st.Mode().Perm(), want)
		}
	}
}
