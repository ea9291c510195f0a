package e2e

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clavis-app/clavis/notify/fcmfake"
)

// Two clavis processes share one data directory, so one SQLite file. Every
// write is a BEGIN IMMEDIATE transaction, which takes the file's write lock:
// SQLite's locking serialises the two processes' writers as it does one
// process's connections, and a read-modify-write sees the other server's
// last commit. The test crosses the outing flow between the servers, lets
// both servers' push workers run while reminders fall due (the fake FCM must
// see each push exactly once), and has both servers write the same records
// at the same moment: no acknowledged write may be lost, and of two accepts
// of one outing exactly one wins.
func TestTwoServersOneDatabaseRemindersOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs two server processes for about 50 s")
	}
	dir := t.TempDir()
	fcm := fcmfake.New()
	t.Cleanup(fcm.Close)
	env := baseEnv(t, dir,
		"CLAVIS_DATA_DIR="+filepath.Join(dir, "data"),
		"CLAVIS_FCM_ENDPOINT="+fcm.Endpoint(),
		"CLAVIS_FCM_PROJECT_ID=clavis-e2e",
		// Due 20 s and 30 s after the outing is created (it starts in 75 s).
		"CLAVIS_REMINDER_OFFSETS=55s,45s")
	s1 := startServer(t, dir, "server1", env)
	s1.waitReady(t) // the first creates the file and runs the migrations
	s2 := startServer(t, dir, "server2", env)
	t.Cleanup(func() { s1.stop(t) })
	t.Cleanup(func() { s2.stop(t) })
	s2.waitReady(t)
	for _, s := range []*server{s1, s2} {
		if !strings.Contains(s.logs(), `"engine":"sqlite"`) || !strings.Contains(s.logs(), filepath.Join(dir, "data", "clavis.db")) {
			t.Fatalf("%s does not run on the shared SQLite file; log:\n%s", s.name, s.logs())
		}
	}

	// Admin, coordinator, a participant and two volunteers (vera registered
	// on server1, vic on server2), made across both servers.
	c := newCommunity(t, "two", 1, 2, s1, s2)
	pia, vera, vic := c.participants[0], c.volunteers[0], c.volunteers[1]
	who := map[string]string{"tok-pia": "participant", "tok-vera": "volunteer", "tok-cora": "coordinator"}
	s2.call(t, "POST", "/v1/devices", pia.token, map[string]any{"token": "tok-pia", "platform": "android"}, 201, nil)
	s1.call(t, "POST", "/v1/devices", vera.token, map[string]any{"token": "tok-vera", "platform": "ios"}, 201, nil)
	s2.call(t, "POST", "/v1/devices", c.coord, map[string]any{"token": "tok-cora", "platform": "web"}, 201, nil)

	// The outing: created and accepted on server 1, approved on server 2.
	start := time.Now().Add(75 * time.Second).Truncate(time.Second)
	var outing outingView
	s1.call(t, "POST", "/v1/outings", pia.token, newOuting(start), 201, &outing)
	// Vera accepts once the offer has reached her phone, as she would.
	offered := func() bool {
		for _, m := range fcm.Messages() {
			if m.Data["type"] == "outing.offer" && m.Data["outing_id"] == outing.ID && m.Token == "tok-vera" {
				return true
			}
		}
		return false
	}
	for wait := time.Now().Add(10 * time.Second); !offered() && time.Now().Before(wait); {
		time.Sleep(50 * time.Millisecond)
	}
	if !offered() {
		t.Fatalf("no outing.offer push reached the volunteer within 10 s\nserver1 log:\n%s\nserver2 log:\n%s", s1.logs(), s2.logs())
	}
	var offers struct{ Items []struct{ ID string } }
	s2.call(t, "GET", "/v1/volunteers/me/offers", vera.token, nil, 200, &offers)
	if len(offers.Items) != 1 || offers.Items[0].ID != outing.ID {
		t.Fatalf("server2 lists the volunteer's offers as %+v, want the outing %s", offers.Items, outing.ID)
	}
	s1.call(t, "POST", "/v1/outings/"+outing.ID+"/accept", vera.token, nil, 200, &outing)
	if outing.Status != "pending_approval" {
		t.Fatalf("after accept on server1: status %q", outing.Status)
	}
	s2.call(t, "POST", "/v1/outings/"+outing.ID+"/approve", c.coord, nil, 200, &outing)
	if outing.Status != "confirmed" {
		t.Fatalf("after approve on server2: status %q", outing.Status)
	}
	s1.call(t, "GET", "/v1/outings/"+outing.ID, c.coord, nil, 200, &outing)
	if outing.Status != "confirmed" {
		t.Fatalf("server1 reads status %q", outing.Status)
	}
	t.Logf("outing %s confirmed %.1fs before its start; reminders due at start-55s and start-45s", outing.ID, time.Until(start).Seconds())

	// While the reminders fall due, both servers write the same records.
	lostUpdates(t, s1, s2, pia, vic)
	acceptRaces(t, s1, s2, c, vera, vic, start)

	// Wait for the four reminders (two offsets × participant and volunteer),
	// then keep both servers' workers running past another poll, so that a
	// second send would have time to arrive.
	reminders := func() int {
		n := 0
		for _, m := range fcm.Messages() {
			if m.Data["type"] == "outing.reminder" {
				n++
			}
		}
		return n
	}
	for deadline := start.Add(-30 * time.Second); reminders() < 4 && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(8 * time.Second)

	type key struct{ typ, outing, recipient, pushID string }
	counts := map[key]int{}
	firstAt := map[key]time.Time{}
	var order []key
	for _, m := range fcm.Messages() {
		k := key{m.Data["type"], m.Data["outing_id"], who[m.Token], m.Data["push_id"]}
		if k.recipient == "" {
			k.recipient = "unknown token " + m.Token
		}
		if counts[k] == 0 {
			order = append(order, k)
			firstAt[k] = m.ReceivedAt
		}
		counts[k]++
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].typ < order[j].typ })
	var report strings.Builder
	fmt.Fprintf(&report, "%d deliveries at the fake FCM, per type / outing / recipient / push_id:\n", len(fcm.Messages()))
	for _, k := range order {
		if k.outing == outing.ID || counts[k] != 1 {
			fmt.Fprintf(&report, "  %-16s %s %-12s %s  x%d  (first at start%+.1fs)\n", k.typ, k.outing, k.recipient, k.pushID, counts[k],
				firstAt[k].Sub(start).Seconds())
		}
	}
	fmt.Fprintf(&report, "  (pushes for the race outings, each x1, left out)\n")
	for _, s := range []*server{s1, s2} {
		fmt.Fprintf(&report, "%s clavis_push_sent_total: %v\n", s.name, s.pushSent())
	}
	t.Log(report.String())

	var gotReminders []string
	for k, n := range counts {
		if n != 1 {
			t.Errorf("%s to %s (push %s) delivered %d times, want exactly once", k.typ, k.recipient, k.pushID, n)
		}
		if k.typ == "outing.reminder" {
			if k.outing != outing.ID {
				t.Errorf("reminder for outing %q, want %q", k.outing, outing.ID)
			}
			gotReminders = append(gotReminders, k.recipient)
		}
	}
	slices.Sort(gotReminders)
	if want := []string{"participant", "participant", "volunteer", "volunteer"}; !slices.Equal(gotReminders, want) {
		t.Errorf("reminders went to %v, want %v (two offsets each)", gotReminders, want)
	}
	for _, want := range []key{{typ: "outing.offer", recipient: "volunteer"}, {typ: "outing.accepted", recipient: "coordinator"}} {
		found := false
		for k := range counts {
			found = found || (k.typ == want.typ && k.recipient == want.recipient && k.outing == outing.ID)
		}
		if !found {
			t.Errorf("no %s push to the %s", want.typ, want.recipient)
		}
	}
	var hist struct{ Items []historyItem }
	s2.call(t, "GET", "/v1/outings/"+outing.ID+"/history", c.coord, nil, 200, &hist)
	var steps []string
	for _, h := range hist.Items {
		steps = append(steps, h.From+">"+h.To)
	}
	if want := []string{">open", "open>pending_approval", "pending_approval>confirmed"}; !slices.Equal(steps, want) {
		t.Errorf("history %v, want %v", steps, want)
	}
	for _, s := range []*server{s1, s2} {
		if !strings.Contains(s.logs(), "push workers started") {
			t.Errorf("%s: push workers did not start", s.name)
		}
	}
	if t.Failed() {
		t.Logf("server1 log:\n%s\nserver2 log:\n%s", s1.logs(), s2.logs())
	}
}

