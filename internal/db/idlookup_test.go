package db_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/clavis-app/clavis/internal/db"
	"github.com/clavis-app/clavis/internal/db/dbtest"
	"github.com/clavis-app/clavis/internal/db/ferret"
)

// ferretIDQuery and ferretIDUpdate are the statements FerretDB v1.24.2's
// SQLite backend runs for find/findOne with an {_id: string} filter and for
// writing back an updated document (backends/sqlite/collection.go Query and
// UpdateAll), copied here so that the test checks the index against
// FerretDB's SQL, not against our own expression.
const (
	ferretIDQuery  = `SELECT  _ferretdb_sjson FROM %q WHERE _ferretdb_sjson->'$._id' = ? LIMIT ?`
	ferretIDUpdate = `UPDATE %q SET _ferretdb_sjson = ? WHERE _ferretdb_sjson->'$._id' = ?`
)

// openTestStore starts an embedded store of its own, so that the test knows
// its data directory and can restart it.
func openTestStore(t *testing.T, dir string) *db.DB {
	t.Helper()
	d, err := ferret.Open(context.Background(), ferret.Config{DataDir: dir, Database: "idl"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close(context.Background()) })
	return d
}

// sqliteFile opens the SQLite file FerretDB keeps for database name in dir.
func sqliteFile(t *testing.T, dir, name string) *sql.DB {
	t.Helper()
	q := url.Values{"mode": {"rw"}, "_pragma": {"busy_timeout(10000)"}}
	u := url.URL{Scheme: "file", Path: filepath.Join(dir, name+".sqlite"), RawQuery: q.Encode()}
	conn, err := sql.Open("sqlite", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func tableOf(t *testing.T, conn *sql.DB, coll string) string {
	t.Helper()
	var table string
	if err := conn.QueryRow(`SELECT table_name FROM _ferretdb_collections WHERE name = ?`, coll).Scan(&table); err != nil {
		t.Fatalf("table of %s: %v", coll, err)
	}
	return table
}

// sqlitePlan is SQLite's plan for q on a fresh connection.
func sqlitePlan(t *testing.T, conn *sql.DB, q string, args ...any) string {
	t.Helper()
	rows, err := conn.Query("EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "; ")
}

// ferretPlan asks FerretDB itself to explain find({_id: id}). SQLite only
// notices another connection's schema change when a connection next runs a
// real statement (EXPLAIN does not check), so findOne runs first; it also
// proves the lookup still answers.
func ferretPlan(t *testing.T, coll *mongo.Collection, id string) string {
	t.Helper()
	ctx := context.Background()
	if err := coll.FindOne(ctx, bson.M{"_id": id}).Err(); err != nil {
		t.Fatalf("findOne %s: %v", id, err)
	}
	var out struct {
		QueryPlanner struct {
			Plan []string `bson:"Plan"`
		} `bson:"queryPlanner"`
		FilterPushdown bool `bson:"filterPushdown"`
	}
	cmd := bson.D{{Key: "explain", Value: bson.D{
		{Key: "find", Value: coll.Name()},
		{Key: "filter", Value: bson.D{{Key: "_id", Value: id}}},
	}}}
	if err := coll.Database().RunCommand(ctx, cmd).Decode(&out); err != nil {
		t.Fatalf("explain: %v", err)
	}
	if !out.FilterPushdown {
		t.Fatalf("FerretDB no longer pushes {_id} down to SQL: %v", out.QueryPlanner.Plan)
	}
	return strings.Join(out.QueryPlanner.Plan, "; ")
}

func insertDocs(t testing.TB, coll *mongo.Collection, n int) {
	t.Helper()
	pad := strings.Repeat("x", 400)
	const batch = 1000
	for i := 0; i < n; i += batch {
		docs := make([]any, 0, batch)
		for j := i; j < min(i+batch, n); j++ {
			docs = append(docs, bson.M{"_id": fmt.Sprintf("id-%06d", j), "email": fmt.Sprintf("u%d@x", j), "n": j, "pad": pad})
		}
		if _, err := coll.InsertMany(context.Background(), docs); err != nil {
			t.Fatal(err)
		}
	}
}

func indexNames(t *testing.T, coll *mongo.Collection) []string {
	t.Helper()
	specs, err := coll.Indexes().ListSpecifications(context.Background())
	if err != nil {
		t.Fatalf("listIndexes: %v", err)
	}
	var names []string
	for _, s := range specs {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return names
}

// Every store's collection gets the lookup index through EnsureIndexes,
// including dbtest's per-test databases; a collection created otherwise
// keeps scanning (the control that shows the assertion can fail).
func TestEnsureIndexesMakesIDLookupUseAnIndex(t *testing.T) {
	d := dbtest.New(t)
	if !d.Embedded {
		t.Skip("the lookup index is for the embedded store only")
	}
	ctx := context.Background()
	plain := d.Collection("plain")
	insertDocs(t, plain, 20)
	if plan := ferretPlan(t, plain, "id-000007"); !strings.Contains(plan, "SCAN") || strings.Contains(plan, "USING INDEX") {
		t.Fatalf("without EnsureIndexes FerretDB should scan, plan: %s", plan)
	}

	indexed := d.Collection("indexed")
	if err := db.EnsureIndexes(ctx, indexed, mongo.IndexModel{Keys: bson.D{{Key: "n", Value: 1}}}); err != nil {
		t.Fatal(err)
	}
	insertDocs(t, indexed, 20)
	if plan := ferretPlan(t, indexed, "id-000007"); !strings.Contains(plan, "USING INDEX "+db.IDLookupIndexName("indexed_")) {
		t.Fatalf("findOne by _id does not use the lookup index, plan: %s", plan)
	}

	// No models: EnsureIndexes creates the collection so the index has a table.
	bare := d.Collection("bare")
	if err := db.EnsureIndexes(ctx, bare); err != nil {
		t.Fatal(err)
	}
	names, err := d.ListCollectionNames(ctx, bson.M{"name": "bare"})
	if err != nil || len(names) != 1 {
		t.Fatalf("EnsureIndexes without models did not create the collection: %v %v", names, err)
	}
	insertDocs(t, bare, 5)
	if plan := ferretPlan(t, bare, "id-000003"); !strings.Contains(plan, "USING INDEX "+db.IDLookupIndexName("bare_")) {
		t.Fatalf("collection ensured without models does not use the lookup index, plan: %s", plan)
	}
}

// The plan is checked on FerretDB's own statements, read and write, in the
// SQLite file, then across a restart: data, FerretDB's indexes and their
// behaviour are unchanged and the lookup index is still used.
func TestIDLookupIndexSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	unique := mongo.IndexModel{Keys: bson.D{{Key: "email", Value: 1}}, Options: options.Index().SetUnique(true)}

	d := openTestStore(t, dir)
	coll := d.Collection("people")
	if err := db.EnsureIndexes(ctx, coll, unique); err != nil {
		t.Fatal(err)
	}
	insertDocs(t, coll, 100)
	conn := sqliteFile(t, dir, "idl")
	table := tableOf(t, conn, "people")
	want := "USING INDEX " + db.IDLookupIndexName(table)
	if plan := sqlitePlan(t, conn, fmt.Sprintf(ferretIDQuery, table), `"id-000042"`, 1); !strings.Contains(plan, want) {
		t.Fatalf("FerretDB's _id query does not use the lookup index: %s", plan)
	}
	if plan := sqlitePlan(t, conn, fmt.Sprintf(ferretIDUpdate, table), `{}`, `"id-000042"`); !strings.Contains(plan, want) {
		t.Fatalf("FerretDB's write-back by _id does not use the lookup index: %s", plan)
	}
	_ = conn.Close()
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// Restart on the same directory; EnsureIndexes is deliberately not called.
	d = openTestStore(t, dir)
	coll = d.Collection("people")
	var doc struct {
		N     int    `bson:"n"`
		Email string `bson:"email"`
	}
	if err := coll.FindOne(ctx, bson.M{"_id": "id-000042"}).Decode(&doc); err != nil || doc.N != 42 || doc.Email != "u42@x" {
		t.Fatalf("after restart: %+v %v", doc, err)
	}
	if n, err := coll.CountDocuments(ctx, bson.M{}); err != nil || n != 100 {
		t.Fatalf("after restart: %d documents, %v", n, err)
	}
	if plan := ferretPlan(t, coll, "id-000042"); !strings.Contains(plan, want) {
		t.Fatalf("after restart findOne by _id does not use the lookup index: %s", plan)
	}
	// FerretDB lists only the indexes it made; ours stays out of its metadata.
	if got := indexNames(t, coll); !slices.Equal(got, []string{"_id_", "email_1"}) {
		t.Fatalf("listIndexes: %v", got)
	}
	if _, err := coll.InsertOne(ctx, bson.M{"_id": "id-000001", "email": "new@x"}); !db.IsDuplicateKey(err) {
		t.Fatalf("duplicate _id: want duplicate key, got %v", err)
	}
	if _, err := coll.InsertOne(ctx, bson.M{"_id": "fresh", "email": "u1@x"}); !db.IsDuplicateKey(err) {
		t.Fatalf("duplicate email: want duplicate key, got %v", err)
	}
	if _, err := coll.UpdateOne(ctx, bson.M{"_id": "id-000002"}, bson.M{"$set": bson.M{"n": -2}}); err != nil {
		t.Fatal(err)
	}
	if err := coll.FindOne(ctx, bson.M{"_id": "id-000002"}).Decode(&doc); err != nil || doc.N != -2 {
		t.Fatalf("update by _id after restart: %+v %v", doc, err)
	}
	// FerretDB's own index management still works beside the extra index.
	if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "n", Value: -1}}}); err != nil {
		t.Fatal(err)
	}
	if err := coll.Indexes().DropOne(ctx, "n_-1"); err != nil {
		t.Fatal(err)
	}
	if got := indexNames(t, coll); !slices.Equal(got, []string{"_id_", "email_1"}) {
		t.Fatalf("listIndexes after create and drop: %v", got)
	}

	// Dropping the collection drops the table and every index on it; the next
	// EnsureIndexes makes them again.
	if err := coll.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	conn = sqliteFile(t, dir, "idl")
	var left int
	if err := conn.QueryRow(`SELECT count(*) FROM sqlite_master WHERE tbl_name = ?`, table).Scan(&left); err != nil || left != 0 {
		t.Fatalf("after drop %d schema objects of %s remain (%v)", left, table, err)
	}
	if err := db.EnsureIndexes(ctx, coll, unique); err != nil {
		t.Fatal(err)
	}
	insertDocs(t, coll, 3)
	table = tableOf(t, conn, "people")
	if plan := ferretPlan(t, coll, "id-000002"); !strings.Contains(plan, "USING INDEX "+db.IDLookupIndexName(table)) {
		t.Fatalf("re-created collection does not use the lookup index: %s", plan)
	}
}

