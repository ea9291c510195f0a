package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/notify/fcmfake"
)

// Two clavis processes share one database: the first runs the embedded
// FerretDB on a fixed local port, the second reaches it through MONGODB_URI.
// The outing flow crosses them (created and accepted on one, approved on the
// other) and both servers' push workers run while the reminders fall due;
// the fake FCM must see each reminder exactly once.
//
// The embedded store makes conditional writes atomic only inside its own
// process, so what keeps two processes from sending a push twice here is the
// unique insert on push_claims (and push_done), the arbiter that is also what
// several servers on MongoDB rely on. This is a demonstration of that
// arbiter, not a supported deployment: several servers need MongoDB. Plain
// updates of one document by both processes at once are not safe on
// FerretDB either, so the flow lets one server finish with the outing
// before the other writes it (see settled).
func TestTwoServersOneDatabaseRemindersOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs two server processes for about a minute")
	}
	dir := t.TempDir()
	bin := buildClavis(t, dir)

	fcm := fcmfake.New()
	t.Cleanup(fcm.Close)

	keyFile := filepath.Join(dir, "jwt.pem")
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pemKey, err := auth.MarshalPrivateKeyPEM(priv)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pemKey, 0o600); err != nil {
		t.Fatal(err)
	}

	const adminEmail, adminPassword = "admin@e2e.clavis.test", "admin-password-e2e"
	dbPort := freePort(t)
	common := []string{
		"CLAVIS_JWT_KEY_FILE=" + keyFile,
		"CLAVIS_FCM_ENDPOINT=" + fcm.Endpoint(),
		"CLAVIS_FCM_PROJECT_ID=clavis-e2e",
		// Due 20 s and 30 s after the outing is created (it starts in 75 s).
		"CLAVIS_REMINDER_OFFSETS=55s,45s",
		"CLAVIS_ADMIN_EMAIL=" + adminEmail,
		"CLAVIS_ADMIN_PASSWORD=" + adminPassword,
		"CLAVIS_SHUTDOWN_TIMEOUT=3s",
		"LOG_LEVEL=info",
	}
	s1 := startServer(t, bin, dir, "server1", append(slices.Clone(common),
		"CLAVIS_DATA_DIR="+filepath.Join(dir, "data1"),
		"CLAVIS_EMBEDDED_DB_ADDR=127.0.0.1:"+strconv.Itoa(dbPort)))
	s2 := startServer(t, bin, dir, "server2", append(slices.Clone(common),
		"CLAVIS_DATA_DIR="+filepath.Join(dir, "data2"),
		"MONGODB_URI=mongodb://127.0.0.1:"+strconv.Itoa(dbPort)+"/"))
	// Stop the second first: it is the first one's database client.
	t.Cleanup(func() { s1.stop(t) })
	t.Cleanup(func() { s2.stop(t) })
	for _, s := range []*server{s1, s2} {
		s.waitReady(t)
	}
	if !strings.Contains(s2.logs(), `"embedded_db":false`) || !strings.Contains(s1.logs(), `"embedded_db":true`) {
		t.Fatalf("want server1 embedded and server2 on MONGODB_URI; logs:\n%s\n%s", s1.logs(), s2.logs())
	}

	// People: admin from the bootstrap env, the rest through the API, on
	// both servers (one signing key, one database).
	admin := s1.login(t, adminEmail, adminPassword)
	var org struct{ ID string }
	s1.call(t, "POST", "/v1/organisations", admin, map[string]any{"name": "E2E Halmstad", "time_zone": "Europe/Stockholm"}, 201, &org)
	const pw = "e2e-password-123"
	s1.call(t, "POST", "/v1/organisations/"+org.ID+"/coordinators", admin,
		map[string]any{"email": "coord@e2e.clavis.test", "password": pw, "name": "Cora Berg", "language": "sv"}, 201, nil)
	coord := s2.login(t, "coord@e2e.clavis.test", pw)
	var part, vol struct{ ID string }
	s2.call(t, "POST", "/v1/auth/register", "", map[string]any{"email": "pia@e2e.clavis.test", "password": pw, "name": "Pia Lindqvist",
		"role": "participant", "organisation_id": org.ID, "language": "sv"}, 201, &part)
	s1.call(t, "POST", "/v1/auth/register", "", map[string]any{"email": "vera@e2e.clavis.test", "password": pw, "name": "Vera Holm",
		"role": "volunteer", "organisation_id": org.ID, "language": "sv"}, 201, &vol)
	s1.call(t, "POST", "/v1/organisations/"+org.ID+"/members/"+part.ID+"/approve", coord, map[string]any{}, 200, nil)
	s2.call(t, "POST", "/v1/organisations/"+org.ID+"/members/"+vol.ID+"/approve", coord, map[string]any{"note": "vetted"}, 200, nil)
	pia := s1.login(t, "pia@e2e.clavis.test", pw)
	vera := s2.login(t, "vera@e2e.clavis.test", pw)

	s1.call(t, "PUT", "/v1/participants/me/profile", pia, map[string]any{"languages": []string{"sv"}, "companion_gender": "any"}, 200, nil)
	s2.call(t, "PUT", "/v1/volunteers/me/profile", vera, map[string]any{"home": map[string]any{"lat": 56.670, "lon": 12.860},
		"travel_radius_km": 10, "languages": []string{"sv", "en"}, "gender": "female", "skills": []string{}, "max_outings_per_week": 5}, 200, nil)
	var weekly []map[string]string
	for _, d := range []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"} {
		weekly = append(weekly, map[string]string{"weekday": d, "start": "00:00", "end": "24:00"})
	}
	s1.call(t, "PUT", "/v1/volunteers/me/availability", vera, map[string]any{"time_zone": "Europe/Stockholm", "weekly": weekly, "exceptions": []any{}}, 200, nil)

	// One device each; the fake FCM tells recipients apart by token.
	who := map[string]string{"tok-pia": "participant", "tok-vera": "volunteer", "tok-cora": "coordinator"}
	s2.call(t, "POST", "/v1/devices", pia, map[string]any{"token": "tok-pia", "platform": "android"}, 201, nil)
	s1.call(t, "POST", "/v1/devices", vera, map[string]any{"token": "tok-vera", "platform": "ios"}, 201, nil)
	s2.call(t, "POST", "/v1/devices", coord, map[string]any{"token": "tok-cora", "platform": "web"}, 201, nil)

	// The outing: created and accepted on server 1, approved on server 2.
	start := time.Now().Add(75 * time.Second).Truncate(time.Second)
	var outing struct {
		ID, Status string
	}
	s1.call(t, "POST", "/v1/outings", pia, map[string]any{"kind": "cafe", "starts_at": start.Format(time.RFC3339),
		"ends_at": start.Add(time.Hour).Format(time.RFC3339), "language": "sv",
		"meeting_point": map[string]any{"lat": 56.6744, "lon": 12.8578, "description": "Stora Torg"}}, 201, &outing)
	// The volunteer accepts once the offer has reached her phone, as she
	// would; accepting sooner would close the outing before the offer wave
	// (sent by whichever server dispatches the new outing's event) goes out.
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
		t.Fatalf("no outing.offer push reached the volunteer within 10 s of the outing's creation\nserver1 log:\n%s\nserver2 log:\n%s", s1.logs(), s2.logs())
	}
	settled(t, dbPort, outing.ID)
	var offers struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	s2.call(t, "GET", "/v1/volunteers/me/offers", vera, nil, 200, &offers)
	if len(offers.Items) != 1 || offers.Items[0].ID != outing.ID {
		t.Fatalf("server2 lists the volunteer's offers as %+v, want the outing %s", offers.Items, outing.ID)
	}
	s1.call(t, "POST", "/v1/outings/"+outing.ID+"/accept", vera, nil, 200, &outing)
	if outing.Status != "pending_approval" {
		t.Fatalf("after accept on server1: status %q", outing.Status)
	}
	settled(t, dbPort, outing.ID)
	s2.call(t, "POST", "/v1/outings/"+outing.ID+"/approve", coord, nil, 200, &outing)
	if outing.Status != "confirmed" {
		t.Fatalf("after approve on server2: status %q", outing.Status)
	}
	// Each server sees the other's writes.
	s1.call(t, "GET", "/v1/outings/"+outing.ID, coord, nil, 200, &outing)
	if outing.Status != "confirmed" {
		t.Fatalf("server1 reads status %q", outing.Status)
	}
	approvedAt := time.Now()
	t.Logf("outing %s confirmed %.1fs before its start; reminders due at start-55s and start-45s",
		outing.ID, start.Sub(approvedAt).Seconds())

	// Wait for the four reminders (two offsets × participant and volunteer),
	// then keep both servers' workers running past another full poll and
	// lookahead, so that a second send would have time to arrive.
	reminders := func() int {
		n := 0
		for _, m := range fcm.Messages() {
			if m.Data["type"] == "outing.reminder" {
				n++
			}
		}
		return n
	}
	deadline := start.Add(-30 * time.Second)
	for reminders() < 4 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(10 * time.Second)

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
	fmt.Fprintf(&report, "deliveries at the fake FCM per type / outing / recipient / push_id (= dedup key's job id):\n")
	for _, k := range order {
		fmt.Fprintf(&report, "  %-16s %s %-12s %s  x%d  (first at start%+.1fs)\n", k.typ, k.outing, k.recipient, k.pushID, counts[k],
			firstAt[k].Sub(start).Seconds())
	}
	for _, s := range []*server{s1, s2} {
		fmt.Fprintf(&report, "%s clavis_push_sent_total: %s\n", s.name, s.pushSent(t))
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
	// The volunteer's offer and the coordinators' acceptance are never held
	// back by quiet hours (only participants have them), so they must be there.
	for _, want := range []key{{typ: "outing.offer", recipient: "volunteer"}, {typ: "outing.accepted", recipient: "coordinator"}} {
		found := false
		for k := range counts {
			found = found || (k.typ == want.typ && k.recipient == want.recipient && k.outing == outing.ID)
		}
		if !found {
			t.Errorf("no %s push to the %s", want.typ, want.recipient)
		}
	}
	// No write of one server undid the other's: the outing is still
	// confirmed, with every transition in its history.
	var hist struct {
		Items []struct{ From, To string } `json:"items"`
	}
	s1.call(t, "GET", "/v1/outings/"+outing.ID+"/history", coord, nil, 200, &hist)
	var steps []string
	for _, h := range hist.Items {
		steps = append(steps, h.From+">"+h.To)
	}
	if want := []string{">open", "open>pending_approval", "pending_approval>confirmed"}; !slices.Equal(steps, want) {
		t.Errorf("history %v, want %v", steps, want)
	}
	// Both processes ran push workers the whole time.
	for _, s := range []*server{s1, s2} {
		if !strings.Contains(s.logs(), "push workers started") {
			t.Errorf("%s: push workers did not start", s.name)
		}
	}
	if t.Failed() {
		t.Logf("server1 log:\n%s\nserver2 log:\n%s", s1.logs(), s2.logs())
	}
}

