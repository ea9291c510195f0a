package simulate

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/clavis-app/clavis/matching"
)

// small is a town that runs in a few seconds; the default town is a
// figure (docs/simulate.md), not a test.
var small = Config{Participants: 16, Volunteers: 12, Days: 5, Seed: 7}

var (
	smallOnce sync.Once
	smallRes  Result
	smallErr  error
)

func smallRun(t *testing.T) Result {
	t.Helper()
	smallOnce.Do(func() { smallRes, smallErr = Run(context.Background(), small) })
	if smallErr != nil {
		t.Fatal(smallErr)
	}
	return smallRes
}

func render(t *testing.T, r Result) (table, js []byte) {
	t.Helper()
	var a, b bytes.Buffer
	if err := r.WriteTable(&a); err != nil {
		t.Fatal(err)
	}
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	return a.Bytes(), b.Bytes()
}

func TestSameSeedGivesByteIdenticalOutput(t *testing.T) {
	first := smallRun(t)
	again, err := Run(context.Background(), small)
	if err != nil {
		t.Fatal(err)
	}
	t1, j1 := render(t, first)
	t2, j2 := render(t, again)
	if !bytes.Equal(t1, t2) || !bytes.Equal(j1, j2) {
		t.Fatalf("same seed, different output:\n%s\n%s", t1, t2)
	}
	// And the run is not trivially empty.
	if first.Clavis.Requests == 0 || first.Clavis.Completed == 0 || first.Clavis.Offers == 0 {
		t.Fatalf("nothing happened: %+v", first.Clavis)
	}
	t.Logf("\n%s", t1)

	// The seed is what makes the town: another one gives another.
	places, err := Places()
	if err != nil {
		t.Fatal(err)
	}
	other := small
	other.Seed++
	a, b := buildTown(small, places, Start()), buildTown(other, places, Start())
	if a.volunteers[0].home == b.volunteers[0].home || a.requests[0].createdAt.Equal(b.requests[0].createdAt) {
		t.Fatal("another seed gave the same town: the seed is not used")
	}
}

func TestSimulatedClockNeverGoesBackwards(t *testing.T) {
	r := smallRun(t)
	for i, tr := range r.traces {
		if tr.clockReads == 0 {
			t.Fatalf("run %d: the services never read the simulated clock", i)
		}
		if tr.clockBackwards != 0 {
			t.Fatalf("run %d: the clock went back %d times in %d reads", i, tr.clockBackwards, tr.clockReads)
		}
	}
}

func TestEverySimulatedOutingEndsInAFinalState(t *testing.T) {
	r := smallRun(t)
	for i, tr := range r.traces {
		if len(tr.finalStatus) != r.Clavis.Requests {
			t.Fatalf("run %d: %d outings for %d requests", i, len(tr.finalStatus), r.Clavis.Requests)
		}
		seen := map[matching.OutingStatus]int{}
		for id, st := range tr.finalStatus {
			switch st {
			case matching.StatusCompleted, matching.StatusExpired, matching.StatusCancelled:
				seen[st]++
			default:
				t.Fatalf("run %d: outing %s ends %s", i, id, st)
			}
		}
		if seen[matching.StatusCompleted] == 0 || seen[matching.StatusExpired] == 0 {
			t.Fatalf("run %d: the small town should both complete and expire outings: %v", i, seen)
		}
	}
}

// The outings went through matching's own transitions: the histories the
// service wrote show volunteers accepting, the coordinator approving, the
// expiry sweep (the system actor) expiring; the simulation itself never
// writes an outing.
func TestRunUsesTheServersServices(t *testing.T) {
	r := smallRun(t)
	actors := map[matching.OutingStatus]map[string]bool{}
	for _, h := range r.traces[0].histories {
		for _, e := range h {
			if actors[e.To] == nil {
				actors[e.To] = map[string]bool{}
			}
			kind, _, _ := strings.Cut(e.ActorID, "-")
			if e.ActorID == matching.SystemActor || e.ActorID == simCoordinatorID {
				kind = e.ActorID
			}
			actors[e.To][kind] = true
		}
	}
	for to, who := range map[matching.OutingStatus]string{
		matching.StatusOpen: "par", matching.StatusPendingApproval: "vol", matching.StatusConfirmed: simCoordinatorID,
		matching.StatusInProgress: "vol", matching.StatusCompleted: "vol", matching.StatusExpired: matching.SystemActor,
	} {
		if !actors[to][who] {
			t.Errorf("no %s written by %s in the histories: %v", to, who, actors[to])
		}
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"InsertOuting", "UpdateOuting", "UpdateOffers", ".Status =", "matching.Outing{"} {
			if bytes.Contains(src, []byte(bad)) {
				t.Errorf("%s contains %q: the simulation must act through the services only", f, bad)
			}
		}
	}
}

// The two runs differ in the ranking alone: swapping it for one that
// counts its calls shows the waves order through it.
func TestRunsDifferOnlyInTheRanking(t *testing.T) {
	places, err := Places()
	if err != nil {
		t.Fatal(err)
	}
	cfg := small
	cfg.Weights = matching.DefaultWeights()
	town := buildTown(cfg, places, Start())
	var mu sync.Mutex
	calls := 0
	spy := func(req matching.MatchRequest, cands []matching.Candidate, opt matching.RankOptions) ([]matching.Scored, []matching.Exclusion) {
		mu.Lock()
		calls++
		mu.Unlock()
		return matching.NearestFirst(req, cands, opt)
	}
	got, _, err := runOnce(context.Background(), cfg, town, Start(), spy)
	if err != nil {
		t.Fatal(err)
	}
	if calls == 0 {
		t.Fatal("the offer waves never asked the swapped ranking")
	}
	if want := smallRun(t).NearestFirst; got != want {
		t.Fatalf("the same ranking in another run gave other figures:\n%+v\n%+v", got, want)
	}
}
