// Package availability is a volunteer's weekly availability: slots of local
// wall time in an IANA time zone, one weekday each, minus absences. It is
// pure: no storage, no HTTP.
//
// Slots are wall time on purpose: "Tuesdays 14:00–18:00" means 14:00 on the
// volunteer's clock in March and in November alike, so every check turns a
// slot into instants with time.Date in the volunteer's zone for the dates
// concerned, never by adding a fixed offset to UTC. A slot may end at 24:00;
// slots on consecutive days that meet at midnight join into one window, so
// an outing from 23:00 to 01:00 is covered by "mon 20:00–24:00" and
// "tue 00:00–02:00".
package availability

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // Europe/Stockholm must be known even in a bare container

	"github.com/clavis-app/clavis/internal/fault"
)

// Limits keep one volunteer's availability small enough to check quickly.
const (
	MaxSlots       = 50
	MaxExceptions  = 100
	minutesPerDay  = 24 * 60
	minutesPerWeek = 7 * minutesPerDay
)

// Spec is availability as the volunteer writes it and as it is stored:
// strings exactly as docs/api.md shows them.
type Spec struct {
	TimeZone   string      `json:"time_zone" bson:"time_zone"`
	Weekly     []SlotSpec  `json:"weekly" bson:"weekly"`
	Exceptions []Exception `json:"exceptions" bson:"exceptions"`
}

// SlotSpec is one weekly slot: weekday mon..sun, start and end HH:MM (end may be 24:00).
type SlotSpec struct {
	Weekday string `json:"weekday" bson:"weekday" enum:"mon tue wed thu fri sat sun"`
	Start   string `json:"start" bson:"start"`
	End     string `json:"end" bson:"end"`
}

// Exception is an absence (holiday, illness) from one instant to another, RFC 3339.
type Exception struct {
	From string `json:"from" bson:"from"`
	To   string `json:"to" bson:"to"`
}

// Week is a compiled, valid Spec, ready to answer Covers and Slack.
//
// Ranking asks every prefiltered volunteer (up to 100 000 per outing), so
// the week is also kept as cycle: the slots as stretches of the week in
// local minutes, joined where they meet. While the zone's offset stays the
// same around an outing (every day but a few near clock changes), a slot's
// instants are its wall minutes minus that offset, and Covers and Slack
// answer from cycle without building or allocating anything. Near a clock
// change they take the long way with time.Date (slowWindow), which is the
// definition the fast way must agree with.
type Week struct {
	loc      *time.Location
	slots    []slot
	absences []interval // sorted by from
	cycle    []stretch  // sorted, apart; the last may run past the week's end into its start
	allWeek  bool       // the slots cover the whole week without a gap
}

// stretch is [from, to] in minutes after Sunday 00:00 local wall time.
type stretch struct{ from, to int }

type slot struct {
	day        time.Weekday
	start, end int // minutes after local midnight; end may be 1440
}

type interval struct{ from, to time.Time }

var weekdays = map[string]time.Weekday{
	"mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday, "thu": time.Thursday,
	"fri": time.Friday, "sat": time.Saturday, "sun": time.Sunday,
}

// zones caches loaded locations by name: with the embedded zone database
// time.LoadLocation parses the zone's data on every call, and every profile
// a query loads compiles its week. A *time.Location is immutable once
// loaded, so one is shared by all goroutines.
var zones sync.Map // name → *time.Location

// LoadZone checks an IANA time zone name. "Local" and "" are refused: they
// would mean whatever the server happens to run in.
func LoadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	if loc, ok := zones.Load(name); ok {
		return loc.(*time.Location), nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, loc)
	return loc, nil
}

