package matching

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// destination is the point km away from (lat, lon) along the initial
// bearing (degrees from north), on the same sphere as DistanceKm.
func destination(lat, lon, bearing, km float64) (float64, float64) {
	φ1, λ1, θ := rad(lat), rad(lon), rad(bearing)
	δ := km / earthRadiusKm
	φ2 := math.Asin(math.Sin(φ1)*math.Cos(δ) + math.Cos(φ1)*math.Sin(δ)*math.Cos(θ))
	λ2 := λ1 + math.Atan2(math.Sin(θ)*math.Sin(δ)*math.Cos(φ1), math.Cos(δ)-math.Sin(φ1)*math.Sin(φ2))
	return deg(φ2), normLon(deg(λ2))
}

// cosineDistanceKm is the spherical law of cosines: a second formula to
// check haversine against.
func cosineDistanceKm(lat1, lon1, lat2, lon2 float64) float64 {
	c := math.Sin(rad(lat1))*math.Sin(rad(lat2)) + math.Cos(rad(lat1))*math.Cos(rad(lat2))*math.Cos(rad(lon2-lon1))
	return earthRadiusKm * math.Acos(math.Max(-1, math.Min(1, c)))
}

func TestGeohashMatchesPublishedValues(t *testing.T) {
	for _, tc := range []struct {
		lat, lon float64
		want     string
	}{
		{57.64911, 10.40744, "u4pruydqqvj"}, // the reference example of the geohash format
		{42.6, -5.6, "ezs42"},
		{-25.382708, -49.265506, "6gkzwgjzn820"},
	} {
		if got := geohash(tc.lat, tc.lon, len(tc.want)); got != tc.want {
			t.Errorf("geohash(%v, %v) = %q, want %q", tc.lat, tc.lon, got, tc.want)
		}
	}
	if got := HomeCell(57.64911, 10.40744); got != "u4pr" {
		t.Errorf("HomeCell = %q, want u4pr", got)
	}
}

func TestHomeCellIsPrefixOfFinerCell(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for range 5000 {
		lat, lon := rng.Float64()*180-90, rng.Float64()*360-180
		fine := geohash(lat, lon, 9)
		if got := HomeCell(lat, lon); got != fine[:CellPrecision] {
			t.Fatalf("HomeCell(%v, %v) = %q, finer cell %q", lat, lon, got, fine)
		}
	}
}

// cellGridLines returns a grid line (latitude, longitude) of HomeCell's grid
// near the point, to put test points exactly on cell edges.
func cellGridLines(lat, lon float64) (float64, float64) {
	latBits, lonBits := cellBits(CellPrecision)
	latStep, lonStep := 180/float64(int(1)<<latBits), 360/float64(int(1)<<lonBits)
	return math.Round((lat+90)/latStep)*latStep - 90, math.Round((lon+180)/lonStep)*lonStep - 180
}

func TestCellsCoveringHoldsEveryHomeWithinRadius(t *testing.T) {
	rng := rand.New(rand.NewPCG(2026, 56))
	points := 0
	for n := range 3000 {
		var lat, lon float64
		switch n % 6 {
		case 0, 1, 2: // southern and central Sweden, around 56°N
			lat, lon = 55+rng.Float64()*5, 11+rng.Float64()*9
		case 3: // a centre on a cell corner, or a hair beside it
			lat, lon = 55+rng.Float64()*14, 11+rng.Float64()*13
			lat, lon = cellGridLines(lat, lon)
			lat += (rng.Float64() - 0.5) * 2e-9
			lon += (rng.Float64() - 0.5) * 2e-9
		case 4: // all of Sweden, up to Treriksröset
			lat, lon = 55+rng.Float64()*14.1, 10.5+rng.Float64()*14
		case 5: // anywhere short of the poles, antimeridian included
			lat, lon = rng.Float64()*160-80, rng.Float64()*360-180
			if n%30 == 5 {
				lon = 180 - rng.Float64()*0.5
			}
		}
		var radius float64
		switch n % 5 {
		case 0:
			radius = MaxTravelRadiusKm
		case 1:
			radius = 1 + rng.Float64()*4
		default:
			radius = rng.Float64() * MaxTravelRadiusKm
		}
		cover := CellsCovering(lat, lon, radius)
		if !slices.IsSorted(cover) {
			t.Fatalf("cover of (%v, %v) not sorted: %v", lat, lon, cover)
		}
		check := func(plat, plon float64) {
			if DistanceKm(lat, lon, plat, plon) > radius {
				return // rounding put it outside: not a claim about the cover
			}
			points++
			if c := HomeCell(plat, plon); !slices.Contains(cover, c) {
				t.Fatalf("home (%v, %v) is %.4f km from (%v, %v), radius %v, but its cell %s is not in %v",
					plat, plon, DistanceKm(lat, lon, plat, plon), lat, lon, radius, c, cover)
			}
		}
		for k := range 24 {
			bearing := rng.Float64() * 360
			d := radius * math.Sqrt(rng.Float64())
			if k%4 == 0 {
				d = radius * (1 - 1e-9) // on the rim, where cells are most often missed
			}
			plat, plon := destination(lat, lon, bearing, d)
			check(plat, plon)
			// The same point moved onto the nearest cell edges.
			glat, glon := cellGridLines(plat, plon)
			check(glat, plon)
			check(plat, glon)
			check(glat, glon)
		}
	}
	if points < 100000 {
		t.Fatalf("only %d points checked", points)
	}
	t.Logf("%d homes checked", points)
}

