package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
)

// A volunteer who erases their account takes their name and notes with
// them, but an approved expense stays a payout record (amount, kind, date,
// decision), so the organisation's books and the outcome report's total do
// not change. Before that, their data export holds their expenses.
func TestErasedVolunteerExpensesStayAsPayoutRecords(t *testing.T) {
	w := newCareWorld(t)
	pia, vera, cora := w.person(auth.RoleParticipant, "pia"), w.person(auth.RoleVolunteer, "vera"), w.person(auth.RoleCoordinator, "cora")
	start := testNow.Add(20 * time.Minute)
	id := w.confirmedOuting(pia, vera, cora, start)
	ctx := context.Background()
	w.e.Clock.Set(start)
	renew(w.e, &pia, &vera, &cora)
	done(t)(matchingOf(w.e).CheckIn(ctx, pia.Who, id))
	done(t)(matchingOf(w.e).Complete(ctx, pia.Who, id))
	status, body := w.curl("POST", "/v1/outings/"+id+"/expenses", vera, map[string]any{"kind": "bus_ticket", "amount_ore": 6800, "note": "Buss 1 till Vera Holms gata"})
	w.want(status, body, 201)
	var x struct{ ID string }
	_ = json.Unmarshal(body, &x)
	status, body = w.curl("POST", "/v1/expenses/"+x.ID+"/approve", cora, map[string]any{})
	w.want(status, body, 200)

	status, body = w.e.Call("GET", "/v1/me/export", vera.Token, nil)
	if status != 200 || !strings.Contains(string(body), x.ID) || !strings.Contains(string(body), "Buss 1 till Vera Holms gata") {
		t.Fatalf("export: %d %s, want the expense with its note", status, body)
	}
	if status, body := w.e.Call("DELETE", "/v1/me", vera.Token, nil); status != 204 {
		t.Fatalf("erase: %d %s", status, body)
	}
	status, body = w.curl("GET", "/v1/organisations/"+w.org+"/expenses?status=approved", cora, nil)
	w.want(status, body, 200)
	var list struct {
		Items []struct {
			ID, VolunteerID, Note string
			AmountOre             int64 `json:"amount_ore"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].ID != x.ID || list.Items[0].AmountOre != 6800 {
		t.Fatalf("approved after erasure: %s, want the one expense of 6800 öre", body)
	}
	if strings.Contains(string(body), vera.ID) || strings.Contains(string(body), "Vera Holm") || list.Items[0].Note != "" {
		t.Fatalf("the erased volunteer is still named: %s", body)
	}
	from, to := start.AddDate(0, 0, -1), start.AddDate(0, 0, 1)
	if n, err := expensesOf(w.e).ApprovedOre(ctx, w.org, from, to); err != nil || n != 6800 {
		t.Fatalf("ApprovedOre after erasure = %d %v, want 6800", n, err)
	}
}
