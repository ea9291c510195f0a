package auth

import (
	"context"
	"errors"
	"testing"
	"time"
)

// testOrgContactStore: a contact is set only on an organisation that
// exists, read back whole, and replaced by the next set.
func testOrgContactStore(t *testing.T, st Store) {
	ctx := context.Background()
	if err := st.SetOrgContact(ctx, OrgContact{OrgID: "nope", Name: "x", Phone: "035123456"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("contact of a missing organisation: %v, want ErrNotFound", err)
	}
	must(t, st.InsertOrganisation(ctx, Organisation{ID: "orgc", Name: "Röda Korset", TimeZone: "Europe/Stockholm", CreatedAt: ct0}))
	if _, err := st.OrgContact(ctx, "orgc"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("contact before one is set: %v, want ErrNotFound", err)
	}
	first := OrgContact{OrgID: "orgc", Name: "Cora Berg", Phone: "+46 35 12 34 56", UpdatedBy: "c1", UpdatedAt: ct0}
	must(t, st.SetOrgContact(ctx, first))
	second := OrgContact{OrgID: "orgc", Name: "Jour", Phone: "035-99 88 77", UpdatedBy: "c2", UpdatedAt: ct0.Add(time.Minute)}
	must(t, st.SetOrgContact(ctx, second))
	got, err := st.OrgContact(ctx, "orgc")
	if err != nil || got.Name != second.Name || got.Phone != second.Phone || got.UpdatedBy != "c2" || !got.UpdatedAt.Equal(second.UpdatedAt) {
		t.Fatalf("read back %+v %v, want %+v", got, err, second)
	}
	if o, err := st.Organisation(ctx, "orgc"); err != nil || o.Name != "Röda Korset" {
		t.Fatalf("the organisation after its contact was set: %+v %v", o, err)
	}
}

func TestValidPhone(t *testing.T) {
	for p, want := range map[string]bool{"+46 35 12 34 56": true, "035-123456": true, "12345": false, "035 12 34 56 ext": false, "46+35123456": false} {
		if validPhone(p) != want {
			t.Errorf("validPhone(%q) = %v, want %v", p, !want, want)
		}
	}
}
