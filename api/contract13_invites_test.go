package api_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
)

// Issue 13, item 5: joining an organisation with a coordinator's invite code.

func init() {
	// code: a fresh invite of the row's organisation (own) or the other one.
	matrixParams["code"] = func(m *matrixCall) string {
		c := newPerson(m.Env, auth.RoleCoordinator, m.OrgFor("code"))
		inv, err := m.Env.Auth.CreateInvite(context.Background(), c.Who, m.OrgFor("code"),
			auth.InviteInput{Role: auth.RoleVolunteer, ExpiresAt: m.Env.Clock.Now().Add(24 * time.Hour), MaxUses: 5})
		if err != nil {
			m.T.Fatal(err)
		}
		return inv.Code
	}
	coordOnly := want6{Anon: 401, Participant: 403, Volunteer: 403, Coord: 201, CoordOther: 201, Admin: 403}
	coordForeign := want6{Anon: 401, Participant: 403, Volunteer: 403, Coord: 404, CoordOther: 404, Admin: 403}
	invite := func(m *matrixCall) any {
		return map[string]any{"role": "volunteer", "expires_at": m.Env.Clock.Now().Add(48 * time.Hour).Format(time.RFC3339), "max_uses": 10}
	}
	matrix = append(matrix, routeRows("POST", "/v1/organisations/:org_id/invites", invite, coordOnly, coordForeign)...)
	coordOnly.Coord, coordOnly.CoordOther = 200, 200
	matrix = append(matrix, routeRows("GET", "/v1/organisations/:org_id/invites", nil, coordOnly, coordForeign)...)
	coordOnly.Coord, coordOnly.CoordOther = 204, 204
	matrix = append(matrix, routeRows("DELETE", "/v1/organisations/:org_id/invites/:code", nil, coordOnly, coordForeign)...)
	// Own organisation in the path, another organisation's code: 404.
	for _, k := range []callerKind{asCoordinator, asCoordinatorOther} {
		matrix = append(matrix, matrixRow{Method: "DELETE", Route: "/v1/organisations/:org_id/invites/:code", As: k,
			ForeignParams: []string{"code"}, Want: 404})
	}
}

var inviteCodeShape = regexp.MustCompile(`^[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{10}$`)

func registration(email, role string, extra map[string]any) map[string]any {
	b := map[string]any{"email": email, "password": testPassword, "name": "Ida Berg", "role": role, "language": "sv"}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

func TestInviteCodes(t *testing.T) {
	e := newTestEnv(t)
	org, other := e.Org("Röda Korset Halmstad"), e.Org("Stadsmissionen Göteborg")
	c := newPerson(e, auth.RoleCoordinator, org)
	oc := newPerson(e, auth.RoleCoordinator, other)
	base := "/v1/organisations/" + org + "/invites"
	expires := e.Clock.Now().Add(7 * 24 * time.Hour).Format(time.RFC3339)

	status, body := curl(t, e, "POST", base, c.Token, map[string]any{"role": "volunteer", "expires_at": expires, "max_uses": 2})
	e.Want(status, body, 201)
	var inv struct {
		Code      string    `json:"code"`
		Role      string    `json:"role"`
		ExpiresAt time.Time `json:"expires_at"`
		MaxUses   int       `json:"max_uses"`
		Uses      *int      `json:"uses"`
	}
	e.Decode(body, &inv)
	if !inviteCodeShape.MatchString(inv.Code) || inv.Role != "volunteer" || inv.MaxUses != 2 || inv.Uses == nil || *inv.Uses != 0 ||
		inv.ExpiresAt.Format(time.RFC3339) != expires {
		t.Fatalf("invite %s", body)
	}
	status, body = e.Call("POST", base, c.Token, map[string]any{"role": "participant", "expires_at": expires, "max_uses": 1})
	e.Want(status, body, 201)
	var pinv struct {
		Code string `json:"code"`
	}
	e.Decode(body, &pinv)

	// Typed by hand: lower case, grouped with a dash, no organisation_id.
	typed := strings.ToLower(inv.Code[:5] + "-" + inv.Code[5:])
	status, body = curl(t, e, "POST", "/v1/auth/register", "", registration("ida@example.org", "volunteer", map[string]any{"invite_code": typed}))
	e.Want(status, body, 201)
	if !strings.Contains(string(body), `"organisation_id":"`+org+`"`) || !strings.Contains(string(body), `"status":"pending"`) {
		t.Fatalf("registered %s", body)
	}
	// organisation_id may still be given; it must be the code's.
	status, body = e.Call("POST", "/v1/auth/register", "", registration("jon@example.org", "volunteer", map[string]any{"invite_code": inv.Code, "organisation_id": org}))
	e.Want(status, body, 201)

	users := e.authCount(`SELECT count(*) FROM users`)
	refused := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"used up", registration("kim@example.org", "volunteer", map[string]any{"invite_code": inv.Code}), "invite_code"},
		{"another role", registration("kim@example.org", "participant", map[string]any{"invite_code": inv.Code}), "invite_code"},
		{"unknown", registration("kim@example.org", "participant", map[string]any{"invite_code": "ABCDEFGHJK"}), "invite_code"},
		{"another organisation", registration("kim@example.org", "participant", map[string]any{"invite_code": pinv.Code, "organisation_id": other}), "organisation_id"},
	}
	for _, r := range refused {
		status, body := curl(t, e, "POST", "/v1/auth/register", "", r.body)
		e.Want(status, body, 422)
		if p := e.Problem(body); len(p.Errors) == 0 || p.Errors[0].Field != r.field {
			t.Fatalf("%s: %s", r.name, body)
		}
	}
	// Expired: a week and a day later.
	e.Clock.Set(e.Clock.Now().Add(8 * 24 * time.Hour))
	status, body = curl(t, e, "POST", "/v1/auth/register", "", registration("kim@example.org", "participant", map[string]any{"invite_code": pinv.Code}))
	e.Want(status, body, 422)
	if p := e.Problem(body); len(p.Errors) == 0 || p.Errors[0].Field != "invite_code" || !strings.Contains(p.Errors[0].Message, "expired") {
		t.Fatalf("expired: %s", body)
	}
	if n := e.authCount(`SELECT count(*) FROM users`); n != users {
		t.Fatalf("refused registrations wrote %d users", n-users)
	}
	renew(e, &c, &oc)

	status, body = curl(t, e, "GET", base+"?limit=1", c.Token, nil)
	e.Want(status, body, 200)
	var page struct {
		Items []struct {
			Code string `json:"code"`
			Uses int    `json:"uses"`
		} `json:"items"`
		NextCursor string `json:"next_cursor"`
	}
	e.Decode(body, &page)
	if len(page.Items) != 1 || page.NextCursor == "" {
		t.Fatalf("first page %s", body)
	}
	first := page.Items[0]
	status, body = e.Call("GET", base+"?limit=1&cursor="+page.NextCursor, c.Token, nil)
	e.Want(status, body, 200)
	page.NextCursor = ""
	e.Decode(body, &page)
	if len(page.Items) != 1 || page.Items[0].Code == first.Code || page.NextCursor != "" {
		t.Fatalf("second page %s", body)
	}
	uses := map[string]int{first.Code: first.Uses, page.Items[0].Code: page.Items[0].Uses}
	if uses[inv.Code] != 2 || uses[pinv.Code] != 0 {
		t.Fatalf("uses %v", uses)
	}

	// Another organisation's coordinator learns nothing.
	for _, r := range []struct{ method, path string }{{"GET", base}, {"POST", base}, {"DELETE", base + "/" + inv.Code}} {
		status, body := e.Call(r.method, r.path, oc.Token, map[string]any{"role": "volunteer", "expires_at": expires, "max_uses": 1})
		if r.method != "POST" {
			status, body = e.Call(r.method, r.path, oc.Token, nil)
		}
		e.Want(status, body, 404)
	}
	status, body = e.Call("DELETE", "/v1/organisations/"+other+"/invites/"+inv.Code, oc.Token, nil)
	e.Want(status, body, 404)

	status, body = curl(t, e, "DELETE", base+"/"+pinv.Code, c.Token, nil)
	e.Want(status, body, 204)
	status, body = e.Call("DELETE", base+"/"+pinv.Code, c.Token, nil)
	e.Want(status, body, 404)
}

