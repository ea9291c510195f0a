package outcomes

import (
	"context"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
)

// Report is the outcome report (docs/outcomes.md defines every figure).
type Report struct {
	OrganisationID string             `json:"organisation_id"`
	From           string             `json:"from"`
	To             string             `json:"to"`
	Participants   ParticipantFigures `json:"participants"`
	Outings        OutingFigures      `json:"outings"`
	Comfort        ComfortFigures     `json:"comfort"`
	Groups         GroupFigures       `json:"groups"`
	Wellbeing      WellbeingFigures   `json:"wellbeing"`
	Milestones     MilestoneFigures   `json:"milestones"`
	Volunteers     VolunteerFigures   `json:"volunteers"`
	Expenses       ExpenseFigures     `json:"expenses"`
	Goals          []GoalFigure       `json:"goals"`
}

// Per-gender figures: one entry per gender, in Genders' order (concrete
// types: the OpenAPI document names schemas by type).
type (
	ServedByGender struct {
		Female      Served `json:"female"`
		Male        Served `json:"male"`
		Other       Served `json:"other"`
		Unspecified Served `json:"unspecified"`
	}
	GroupsByGender struct {
		Female      GroupCounts `json:"female"`
		Male        GroupCounts `json:"male"`
		Other       GroupCounts `json:"other"`
		Unspecified GroupCounts `json:"unspecified"`
	}
	WellbeingByGender struct {
		Female      WellbeingCounts `json:"female"`
		Male        WellbeingCounts `json:"male"`
		Other       WellbeingCounts `json:"other"`
		Unspecified WellbeingCounts `json:"unspecified"`
	}
	PeopleByGender struct {
		Female      PeopleCount `json:"female"`
		Male        PeopleCount `json:"male"`
		Other       PeopleCount `json:"other"`
		Unspecified PeopleCount `json:"unspecified"`
	}
)

// pick is the entry of gender g among the four.
func pick[T any](g string, female, male, other, unspecified *T) *T {
	switch g {
	case "female":
		return female
	case "male":
		return male
	case "other":
		return other
	}
	return unspecified
}

func (b *ServedByGender) of(g string) *Served {
	return pick(g, &b.Female, &b.Male, &b.Other, &b.Unspecified)
}

func (b *GroupsByGender) of(g string) *GroupCounts {
	return pick(g, &b.Female, &b.Male, &b.Other, &b.Unspecified)
}

func (b *WellbeingByGender) of(g string) *WellbeingCounts {
	return pick(g, &b.Female, &b.Male, &b.Other, &b.Unspecified)
}

func (b *PeopleByGender) of(g string) *PeopleCount {
	return pick(g, &b.Female, &b.Male, &b.Other, &b.Unspecified)
}

type Served struct {
	Served int `json:"served"`
}

type ParticipantFigures struct {
	Served   int            `json:"served"`
	ByGender ServedByGender `json:"by_gender"`
}

type OutingFigures struct {
	Requested            int     `json:"requested"`
	Matched              int     `json:"matched"`
	Completed            int     `json:"completed"`
	Cancelled            int     `json:"cancelled"`
	Expired              int     `json:"expired"`
	Postponed            int     `json:"postponed"`
	MedianMinutesToMatch float64 `json:"median_minutes_to_match"`
	FamiliarShare        float64 `json:"familiar_share"`
}

type ComfortFigures struct {
	Pairs         int     `json:"pairs"`
	MeanChange    float64 `json:"mean_change"`
	ImprovedShare float64 `json:"improved_share"`
}

type GroupCounts struct {
	Enrolled       int     `json:"enrolled"`
	Completed      int     `json:"completed"`
	CompletionRate float64 `json:"completion_rate"`
}

type GroupFigures struct {
	Enrolled       int            `json:"enrolled"`
	Completed      int            `json:"completed"`
	CompletionRate float64        `json:"completion_rate"`
	ByGender       GroupsByGender `json:"by_gender"`
}

type WellbeingCounts struct {
	FollowedUp              int     `json:"followed_up"`
	ConfidenceImprovedShare float64 `json:"confidence_improved_share"`
	SocialImprovedShare     float64 `json:"social_improved_share"`
	confidence, social      int
}

type WellbeingFigures struct {
	WellbeingCounts
	ByGender WellbeingByGender `json:"by_gender"`
}

type PeopleCount struct {
	People int `json:"people"`
}

type MilestoneFigures struct {
	People   int             `json:"people"`
	ByKind   MilestoneKindsN `json:"by_kind"`
	ByGender PeopleByGender  `json:"by_gender"`
}

