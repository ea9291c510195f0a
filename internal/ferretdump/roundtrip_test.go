package ferretdump_test

import (
	"bytes"
	"context"
	"math"
	"path/filepath"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clavis-app/clavis/internal/db/ferret"
	"github.com/clavis-app/clavis/internal/ferretdump"
)

type point struct {
	Lat float64 `bson:"lat"`
	Lon float64 `bson:"lon"`
}

type event struct {
	At   time.Time         `bson:"at"`
	Kind string            `bson:"kind"`
	Meta map[string]string `bson:"meta,omitempty"`
}

// everything carries each BSON type and shape Clavis' packages write, the
// way the driver marshals their structs. (FerretDB v1 refuses arrays inside
// arrays and stores -0.0 as 0, so no old file can hold either.)
type everything struct {
	ID       string         `bson:"_id"`
	Str      string         `bson:"str"`
	Unicode  string         `bson:"unicode"`
	Int32    int32          `bson:"int32"`
	Int      int            `bson:"int"` // the driver writes int as int32 when it fits
	BigInt   int64          `bson:"big_int"`
	Version  int64          `bson:"version"`
	Double   float64        `bson:"double"`
	NegZero  float64        `bson:"neg_zero"`
	Bool     bool           `bson:"bool"`
	At       time.Time      `bson:"at"`
	Zero     time.Time      `bson:"zero"`
	Null     *string        `bson:"null"`
	OID      bson.ObjectID  `bson:"oid"`
	Bin      []byte         `bson:"bin"`
	UUID     bson.Binary    `bson:"uuid"`
	Where    point          `bson:"where"`
	Empty    struct{}       `bson:"empty"`
	History  []event        `bson:"history"`
	NoItems  []string       `bson:"no_items"`
	Mixed    bson.A         `bson:"mixed"`
	Nested   bson.D         `bson:"nested"`
	Regex    bson.Regex     `bson:"regex"`
	Stamp    bson.Timestamp `bson:"stamp"`
	Duration time.Duration  `bson:"duration"`
}

// TestRoundTripThroughFerretDB writes documents through the embedded
// FerretDB the old releases ran, stops it, and reads its file with this
// package: every document must come back byte for byte as FerretDB itself
// returned it, and as the driver wrote it.
func TestRoundTripThroughFerretDB(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir := t.TempDir()
	d, err := ferret.Open(ctx, ferret.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 14, 15, 9, 26, 535_000_000, time.UTC)
	docs := []any{
		everything{
			ID: "a", Str: "hello", Unicode: "Tylösand strand – café ☕", Int32: -7, Int: 42,
			BigInt: math.MaxInt64, Version: 3, Double: 56.6744, Bool: true,
			At: at, Zero: time.Unix(0, 0).UTC(), OID: bson.NewObjectID(), Bin: []byte{0, 1, 2, 255},
			UUID:  bson.Binary{Subtype: 4, Data: bytes.Repeat([]byte{0xab}, 16)},
			Where: point{56.6718, 12.8614},
			History: []event{{At: at, Kind: "open"},
				{At: at.Add(time.Hour), Kind: "confirmed", Meta: map[string]string{"by": "coordinator"}}},
			NoItems:  []string{},
			Mixed:    bson.A{int32(1), "two", 3.5, nil, bson.D{{Key: "x", Value: int64(1) << 40}}, false},
			Nested:   bson.D{{Key: "z", Value: "last-first"}, {Key: "a", Value: bson.D{{Key: "deep", Value: bson.A{}}}}},
			Regex:    bson.Regex{Pattern: "^hal+m", Options: "i"},
			Stamp:    bson.Timestamp{T: 1_800_000_000, I: 7},
			Duration: 90 * time.Minute,
		},
		bson.D{{Key: "_id", Value: bson.NewObjectID()}, {Key: "only", Value: int64(-1)}},
		bson.D{{Key: "_id", Value: "nil-slice"}, {Key: "items", Value: []string(nil)}},
	}
	coll := d.Collection("everything")
	var wrote []bson.Raw
	for _, doc := range docs {
		b, err := bson.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		wrote = append(wrote, b)
		if _, err := coll.InsertOne(ctx, bson.Raw(b)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Collection("empty_collection").InsertOne(ctx, bson.D{{Key: "_id", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Collection("empty_collection").DeleteOne(ctx, bson.D{{Key: "_id", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	cur, err := coll.Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bson.Raw{}
	for cur.Next(ctx) {
		served[cur.Current.Lookup("_id").String()] = append(bson.Raw(nil), cur.Current...)
	}
	if err := cur.Err(); err != nil {
		t.Fatal(err)
	}
	// While FerretDB runs, the latest writes live in its -wal: reading
	// through it sees them.
	live, err := ferretdump.Open(ctx, filepath.Join(dir, "clavis.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	if docs, err := live.Documents(ctx, "everything"); err != nil || len(docs) != len(wrote) {
		t.Errorf("reading a running FerretDB's file: %d documents, %v", len(docs), err)
	}
	_ = live.Close()
	if err := d.Close(ctx); err != nil {
		t.Fatal(err)
	}

	r, err := ferretdump.Open(ctx, filepath.Join(dir, "clavis.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.Collections(); len(got) != 2 || got[0] != "empty_collection" || got[1] != "everything" {
		t.Errorf("collections %v", got)
	}
	if none, err := r.Documents(ctx, "empty_collection"); err != nil || len(none) != 0 {
		t.Errorf("empty collection: %d documents, %v", len(none), err)
	}
	read, err := r.Documents(ctx, "everything")
	if err != nil {
		t.Fatal(err)
	}
	if len(read) != len(wrote) || len(served) != len(wrote) {
		t.Fatalf("wrote %d, FerretDB served %d, read %d", len(wrote), len(served), len(read))
	}
	for i := range wrote {
		id := read[i].Lookup("_id").String()
		if !bytes.Equal(read[i], served[id]) {
			t.Errorf("document %d differs from what FerretDB served:\n read   %s\n served %s", i, read[i], served[id])
		}
		if !bytes.Equal(read[i], wrote[i]) {
			t.Errorf("document %d differs from what the driver wrote:\n read  %s\n wrote %s", i, read[i], wrote[i])
		}
	}
	var back everything
	if err := bson.Unmarshal(read[0], &back); err != nil {
		t.Fatal(err)
	}
	if !back.At.Equal(at) || back.BigInt != math.MaxInt64 || back.Stamp.T != 1_800_000_000 || back.Stamp.I != 7 ||
		back.UUID.Subtype != 4 {
		t.Errorf("decoded struct lost values: %+v", back)
	}
}
