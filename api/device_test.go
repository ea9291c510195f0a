package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/clavis-app/clavis/api"
	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/notify"
)

// envDevices remembers each test env's device registry.
var envDevices sync.Map // *testEnv -> *notify.Devices

func devicesOf(e *testEnv) *notify.Devices {
	v, ok := envDevices.Load(e)
	if !ok {
		panic("test env without a device registry")
	}
	return v.(*notify.Devices)
}

var deviceSeq sync.Mutex
var deviceN int

// fcmToken makes a token shaped like FCM's (with the colon they contain).
func fcmToken() string {
	deviceSeq.Lock()
	defer deviceSeq.Unlock()
	deviceN++
	return fmt.Sprintf("dQw4w9WgXcQ%04d:APA91bH-x_%d", deviceN, time.Now().UnixNano()%1e6)
}

func init() {
	envServices = append(envServices, func(e *testEnv, d *api.Deps) {
		st, err := notify.NewSQLiteStore(context.Background(), e.SQL)
		if err != nil {
			panic(fmt.Sprintf("device registry: %v", err))
		}
		devs := notify.NewDevices(st, e.Clock)
		e.Personal.Register(devs.PersonalHook())
		d.Devices = devs
		envDevices.Store(e, devs)
	})

	// token: a device the caller registered (own), or one another user
	// registered (foreign).
	matrixParams["token"] = func(m *matrixCall) string {
		owner := m.CallerID
		if owner == "" || m.Foreign("token") {
			owner, _ = m.Env.User(auth.RoleParticipant, m.OrgFor("token"), auth.StatusActive)
		}
		tok := fcmToken()
		if _, _, err := devicesOf(m.Env).Register(context.Background(), owner, tok, "android"); err != nil {
			m.T.Fatal(err)
		}
		return tok
	}
	matrix = append(matrix, routeRows("POST", "/v1/devices", func(*matrixCall) any {
		return map[string]any{"token": fcmToken(), "platform": "ios"}
	}, signedIn(201), want6{})...)
	// Another user's token is 404 for everyone: it is not theirs to know of.
	matrix = append(matrix, routeRows("DELETE", "/v1/devices/:token", nil, signedIn(204), signedIn(404))...)
}

func TestDeviceRegistrationMovesAndDeletes(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	p, ptok := e.User(auth.RoleParticipant, org, auth.StatusActive)
	v, vtok := e.User(auth.RoleVolunteer, org, auth.StatusPending) // pending accounts may register too
	tok := fcmToken()

	status, body := e.Call("POST", "/v1/devices", ptok, map[string]any{"token": tok, "platform": "android"})
	e.Want(status, body, http.StatusCreated)
	var got struct {
		Token        string    `json:"token"`
		Platform     string    `json:"platform"`
		RegisteredAt time.Time `json:"registered_at"`
	}
	e.Decode(body, &got)
	if got.Token != tok || got.Platform != "android" || !got.RegisteredAt.Equal(testNow) {
		t.Fatalf("body %s", body)
	}
	// Known: 200, and the platform is updated.
	status, body = e.Call("POST", "/v1/devices", ptok, map[string]any{"token": tok, "platform": "web"})
	e.Want(status, body, http.StatusOK)
	// The token moves to the latest user who registers it.
	status, body = e.Call("POST", "/v1/devices", vtok, map[string]any{"token": tok, "platform": "android"})
	e.Want(status, body, http.StatusCreated)
	if n := countDevices(t, e, p); n != 0 {
		t.Fatalf("the participant still has %d devices", n)
	}
	if n := countDevices(t, e, v); n != 1 {
		t.Fatalf("the volunteer has %d devices", n)
	}
	// Only the owner may delete it; for anyone else it does not exist.
	status, body = e.Call("DELETE", "/v1/devices/"+tok, ptok, nil)
	e.Want(status, body, http.StatusNotFound)
	if p := e.Problem(body); p.Type != api.ProblemBase+"not-found" || p.Status != 404 {
		t.Fatalf("problem %+v", p)
	}
	status, body = e.Call("DELETE", "/v1/devices/"+tok, vtok, nil)
	e.Want(status, body, http.StatusNoContent)
	status, body = e.Call("DELETE", "/v1/devices/"+tok, vtok, nil)
	e.Want(status, body, http.StatusNotFound)

	// Several devices per user.
	for _, platform := range []string{"android", "ios", "web"} {
		status, body = e.Call("POST", "/v1/devices", ptok, map[string]any{"token": fcmToken(), "platform": platform})
		e.Want(status, body, http.StatusCreated)
	}
	if n := countDevices(t, e, p); n != 3 {
		t.Fatalf("%d devices, want 3", n)
	}
}

