// Package seed loads demo data: an organisation in Halmstad with a
// coordinator, vetted volunteers with profiles and availability,
// participants, and outings in different states at real meeting points,
// among them one confirmed outing starting 20 minutes after the first run,
// so that the API tour (docs/tour.md) can check in to it at once.
// `go run . seed` runs it; running it again changes nothing and prints the
// same logins and the same walkable outing.
package seed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/matching/availability"
)

// Password is every demo account's password. Demo data only: never seed a
// production database.
const Password = "clavis-demo-2026"

const runID = "halmstad-demo"

// WalkableKey names the confirmed outing that starts WalkableLead after the
// seed's first run.
const (
	WalkableKey  = "walk-now"
	WalkableLead = 20 * time.Minute
)

// Place is a meeting point (from the project's list of places; approximate
// coordinates).
type Place struct {
	Name     string
	Lat, Lon float64
	Kind     matching.OutingKind
}

// Places in Halmstad.
var Places = []Place{
	{"Halmstad Centralstation", 56.6696, 12.8648, matching.KindBusTrip},
	{"Stora Torg", 56.6744, 12.8578, matching.KindCafe},
	{"Halmstad stadsbibliotek", 56.6718, 12.8614, matching.KindActivity},
	{"Tylösand strand", 56.6450, 12.7300, matching.KindWalk},
	{"Hallarna köpcentrum", 56.6880, 12.8900, matching.KindErrand},
}

type account struct {
	key, email, name string
	role             auth.Role
}

var accounts = []account{
	{"coordinator", "coordinator@demo.clavis.app", "Karin Ek", auth.RoleCoordinator},
	{"vera", "vera@demo.clavis.app", "Vera Holm", auth.RoleVolunteer},
	{"hassan", "hassan@demo.clavis.app", "Hassan Ali", auth.RoleVolunteer},
	{"lena", "lena@demo.clavis.app", "Lena Berg", auth.RoleVolunteer},
	{"pia", "pia@demo.clavis.app", "Pia Lindqvist", auth.RoleParticipant},
	{"sara", "sara@demo.clavis.app", "Sara Nilsson", auth.RoleParticipant},
	{"olle", "olle@demo.clavis.app", "Olle Svensson", auth.RoleParticipant},
}

type run struct {
	ID      string            `bson:"_id" json:"id"`
	OrgID   string            `bson:"org_id" json:"org_id"`
	Users   map[string]string `bson:"users" json:"users"`
	Outings map[string]string `bson:"outings" json:"outings"`
}

// replayClock is the seed's own clock: outings in the past are replayed from
// their request to their end, so they pass through the real transitions.
type replayClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *replayClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *replayClock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