// buildClavis builds the module's main package once into dir.
func buildClavis(t *testing.T, dir string) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "clavis")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type server struct {
	name string
	base string
	cmd  *exec.Cmd
	log  *lockedBuffer
	done chan error
}

// childEnv is this process's environment without any setting clavis reads,
// so that a developer's own configuration cannot leak into the test.
func childEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "CLAVIS_"), name == "MONGODB_URI", name == "PORT", name == "LOG_LEVEL",
			name == "GOOGLE_APPLICATION_CREDENTIALS":
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

func startServer(t *testing.T, bin, dir, name string, env []string) *server {
	t.Helper()
	port := freePort(t)
	s := &server{name: name, base: "http://127.0.0.1:" + strconv.Itoa(port), log: &lockedBuffer{}, done: make(chan error, 1)}
	s.cmd = exec.Command(bin)
	s.cmd.Dir = dir
	s.cmd.Env = childEnv(append(env, "PORT="+strconv.Itoa(port)))
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	return s
}

func (s *server) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			t.Fatalf("%s exited before it was ready: %v\n%s", s.name, err, s.logs())
		default:
		}
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s not ready after 30 s:\n%s", s.name, s.logs())
}

// stop sends SIGTERM, as Kubernetes does, and checks the server shut down cleanly.
func (s *server) stop(t *testing.T) {
	if s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("%s exited with %v after SIGTERM:\n%s", s.name, err, s.logs())
		}
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
		t.Errorf("%s did not stop within 20 s of SIGTERM:\n%s", s.name, s.logs())
	}
}