func TestDeviceInputIsChecked(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	p, ptok := e.User(auth.RoleParticipant, org, auth.StatusActive)
	cases := []struct {
		body   any
		status int
		field  string
	}{
		{map[string]any{"token": fcmToken(), "platform": "windows"}, 422, "platform"},
		{map[string]any{"platform": "ios"}, 422, "token"},
		{map[string]any{"token": "abc/def", "platform": "ios"}, 422, "token"},
		{map[string]any{"token": "a b", "platform": "ios"}, 422, "token"},
		{map[string]any{"token": 42, "platform": "ios"}, 422, "token"},
		{[]byte(`{"token":`), 400, ""},
	}
	for _, c := range cases {
		status, body := e.Call("POST", "/v1/devices", ptok, c.body)
		e.Want(status, body, c.status)
		prob := e.Problem(body)
		if prob.Status != c.status {
			t.Fatalf("%v: problem %+v", c.body, prob)
		}
		if c.field != "" && (len(prob.Errors) == 0 || prob.Errors[0].Field != c.field) {
			t.Fatalf("%v: errors %+v, want field %s", c.body, prob.Errors, c.field)
		}
	}
	if n := countDevices(t, e, p); n != 0 {
		t.Fatalf("bad input stored %d devices", n)
	}
	status, body := e.Call("POST", "/v1/devices", "", map[string]any{"token": fcmToken(), "platform": "ios"})
	e.Want(status, body, http.StatusUnauthorized)
	// A path that cannot be a token is simply not found.
	status, body = e.Call("DELETE", "/v1/devices/%20", ptok, nil)
	e.Want(status, body, http.StatusNotFound)
}

func TestDeviceRegistrationIsIdempotent(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	_, ptok := e.User(auth.RoleParticipant, org, auth.StatusActive)
	req := map[string]any{"token": fcmToken(), "platform": "ios"}
	resp, first := e.Do("POST", "/v1/devices", ptok, req, "Idempotency-Key", "k-1")
	e.Want(resp.StatusCode, first, http.StatusCreated)
	resp, again := e.Do("POST", "/v1/devices", ptok, req, "Idempotency-Key", "k-1")
	e.Want(resp.StatusCode, again, http.StatusCreated)
	if string(first) != string(again) || resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay %s (%q), first %s", again, resp.Header.Get("Idempotent-Replayed"), first)
	}
}

// Devices go with the account.
func TestDevicesAreErasedWithTheAccount(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	p, ptok := e.User(auth.RoleParticipant, org, auth.StatusActive)
	other, otok := e.User(auth.RoleVolunteer, org, auth.StatusActive)
	for _, tk := range []string{ptok, otok} {
		status, body := e.Call("POST", "/v1/devices", tk, map[string]any{"token": fcmToken(), "platform": "android"})
		e.Want(status, body, http.StatusCreated)
	}
	status, body := e.Call("GET", "/v1/me/export", ptok, nil)
	e.Want(status, body, http.StatusOK)
	var exp map[string]json.RawMessage
	e.Decode(body, &exp)
	var devs []map[string]any
	if err := json.Unmarshal(exp["devices"], &devs); err != nil || len(devs) != 1 || devs[0]["platform"] != "android" {
		t.Fatalf("export devices: %s", exp["devices"])
	}
	status, body = e.Call("DELETE", "/v1/me", ptok, nil)
	e.Want(status, body, http.StatusNoContent)
	if n := countDevices(t, e, p); n != 0 {
		t.Fatalf("%d devices left after erasure", n)
	}
	if n := countDevices(t, e, other); n != 1 {
		t.Fatalf("another user's device went too (%d left)", n)
	}
}

func countDevices(t *testing.T, e *testEnv, userID string) int64 {
	t.Helper()
	var n int64
	if err := e.SQL.QueryRowContext(context.Background(), "SELECT count(*) FROM devices WHERE user_id = ?", userID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