// both runs a and b at the same moment and waits for them.
func both(a, b func()) {
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for _, f := range []func(){a, b} {
		wg.Add(1)
		go func() { defer wg.Done(); <-gate; f() }()
	}
	close(gate)
	wg.Wait()
}

// lostUpdates has the two servers change different fields of one record at
// the same moment, 50 rounds per record; after each round both changes must
// be there. A writer that read the record, then wrote it back whole after
// the other's commit, would undo the other's change.
func lostUpdates(t *testing.T, s1, s2 *server, pia, vic person) {
	t.Helper()
	const rounds = 50
	lost := 0
	for i := range rounds {
		name, lang := fmt.Sprintf("Pia Round%d", i), []string{"sv", "en"}[i%2]
		both(func() { s1.call(t, "PATCH", "/v1/me", pia.token, map[string]any{"name": name}, 200, nil) },
			func() { s2.call(t, "PATCH", "/v1/me", pia.token, map[string]any{"language": lang}, 200, nil) })
		var me struct{ Name, Language string }
		[]*server{s1, s2}[i%2].call(t, "GET", "/v1/me", pia.token, nil, 200, &me)
		if me.Name != name || me.Language != lang {
			lost++
			t.Errorf("round %d: PATCH name=%q on server1 and language=%q on server2 both answered 200; GET /v1/me has %q, %q", i, name, lang, me.Name, me.Language)
		}

		// The volunteer's profile and availability: one store record.
		radius := 10 + i%20
		away := time.Now().AddDate(0, 10, i).UTC().Truncate(24 * time.Hour)
		exc := []map[string]string{{"from": away.Format(time.RFC3339), "to": away.Add(24 * time.Hour).Format(time.RFC3339)}}
		both(func() { s1.call(t, "PUT", "/v1/volunteers/me/profile", vic.token, volunteerProfile(radius), 200, nil) },
			func() {
				s2.call(t, "PUT", "/v1/volunteers/me/availability", vic.token,
					map[string]any{"time_zone": "Europe/Stockholm", "weekly": fullWeek(), "exceptions": exc}, 200, nil)
			})
		// Both halves live in one stored row: read each back through the other server.
		var prof struct {
			TravelRadiusKm float64 `json:"travel_radius_km"`
		}
		var avail struct {
			Exceptions []struct {
				From string `json:"from"`
			} `json:"exceptions"`
		}
		[]*server{s1, s2}[i%2].call(t, "GET", "/v1/volunteers/me/profile", vic.token, nil, 200, &prof)
		[]*server{s2, s1}[i%2].call(t, "GET", "/v1/volunteers/me/availability", vic.token, nil, 200, &avail)
		if int(prof.TravelRadiusKm) != radius || len(avail.Exceptions) != 1 || avail.Exceptions[0].From != exc[0]["from"] {
			lost++
			t.Errorf("round %d: profile PUT (radius %d) on server1 and availability PUT (away %s) on server2 both answered 200; read back radius %v, exceptions %+v",
				i, radius, exc[0]["from"], prof.TravelRadiusKm, avail.Exceptions)
		}
	}
	t.Logf("no lost update: %d rounds × 2 records (PATCH /v1/me name on server1 ∥ language on server2; volunteer profile PUT on server1 ∥ availability PUT on server2): %d acknowledged writes, %d lost",
		rounds, rounds*4, lost)
}

