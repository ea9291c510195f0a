package expenses

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/clavis-app/clavis/internal/db/dbtest"
	"github.com/clavis-app/clavis/internal/sqlite/sqlitetest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func TestStoreSQLite(t *testing.T) { testStore(t, sqlitetest.Opener(NewSQLiteStore)) }

func TestStoreMongo(t *testing.T) { testStore(t, dbtest.Opener(NewMongoStore)) }

var t0 = time.Date(2026, 6, 1, 8, 0, 0, 0, time.UTC)

func expense(id, org, outing string, ore int64, day int) Expense {
	return Expense{ID: id, OrgID: org, OutingID: outing, VolunteerID: "v1", Kind: KindBusTicket, AmountOre: ore, Note: "buss 1",
		Status: StatusPending, OutingDate: t0.AddDate(0, 0, day), CreatedAt: t0.AddDate(0, 0, day+1)}
}

func testStore(t *testing.T, open func(t *testing.T) Store) {
	ctx := context.Background()
	must := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Run("record, cap and decide", func(t *testing.T) {
		st := open(t)
		must(t, st.Insert(ctx, expense("e1", "org1", "o1", 20000, 0), 30000))
		if err := st.Insert(ctx, expense("e2", "org1", "o1", 10001, 0), 30000); !errors.Is(err, ErrOverCap) {
			t.Fatalf("over the cap: %v, want ErrOverCap", err)
		}
		if _, err := st.Expense(ctx, "e2"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("the refused expense was stored: %v", err)
		}
		must(t, st.Insert(ctx, expense("e3", "org1", "o1", 10000, 0), 30000))
		got, err := st.Expense(ctx, "e1")
		if err != nil || !reflect.DeepEqual(got, expense("e1", "org1", "o1", 20000, 0)) {
			t.Fatalf("read back %+v %v", got, err)
		}
		if n, err := st.OutingTotal(ctx, "o1"); err != nil || n != 30000 {
			t.Fatalf("outing total %d %v, want 30000", n, err)
		}
		// A rejection gives its room back; a second decision is refused.
		rej, err := st.Decide(ctx, "e3", StatusRejected, "no receipt", "c1", t0.Add(time.Hour))
		if err != nil || rej.Status != StatusRejected || rej.Reason != "no receipt" || rej.DecidedBy != "c1" || rej.DecidedAt == nil || !rej.DecidedAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("reject: %+v %v", rej, err)
		}
		if _, err := st.Decide(ctx, "e3", StatusApproved, "", "c1", t0); !errors.Is(err, ErrDecided) {
			t.Fatalf("second decision: %v, want ErrDecided", err)
		}
		if _, err := st.Decide(ctx, "nope", StatusApproved, "", "c1", t0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("decide a missing expense: %v", err)
		}
		must(t, st.Insert(ctx, expense("e4", "org1", "o1", 10000, 0), 30000))
		if _, err := st.Decide(ctx, "e1", StatusApproved, "", "c1", t0); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("lists and sums", func(t *testing.T) {
		st := open(t)
		for i := 0; i < 5; i++ {
			must(t, st.Insert(ctx, expense(fmt.Sprintf("e%d", i), "org1", fmt.Sprintf("o%d", i), int64(100*(i+1)), i), 30000))
		}
		must(t, st.Insert(ctx, expense("x1", "org2", "ox", 999, 1), 30000))
		for _, id := range []string{"e1", "e2", "e4"} {
			if _, err := st.Decide(ctx, id, StatusApproved, "", "c1", t0); err != nil {
				t.Fatal(err)
			}
		}
		ids := func(es []Expense) string {
			s := ""
			for _, e := range es {
				s += e.ID + " "
			}
			return s
		}
		all, err := st.List(ctx, Filter{OrgID: "org1"}, nil, 10)
		if err != nil || ids(all) != "e0 e1 e2 e3 e4 " {
			t.Fatalf("all: %q %v", ids(all), err)
		}
		page, err := st.List(ctx, Filter{OrgID: "org1"}, &Cursor{At: all[1].OutingDate, ID: all[1].ID}, 2)
		if err != nil || ids(page) != "e2 e3 " {
			t.Fatalf("after e1, 2: %q %v", ids(page), err)
		}
		approved, err := st.List(ctx, Filter{OrgID: "org1", Status: StatusApproved, From: t0.AddDate(0, 0, 1), To: t0.AddDate(0, 0, 4)}, nil, 10)
		if err != nil || ids(approved) != "e1 e2 " {
			t.Fatalf("approved in days 1-3: %q %v", ids(approved), err)
		}
		if n, err := st.ApprovedOre(ctx, "org1", t0.AddDate(0, 0, 1), t0.AddDate(0, 0, 4)); err != nil || n != 200+300 {
			t.Fatalf("approved sum %d %v, want 500", n, err)
		}
		if n, err := st.ApprovedOre(ctx, "org1", time.Time{}, time.Time{}); err != nil || n != 200+300+500 {
			t.Fatalf("approved sum, open period %d %v, want 1000", n, err)
		}
		if n, err := st.ApprovedOre(ctx, "org2", time.Time{}, time.Time{}); err != nil || n != 0 {
			t.Fatalf("org2's approved sum %d %v, want 0", n, err)
		}
	})
	t.Run("export and forget a volunteer", func(t *testing.T) {
		st := open(t)
		must(t, st.Insert(ctx, expense("e1", "org1", "o1", 500, 1), 30000))
		must(t, st.Insert(ctx, expense("e0", "org1", "o0", 700, 0), 30000))
		other := expense("e2", "org1", "o2", 900, 2)
		other.VolunteerID = "v2"
		must(t, st.Insert(ctx, other, 30000))
		if _, err := st.Decide(ctx, "e1", StatusApproved, "", "c1", t0); err != nil {
			t.Fatal(err)
		}
		mine, err := st.ExpensesOf(ctx, "v1", 10)
		if err != nil || len(mine) != 2 || mine[0].ID != "e0" || mine[1].ID != "e1" {
			t.Fatalf("v1's expenses: %+v %v, want e0 e1", mine, err)
		}
		must(t, st.ForgetVolunteer(ctx, "v1", "erased-x"))
		if left, err := st.ExpensesOf(ctx, "v1", 10); err != nil || len(left) != 0 {
			t.Fatalf("after forgetting: %d %v", len(left), err)
		}
		e, err := st.Expense(ctx, "e1")
		if err != nil || e.VolunteerID != "erased-x" || e.Note != "" || e.AmountOre != 500 || e.Status != StatusApproved {
			t.Fatalf("forgotten expense: %+v %v", e, err)
		}
		if n, err := st.ApprovedOre(ctx, "org1", time.Time{}, time.Time{}); err != nil || n != 500 {
			t.Fatalf("approved sum after forgetting %d %v, want 500", n, err)
		}
		if e2, err := st.Expense(ctx, "e2"); err != nil || e2.VolunteerID != "v2" || e2.Note != "buss 1" {
			t.Fatalf("another volunteer's expense changed: %+v %v", e2, err)
		}
	})
	t.Run("records at once stay within the cap", func(t *testing.T) {
		st := open(t)
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				err := st.Insert(ctx, expense(fmt.Sprintf("r%d", i), "org1", "o1", 10000, 0), 30000)
				if err != nil && !errors.Is(err, ErrOverCap) {
					t.Error(err)
				}
				if err == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			}(i)
		}
		wg.Wait()
		if n, err := st.OutingTotal(ctx, "o1"); ok != 3 || err != nil || n != 30000 {
			t.Fatalf("%d of 8 records of 100 kr passed a 300 kr cap (total %d, %v); want 3", ok, n, err)
		}
	})
}
