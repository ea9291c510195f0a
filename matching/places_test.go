package matching

import (
	"encoding/csv"
	"os"
	"strconv"
	"testing"
)

// place is a real meeting point from testdata/places.csv (a copy of the
// project's shared list of places in Halmstad and Blekinge, approximate
// coordinates).
type place struct {
	Name, Town string
	Lat, Lon   float64
	Kind       string
}

func loadPlaces(t testing.TB) map[string]place {
	t.Helper()
	f, err := os.Open("testdata/places.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 2 || len(rows[0]) != 5 || rows[0][0] != "name" || rows[0][2] != "lat" || rows[0][3] != "lon" {
		t.Fatalf("testdata/places.csv: unexpected header %v", rows[0])
	}
	places := make(map[string]place, len(rows)-1)
	for _, r := range rows[1:] {
		lat, err1 := strconv.ParseFloat(r[2], 64)
		lon, err2 := strconv.ParseFloat(r[3], 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("testdata/places.csv: bad coordinates in %v", r)
		}
		places[r[0]] = place{Name: r[0], Town: r[1], Lat: lat, Lon: lon, Kind: r[4]}
	}
	return places
}

// mustPlace returns a named place, failing the test if the data lacks it.
func mustPlace(t testing.TB, places map[string]place, name string) place {
	t.Helper()
	p, ok := places[name]
	if !ok {
		t.Fatalf("testdata/places.csv has no %q", name)
	}
	return p
}

func TestPlacesAreInSouthernSweden(t *testing.T) {
	places := loadPlaces(t)
	if len(places) != 12 {
		t.Fatalf("%d places, want the 12 of the shared list", len(places))
	}
	for _, p := range places {
		if p.Lat < 55.3 || p.Lat > 57 || p.Lon < 12.5 || p.Lon > 16 {
			t.Errorf("%s (%s) at %v, %v is outside Halland and Blekinge", p.Name, p.Town, p.Lat, p.Lon)
		}
		if _, ok := kindNames[p.Kind]; !ok {
			t.Errorf("%s has kind %q, not an outing kind", p.Name, p.Kind)
		}
	}
}