type MilestoneKindsN struct {
	WorkPractice         int `json:"work_practice"`
	Job                  int `json:"job"`
	Study                int `json:"study"`
	MeaningfulOccupation int `json:"meaningful_occupation"`
}

type PulseFigures struct {
	Answers         int     `json:"answers"`
	SecureMean      float64 `json:"secure_mean"`
	InformationMean float64 `json:"information_mean"`
}

type VolunteerFigures struct {
	Active   int          `json:"active"`
	Hours    float64      `json:"hours"`
	LoadGini float64      `json:"load_gini"`
	Pulse    PulseFigures `json:"pulse"`
}

type ExpenseFigures struct {
	ApprovedOre int64 `json:"approved_ore"`
}

type GoalFigure struct {
	Key    string  `json:"key" enum:"participants group_completion_rate confidence_improved_share social_improved_share milestone_people"`
	Target float64 `json:"target"`
	Actual float64 `json:"actual"`
	Met    bool    `json:"met"`
}

// Period parses a report's from and to (dates, both included).
func Period(from, to string) (start, end time.Time, err error) {
	var errs []fault.FieldError
	start, e1 := time.Parse(time.DateOnly, from)
	if e1 != nil {
		errs = append(errs, fault.FieldError{Field: "from", Message: "must be a date, YYYY-MM-DD"})
	}
	last, e2 := time.Parse(time.DateOnly, to)
	if e2 != nil {
		errs = append(errs, fault.FieldError{Field: "to", Message: "must be a date, YYYY-MM-DD"})
	}
	if e1 == nil && e2 == nil {
		switch {
		case last.Before(start):
			errs = append(errs, fault.FieldError{Field: "to", Message: "must not be before from"})
		case last.After(start.AddDate(5, 0, 0)):
			errs = append(errs, fault.FieldError{Field: "to", Message: "must be at most 5 years after from"})
		}
	}
	if len(errs) > 0 {
		return time.Time{}, time.Time{}, fault.Invalid(errs...)
	}
	return start, last.AddDate(0, 0, 1), nil
}

// Report computes the outcome report of an organisation for coordinators
// of it and admins.
func (s *Service) Report(ctx context.Context, who auth.Identity, orgID, from, to string) (Report, error) {
	if who.Role != auth.RoleAdmin {
		if err := coordinatorOf(who, orgID); err != nil {
			return Report{}, err
		}
	}
	start, end, err := Period(from, to)
	if err != nil {
		return Report{}, err
	}
	r, err := s.compute(ctx, orgID, start, end)
	if err != nil {
		return Report{}, fault.Wrap(err, "compute report")
	}
	r.From, r.To = from, to
	return r, nil
}

func round(x float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(x*p) / p
}

func share(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return round(float64(n)/float64(of), 4)
}

// reportPeople resolves ids to genders: a tombstone's is kept on it, a
// live participant's read once from their profile.
type reportPeople struct {
	s       *Service
	genders map[string]string
}

func (p *reportPeople) gender(ctx context.Context, id string) (string, error) {
	if g, ok := p.genders[id]; ok {
		return g, nil
	}
	g := ""
	if p.s.cfg.People != nil {
		var err error
		if g, err = p.s.cfg.People.ParticipantGender(ctx, id); err != nil {
			return "", err
		}
	}
	if !oneOf(g, Genders) {
		g = "unspecified"
	}
	p.genders[id] = g
	return g, nil
}

