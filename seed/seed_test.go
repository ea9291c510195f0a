package seed

import (
	"bytes"
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/clock"
	"github.com/clavis-app/clavis/internal/sqlite"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
	"github.com/clavis-app/clavis/matching"
)

// The seed makes the demo once: a second run adds nothing and prints the
// same logins; the outings are in the states the demo promises.
func TestSeedIsIdempotent(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 19, 0, 0, 0, time.UTC)
	sq, runs, ms, accts := newSeedEnv(t, now)
	counts := func() map[string]int64 {
		out := map[string]int64{}
		for _, table := range []string{"users", "organisations", "outings", "volunteer_profiles", "participant_profiles", "feedback"} {
			var n int64
			if err := sq.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
				t.Fatal(err)
			}
			out[table] = n
		}
		return out
	}
	var first, second bytes.Buffer
	if err := Run(ctx, runs, ms, accts, now, &first); err != nil {
		t.Fatal(err)
	}
	after1 := counts()
	if err := Run(ctx, runs, ms, accts, now.Add(time.Hour), &second); err != nil {
		t.Fatalf("second run: %v", err)
	}
	after2 := counts()
	for c, n := range after1 {
		if after2[c] != n {
			t.Fatalf("%s: %d documents after the first run, %d after the second", c, n, after2[c])
		}
	}
	if after1["outings"] != 6 || after1["volunteer_profiles"] != 3 || after1["feedback"] != 2 {
		t.Fatalf("seeded %v", after1)
	}
	if first.String() != second.String() || !bytes.Contains(first.Bytes(), []byte("coordinator@demo.clavis.app")) {
		t.Fatalf("logins differ or missing:\n%s\n---\n%s", first.String(), second.String())
	}
	seen := map[string]bool{}
	rows, err := sq.QueryContext(ctx, "SELECT status FROM outings")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var st string
		if err := rows.Scan(&st); err != nil {
			t.Fatal(err)
		}
		seen[st] = true
	}
	_ = rows.Close()
	for _, st := range []string{"completed", "open", "pending_approval", "confirmed", "cancelled"} {
		if !seen[st] {
			t.Fatalf("no seeded outing is %s: %v", st, seen)
		}
	}
	// Every demo volunteer and participant is vetted (active) by the coordinator.
	tokens, err := accts.Login(ctx, "lena@demo.clavis.app", Password, "")
	if err != nil {
		t.Fatal(err)
	}
	id, err := accts.Authenticate(ctx, tokens.AccessToken)
	if err != nil || id.Status != auth.StatusActive {
		t.Fatalf("lena: %+v %v", id, err)
	}
	u, err := accts.User(ctx, id.UserID)
	if err != nil || u.Vetting == nil {
		t.Fatalf("lena not vetted: %+v %v", u, err)
	}
}

// newSeedEnv opens every store the seed writes in one SQLite file, as the
// server keeps them.
func newSeedEnv(t *testing.T, now time.Time) (*sqlite.DB, Runs, matching.Store, *auth.Service) {
	t.Helper()
	ctx := context.Background()
	keys, err := auth.GenerateKeySet()
	if err != nil {
		t.Fatal(err)
	}
	sq := sqlitetest.New(t)
	accountStore, err := auth.NewSQLiteStore(ctx, sq)
	if err != nil {
		t.Fatal(err)
	}
	accts, err := auth.New(ctx, auth.Config{Store: accountStore, Keys: keys, Clock: clock.NewFake(now), Hash: auth.TestHashParams})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := matching.NewSQLiteStore(ctx, sq)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := NewSQLiteRuns(ctx, sq)
	if err != nil {
		t.Fatal(err)
	}
	return sq, runs, ms, accts
}

var walkableLine = regexp.MustCompile(`Walkable now: outing (\S+) .*, (\S+), starts (\S+);`)

// The seed leaves one confirmed outing starting 20 minutes after its first
// run, whatever the hour (here late at night, outside the other
// volunteers' hours), that its participant can check in to at once; a
// later run, even after that start, keeps it and prints the same id and
// start time.
func TestSeedLeavesAWalkableOuting(t *testing.T) {
	ctx := context.Background()
	stockholm, err := time.LoadLocation("Europe/Stockholm")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 23, 14, 27, 0, stockholm)
	_, runs, ms, accts := newSeedEnv(t, now)
	var first, second bytes.Buffer
	if err := Run(ctx, runs, ms, accts, now, &first); err != nil {
		t.Fatal(err)
	}
	m := walkableLine.FindStringSubmatch(first.String())
	if m == nil {
		t.Fatalf("no walkable outing printed:\n%s", first.String())
	}
	id, status := m[1], m[2]
	start, err := time.Parse(time.RFC3339, m[3])
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 11, 25, 23, 34, 0, 0, stockholm); !start.Equal(want) || status != "confirmed" {
		t.Fatalf("walkable outing %s starts %s, want %s confirmed", status, start, want)
	}
	if err := Run(ctx, runs, ms, accts, start.Add(2*time.Hour), &second); err != nil {
		t.Fatalf("second run, after the start: %v", err)
	}
	if second.String() != first.String() {
		t.Fatalf("a second run printed something else:\n%s\n---\n%s", first.String(), second.String())
	}

	tokens, err := accts.Login(ctx, "pia@demo.clavis.app", Password, "")
	if err != nil {
		t.Fatal(err)
	}
	pia, err := accts.Authenticate(ctx, tokens.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := matching.NewService(ctx, ms, matching.Config{Clock: clock.NewFake(now.Add(time.Minute)), Directory: matching.AccountsDirectory(accts)})
	if err != nil {
		t.Fatal(err)
	}
	v, err := svc.CheckIn(ctx, pia, id)
	if err != nil || v.Status != matching.StatusInProgress {
		t.Fatalf("check-in a minute after the seed: %+v %v", v.Status, err)
	}
}