func TestCellsCoveringIsSmallAndTight(t *testing.T) {
	most := 0
	for lat := 55.0; lat <= 72; lat += 0.1 {
		for _, lon := range []float64{11.03, 12.8648, 15.5869, 18.07, 20.26, 23.99} {
			cover := CellsCovering(lat, lon, MaxTravelRadiusKm)
			most = max(most, len(cover))
			if len(cover) > 64 {
				t.Fatalf("%d cells for %v km at (%v, %v)", len(cover), MaxTravelRadiusKm, lat, lon)
			}
			if n := len(CellsCovering(lat, lon, 1)); n > 4 {
				t.Fatalf("%d cells for 1 km at (%v, %v)", n, lat, lon)
			}
		}
	}
	t.Logf("at most %d cells for %v km between 55 and 72°N", most, MaxTravelRadiusKm)

	// Every cell in a cover really reaches into the circle: sample each cell
	// on a fine grid and find a point within the radius (plus the sampling
	// step, about 0.4 km).
	latBits, lonBits := cellBits(CellPrecision)
	latStep, lonStep := 180/float64(int(1)<<latBits), 360/float64(int(1)<<lonBits)
	for _, c := range [][2]float64{{56.6696, 12.8648}, {56.1612, 15.5869}, {67.85, 20.22}, {59.33, 18.06}} {
		for _, cell := range CellsCovering(c[0], c[1], MaxTravelRadiusKm) {
			south, west := decodeCellCorner(t, cell)
			best := math.Inf(1)
			for i := 0; i <= 50; i++ {
				for j := 0; j <= 50; j++ {
					plat, plon := south+latStep*float64(i)/50, west+lonStep*float64(j)/50
					best = min(best, cosineDistanceKm(c[0], c[1], plat, plon))
				}
			}
			if best > MaxTravelRadiusKm+0.5 {
				t.Errorf("cell %s is %.2f km from (%v, %v): outside the circle", cell, best, c[0], c[1])
			}
		}
	}
}

// decodeCellCorner returns the south-west corner of a cell, independently of
// the encoder: by bisection, as the geohash format describes it.
func decodeCellCorner(t *testing.T, cell string) (float64, float64) {
	t.Helper()
	latLo, latHi, lonLo, lonHi := -90.0, 90.0, -180.0, 180.0
	even := true
	for _, ch := range cell {
		v := -1
		for k, a := range geohashAlphabet {
			if a == ch {
				v = k
			}
		}
		if v < 0 {
			t.Fatalf("cell %q has a character outside the alphabet", cell)
		}
		for b := 4; b >= 0; b-- {
			bit := v>>b&1 == 1
			if even {
				mid := (lonLo + lonHi) / 2
				if bit {
					lonLo = mid
				} else {
					lonHi = mid
				}
			} else {
				mid := (latLo + latHi) / 2
				if bit {
					latLo = mid
				} else {
					latHi = mid
				}
			}
			even = !even
		}
	}
	return latLo, lonLo
}

