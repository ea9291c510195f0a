package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clavis-app/clavis/api"
	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/logtest"
	"github.com/clavis-app/clavis/matching"
)

// count counts the rows of the SQLite table that holds one of matching's collections.
func count(t *testing.T, e *testEnv, coll string) int64 {
	t.Helper()
	tables := map[string]string{matching.CollOutings: "outings", matching.CollFeedback: "feedback",
		matching.CollVolunteers: "volunteer_profiles", matching.CollParticipants: "participant_profiles"}
	table, ok := tables[coll]
	if !ok {
		t.Fatalf("no table for %s", coll)
	}
	var n int64
	if err := e.SQL.QueryRowContext(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// wantField checks a 422 validation problem naming field.
func wantField(t *testing.T, e *testEnv, name string, status int, body []byte, field string) {
	t.Helper()
	if status != 422 {
		t.Errorf("%s: status %d, want 422: %s", name, status, body)
		return
	}
	p := e.Problem(body)
	if p.Type != api.ProblemBase+"validation" {
		t.Errorf("%s: type %s", name, p.Type)
	}
	for _, fe := range p.Errors {
		if fe.Field == field {
			return
		}
	}
	t.Errorf("%s: errors %+v do not name %q", name, p.Errors, field)
}

func TestBadOutingInputNamesTheFieldAndWritesNothing(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	p := newPerson(e, auth.RoleParticipant, org)
	other := newPerson(e, auth.RoleParticipant, org)
	c := newPerson(e, auth.RoleCoordinator, org)
	v := freeVolunteer(e, org)
	start := e.Clock.Now().Add(24 * time.Hour)
	with := func(k string, val any) map[string]any { return outingBody(start, map[string]any{k: val}) }
	without := func(k string) map[string]any {
		b := outingBody(start, nil)
		delete(b, k)
		return b
	}
	mp := func(k string, val any) map[string]any {
		m := map[string]any{"lat": torgLat, "lon": torgLon, "description": "x"}
		if val == nil {
			delete(m, k)
		} else {
			m[k] = val
		}
		return with("meeting_point", m)
	}
	creates := []struct {
		name  string
		who   person
		body  any
		field string
	}{
		{"in the past", p, with("starts_at", e.Clock.Now().Add(-time.Minute).Format(time.RFC3339)), "starts_at"},
		{"ends before it starts", p, with("ends_at", start.Add(-time.Hour).Format(time.RFC3339)), "ends_at"},
		{"longer than 12 h", p, with("ends_at", start.Add(12*time.Hour+time.Minute).Format(time.RFC3339)), "ends_at"},
		{"not a time", p, with("starts_at", "tomorrow at two"), "starts_at"},
		{"no offset", p, with("starts_at", "2026-12-01T14:00:00"), "starts_at"},
		{"unknown kind", p, with("kind", "disco"), "kind"},
		{"kind of the wrong type", p, with("kind", 7), "kind"},
		{"no kind", p, without("kind"), "kind"},
		{"no meeting point", p, without("meeting_point"), "meeting_point"},
		{"latitude out of range", p, mp("lat", 91.0), "meeting_point.lat"},
		{"no longitude", p, mp("lon", nil), "meeting_point.lon"},
		{"long note", p, with("note", strings.Repeat("a", 1001)), "note"},
		{"companion gender", p, with("companion_gender", "robot"), "companion_gender"},
		{"language", p, with("language", "de"), "language"},
		{"for another participant", p, with("participant_id", other.ID), "participant_id"},
		{"coordinator without participant", c, outingBody(start, nil), "participant_id"},
		{"coordinator for a volunteer", c, with("participant_id", v.ID), "participant_id"},
	}
	for _, tc := range creates {
		status, body := e.Call("POST", "/v1/outings", tc.who.Token, tc.body)
		wantField(t, e, "create: "+tc.name, status, body, tc.field)
	}
	if n := count(t, e, matching.CollOutings); n != 0 {
		t.Fatalf("%d outings written by bad requests", n)
	}
	status, body := e.Call("POST", "/v1/outings", p.Token, []byte(`{"kind": "cafe",`))
	if status != 400 {
		t.Fatalf("malformed JSON: %d %s", status, body)
	}

	// Transition bodies and headers.
	id := createOuting(e, p, start)
	done(t)(matchingOf(e).Accept(context.Background(), v.Who, id))
	before := done(t)(matchingOf(e).Outing(context.Background(), c.Who, id))
	transitions := []struct {
		name, path string
		who        person
		body       any
		headers    []string
		field      string
	}{
		{"reject without reason", "reject", c, map[string]any{}, nil, "reason"},
		{"reject with blank reason", "reject", c, map[string]any{"reason": "   "}, nil, "reason"},
		{"cancel with a long reason", "cancel", p, map[string]any{"reason": strings.Repeat("b", 501)}, nil, "reason"},
		{"approve with a bad If-Match", "approve", c, nil, []string{"If-Match", "yesterday"}, "If-Match"},
	}
	for _, tc := range transitions {
		status, body := e.Call("POST", "/v1/outings/"+id+"/"+tc.path, tc.who.Token, tc.body, tc.headers...)
		wantField(t, e, tc.name, status, body, tc.field)
	}
	if after := done(t)(matchingOf(e).Outing(context.Background(), c.Who, id)); after.Version != before.Version || after.Status != before.Status {
		t.Fatalf("bad transition requests changed the outing: %+v", after)
	}

	// Feedback.
	done(t)(matchingOf(e).Approve(context.Background(), c.Who, id))
	e.Clock.Set(start.Add(-10 * time.Minute))
	done(t)(matchingOf(e).CheckIn(context.Background(), p.Who, id))
	e.Clock.Set(start) // not completed before it starts
	done(t)(matchingOf(e).Complete(context.Background(), p.Who, id))
	renew(e, &p, &v, &c)
	feedback := []struct {
		name  string
		who   person
		body  any
		field string
	}{
		{"no rating", p, map[string]any{"comment": "nice"}, "rating"},
		{"rating 6", p, map[string]any{"rating": 6}, "rating"},
		{"rating as text", p, map[string]any{"rating": "five"}, "rating"},
		{"comfort out of range", p, map[string]any{"rating": 4, "comfort_before": 9}, "comfort_before"},
		{"volunteer's comfort", v, map[string]any{"rating": 4, "comfort_after": 3}, "comfort_after"},
		{"long comment", v, map[string]any{"rating": 4, "comment": strings.Repeat("c", 1001)}, "comment"},
	}
	for _, tc := range feedback {
		status, body := e.Call("POST", "/v1/outings/"+id+"/feedback", tc.who.Token, tc.body)
		wantField(t, e, "feedback: "+tc.name, status, body, tc.field)
	}
	if n := count(t, e, matching.CollFeedback); n != 0 {
		t.Fatalf("%d feedback rows written by bad requests", n)
	}

	// Lists.
	for _, q := range []struct{ query, field string }{
		{"status=lost", "status"}, {"limit=0", "limit"}, {"limit=101", "limit"}, {"cursor=bm90LWEtY3Vyc29y", "cursor"},
	} {
		status, body := e.Call("GET", "/v1/outings?"+q.query, c.Token, nil)
		wantField(t, e, "list "+q.query, status, body, q.field)
	}
}

func TestIdempotentCreate(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	p := newPerson(e, auth.RoleParticipant, org)
	p2 := newPerson(e, auth.RoleParticipant, org)
	body := outingBody(e.Clock.Now().Add(30*time.Hour), nil)

	resp1, first := e.Do("POST", "/v1/outings", p.Token, body, "Idempotency-Key", "k-1")
	if resp1.StatusCode != 201 {
		t.Fatalf("first: %d %s", resp1.StatusCode, first)
	}
	resp2, again := e.Do("POST", "/v1/outings", p.Token, body, "Idempotency-Key", "k-1")
	if resp2.StatusCode != 201 || string(again) != string(first) || resp2.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %s (first %s)", resp2.StatusCode, again, first)
	}
	if n := count(t, e, matching.CollOutings); n != 1 {
		t.Fatalf("%d outings after a replay", n)
	}
	changed := outingBody(e.Clock.Now().Add(31*time.Hour), nil)
	status, b := e.Call("POST", "/v1/outings", p.Token, changed, "Idempotency-Key", "k-1")
	wantField(t, e, "same key, other body", status, b, "Idempotency-Key")
	// Another user's key is their own.
	status, b = e.Call("POST", "/v1/outings", p2.Token, body, "Idempotency-Key", "k-1")
	e.Want(status, b, 201)
	if n := count(t, e, matching.CollOutings); n != 2 {
		t.Fatalf("%d outings, want 2", n)
	}
	// A first answer that was a 422 is replayed as a 422, and writes nothing.
	bad := outingBody(e.Clock.Now().Add(-time.Hour), nil)
	s1, b1 := e.Call("POST", "/v1/outings", p.Token, bad, "Idempotency-Key", "k-bad")
	s2, b2 := e.Call("POST", "/v1/outings", p.Token, bad, "Idempotency-Key", "k-bad")
	if s1 != 422 || s2 != 422 || string(b1) != string(b2) {
		t.Fatalf("replayed 422: %d %s / %d %s", s1, b1, s2, b2)
	}
	status, b = e.Call("POST", "/v1/outings", p.Token, body, "Idempotency-Key", strings.Repeat("k", 256))
	wantField(t, e, "key too long", status, b, "Idempotency-Key")

	// Ten copies of one request at once: one outing, every 201 the same.
	key := "k-burst"
	burst := outingBody(e.Clock.Now().Add(40*time.Hour), nil)
	var reqs []func() (int, []byte)
	for range 10 {
		reqs = append(reqs, func() (int, []byte) { return e.Call("POST", "/v1/outings", p.Token, burst, "Idempotency-Key", key) })
	}
	statuses, bodies := raceCalls(e, reqs)
	var created string
	for i, s := range statuses {
		switch s {
		case 201:
			if created == "" {
				created = string(bodies[i])
			} else if string(bodies[i]) != created {
				t.Fatalf("two different 201 answers for one key:\n%s\n%s", created, bodies[i])
			}
		case 409: // the first was still running
		default:
			t.Fatalf("burst: %d %s", s, bodies[i])
		}
	}
	if n := count(t, e, matching.CollOutings); n != 3 {
		t.Fatalf("%d outings after the burst, want 3", n)
	}

	// After 24 hours the sweep forgets the key, and it creates again.
	e.Clock.Advance(24*time.Hour + time.Minute)
	st, err := api.NewIdempotencySQLite(context.Background(), e.SQL)
	if err != nil {
		t.Fatal(err)
	}
	n, err := st.Sweep(context.Background(), e.Clock.Now())
	if err != nil || n != 4 {
		t.Fatalf("sweep deleted %d keys, want 4: %v", n, err)
	}
	renew(e, &p)
	body = outingBody(e.Clock.Now().Add(30*time.Hour), nil)
	status, b = e.Call("POST", "/v1/outings", p.Token, body, "Idempotency-Key", "k-1")
	e.Want(status, b, 201)
	if n := count(t, e, matching.CollOutings); n != 4 {
		t.Fatalf("%d outings after the key expired, want 4", n)
	}
}

func TestIdempotentFeedback(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	p := newPerson(e, auth.RoleParticipant, org)
	c := newPerson(e, auth.RoleCoordinator, org)
	v := freeVolunteer(e, org)
	ctx, svc := context.Background(), matchingOf(e)
	start := e.Clock.Now().Add(20 * time.Minute)
	id := createOuting(e, p, start)
	done(t)(svc.Accept(ctx, v.Who, id))
	done(t)(svc.Approve(ctx, c.Who, id))
	done(t)(svc.CheckIn(ctx, v.Who, id))
	e.Clock.Set(start) // not completed before it starts
	renew(e, &p)
	done(t)(svc.Complete(ctx, v.Who, id))
	fb := map[string]any{"rating": 5, "comfort_after": 4}
	s1, b1 := e.Call("POST", "/v1/outings/"+id+"/feedback", p.Token, fb, "Idempotency-Key", "fb-1")
	s2, b2 := e.Call("POST", "/v1/outings/"+id+"/feedback", p.Token, fb, "Idempotency-Key", "fb-1")
	if s1 != 201 || s2 != 201 || string(b1) != string(b2) {
		t.Fatalf("feedback replay: %d %s / %d %s", s1, b1, s2, b2)
	}
	// Without the key, a second feedback is refused: once per person.
	s3, b3 := e.Call("POST", "/v1/outings/"+id+"/feedback", p.Token, fb)
	e.Want(s3, b3, 409)
	if n := count(t, e, matching.CollFeedback); n != 1 {
		t.Fatalf("%d feedback rows", n)
	}
}

// Paging through more than 100 outings while new ones are added: every
// outing that existed when paging began is seen exactly once, and nothing
// is seen twice.
func TestPaginationPast100WhileInserting(t *testing.T) {
	var logs logtest.Buffer
	e := newTestEnv(t, func(d *api.Deps) { d.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	defer func() {
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	}()
	org := e.Org("Röda Korset Halmstad")
	p := newPerson(e, auth.RoleParticipant, org)
	c := newPerson(e, auth.RoleCoordinator, org)
	const existing = 130
	want := map[string]bool{}
	for i := range existing {
		// Some share a creation millisecond, so the _id tie-break is exercised.
		if i%3 == 0 {
			e.Clock.Advance(time.Second)
		}
		want[createOuting(e, p, e.Clock.Now().Add(48*time.Hour))] = true
	}

	for _, tc := range []struct {
		who   person
		limit int
	}{{c, 25}, {p, 100}, {c, 7}} {
		// While each page is fetched, three new outings are being added.
		stop := make(chan struct{})
		tick := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		inserted := 0
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-tick:
				}
				for range 3 {
					e.Clock.Advance(time.Millisecond)
					if _, err := matchingOf(e).CreateOuting(context.Background(), p.Who, matching.OutingRequest{
						Kind: matching.KindWalk, StartsAt: e.Clock.Now().Add(50 * time.Hour), EndsAt: e.Clock.Now().Add(51 * time.Hour),
						MeetingPoint: matching.MeetingPoint{Lat: torgLat, Lon: torgLon}}); err != nil {
						t.Error(err)
						return
					}
					inserted++
				}
			}
		}()
		seen := map[string]int{}
		cursor, pages := "", 0
		var last time.Time
		for {
			select {
			case tick <- struct{}{}:
			default: // the inserter is still busy with the last three
			}
			path := fmt.Sprintf("/v1/outings?limit=%d", tc.limit)
			if cursor != "" {
				path += "&cursor=" + cursor
			}
			status, body := e.Call("GET", path, tc.who.Token, nil)
			if status != 200 {
				close(stop)
				wg.Wait()
				t.Fatalf("page %d: %d %s", pages, status, body)
			}
			var page matching.OutingPage
			if err := json.Unmarshal(body, &page); err != nil {
				t.Fatal(err)
			}
			if len(page.Items) > tc.limit {
				t.Fatalf("page of %d items, limit %d", len(page.Items), tc.limit)
			}
			for _, it := range page.Items {
				seen[it.ID]++
				if !last.IsZero() && it.CreatedAt.After(last) {
					t.Fatalf("not newest first: %s after %s", it.CreatedAt, last)
				}
				last = it.CreatedAt
			}
			pages++
			if page.NextCursor == "" {
				break
			}
			cursor = page.NextCursor
		}
		close(stop)
		wg.Wait()
		for id, n := range seen {
			if n > 1 {
				t.Fatalf("limit %d: outing %s seen %d times", tc.limit, id, n)
			}
		}
		for id := range want {
			if seen[id] != 1 {
				t.Fatalf("limit %d: outing %s that existed before paging was skipped", tc.limit, id)
			}
		}
		t.Logf("limit %d: %d pages, %d outings seen, %d inserted meanwhile", tc.limit, pages, len(seen), inserted)
		for id := range seen {
			want[id] = true // next pass must see these too
		}
	}
	// Filter by status.
	status, body := e.Call("GET", "/v1/outings?status=completed", c.Token, nil)
	e.Want(status, body, 200)
	if !strings.Contains(string(body), `"items":[]`) {
		t.Fatalf("no outing is completed: %s", body)
	}
}
