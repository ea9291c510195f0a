package matching

import (
	"math"
	"slices"
)

// Spatial cells are geohashes, written here by hand rather than S2 from
// github.com/golang/geo, because:
//   - they need no new module (that module is served only as pseudo-versions,
//     with no tagged release) and are a few lines of integer arithmetic;
//   - a geohash is a short readable string, easy to index together with
//     organisation and status and to query with $in on MongoDB and FerretDB;
//   - at the precision used here a cell is 0.3516° × 0.1758°, which at
//     Swedish latitudes (55–69°N) is 22–14 km wide and 19.5 km high, so the
//     cover of the largest travel radius stays at a few dozen cells.
//
// What S2 would do better, cells of nearly equal area at every latitude, does
// not matter where Clavis runs: the cover grows like 1/cos(latitude), yet
// for MaxTravelRadiusKm it is at most 49 cells anywhere from 55 to 72°N
// (tested); only near the poles does it grow large, and it stays correct.

const (
	// CellPrecision is the number of geohash characters in a cell: 10 bits
	// of longitude and 10 of latitude.
	CellPrecision = 4

	// MaxTravelRadiusKm is the largest travel radius a volunteer may set.
	// The store asks for the cells covering this radius around a meeting
	// point; ranking treats any larger radius as this one, so that what the
	// store finds and what ranking accepts stay the same set.
	MaxTravelRadiusKm = 50.0

	// AreaGridKm is the side of the grid cell that AreaCentre snaps to.
	AreaGridKm = 0.5

	// earthRadiusKm is the mean Earth radius (IUGG).
	earthRadiusKm = 6371.0088

	geohashAlphabet = "0123456789bcdefghjkmnpqrstuvwxyz"
)

// HomeCell is the cell stored on a volunteer's profile for their home, the
// indexed key the store uses to find volunteers near a meeting point.
func HomeCell(lat, lon float64) string {
	return geohash(lat, lon, CellPrecision)
}

// CellsCovering returns, sorted, every cell of HomeCell's precision that
// touches the circle of radiusKm around the point, so that any home within
// the radius has its HomeCell among them. The radius is clamped to
// [0, MaxTravelRadiusKm] to keep the $in query bounded.
func CellsCovering(lat, lon, radiusKm float64) []string {
	if !(radiusKm > 0) { // also NaN
		radiusKm = 0
	}
	radiusKm = min(radiusKm, MaxTravelRadiusKm)
	lat = clampLat(lat)
	lon = normLon(lon)

	latBits, lonBits := cellBits(CellPrecision)
	nLat, nLon := 1<<latBits, 1<<lonBits
	latStep, lonStep := 180/float64(nLat), 360/float64(nLon)

	d := radiusKm / earthRadiusKm // angular radius
	latMin := math.Max(lat-deg(d), -90)
	latMax := math.Min(lat+deg(d), 90)

	// The longitude span of a spherical cap is asin(sin d / cos lat); when
	// the cap reaches a pole, every longitude is in it.
	allLon := latMax >= 90 || latMin <= -90
	var lonMin, lonMax float64
	if !allLon {
		s := math.Sin(d) / math.Cos(rad(lat))
		if s >= 1 {
			allLon = true
		} else {
			dLon := deg(math.Asin(s))
			lonMin, lonMax = lon-dLon, lon+dLon
		}
	}

	i0, i1 := gridIndex(latMin+90, latStep, nLat), gridIndex(latMax+90, latStep, nLat)
	var j0, j1 int
	if allLon || lonMax-lonMin >= 360 {
		j0, j1 = 0, nLon-1
	} else {
		// Unwrapped indices: j may run below 0 or past nLon-1 across the
		// antimeridian and is wrapped when the cell is built.
		j0 = int(math.Floor((lonMin + 180) / lonStep))
		j1 = int(math.Floor((lonMax + 180) / lonStep))
		if j1-j0 >= nLon {
			j0, j1 = 0, nLon-1
		}
	}

	// A margin of one metre absorbs rounding in the distance, so that a home
	// exactly on the circle is never lost; it only ever adds a cell.
	const marginKm = 0.001
	var cells []string
	for i := i0; i <= i1; i++ {
		south := float64(i)*latStep - 90
		north := south + latStep
		for j := j0; j <= j1; j++ {
			jw := ((j % nLon) + nLon) % nLon
			west := float64(jw)*lonStep - 180
			east := west + lonStep
			if distanceToCellKm(lat, lon, south, north, west, east) <= radiusKm+marginKm {
				cells = append(cells, cellString(uint64(i), uint64(jw), CellPrecision))
			}
		}
	}
	slices.Sort(cells)
	return slices.Compact(cells)
}

// DistanceKm is the great-circle (haversine) distance between two points.
func DistanceKm(lat1, lon1, lat2, lon2 float64) float64 {
	φ1 := rad(lat1)
	return haversineKm(φ1, math.Cos(φ1), lon1, lat2, lon2)
}