func (s *server) logs() string { return s.log.String() }

func (s *server) login(t *testing.T, email, password string) string {
	t.Helper()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	s.call(t, "POST", "/v1/auth/login", "", map[string]any{"email": email, "password": password}, 200, &tok)
	if tok.AccessToken == "" {
		t.Fatalf("%s: login of %s gave no access token", s.name, email)
	}
	return tok.AccessToken
}

// call sends a JSON request and decodes the answer into out, failing the
// test unless the status is want.
func (s *server) call(t *testing.T, method, path, token string, body any, want int, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s %s: %v", s.name, method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s %s: status %d, want %d: %s", s.name, method, path, resp.StatusCode, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s %s: %v: %s", s.name, method, path, err, raw)
		}
	}
}

var pushSentLine = regexp.MustCompile(`^clavis_push_sent_total\{type="([^"]+)"\} (\S+)$`)

// pushSent summarises this server's clavis_push_sent_total by type.
func (s *server) pushSent(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		return "unavailable: " + err.Error()
	}
	defer resp.Body.Close()
	var parts []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if m := pushSentLine.FindStringSubmatch(sc.Text()); m != nil {
			parts = append(parts, m[1]+"="+m[2])
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// settled waits until no server is still dispatching the outing's events.
//
// Two processes must not write one outing at the same moment on a shared
// FerretDB v1: it applies every update by reading the whole document and
// writing it back by _id, so one process's write can silently undo the
// other's. Seen in this test before this wait: the approve on server2
// answered 200 "confirmed", then server1's dispatcher, removing the
// delivered outing.accepted event from its earlier copy of the document,
// wrote "pending_approval" back; the approve vanished from status and
// history, and with it every reminder. MongoDB applies each update to the
// stored document atomically, so there the same code is safe; this is why
// several servers need MongoDB. The test therefore lets each server finish
// with the outing (the matching package's has_pending_events flag cleared)
// before the other writes it.
func settled(t *testing.T, dbPort int, outingID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	client, err := mongo.Connect(options.Client().ApplyURI("mongodb://127.0.0.1:" + strconv.Itoa(dbPort) + "/"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = client.Disconnect(context.Background()) }()
	coll := client.Database("clavis").Collection("outings")
	for {
		var doc struct {
			Pending []bson.Raw `bson:"pending_events"`
			Flagged bool       `bson:"has_pending_events"`
		}
		err := coll.FindOne(ctx, bson.M{"_id": outingID}).Decode(&doc)
		if err == nil && !doc.Flagged && len(doc.Pending) == 0 {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("outing %s still has events to dispatch after 15 s (last read: %v)", outingID, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
