package ferretdump_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clavis-app/clavis/internal/ferretdump"
)

// FixtureCounts is what testdata/release-a018ec1 holds (see its README).
var FixtureCounts = map[string]int{
	"organisations": 1, "users": 8, "refresh_families": 5, "refresh_tokens": 5, "refresh_used": 0,
	"login_failures": 0, "audit": 4, "outings": 6, "volunteer_profiles": 3, "participant_profiles": 3,
	"feedback": 2, "seed_runs": 1, "volunteer_preferences": 0, "idempotency_keys": 1, "devices": 2,
	"push_jobs": 14, "push_claims": 10, "push_events": 12, "push_done": 8,
}

// fixtureDir copies the fixture so that SQLite's -shm file never lands in
// the source tree.
func fixtureDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	src, err := os.Open(filepath.Join("testdata", "release-a018ec1", ferretdump.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(ferretdump.Path(dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestFixtureDecodes(t *testing.T) {
	ctx := context.Background()
	dir := fixtureDir(t)
	if ok, err := ferretdump.Exists(dir); err != nil || !ok {
		t.Fatalf("Exists = %v, %v", ok, err)
	}
	r, err := ferretdump.Open(ctx, ferretdump.Path(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	colls := r.Collections()
	if len(colls) != len(FixtureCounts) {
		t.Errorf("collections %v, want the %d of the README", colls, len(FixtureCounts))
	}
	for _, c := range colls {
		docs, err := r.Documents(ctx, c)
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if want, ok := FixtureCounts[c]; !ok || len(docs) != want {
			t.Errorf("%s: %d documents, want %d", c, len(docs), want)
		}
		for i, d := range docs {
			if err := d.Validate(); err != nil {
				t.Errorf("%s[%d]: invalid BSON: %v", c, i, err)
			}
			if _, err := d.LookupErr("_id"); err != nil {
				t.Errorf("%s[%d]: no _id", c, i)
			}
		}
	}

	// The types the domain relies on come back as the driver wrote them.
	outings, _ := r.Documents(ctx, "outings")
	var confirmed int
	for _, o := range outings {
		if o.Lookup("starts_at").Type != bson.TypeDateTime || o.Lookup("version").Type != bson.TypeInt64 ||
			o.Lookup("meeting_point").Type != bson.TypeEmbeddedDocument || o.Lookup("meeting_point", "lat").Type != bson.TypeDouble ||
			o.Lookup("history").Type != bson.TypeArray {
			t.Errorf("outing %s: unexpected field types: %s", o.Lookup("_id"), o)
		}
		if o.Lookup("status").StringValue() == "confirmed" {
			confirmed++
		}
	}
	if confirmed != 2 {
		t.Errorf("%d confirmed outings, want 2 (seed's bus-confirmed and the README's cafe outing)", confirmed)
	}
	jobs, _ := r.Documents(ctx, "push_jobs")
	var scheduled int
	for _, j := range jobs {
		if j.Lookup("state").StringValue() == "scheduled" {
			scheduled++
		}
		if j.Lookup("attempt").Type != bson.TypeInt32 {
			t.Errorf("push job attempt is %s, want int32", j.Lookup("attempt").Type)
		}
	}
	if scheduled == 0 {
		t.Error("no scheduled push job: the fixture should hold pending reminders")
	}
	if docs, err := r.Documents(ctx, "no_such_collection"); err != nil || docs != nil {
		t.Errorf("missing collection: %v, %v", docs, err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	// Reading leaves the data directory as it was: no -wal or -shm beside the old file.
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("data dir holds %d files after reading, want 1", len(entries))
	}
}

func TestOpenRejectsOtherFiles(t *testing.T) {
	ctx := context.Background()
	if _, err := ferretdump.Open(ctx, filepath.Join(t.TempDir(), "absent.sqlite")); err == nil {
		t.Error("absent file opened")
	}
	p := filepath.Join(t.TempDir(), "notes.sqlite")
	if err := os.WriteFile(p, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ferretdump.Open(ctx, p); err == nil {
		t.Error("a file that is not SQLite opened")
	}
	if ok, _ := ferretdump.Exists(t.TempDir()); ok {
		t.Error("Exists on an empty dir")
	}
}

func TestDecodeRejectsBrokenSJSON(t *testing.T) {
	for _, s := range []string{
		`{"a":1}`, // no schema
		`{"$s":{"p":{"a":{"t":"int"}},"$k":["a","b"]},"a":1}`,        // schema names a missing key
		`{"$s":{"p":{"a":{"t":"objectId"}},"$k":["a"]},"a":"zz"}`,    // bad hex
		`{"$s":{"p":{"a":{"t":"decimal"}},"$k":["a"]},"a":1}`,        // unknown type
		`{"$s":{"p":{"a":{"t":"array","i":[]}},"$k":["a"]},"a":[1]}`, // items without schema
		`{"$s":{"p":{"a":{"t":"int"}},"$k":["a"],"x":1},"a":1}`,      // unknown schema field
		`{"$s":{"p":{"a":{"t":"int"}},"$k":["a"]},"a":4294967296}`,   // int32 overflow
		`{"$s":{"p":{"a":{"t":"binData"}},"$k":["a"]},"a":"AAEC"}`,   // binary without subtype
	} {
		if d, err := ferretdump.Decode([]byte(s)); err == nil {
			t.Errorf("Decode(%s) = %s, want an error", s, d)
		}
	}
}
