package e2e

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clavis-app/clavis/internal/sqlite"
	"github.com/clavis-app/clavis/seed"
)

// TestStartRefusesBrokenDataDir starts the binary on data directories it
// must not use. Each time it must exit 1 with one line on stderr (besides
// JSON log lines) that names the file and says what to do, never panic,
// and leave every file as it was.
func TestStartRefusesBrokenDataDir(t *testing.T) {
	dir := t.TempDir()
	env := baseEnv(t, dir)
	seeded := func(t *testing.T) string {
		d := filepath.Join(t.TempDir(), "data")
		if code, _, stderr := runClavis(t, dir, append(env, "CLAVIS_DATA_DIR="+d), "seed"); code != 0 {
			t.Fatalf("clavis seed: exit %d: %s", code, stderr)
		}
		return d
	}
	dbPath := func(d string) string { return filepath.Join(d, sqlite.FileName) }

	t.Run("corrupt", func(t *testing.T) {
		d := filepath.Join(t.TempDir(), "data")
		garbage := make([]byte, 64<<10)
		_, _ = rand.Read(garbage)
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dbPath(d), garbage, 0o600); err != nil {
			t.Fatal(err)
		}
		refuses(t, dir, env, d, nil, dbPath(d), "not a readable SQLite database", "restore it from a backup")
	})

	t.Run("newer schema", func(t *testing.T) {
		d := seeded(t)
		db, err := sqlite.Open(context.Background(), dbPath(d))
		if err != nil {
			t.Fatal(err)
		}
		// goose's table: one row per applied version.
		_, err = db.Exec(`INSERT INTO auth_schema (version_id, is_applied) VALUES (99, 1)`)
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
		refuses(t, dir, env, d, nil, dbPath(d), "auth_schema", "version 99", "run the newer Clavis or restore a backup")
	})

	t.Run("read-only data dir", func(t *testing.T) {
		// Permission bits do not bind root, which the tests run as; a
		// read-only bind mount does, in a mount namespace of the server's
		// own (gone when it exits).
		unshare, err := exec.LookPath("unshare")
		if err != nil {
			t.Skip("no unshare(1) to make a read-only mount")
		}
		d := seeded(t)
		if out, err := exec.Command(unshare, "-m", "--propagation", "private", "true").CombinedOutput(); err != nil {
			t.Skipf("cannot make a mount namespace (not root?): %v %s", err, out)
		}
		wrap := []string{unshare, "-m", "--propagation", "private", "sh", "-c",
			`mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"`, "sh", d, clavisBin(t)}
		refuses(t, dir, env, d, wrap, dbPath(d), "cannot open the database file", "read-only file system", "writable")
	})

	t.Run("unreadable: clavis.db is a directory", func(t *testing.T) {
		d := filepath.Join(t.TempDir(), "data")
		if err := os.MkdirAll(dbPath(d), 0o700); err != nil {
			t.Fatal(err)
		}
		refuses(t, dir, env, d, nil, dbPath(d), "cannot open the database file", "is a directory")
	})
}

// refuses starts the server on dataDir (through wrap, when given) and
// checks that it refuses as TestStartRefusesBrokenDataDir says.
func refuses(t *testing.T, dir string, env []string, dataDir string, wrap []string, want ...string) {
	t.Helper()
	beforeFiles := tree(t, dataDir)
	env = append(env, "CLAVIS_DATA_DIR="+dataDir)
	var code int
	var stderr string
	if wrap == nil {
		code, _, stderr = runClavis(t, dir, env)
	} else {
		code, _, stderr = runCommand(t, dir, env, wrap[0], wrap[1:]...)
	}
	var lines []string
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if !json.Valid([]byte(line)) {
			lines = append(lines, line)
		}
	}
	t.Logf("exit %d, stderr: %s", code, strings.Join(lines, "\n"))
	if code != 1 {
		t.Errorf("exit code %d, want 1; stderr:\n%s", code, stderr)
	}
	if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
		t.Errorf("the server panicked:\n%s", stderr)
	}
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "clavis serve: ") {
		t.Fatalf("want one error line from clavis serve, got %q", lines)
	}
	for _, w := range want {
		if !strings.Contains(lines[0], w) {
			t.Errorf("the error does not say %q: %s", w, lines[0])
		}
	}
	if after := tree(t, dataDir); !mapsEqual(beforeFiles, after) {
		t.Errorf("the data directory changed:\nbefore %v\nafter  %v", beforeFiles, after)
	}
}

// tree maps every path under root to its content's hash ("dir" for a directory).
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			out[p] = "dir"
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[p] = hex.EncodeToString(sum[:8])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestImportOldDataDir starts the binary on a copy of a data directory
// written by release a018ec1 (embedded FerretDB): it must refuse and say to
// run `clavis import-ferretdb`; after the import, a seeded user logs in and
// reads the outing the fixture's README describes.
func TestImportOldDataDir(t *testing.T) {
	dir := t.TempDir()
	d := filepath.Join(dir, "data")
	if err := os.MkdirAll(d, 0o700); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile("../internal/ferretdump/testdata/release-a018ec1/clavis.sqlite")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d, "clavis.sqlite"), old, 0o600); err != nil {
		t.Fatal(err)
	}
	env := baseEnv(t, dir, "CLAVIS_DATA_DIR="+d)

	refuses(t, dir, baseEnv(t, dir), d, nil, d, "clavis.sqlite", "run `clavis import-ferretdb`")

	code, stdout, stderr := runClavis(t, dir, env, "import-ferretdb")
	if code != 0 {
		t.Fatalf("clavis import-ferretdb: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if strings.Contains(line, "import done") || strings.Contains(line, "collection=outings") || strings.Contains(line, "collection=users") {
			t.Logf("import-ferretdb: %s", line)
		}
	}
	if got, _ := os.ReadFile(filepath.Join(d, "clavis.sqlite")); string(got) != string(old) {
		t.Errorf("the import changed the old file")
	}

	s := startServer(t, dir, "imported", env)
	t.Cleanup(func() { s.stop(t) })
	s.waitReady(t)
	pia := s.login(t, "pia@demo.clavis.app", seed.Password)
	var list struct {
		Items []struct {
			ID, Status, Note string
		}
	}
	s.call(t, "GET", "/v1/outings?limit=100", pia, nil, 200, &list)
	var fika string
	for _, o := range list.Items {
		if o.Note == "Fixture: fika at Stora Torg" {
			fika = o.ID
		}
	}
	if fika == "" {
		t.Fatalf("pia's outings after the import have no fixture outing: %+v", list.Items)
	}
	var o struct {
		ID, Status string
		StartsAt   string `json:"starts_at"`
	}
	s.call(t, "GET", "/v1/outings/"+fika, pia, nil, 200, &o)
	if o.Status != "confirmed" || o.StartsAt != "2026-12-01T10:00:00Z" {
		t.Errorf("imported outing %s: status %q, starts_at %q; want confirmed at 2026-12-01T10:00:00Z", fika, o.Status, o.StartsAt)
	}
	t.Logf("after the import pia@demo.clavis.app logs in and reads outing %s: %s, starts %s (%d outings listed)", fika, o.Status, o.StartsAt, len(list.Items))
}