func TestCellsCoveringRadiusLimits(t *testing.T) {
	lat, lon := 56.6696, 12.8648
	if got, want := CellsCovering(lat, lon, 500), CellsCovering(lat, lon, MaxTravelRadiusKm); !slices.Equal(got, want) {
		t.Errorf("radius above the maximum: %v, want the maximum's %v", got, want)
	}
	for _, r := range []float64{0, -3, math.NaN()} {
		if got := CellsCovering(lat, lon, r); !slices.Equal(got, []string{HomeCell(lat, lon)}) {
			t.Errorf("radius %v: %v, want only the home cell %s", r, got, HomeCell(lat, lon))
		}
	}
	// Near the pole the cap holds every longitude; the cover must still hold
	// homes on the far side.
	cover := CellsCovering(89.9, 10, 30)
	plat, plon := destination(89.9, 10, 0, 25) // over the pole
	if !slices.Contains(cover, HomeCell(plat, plon)) {
		t.Errorf("home across the pole (%v, %v) missing from the cover", plat, plon)
	}
}

func TestDistanceKm(t *testing.T) {
	if d := DistanceKm(0, 0, 0, 1); math.Abs(d-111.1951) > 0.001 {
		t.Errorf("one degree on the equator = %v km, want 111.195", d)
	}
	if d := DistanceKm(56.6696, 12.8648, 56.6696, 12.8648); d != 0 {
		t.Errorf("same point: %v", d)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 2000 {
		la1, lo1 := 55+rng.Float64()*14, 11+rng.Float64()*13
		la2, lo2 := 55+rng.Float64()*14, 11+rng.Float64()*13
		d, back := DistanceKm(la1, lo1, la2, lo2), DistanceKm(la2, lo2, la1, lo1)
		if math.Abs(d-back) > 1e-9 {
			t.Fatalf("not symmetric: %v vs %v", d, back)
		}
		if want := cosineDistanceKm(la1, lo1, la2, lo2); math.Abs(d-want) > 1e-6*want+1e-6 {
			t.Fatalf("haversine %v vs law of cosines %v", d, want)
		}
	}
}

func TestAreaCentreIsNearAndStable(t *testing.T) {
	rng := rand.New(rand.NewPCG(500, 56))
	var worst float64
	for n := range 20000 {
		var lat, lon float64
		if n%2 == 0 {
			lat, lon = 55+rng.Float64()*14, 11+rng.Float64()*13
		} else {
			lat, lon = rng.Float64()*170-85, rng.Float64()*360-180
		}
		clat, clon := AreaCentre(lat, lon)
		d := DistanceKm(lat, lon, clat, clon)
		worst = max(worst, d)
		if d > 0.4 {
			t.Fatalf("AreaCentre(%v, %v) = (%v, %v), %.0f m away", lat, lon, clat, clon, d*1000)
		}
		if d < 1e-9 && n > 0 {
			t.Fatalf("AreaCentre(%v, %v) returned the exact point", lat, lon)
		}
		// Every point of the same square, here within 200 m of its centre
		// in each direction, gives the same centre: the area is a property of
		// the square, not of the point.
		latStep := deg(AreaGridKm / earthRadiusKm)
		for range 5 {
			dLat := (rng.Float64()*2 - 1) * 0.4 * latStep
			dLon := (rng.Float64()*2 - 1) * 0.4 * latStep / math.Cos(rad(clat))
			qlat, qlon := AreaCentre(clat+dLat, clon+dLon)
			if qlat != clat || qlon != clon {
				t.Fatalf("points of one square give (%v, %v) and (%v, %v)", clat, clon, qlat, qlon)
			}
		}
	}
	t.Logf("largest move %.0f m", worst*1000)
	// Two meeting points 100 m apart in the middle of one square in Halmstad
	// give one area, and a point a kilometre away another.
	a1, o1 := AreaCentre(56.6718, 12.8614) // Halmstad stadsbibliotek
	a2, o2 := AreaCentre(destination(a1, o1, 90, 0.1))
	a3, o3 := AreaCentre(destination(a1, o1, 90, 1))
	if a1 != a2 || o1 != o2 {
		t.Errorf("100 m apart: (%v, %v) and (%v, %v)", a1, o1, a2, o2)
	}
	if a1 == a3 && o1 == o3 {
		t.Errorf("1 km apart gave the same area")
	}
}