func (s *Service) compute(ctx context.Context, orgID string, start, end time.Time) (Report, error) {
	r := Report{OrganisationID: orgID, Goals: []GoalFigure{}}
	tombs, err := s.st.Tombstones(ctx, orgID)
	if err != nil {
		return r, err
	}
	people := &reportPeople{s: s, genders: map[string]string{}}
	erased := map[string]string{} // role|outing -> tombstone
	for _, t := range tombs {
		people.genders[t.ID] = t.Gender
		for _, o := range t.Outings {
			erased[o.Role+"|"+o.OutingID] = t.ID
		}
	}
	var outings []OutingFact
	if s.cfg.Outings != nil {
		if outings, err = s.cfg.Outings.OutingFacts(ctx, orgID, start, end); err != nil {
			return r, err
		}
	}
	who := func(role, outingID, id string) string {
		if id != ErasedID {
			return id
		}
		if t, ok := erased[role+"|"+outingID]; ok {
			return t
		}
		// Erased before outcomes kept tombstones: one person per outing.
		return ErasedID + ":" + role + ":" + outingID
	}
	for i := range outings {
		o := &outings[i]
		o.ParticipantID = who(RoleParticipant, o.ID, o.ParticipantID)
		if o.VolunteerID != "" {
			o.VolunteerID = who(RoleVolunteer, o.ID, o.VolunteerID)
		}
	}
	served := map[string]bool{}
	r.Outings, r.Comfort, r.Volunteers = outingFigures(outings, served)

	var enrolments []GroupEnrolment
	if s.cfg.Groups != nil {
		if enrolments, err = s.cfg.Groups.GroupFigures(ctx, orgID, start, end); err != nil {
			return r, err
		}
	}
	for _, e := range enrolments {
		e.ParticipantID = who(RoleEnrolment, e.EnrolmentID, e.ParticipantID)
		served[e.ParticipantID] = true
		g, err := people.gender(ctx, e.ParticipantID)
		if err != nil {
			return r, err
		}
		b := r.Groups.ByGender.of(g)
		r.Groups.Enrolled++
		b.Enrolled++
		if e.Completed {
			r.Groups.Completed++
			b.Completed++
		}
	}
	r.Groups.CompletionRate = share(r.Groups.Completed, r.Groups.Enrolled)
	for _, b := range []*GroupCounts{&r.Groups.ByGender.Female, &r.Groups.ByGender.Male, &r.Groups.ByGender.Other, &r.Groups.ByGender.Unspecified} {
		b.CompletionRate = share(b.Completed, b.Enrolled)
	}

	servedIDs := make([]string, 0, len(served))
	for id := range served {
		servedIDs = append(servedIDs, id)
	}
	slices.Sort(servedIDs)
	for _, id := range servedIDs {
		g, err := people.gender(ctx, id)
		if err != nil {
			return r, err
		}
		r.Participants.Served++
		r.Participants.ByGender.of(g).Served++
	}

	if r.Wellbeing, err = s.wellbeing(ctx, orgID, start, end, people); err != nil {
		return r, err
	}
	if r.Milestones, err = s.milestones(ctx, orgID, start, end, people); err != nil {
		return r, err
	}
	pulses, err := s.st.PulsesOfOrg(ctx, orgID, start, end)
	if err != nil {
		return r, err
	}
	var secure, info int
	for _, p := range pulses {
		secure += p.SecureInRole
		info += p.InformationGood
	}
	if n := len(pulses); n > 0 {
		r.Volunteers.Pulse = PulseFigures{Answers: n, SecureMean: round(float64(secure)/float64(n), 2), InformationMean: round(float64(info)/float64(n), 2)}
	}
	if s.cfg.Expenses != nil {
		if r.Expenses.ApprovedOre, err = s.cfg.Expenses.ApprovedExpensesOre(ctx, orgID, start, end); err != nil {
			return r, err
		}
	}
	g, err := s.goals(ctx, orgID)
	if err != nil {
		return r, err
	}
	goal := func(key string, target, actual float64) {
		r.Goals = append(r.Goals, GoalFigure{Key: key, Target: target, Actual: actual, Met: actual >= target})
	}
	goal("participants", float64(g.Participants), float64(r.Participants.Served))
	goal("group_completion_rate", g.GroupCompletionRate, r.Groups.CompletionRate)
	goal("confidence_improved_share", g.ConfidenceImprovedShare, r.Wellbeing.ConfidenceImprovedShare)
	goal("social_improved_share", g.SocialImprovedShare, r.Wellbeing.SocialImprovedShare)
	goal("milestone_people", float64(g.MilestonePeople), float64(r.Milestones.People))
	return r, nil
}