// haversineKm is DistanceKm with the first point's latitude in radians and
// its cosine worked out once, for ranking many homes against one point.
func haversineKm(φ1, cosφ1, lon1, lat2, lon2 float64) float64 {
	φ2 := rad(lat2)
	sφ := math.Sin((φ2 - φ1) / 2)
	sλ := math.Sin(rad(lon2-lon1) / 2)
	a := sφ*sφ + cosφ1*math.Cos(φ2)*sλ*sλ
	return 2 * earthRadiusKm * math.Asin(math.Sqrt(math.Min(1, a)))
}

// AreaCentre is what a volunteer sees of a meeting point before approval: the
// centre of the ~500 m grid square the point lies in. The grid is fixed (rows
// of AreaGridKm in latitude, each row cut into squares of AreaGridKm at its
// own latitude), so every point in a square gives the same centre: asking
// again, or about another outing at the same place, reveals nothing more.
// The centre is at most half a diagonal (~355 m) from the point.
func AreaCentre(lat, lon float64) (float64, float64) {
	lat = clampLat(lat)
	lon = normLon(lon)
	latStep := deg(AreaGridKm / earthRadiusKm)
	row := math.Floor(lat / latStep)
	cLat := (row + 0.5) * latStep
	// Near the poles a square of 500 m would span more than all longitudes:
	// cap the step so the formula stays finite there.
	lonStep := latStep / math.Max(math.Cos(rad(cLat)), 1e-3)
	cLon := (math.Floor(lon/lonStep) + 0.5) * lonStep
	return clampLat(cLat), normLon(cLon)
}

// geohash encodes a point at the given precision (1–12 characters): the
// interleaved bits of the point's row and column on a 2^latBits × 2^lonBits
// grid, longitude first, five bits a character.
func geohash(lat, lon float64, precision int) string {
	latBits, lonBits := cellBits(precision)
	nLat, nLon := 1<<latBits, 1<<lonBits
	i := gridIndex(clampLat(lat)+90, 180/float64(nLat), nLat)
	j := gridIndex(normLon(lon)+180, 360/float64(nLon), nLon)
	return cellString(uint64(i), uint64(j), precision)
}

func cellString(latIdx, lonIdx uint64, precision int) string {
	latBits, lonBits := cellBits(precision)
	var bits uint64
	li, lo := latBits, lonBits
	for k := range 5 * precision {
		bits <<= 1
		if k%2 == 0 {
			lo--
			bits |= lonIdx >> uint(lo) & 1
		} else {
			li--
			bits |= latIdx >> uint(li) & 1
		}
	}
	buf := make([]byte, precision)
	for k := precision - 1; k >= 0; k-- {
		buf[k] = geohashAlphabet[bits&31]
		bits >>= 5
	}
	return string(buf)
}

// cellBits splits a geohash's 5·precision bits: longitude takes the odd one.
func cellBits(precision int) (latBits, lonBits int) {
	n := 5 * precision
	return n / 2, n - n/2
}

// gridIndex is the row or column of offset (from the grid's origin) on a grid
// of n steps, with the far edge folded into the last one.
func gridIndex(offset, step float64, n int) int {
	k := int(math.Floor(offset / step))
	return max(0, min(n-1, k))
}

// distanceToCellKm is the shortest great-circle distance from a point to a
// latitude/longitude rectangle (0 inside it). Along a parallel the nearest
// point has the same longitude; along a meridian Δλ away, the nearest point
// lies at latitude atan(tan φ / cos Δλ), clamped to the edge.
func distanceToCellKm(lat, lon, south, north, west, east float64) float64 {
	width := east - west
	off := math.Mod(lon-west, 360) // how far east of the west edge
	if off < 0 {
		off += 360
	}
	if off <= width {
		return DistanceKm(lat, lon, min(max(lat, south), north), lon)
	}
	edge, dl := east, off-width
	if w := 360 - off; w < dl {
		edge, dl = west, w
	}
	if dl >= 90 {
		// More than a quarter turn away: the nearest point is a corner.
		return math.Min(
			math.Min(DistanceKm(lat, lon, south, west), DistanceKm(lat, lon, north, west)),
			math.Min(DistanceKm(lat, lon, south, east), DistanceKm(lat, lon, north, east)))
	}
	foot := deg(math.Atan(math.Tan(rad(lat)) / math.Cos(rad(dl))))
	return DistanceKm(lat, lon, min(max(foot, south), north), edge)
}

func clampLat(lat float64) float64 { return max(-90, min(90, lat)) }

// normLon wraps a longitude to [−180, 180).
func normLon(lon float64) float64 {
	if lon >= -180 && lon < 180 {
		return lon
	}
	l := math.Mod(lon+180, 360)
	if l < 0 {
		l += 360
	}
	return l - 180
}

func rad(d float64) float64 { return d * math.Pi / 180 }
func deg(r float64) float64 { return r * 180 / math.Pi }