func TestEnsureIndexesTwiceKeepsOneLookupIndex(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	d := openTestStore(t, dir)
	coll := d.Collection("twice")
	model := mongo.IndexModel{Keys: bson.D{{Key: "n", Value: 1}}}
	for i := range 2 {
		if err := db.EnsureIndexes(ctx, coll, model); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	if err := db.EnsureIndexes(ctx, coll); err != nil {
		t.Fatalf("call without models: %v", err)
	}
	conn := sqliteFile(t, dir, "idl")
	table := tableOf(t, conn, "twice")
	rows, err := conn.Query(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? ORDER BY name`, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		got = append(got, name)
	}
	want := []string{db.IDLookupIndexName(table), table + "__id_", table + "_n_1"}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("indexes on %s: got %v, want %v", table, got, want)
	}
	if names := indexNames(t, coll); !slices.Equal(names, []string{"_id_", "n_1"}) {
		t.Fatalf("listIndexes: %v", names)
	}
}

// BenchmarkFindByID measures findOne({_id}) on the embedded store with and
// without the lookup index (ops/s; ~460-byte documents).
func BenchmarkFindByID(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		for _, withIndex := range []bool{false, true} {
			name := fmt.Sprintf("docs=%d/index=%v", n, withIndex)
			b.Run(name, func(b *testing.B) {
				d := dbtest.New(b)
				if !d.Embedded {
					b.Skip("embedded store only")
				}
				ctx := context.Background()
				coll := d.Collection("bench")
				if withIndex {
					if err := db.EnsureIndexes(ctx, coll); err != nil {
						b.Fatal(err)
					}
				}
				insertDocs(b, coll, n)
				var doc bson.M
				b.ResetTimer()
				for i := range b.N {
					id := fmt.Sprintf("id-%06d", (i*7919)%n)
					if err := coll.FindOne(ctx, bson.M{"_id": id}).Decode(&doc); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
			})
		}
	}
}
