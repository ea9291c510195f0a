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
	"time"
	_ "time/tzdata" // Europe/Stockholm must be known even in a bare container

	"github.com/clavis-app/clavis/internal/fault"
)

// Limits keep one volunteer's availability small enough to check quickly.
const (
	MaxSlots      = 50
	MaxExceptions = 100
	minutesPerDay = 24 * 60
)

// Spec is availability as the volunteer writes it and as it is stored:
// strings exactly as api.md shows them.
type Spec struct {
	TimeZone   string      `json:"time_zone" bson:"time_zone"`
	Weekly     []SlotSpec  `json:"weekly" bson:"weekly"`
	Exceptions []Exception `json:"exceptions" bson:"exceptions"`
}

// SlotSpec is one weekly slot: weekday mon..sun, start and end HH:MM (end may be 24:00).
type SlotSpec struct {
	Weekday string `json:"weekday" bson:"weekday"`
	Start   string `json:"start" bson:"start"`
	End     string `json:"end" bson:"end"`
}

// Exception is an absence (holiday, illness) from one instant to another, RFC 3339.
type Exception struct {
	From string `json:"from" bson:"from"`
	To   string `json:"to" bson:"to"`
}

// Week is a compiled, valid Spec, ready to answer Covers and Slack.
type Week struct {
	loc      *time.Location
	slots    []slot
	absences []interval
}

type slot struct {
	day        time.Weekday
	start, end int // minutes after local midnight; end may be 1440
}

type interval struct{ from, to time.Time }

var weekdays = map[string]time.Weekday{
	"mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday, "thu": time.Thursday,
	"fri": time.Friday, "sat": time.Saturday, "sun": time.Sunday,
}

// LoadZone checks an IANA time zone name. "Local" and "" are refused: they
// would mean whatever the server happens to run in.
func LoadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return time.LoadLocation(name)
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
		field := fmt.Sprintf("weekly[%d]", i)
		day, okDay := weekdays[strings.ToLower(in.Weekday)]
		if !okDay {
			bad(field+".weekday", "must be one of: mon, tue, wed, thu, fri, sat, sun")
		}
		start, okStart := parseClock(in.Start, false)
		if !okStart {
			bad(field+".start", "must be a time HH:MM from 00:00 to 23:59")
		}
		end, okEnd := parseClock(in.End, true)
		if !okEnd {
			bad(field+".end", "must be a time HH:MM from 00:01 to 24:00")
		}
		if okStart && okEnd && end <= start {
			bad(field+".end", "must be after start")
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
		field := fmt.Sprintf("exceptions[%d]", i)
		from, errFrom := time.Parse(time.RFC3339, ex.From)
		if errFrom != nil {
			bad(field+".from", "must be an RFC 3339 time such as 2026-07-01T00:00:00+02:00")
		}
		to, errTo := time.Parse(time.RFC3339, ex.To)
		if errTo != nil {
			bad(field+".to", "must be an RFC 3339 time such as 2026-07-15T00:00:00+02:00")
		}
		if errFrom == nil && errTo == nil {
			if !to.After(from) {
				bad(field+".to", "must be after from")
				continue
			}
			w.absences = append(w.absences, interval{from, to})
		}
	}
	if len(errs) > 0 {
		return nil, fault.Invalid(errs...)
	}
	sort.Slice(w.absences, func(i, j int) bool { return w.absences[i].from.Before(w.absences[j].from) })
	return w, nil
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