// acceptRaces has vera (through server1) and vic (through server2) accept
// the same open outing at the same moment, for several outings: each time
// exactly one 200 and one 409.
func acceptRaces(t *testing.T, s1, s2 *server, c *community, vera, vic person, after time.Time) {
	t.Helper()
	const races = 12
	wins := map[string]int{}
	for i := range races {
		var o outingView
		[]*server{s1, s2}[i%2].call(t, "POST", "/v1/outings", c.participants[0].token, newOuting(after.Add(26*time.Hour+time.Duration(i)*3*time.Hour)), 201, &o)
		var st1, st2 int
		var raw1, raw2 []byte
		both(func() { st1, raw1, _ = s1.do("POST", "/v1/outings/"+o.ID+"/accept", vera.token, nil) },
			func() { st2, raw2, _ = s2.do("POST", "/v1/outings/"+o.ID+"/accept", vic.token, nil) })
		var got outingView
		s1.call(t, "GET", "/v1/outings/"+o.ID, c.coord, nil, 200, &got)
		switch {
		case st1 == 200 && st2 == 409 && got.VolunteerID == vera.id:
			wins["server1 (vera)"]++
		case st2 == 200 && st1 == 409 && got.VolunteerID == vic.id:
			wins["server2 (vic)"]++
		default:
			t.Errorf("race %d on outing %s: server1 answered %d %s, server2 %d %s; the outing has volunteer %q (vera %s, vic %s)",
				i, o.ID, st1, raw1, st2, raw2, got.VolunteerID, vera.id, vic.id)
		}
		if got.Status != "pending_approval" {
			t.Errorf("race %d: outing is %s after the accepts", i, got.Status)
		}
	}
	t.Logf("concurrent accepts of one outing from both servers: %d races, exactly one winner each: %v", races, wins)
}