// outingFigures counts the period's outings; served collects the
// participants with a completed one.
func outingFigures(outings []OutingFact, served map[string]bool) (OutingFigures, ComfortFigures, VolunteerFigures) {
	var of OutingFigures
	var cf ComfortFigures
	var vf VolunteerFigures
	var waits []float64
	var completed []OutingFact
	change, improved := 0, 0
	var minutes time.Duration
	load := map[string]int{}
	for _, o := range outings {
		of.Requested++
		if !o.MatchedAt.IsZero() {
			of.Matched++
			waits = append(waits, o.MatchedAt.Sub(o.CreatedAt).Minutes())
		}
		if o.Postponed {
			of.Postponed++
		}
		switch o.Status {
		case "completed":
			of.Completed++
			completed = append(completed, o)
			served[o.ParticipantID] = true
			if o.VolunteerID != "" {
				load[o.VolunteerID]++
			}
			if o.EndsAt.After(o.StartsAt) {
				minutes += o.EndsAt.Sub(o.StartsAt)
			}
			if o.ComfortBefore > 0 && o.ComfortAfter > 0 {
				cf.Pairs++
				change += o.ComfortAfter - o.ComfortBefore
				if o.ComfortAfter > o.ComfortBefore {
					improved++
				}
			}
		case "cancelled":
			of.Cancelled++
		case "expired":
			of.Expired++
		}
	}
	of.MedianMinutesToMatch = round(median(waits), 1)
	sort.SliceStable(completed, func(i, j int) bool {
		if !completed[i].StartsAt.Equal(completed[j].StartsAt) {
			return completed[i].StartsAt.Before(completed[j].StartsAt)
		}
		return completed[i].ID < completed[j].ID
	})
	met := map[string]map[string]bool{}
	repeat, familiar := 0, 0
	for _, o := range completed {
		seen, ok := met[o.ParticipantID]
		if !ok {
			met[o.ParticipantID] = map[string]bool{o.VolunteerID: true}
			continue
		}
		repeat++
		if seen[o.VolunteerID] {
			familiar++
		}
		seen[o.VolunteerID] = true
	}
	of.FamiliarShare = share(familiar, repeat)
	if cf.Pairs > 0 {
		cf.MeanChange = round(float64(change)/float64(cf.Pairs), 2)
		cf.ImprovedShare = share(improved, cf.Pairs)
	}
	vf.Active = len(load)
	vf.Hours = round(minutes.Hours(), 1)
	counts := make([]int, 0, len(load))
	for _, n := range load {
		counts = append(counts, n)
	}
	vf.LoadGini = round(gini(counts), 4)
	return of, cf, vf
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// gini is the Gini coefficient of the counts: 0 when everyone carries the
// same load, towards 1 when one carries it all.
func gini(xs []int) float64 {
	n := len(xs)
	if n == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	var sum, weighted float64
	for i, x := range s {
		sum += float64(x)
		weighted += float64(i+1) * float64(x)
	}
	if sum == 0 {
		return 0
	}
	return 2*weighted/(float64(n)*sum) - float64(n+1)/float64(n)
}

func (s *Service) wellbeing(ctx context.Context, orgID string, start, end time.Time, people *reportPeople) (WellbeingFigures, error) {
	var wf WellbeingFigures
	all, err := s.st.CheckinsOfOrg(ctx, orgID, end)
	if err != nil {
		return wf, err
	}
	type pair struct{ base, last *Checkin }
	byPerson := map[string]*pair{}
	var order []string
	for i := range all {
		c := &all[i] // oldest first
		p, ok := byPerson[c.UserID]
		if !ok {
			byPerson[c.UserID] = &pair{base: c}
			order = append(order, c.UserID)
			continue
		}
		if !c.At.Before(start) {
			p.last = c
		}
	}
	for _, id := range order {
		p := byPerson[id]
		if p.last == nil {
			continue
		}
		g, err := people.gender(ctx, id)
		if err != nil {
			return wf, err
		}
		for _, w := range []*WellbeingCounts{&wf.WellbeingCounts, wf.ByGender.of(g)} {
			w.FollowedUp++
			if p.last.Confidence > p.base.Confidence {
				w.confidence++
			}
			if p.last.Social > p.base.Social {
				w.social++
			}
		}
	}
	for _, w := range []*WellbeingCounts{&wf.WellbeingCounts, &wf.ByGender.Female, &wf.ByGender.Male, &wf.ByGender.Other, &wf.ByGender.Unspecified} {
		w.ConfidenceImprovedShare = share(w.confidence, w.FollowedUp)
		w.SocialImprovedShare = share(w.social, w.FollowedUp)
	}
	return wf, nil
}

func (s *Service) milestones(ctx context.Context, orgID string, start, end time.Time, people *reportPeople) (MilestoneFigures, error) {
	var mf MilestoneFigures
	ms, err := s.st.MilestonesOfOrg(ctx, orgID, start.Format(time.DateOnly), end.AddDate(0, 0, -1).Format(time.DateOnly))
	if err != nil {
		return mf, err
	}
	seen := map[string]bool{}
	for _, m := range ms {
		switch m.Kind {
		case "work_practice":
			mf.ByKind.WorkPractice++
		case "job":
			mf.ByKind.Job++
		case "study":
			mf.ByKind.Study++
		case "meaningful_occupation":
			mf.ByKind.MeaningfulOccupation++
		}
		if seen[m.ParticipantID] {
			continue
		}
		seen[m.ParticipantID] = true
		g, err := people.gender(ctx, m.ParticipantID)
		if err != nil {
			return mf, err
		}
		mf.People++
		mf.ByGender.of(g).People++
	}
	return mf, nil
}