// Compile validates s and returns its Week. Every broken rule is reported
// as a field error named by its JSON path (weekly[1].end, exceptions[0].to).
func Compile(s Spec) (*Week, error) {
	var errs []fault.FieldError
	bad := func(field, msg string) { errs = append(errs, fault.FieldError{Field: field, Message: msg}) }

	loc, err := LoadZone(s.TimeZone)
	if err != nil {
		bad("time_zone", "must be an IANA time zone such as Europe/Stockholm")
	}
	if len(s.Weekly) > MaxSlots {
		bad("weekly", fmt.Sprintf("must have at most %d slots", MaxSlots))
	}
	if len(s.Exceptions) > MaxExceptions {
		bad("exceptions", fmt.Sprintf("must have at most %d absences", MaxExceptions))
	}
	if len(errs) > 0 {
		return nil, fault.Invalid(errs...)
	}

	w := &Week{loc: loc}
	index := make([]int, 0, len(s.Weekly)) // position in s.Weekly of each w.slots entry
	for i, in := range s.Weekly {
		field := func() string { return fmt.Sprintf("weekly[%d]", i) } // only named when broken
		day, okDay := weekdays[strings.ToLower(in.Weekday)]
		if !okDay {
			bad(field()+".weekday", "must be one of: mon, tue, wed, thu, fri, sat, sun")
		}
		start, okStart := parseClock(in.Start, false)
		if !okStart {
			bad(field()+".start", "must be a time HH:MM from 00:00 to 23:59")
		}
		end, okEnd := parseClock(in.End, true)
		if !okEnd {
			bad(field()+".end", "must be a time HH:MM from 00:01 to 24:00")
		}
		if okStart && okEnd && end <= start {
			bad(field()+".end", "must be after start")
			continue
		}
		if okDay && okStart && okEnd {
			w.slots = append(w.slots, slot{day: day, start: start, end: end})
			index = append(index, i)
		}
	}
	// Overlapping slots on one weekday are refused rather than merged: they
	// are almost always a typing mistake the volunteer wants to hear about.
	for a := range w.slots {
		for b := a + 1; b < len(w.slots); b++ {
			x, y := w.slots[a], w.slots[b]
			if x.day == y.day && x.start < y.end && y.start < x.end {
				bad(fmt.Sprintf("weekly[%d].start", index[b]), fmt.Sprintf("overlaps weekly[%d] on the same weekday", index[a]))
			}
		}
	}
	for i, ex := range s.Exceptions {
		field := func() string { return fmt.Sprintf("exceptions[%d]", i) }
		from, errFrom := time.Parse(time.RFC3339, ex.From)
		if errFrom != nil {
			bad(field()+".from", "must be an RFC 3339 time such as 2026-07-01T00:00:00+02:00")
		}
		to, errTo := time.Parse(time.RFC3339, ex.To)
		if errTo != nil {
			bad(field()+".to", "must be an RFC 3339 time such as 2026-07-15T00:00:00+02:00")
		}
		if errFrom == nil && errTo == nil {
			if !to.After(from) {
				bad(field()+".to", "must be after from")
				continue
			}
			w.absences = append(w.absences, interval{from, to})
		}
	}
	if len(errs) > 0 {
		return nil, fault.Invalid(errs...)
	}
	sort.Slice(w.absences, func(i, j int) bool { return w.absences[i].from.Before(w.absences[j].from) })
	w.cycle, w.allWeek = cycleOf(w.slots)
	return w, nil
}

// cycleOf joins the slots into stretches of the week. Slots that meet (at
// midnight, or touching on one day) join, as freeWindows joins their
// instants; a stretch ending Saturday 24:00 joins one starting Sunday 00:00
// by running past the week's end.
func cycleOf(slots []slot) ([]stretch, bool) {
	in := make([]stretch, 0, len(slots))
	for _, s := range slots {
		d := int(s.day) * minutesPerDay
		in = append(in, stretch{d + s.start, d + s.end})
	}
	slices.SortFunc(in, func(a, b stretch) int { return a.from - b.from })
	var out []stretch
	for _, s := range in {
		if n := len(out); n > 0 && s.from <= out[n-1].to {
			out[n-1].to = max(out[n-1].to, s.to)
			continue
		}
		out = append(out, s)
	}
	n := len(out)
	if n == 1 && out[0].from == 0 && out[0].to == minutesPerWeek {
		return out, true
	}
	if n > 1 && out[0].from == 0 && out[n-1].to == minutesPerWeek {
		out[n-1].to += out[0].to
		out = out[1:]
	}
	return out, false
}