func TestInviteInputIsCheckedAndWritesNothing(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	c := newPerson(e, auth.RoleCoordinator, org)
	base := "/v1/organisations/" + org + "/invites"
	now := e.Clock.Now()
	for _, r := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"role": "coordinator", "expires_at": now.Add(time.Hour).Format(time.RFC3339), "max_uses": 1}, "role"},
		{map[string]any{"role": "volunteer", "expires_at": now.Add(-time.Hour).Format(time.RFC3339), "max_uses": 1}, "expires_at"},
		{map[string]any{"role": "volunteer", "expires_at": now.Add(100 * 24 * time.Hour).Format(time.RFC3339), "max_uses": 1}, "expires_at"},
		{map[string]any{"role": "volunteer", "expires_at": now.Add(time.Hour).Format(time.RFC3339), "max_uses": 0}, "max_uses"},
		{map[string]any{"role": "volunteer", "expires_at": now.Add(time.Hour).Format(time.RFC3339), "max_uses": 501}, "max_uses"},
	} {
		status, body := e.Call("POST", base, c.Token, r.body)
		e.Want(status, body, 422)
		if p := e.Problem(body); len(p.Errors) == 0 || p.Errors[0].Field != r.field {
			t.Fatalf("%v: %s", r.body, body)
		}
	}
	if n := e.authCount(`SELECT count(*) FROM invites`); n != 0 {
		t.Fatalf("%d invites written on bad input", n)
	}
}

// 20 people register at once with a code that has one use: exactly one 201.
func TestInviteWithOneUseRegistersOnePerson(t *testing.T) {
	e := newTestEnv(t)
	org := e.Org("Röda Korset Halmstad")
	c := newPerson(e, auth.RoleCoordinator, org)
	status, body := e.Call("POST", "/v1/organisations/"+org+"/invites", c.Token,
		map[string]any{"role": "participant", "expires_at": e.Clock.Now().Add(time.Hour).Format(time.RFC3339), "max_uses": 1})
	e.Want(status, body, 201)
	var inv struct {
		Code string `json:"code"`
	}
	e.Decode(body, &inv)
	var reqs []func() (int, []byte)
	for i := range 20 {
		reqs = append(reqs, func() (int, []byte) {
			return e.Call("POST", "/v1/auth/register", "", registration(fmt.Sprintf("race-%d@example.org", i), "participant", map[string]any{"invite_code": inv.Code}))
		})
	}
	statuses, bodies := raceCalls(e, reqs)
	count := map[int]int{}
	for i, s := range statuses {
		count[s]++
		if s != 201 && s != 422 {
			t.Fatalf("registration %d: %d %s", i, s, bodies[i])
		}
	}
	t.Logf("20 registrations at once on a code with max_uses 1: %v", count)
	if count[201] != 1 || count[422] != 19 {
		t.Fatalf("statuses %v", count)
	}
	if n := e.authCount(`SELECT count(*) FROM users WHERE email LIKE 'race-%'`); n != 1 {
		t.Fatalf("%d accounts", n)
	}
	if n := e.authCount(`SELECT uses FROM invites WHERE code = ?`, inv.Code); n != 1 {
		t.Fatalf("uses %d", n)
	}
}
