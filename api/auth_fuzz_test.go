package api_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/clavis-app/clavis/api"
)

// FuzzRegisterBody drives POST /v1/auth/register with arbitrary bodies
// through the real app and database: no panic, no 500, every refusal an
// RFC 9457 problem, and anything created is a pending participant or
// volunteer.
func FuzzRegisterBody(f *testing.F) {
	e := buildTestEnv(f, nil)
	org := e.OrgTB(f, "Röda Korset Halmstad")
	valid, _ := json.Marshal(validRegistration(org))
	for _, seed := range []string{
		string(valid), `{}`, `[]`, `null`, `""`, `{"email":`, `{"email":5}`, `{"role":"admin"}`,
		`{"email":"a@b.se","password":"0123456789","name":"A","role":"volunteer","organisation_id":"` + org + `","language":"en"}`,
		`{"email":"a@b.se","password":"0123456789","name":"A","role":"volunteer","organisation_id":{"$gt":""},"language":"en"}`,
		`{"email":"a@b.se","password":"\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000\u0000","name":"\ud800","role":"participant","organisation_id":"` + org + `","language":"sv"}`,
		`{"email":"a@b.se"} {"email":"c@d.se"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		resp, b := doRequest(t, e.Srv, "POST", "/v1/auth/register", "", body)
		switch resp.StatusCode {
		case http.StatusCreated:
			var u struct{ Status, Role string }
			if err := json.Unmarshal(b, &u); err != nil || u.Status != "pending" || (u.Role != "participant" && u.Role != "volunteer") {
				t.Fatalf("created %s from %q", b, body)
			}
		case http.StatusBadRequest, http.StatusConflict, http.StatusUnprocessableEntity:
			var p api.Problem
			if err := json.Unmarshal(b, &p); err != nil || p.Status != resp.StatusCode || resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("bad problem %s for %q", b, body)
			}
		default:
			t.Fatalf("status %d for %q: %s", resp.StatusCode, body, b)
		}
	})
}

// OrgTB is Org for any testing.TB (fuzz targets have no *testing.T).
func (e *testEnv) OrgTB(tb testing.TB, name string) string {
	tb.Helper()
	o, err := e.Auth.CreateOrganisation(tb.Context(), name, "Europe/Stockholm")
	if err != nil {
		tb.Fatal(err)
	}
	return o.ID
}