// parseClock reads HH:MM as minutes after midnight; 24:00 only when allowEnd.
func parseClock(s string, allowEnd bool) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	digit := func(b byte) (int, bool) { return int(b - '0'), b >= '0' && b <= '9' }
	h1, ok1 := digit(s[0])
	h2, ok2 := digit(s[1])
	m1, ok3 := digit(s[3])
	m2, ok4 := digit(s[4])
	if !ok1 || !ok2 || !ok3 || !ok4 {
		return 0, false
	}
	h, m := h1*10+h2, m1*10+m2
	if m > 59 {
		return 0, false
	}
	total := h*60 + m
	switch {
	case total == minutesPerDay:
		return total, allowEnd
	case total > minutesPerDay:
		return 0, false
	case total == 0 && allowEnd:
		return 0, false // an end of 00:00 is written 24:00
	}
	return total, true
}

// Location is the volunteer's time zone.
func (w *Week) Location() *time.Location { return w.loc }

// Covers reports whether the volunteer is available for the whole of
// [start, end): one free window (slots joined across midnight, absences
// cut out) contains it.
func (w *Week) Covers(start, end time.Time) bool {
	_, ok := w.window(start, end)
	return ok
}

// Slack is the smaller of the free time before and after [start, end) in
// the free window that covers it, 0 when none does. Windows are looked at
// one local day either side of the outing, so slack is at most about a day
// more than that: "plenty" for ranking.
func (w *Week) Slack(start, end time.Time) time.Duration {
	win, ok := w.window(start, end)
	if !ok {
		return 0
	}
	return min(start.Sub(win.from), win.to.Sub(end))
}

// window returns the free window containing [start, end).
func (w *Week) window(start, end time.Time) (interval, bool) {
	if w == nil || !end.After(start) {
		return interval{}, false
	}
	if win, ok, fast := w.fastWindow(start, end); fast {
		return win, ok
	}
	return w.slowWindow(start, end)
}

const (
	secondsPerDay = 24 * 60 * 60
	// fastDays bounds the outings fastWindow answers: longer ones (never
	// asked in practice) go the long way rather than risk overflow.
	fastDays = 400
)

