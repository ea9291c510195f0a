package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A write load of outing flows through HTTP, and a ledger of what the
// server acknowledged, for the crash and backup tests to check against.

// next lists the statuses an outing may move to from each status (the
// state machine of matching/rules.go, system moves included).
var next = map[string][]string{
	"open":             {"pending_approval", "cancelled", "expired"},
	"pending_approval": {"confirmed", "open", "cancelled", "expired"},
	"confirmed":        {"in_progress", "cancelled", "open"},
	"in_progress":      {"completed"},
}

// reachable reports whether an outing in status from can legally be in
// status to later (or still).
func reachable(from, to string) bool {
	seen := map[string]bool{from: true}
	queue := []string{from}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		if s == to {
			return true
		}
		for _, n := range next[s] {
			if !seen[n] {
				seen[n] = true
				queue = append(queue, n)
			}
		}
	}
	return false
}

// record is what the server said about one outing: the status its last
// acknowledged write left, and the target of a write sent but never
// answered (the server died), which may or may not have committed.
type record struct {
	status   string
	inflight string
}

type ledger struct {
	mu      sync.Mutex
	outings map[string]*record
	slot    atomic.Int64 // outing start slots handed out, across rounds
	base    time.Time

	acked, unanswered, rejected atomic.Int64
	problems                    []string
}

func newLedger() *ledger {
	return &ledger{outings: map[string]*record{}, base: time.Now().Add(26 * time.Hour).Truncate(time.Hour)}
}

// snapshot copies the acknowledged statuses now.
func (l *ledger) snapshot() map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]string, len(l.outings))
	for id, r := range l.outings {
		out[id] = r.status
	}
	return out
}

func (l *ledger) problem(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.problems = append(l.problems, fmt.Sprintf(format, args...))
}

// maxSlots keeps every outing within the year ahead POST /v1/outings allows.
const maxSlots = 2800

// runLoad runs workers goroutines against s until ctx ends or s stops
// answering. Worker g acts as participant g and volunteer g with the
// coordinator; its outings go open → accepted → approved → cancelled,
// stopping at each stage in turn, so every status is represented. Each
// outing has a 3-hour slot of its own, so no volunteer is ever busy and
// no week goes over the weekly cap.
func runLoad(ctx context.Context, s *server, c *community, l *ledger, workers int) {
	var wg sync.WaitGroup
	for g := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			part, vol := c.participants[g%len(c.participants)], c.volunteers[g%len(c.volunteers)]
			for ctx.Err() == nil {
				n := l.slot.Add(1)
				if n > maxSlots {
					return
				}
				if !l.flow(s, c, part, vol, n) {
					return
				}
			}
		}()
	}
	wg.Wait()
}

// flow runs one outing's flow; false when the server stopped answering.
func (l *ledger) flow(s *server, c *community, part, vol person, n int64) bool {
	status, raw, err := s.do("POST", "/v1/outings", part.token, newOuting(l.base.Add(time.Duration(n)*3*time.Hour)))
	if err != nil {
		l.unanswered.Add(1)
		return false
	}
	var o outingView
	if status != 201 || json.Unmarshal(raw, &o) != nil || o.ID == "" {
		l.rejected.Add(1)
		l.problem("create: %d %s", status, raw)
		return true
	}
	l.acked.Add(1)
	rec := &record{status: "open"}
	l.mu.Lock()
	l.outings[o.ID] = rec
	l.mu.Unlock()
	steps := []struct {
		token, action, to string
		body              any
	}{
		{vol.token, "accept", "pending_approval", nil},
		{c.coord, "approve", "confirmed", nil},
		{part.token, "cancel", "cancelled", map[string]any{"reason": "load test"}},
	}
	for _, st := range steps[:n%4] {
		l.mu.Lock()
		rec.inflight = st.to
		l.mu.Unlock()
		status, raw, err := s.do("POST", "/v1/outings/"+o.ID+"/"+st.action, st.token, st.body)
		if err != nil {
			l.unanswered.Add(1)
			return false
		}
		l.mu.Lock()
		rec.inflight = ""
		if status == 200 {
			rec.status = st.to
		}
		l.mu.Unlock()
		if status != 200 {
			l.rejected.Add(1)
			l.problem("%s %s: %d %s", st.action, o.ID, status, raw)
			return true
		}
		l.acked.Add(1)
	}
	return true
}

// check reads every outing of the ledger back from s, as the coordinator,
// and reports how many are in each status. allowed says which statuses an
// outing may be in given its record; every outing must also be in a
// possible state: a volunteer exactly when the status needs one, and a
// history that starts at open, chains without gaps and ends at the status.
func check(t *testing.T, s *server, c *community, outings map[string]*record, allowed func(r *record, got string) bool) map[string]int {
	t.Helper()
	ids := make([]string, 0, len(outings))
	for id := range outings {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var mu sync.Mutex
	counts := map[string]int{}
	var bad []string
	var wg sync.WaitGroup
	work := make(chan string)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				msg, status := checkOne(s, c, id, outings[id], allowed)
				mu.Lock()
				counts[status]++
				if msg != "" {
					bad = append(bad, msg)
				}
				mu.Unlock()
			}
		}()
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	slices.Sort(bad)
	for i, b := range bad {
		if i == 20 {
			t.Errorf("... and %d more", len(bad)-20)
			break
		}
		t.Error(b)
	}
	return counts
}

func checkOne(s *server, c *community, id string, r *record, allowed func(r *record, got string) bool) (string, string) {
	status, raw, err := s.do("GET", "/v1/outings/"+id, c.coord, nil)
	if err != nil || status != 200 {
		return fmt.Sprintf("acknowledged outing %s: GET answered %d %v %s", id, status, err, raw), "missing"
	}
	var o outingView
	if err := json.Unmarshal(raw, &o); err != nil {
		return fmt.Sprintf("outing %s: %v", id, err), "undecodable"
	}
	if !allowed(r, o.Status) {
		return fmt.Sprintf("outing %s is %s; acknowledged %s (unanswered write to %q)", id, o.Status, r.status, r.inflight), o.Status
	}
	needsVolunteer := o.Status == "pending_approval" || o.Status == "confirmed" || o.Status == "in_progress" || o.Status == "completed"
	if needsVolunteer != (o.VolunteerID != "") && o.Status != "cancelled" {
		return fmt.Sprintf("outing %s is %s with volunteer_id %q: impossible", id, o.Status, o.VolunteerID), o.Status
	}
	status, raw, err = s.do("GET", "/v1/outings/"+id+"/history", c.coord, nil)
	var h struct{ Items []historyItem }
	if err != nil || status != 200 || json.Unmarshal(raw, &h) != nil {
		return fmt.Sprintf("outing %s history: %d %v %s", id, status, err, raw), o.Status
	}
	var steps []string
	prev := ""
	for _, it := range h.Items {
		steps = append(steps, it.From+">"+it.To)
		if it.From != prev || (prev != "" && !reachable(prev, it.To)) {
			return fmt.Sprintf("outing %s history %v breaks at %s>%s", id, steps, it.From, it.To), o.Status
		}
		prev = it.To
	}
	if prev != o.Status {
		return fmt.Sprintf("outing %s is %s but its history %v ends at %q", id, o.Status, steps, prev), o.Status
	}
	return "", o.Status
}

func formatCounts(m map[string]int) string {
	var parts []string
	for k, v := range m {
		parts = append(parts, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}