// Run seeds the demo organisation into d (and matching's ms) through the accounts service and
// a matching service of its own, and prints the logins to out.
func Run(ctx context.Context, runs Runs, ms matching.Store, accts *auth.Service, now time.Time, out io.Writer) error {
	clk := &replayClock{now: now}
	svc, err := matching.NewService(ctx, ms, matching.Config{Clock: clk, Directory: matching.AccountsDirectory(accts)})
	if err != nil {
		return err
	}
	r, err := runs.Run(ctx, runID)
	if err != nil {
		return err
	}
	save := func() error {
		return runs.SaveRun(ctx, r)
	}
	loc, err := time.LoadLocation("Europe/Stockholm")
	if err != nil {
		return err
	}

	if r.OrgID == "" {
		org, err := accts.CreateOrganisation(ctx, "Röda Korset Halmstad (demo)", "Europe/Stockholm")
		if err != nil {
			return err
		}
		r.OrgID = org.ID
		if err := save(); err != nil {
			return err
		}
	}
	who := map[string]auth.Identity{}
	for _, a := range accounts {
		id, err := ensureUser(ctx, accts, r, a)
		if err != nil {
			return fmt.Errorf("demo user %s: %w", a.email, err)
		}
		if err := save(); err != nil {
			return err
		}
		who[a.key] = auth.Identity{UserID: id, Role: a.role, OrgID: r.OrgID, Status: auth.StatusActive}
	}
	coord := who["coordinator"]
	// Volunteers and participants register pending; the coordinator vets them.
	for _, a := range accounts[1:] {
		u, err := accts.User(ctx, who[a.key].UserID)
		if err != nil {
			return err
		}
		if u.Status != auth.StatusActive {
			if _, err := accts.Approve(ctx, coord, r.OrgID, u.ID, "demo: met in person, references checked"); err != nil {
				return fmt.Errorf("approve %s: %w", a.email, err)
			}
		}
	}

	// Profiles and availability (idempotent: PUT semantics).
	type vol struct {
		key    string
		home   Place
		radius float64
		langs  []string
		gender string
		skills []string
		weekly []availability.SlotSpec
	}
	weekdays := func(start, end string, days ...string) []availability.SlotSpec {
		var out []availability.SlotSpec
		for _, d := range days {
			out = append(out, availability.SlotSpec{Weekday: d, Start: start, End: end})
		}
		return out
	}
	all := []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	for _, v := range []vol{
		// Vera is available around the clock so that the walkable outing,
		// 20 minutes after whatever time the seed runs, can be accepted:
		// accepting re-checks her availability.
		{"vera", Places[2], 10, []string{"sv", "en"}, "female", []string{"public_transport", "anxiety_support", "conversation"}, weekdays("00:00", "24:00", all...)},
		{"hassan", Places[0], 15, []string{"sv", "en"}, "male", []string{"public_transport", "walking"}, weekdays("09:00", "18:00", all...)},
		{"lena", Places[3], 8, []string{"sv"}, "female", []string{"walking", "outdoors", "mental_health"}, append(weekdays("09:00", "13:00", all...), weekdays("17:00", "24:00", "mon", "wed", "fri")...)},
	} {
		if _, err := svc.PutVolunteerProfile(ctx, who[v.key], matching.VolunteerProfileInput{
			Home: matching.GeoPoint{Lat: v.home.Lat + 0.004, Lon: v.home.Lon - 0.006}, TravelRadiusKm: v.radius,
			Languages: v.langs, Gender: v.gender, Skills: v.skills, MaxOutingsPerWeek: 3,
		}); err != nil {
			return err
		}
		if _, err := svc.PutAvailability(ctx, who[v.key], availability.Spec{TimeZone: "Europe/Stockholm", Weekly: v.weekly}); err != nil {
			return err
		}
	}
	for key, wish := range map[string]string{"pia": "female", "sara": "any", "olle": "male"} {
		if _, err := svc.PutParticipantProfile(ctx, who[key], matching.ParticipantProfileInput{Languages: []string{"sv"}, CompanionGender: wish}); err != nil {
			return err
		}
	}
	if _, err := svc.SetSupportNeeds(ctx, coord, who["pia"].UserID, "Prefers a calm start and a quiet table; may want to leave early."); err != nil {
		return err
	}

	// Outings, each replayed through the real transitions once.
	today := time.Date(now.In(loc).Year(), now.In(loc).Month(), now.In(loc).Day(), 0, 0, 0, 0, loc)
	at := func(days, hour int) time.Time { return today.AddDate(0, 0, days).Add(time.Duration(hour) * time.Hour) }
	type step func(id string) error
	type demo struct {
		key, participant string
		place            Place
		note             string
		start            time.Time
		hours            int
		steps            []step
	}
	act := func(f func(context.Context, auth.Identity, string) (matching.OutingView, error), key string, when func() time.Time) step {
		return func(id string) error {
			if when != nil {
				clk.set(when())
			}
			_, err := f(ctx, who[key], id)
			return err
		}
	}
	cancel := func(key, reason string) step {
		return func(id string) error {
			_, err := svc.Cancel(ctx, who[key], id, reason)
			return err
		}
	}
	feedback := func(key string, rating, before, after int, comment string) step {
		return func(id string) error {
			in := matching.FeedbackInput{Rating: rating, Comment: comment}
			if before > 0 {
				in.ComfortBefore, in.ComfortAfter = &before, &after
			}
			_, err := svc.GiveFeedback(ctx, who[key], id, in)
			return err
		}
	}
	past := at(-6, 14)
	// The walkable outing: confirmed, starting 20 minutes after the first
	// run, so check-in (from 30 minutes before the start) is open at once.
	// A later run keeps it (it is recorded like every demo outing) and
	// prints its id and start time again, even once it has passed.
	walkable := now.Truncate(time.Minute).Add(WalkableLead)
	demos := []demo{
		{"library-done", "pia", Places[2], "I would like to look at the new books, then coffee.", past, 2, []step{
			act(svc.Accept, "vera", nil), act(svc.Approve, "coordinator", nil),
			act(svc.CheckIn, "pia", func() time.Time { return past.Add(-10 * time.Minute) }),
			act(svc.Complete, "vera", func() time.Time { return past.Add(2 * time.Hour) }),
			feedback("pia", 5, 2, 4, "Vera was calm and kind."), feedback("vera", 5, 0, 0, "A lovely afternoon."),
		}},
		{"cafe-open", "pia", Places[1], "Coffee at Stora Torg; I would like to sit outside if it is warm.", at(1, 14), 2, nil},
		{"beach-pending", "sara", Places[3], "A slow walk along the beach.", at(2, 10), 2, []step{act(svc.Accept, "lena", nil)}},
		{"bus-confirmed", "olle", Places[0], "Bus 3 to the hospital for an appointment, and back.", at(3, 13), 3, []step{
			act(svc.Accept, "hassan", nil), act(svc.Approve, "coordinator", nil),
		}},
		{"errand-cancelled", "sara", Places[4], "Buying winter shoes.", at(4, 11), 2, []step{cancel("sara", "Feeling unwell this week.")}},
		{WalkableKey, "pia", Places[1], "A short coffee at Stora Torg, to practise the way there.", walkable, 1, []step{
			act(svc.Accept, "vera", nil), act(svc.Approve, "coordinator", nil),
		}},
	}
	for _, o := range demos {
		if r.Outings[o.key] != "" {
			continue
		}
		clk.set(now)
		if o.start.Before(now) {
			clk.set(o.start.Add(-7 * 24 * time.Hour))
		}
		v, err := svc.CreateOuting(ctx, who[o.participant], matching.OutingRequest{
			Kind: o.place.Kind, Note: o.note, StartsAt: o.start, EndsAt: o.start.Add(time.Duration(o.hours) * time.Hour),
			MeetingPoint: matching.MeetingPoint{Lat: o.place.Lat, Lon: o.place.Lon, Description: o.place.Name},
		})
		if err != nil {
			return fmt.Errorf("demo outing %s: %w", o.key, err)
		}
		for _, s := range o.steps {
			if err := s(v.ID); err != nil {
				return fmt.Errorf("demo outing %s: %w", o.key, err)
			}
		}
		r.Outings[o.key] = v.ID
		if err := save(); err != nil {
			return err
		}
	}

	fmt.Fprintf(out, "Demo organisation %q (%s), time zone Europe/Stockholm.\n", "Röda Korset Halmstad (demo)", r.OrgID)
	fmt.Fprintf(out, "Every demo account's password: %s\n\n", Password)
	for _, a := range accounts {
		fmt.Fprintf(out, "  %-12s %-30s %s\n", a.role, a.email, a.name)
	}
	fmt.Fprintf(out, "\nOutings: ")
	for i, o := range demos {
		if i > 0 {
			fmt.Fprint(out, ", ")
		}
		fmt.Fprintf(out, "%s %s", o.key, r.Outings[o.key])
	}
	fmt.Fprintln(out)
	w, err := svc.Outing(ctx, who["pia"], r.Outings[WalkableKey])
	if err != nil {
		return fmt.Errorf("demo outing %s: %w", WalkableKey, err)
	}
	start := w.StartsAt.In(loc)
	fmt.Fprintf(out, "\nWalkable now: outing %s (Pia with Vera, %s), %s, starts %s;\n", w.ID, Places[1].Name, w.Status, start.Format(time.RFC3339))
	fmt.Fprintf(out, "  check in from %s, complete it after the start (docs/tour.md).\n", start.Add(-matching.CheckInOpens).Format("15:04"))
	return nil
}

// ensureUser returns the demo user's id, creating the account if needed. A
// run that died between creating an account and recording it finds the
// account by signing in.
func ensureUser(ctx context.Context, accts *auth.Service, r *run, a account) (string, error) {
	if id := r.Users[a.key]; id != "" {
		return id, nil
	}
	status := auth.StatusPending
	if a.role == auth.RoleCoordinator {
		status = auth.StatusActive
	}
	u, err := accts.CreateUser(ctx, auth.NewUser{Email: a.email, Password: Password, Name: a.name, Role: a.role,
		OrgID: r.OrgID, Language: "sv", Status: status})
	if err == nil {
		r.Users[a.key] = u.ID
		return u.ID, nil
	}
	if f, ok := fault.As(err); !ok || f.Slug != "email-taken" {
		return "", err
	}
	tokens, err := accts.Login(ctx, a.email, Password, "")
	if err != nil {
		return "", errors.New("the email is taken by an account the seed did not make (or its password changed)")
	}
	id, err := accts.Authenticate(ctx, tokens.AccessToken)
	if err != nil {
		return "", err
	}
	r.Users[a.key] = id.UserID
	return id.UserID, nil
}