// fastWindow is window for a stretch of time over which the zone keeps one
// offset: then every instant slowWindow would make with time.Date is its
// wall time minus that offset, and the free window is the stretch of cycle
// holding [start, end), cut to the days slowWindow looks at and by the
// absences. fast is false when it cannot tell, near a clock change.
func (w *Week) fastWindow(start, end time.Time) (win interval, ok, fast bool) {
	local := start.In(w.loc)
	_, offset := local.Zone()
	off := int64(offset)
	day0 := floorDiv(start.Unix()+off, secondsPerDay) // days since 1970-01-01, local
	days := floorDiv(end.Unix()+off, secondsPerDay) - day0
	if days > fastDays {
		return interval{}, false, false
	}
	midnight := day0*secondsPerDay - off // start's local date at 00:00, Unix seconds
	// slowWindow makes instants from the day before start's date to the
	// end of the day after end's. time.Date finds the offset by looking up
	// the wall time as if it were UTC, so keep a day of margin either side
	// for that guess to land in the same zone period as well.
	zoneFrom, zoneTo := local.ZoneBounds()
	if !zoneFrom.IsZero() && zoneFrom.Unix() > midnight-2*secondsPerDay ||
		!zoneTo.IsZero() && zoneTo.Unix() <= midnight+(days+3)*secondsPerDay {
		return interval{}, false, false
	}
	// Positions in the week: Sunday 00:00 local is 0, wall time throughout.
	mid := time.Unix(midnight, 0)
	base := time.Duration(floorMod(day0+4, 7)*minutesPerDay) * time.Minute // 1970-01-01 was a Thursday
	ps, pe := base+start.Sub(mid), base+end.Sub(mid)
	lo, hi := base-24*time.Hour, base+time.Duration(days+2)*24*time.Hour
	from, to, found := lo, hi, w.allWeek
	if !found {
		const week = minutesPerWeek * time.Minute
		k := time.Duration(floorDiv(int64(ps), int64(week))) * week
		for _, s := range w.cycle {
			// This week's copy, or last week's for a stretch running past its end.
			for _, shift := range [2]time.Duration{k, k - week} {
				a, b := shift+time.Duration(s.from)*time.Minute, shift+time.Duration(s.to)*time.Minute
				if a <= ps && pe <= b {
					from, to, found = max(a, lo), min(b, hi), true
				}
			}
		}
	}
	if !found {
		return interval{}, false, true
	}
	win = interval{mid.Add(from - base), mid.Add(to - base)}
	// Cutting the absences out of the window leaves pieces; the one holding
	// [start, end) runs from the last absence ending by start to the first
	// starting at or after end.
	for _, a := range w.absences {
		if !a.from.Before(win.to) {
			break
		}
		if !a.to.After(win.from) {
			continue
		}
		if a.from.Before(end) && a.to.After(start) {
			return interval{}, false, true
		}
		if !a.to.After(start) {
			win.from = a.to
			continue
		}
		win.to = a.from
		break
	}
	return win, true, true
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// slowWindow is window by definition: the free windows of the days around
// the outing, made with time.Date in the volunteer's zone.
func (w *Week) slowWindow(start, end time.Time) (interval, bool) {
	for _, win := range w.freeWindows(start, end) {
		if !win.from.After(start) && !win.to.Before(end) {
			return win, true
		}
	}
	return interval{}, false
}

// freeWindows lists the free windows, in order, of the local days from the
// day before start to the day after end.
func (w *Week) freeWindows(start, end time.Time) []interval {
	first := localDate(start.In(w.loc)).AddDate(0, 0, -1)
	last := localDate(end.In(w.loc)).AddDate(0, 0, 1)
	var occ []interval
	for d := first; !d.After(last); d = d.AddDate(0, 0, 1) {
		for _, s := range w.slots {
			if s.day != d.Weekday() {
				continue
			}
			// time.Date normalises minutes past 59 and the 24:00 end into
			// the right wall time, in the zone in force at that moment.
			from := time.Date(d.Year(), d.Month(), d.Day(), 0, s.start, 0, 0, w.loc)
			to := time.Date(d.Year(), d.Month(), d.Day(), 0, s.end, 0, 0, w.loc)
			if to.After(from) { // a slot inside a spring-forward gap is empty
				occ = append(occ, interval{from, to})
			}
		}
	}
	slices.SortFunc(occ, func(a, b interval) int { return a.from.Compare(b.from) })
	var merged []interval
	for _, iv := range occ {
		if n := len(merged); n > 0 && !iv.from.After(merged[n-1].to) {
			if iv.to.After(merged[n-1].to) {
				merged[n-1].to = iv.to
			}
			continue
		}
		merged = append(merged, iv)
	}
	return subtract(merged, w.absences)
}

// subtract cuts the absences out of the windows.
func subtract(windows, absences []interval) []interval {
	out := windows
	for _, a := range absences {
		var next []interval
		for _, win := range out {
			if !a.from.Before(win.to) || !a.to.After(win.from) { // no overlap
				next = append(next, win)
				continue
			}
			if a.from.After(win.from) {
				next = append(next, interval{win.from, a.from})
			}
			if a.to.Before(win.to) {
				next = append(next, interval{a.to, win.to})
			}
		}
		out = next
	}
	return out
}

// localDate is midnight of t's date in t's location, as a date to step by
// AddDate (which keeps the wall date right across clock changes).
func localDate(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
}
