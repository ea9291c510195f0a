package matching

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/internal/fault"
	"github.com/clavis-app/clavis/internal/personal"
)

// A participant's preferred and never-again volunteers. Ranking reads them
// for every outing of the participant, so they are one document per
// participant, read by _id (the cheapest lookup on either store, see
// ferretdb.md). volunteer_ids mirrors the
// entries' ids as a flat array so that erasing a volunteer can find the
// documents naming them with a plain equality.

// Preferences a participant may state about a volunteer.
const (
	// PreferencePreferred asks for this volunteer again: a boost to
	// continuity in ranking (PreferredBoost).
	PreferencePreferred = "preferred"
	// PreferenceNever: this volunteer is never offered the participant's
	// outings (the hard rule "blocked").
	PreferenceNever = "never"
	// MaxPreferences bounds one participant's list.
	MaxPreferences = 200
)

type prefEntry struct {
	VolunteerID string    `bson:"volunteer_id"`
	Preference  string    `bson:"preference"`
	At          time.Time `bson:"at"`
}

type prefsDoc struct {
	ParticipantID string      `bson:"_id"`
	OrgID         string      `bson:"organisation_id"`
	Entries       []prefEntry `bson:"entries"`
	VolunteerIDs  []string    `bson:"volunteer_ids"`
	Rev           int64       `bson:"rev"`
}

// participantPrefs are the sets ranking takes.
type participantPrefs struct {
	never, preferred map[string]bool
}

func (d *prefsDoc) sets() participantPrefs {
	p := participantPrefs{never: map[string]bool{}, preferred: map[string]bool{}}
	if d == nil {
		return p
	}
	for _, e := range d.Entries {
		switch e.Preference {
		case PreferenceNever:
			p.never[e.VolunteerID] = true
		case PreferencePreferred:
			p.preferred[e.VolunteerID] = true
		}
	}
	return p
}

// preferencesOf reads one participant's preferences (one read by id).
func (s *Service) preferencesOf(ctx context.Context, participantID string) (participantPrefs, error) {
	if participantID == "" {
		return (*prefsDoc)(nil).sets(), nil
	}
	d, err := s.st.Preferences(ctx, participantID)
	if err != nil {
		return participantPrefs{}, err
	}
	return d.sets(), nil
}

// PreferenceView is one of a participant's preferences.
type PreferenceView struct {
	VolunteerID string `json:"volunteer_id"`
	// Name is the volunteer's first name.
	Name       string    `json:"name,omitempty" doc:"the volunteer's first name"`
	Preference string    `json:"preference" enum:"preferred never"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// PreferencePage is one page of a participant's preferences, newest first.
type PreferencePage struct {
	Items      []PreferenceView `json:"items"`
	NextCursor string           `json:"next_cursor,omitempty"`
}

// preferenceVolunteer checks that volunteerID is a volunteer of the
// participant's organisation; anything else is NotFound, so a participant
// learns nothing about other organisations' people.
func (m *Matcher) preferenceVolunteer(ctx context.Context, who auth.Identity, volunteerID string) (Member, error) {
	if m.svc.dir == nil || volunteerID == "" {
		return Member{}, fault.NotFoundf("no such volunteer")
	}
	mb, err := m.svc.dir.Member(ctx, volunteerID)
	if fault.KindOf(err) == fault.NotFound || (err == nil && (mb.Role != auth.RoleVolunteer || mb.OrgID != who.OrgID || who.OrgID == "")) {
		return Member{}, fault.NotFoundf("no such volunteer")
	}
	if err != nil {
		return Member{}, fault.Wrap(err, "look up volunteer")
	}
	return mb, nil
}

// SetPreference records who's (a participant's) preference about a
// volunteer of their organisation. "preferred" needs a completed outing
// with that volunteer: a participant asks again for a companion they know;
// "never" may be said of any volunteer of the organisation, at any time.
func (m *Matcher) SetPreference(ctx context.Context, who auth.Identity, volunteerID, preference string) (PreferenceView, error) {
	if who.Role != auth.RoleParticipant {
		return PreferenceView{}, fault.Forbiddenf("only participants choose their volunteers")
	}
	if !isOneOf(preference, PreferencePreferred, PreferenceNever) {
		return PreferenceView{}, fault.InvalidField("preference", "must be one of: preferred, never")
	}
	mb, err := m.preferenceVolunteer(ctx, who, volunteerID)
	if err != nil {
		return PreferenceView{}, err
	}
	if preference == PreferencePreferred {
		together, err := m.st.HasCompletedOutingTogether(ctx, who.UserID, volunteerID)
		if err != nil {
			return PreferenceView{}, fault.Wrap(err, "read shared outings")
		}
		if !together {
			return PreferenceView{}, fault.InvalidField("preference", "a volunteer can be preferred after a completed outing together")
		}
	}
	now := m.svc.now()
	entry := prefEntry{VolunteerID: volunteerID, Preference: preference, At: now}
	err = m.updatePrefs(ctx, who, func(d *prefsDoc) (bool, error) {
		for i := range d.Entries {
			if d.Entries[i].VolunteerID == volunteerID {
				if d.Entries[i].Preference == preference {
					entry = d.Entries[i] // unchanged: keep its time
					return false, nil
				}
				d.Entries[i] = entry
				return true, nil
			}
		}
		if len(d.Entries) >= MaxPreferences {
			return false, fault.InvalidField("volunteer_id", "at most 200 volunteers can be marked; remove one first")
		}
		d.Entries = append(d.Entries, entry)
		return true, nil
	})
	if err != nil {
		return PreferenceView{}, err
	}
	return PreferenceView{VolunteerID: volunteerID, Name: firstName(mb.Name), Preference: entry.Preference, UpdatedAt: entry.At}, nil
}

// DeletePreference forgets who's preference about a volunteer; forgetting
// one that was never set is not an error.
func (m *Matcher) DeletePreference(ctx context.Context, who auth.Identity, volunteerID string) error {
	if who.Role != auth.RoleParticipant {
		return fault.Forbiddenf("only participants choose their volunteers")
	}
	removed := false
	err := m.updatePrefs(ctx, who, func(d *prefsDoc) (bool, error) {
		n := len(d.Entries)
		d.Entries = slices.DeleteFunc(d.Entries, func(e prefEntry) bool { return e.VolunteerID == volunteerID })
		removed = len(d.Entries) != n
		return removed, nil
	})
	if err != nil || removed {
		return err
	}
	// Nothing to remove: still say 404 for someone the participant may
	// not know of, as the other routes with this path do.
	_, err = m.preferenceVolunteer(ctx, who, volunteerID)
	return err
}

// updatePrefs applies change to the participant's list under its guard,
// creating the list when needed.
func (m *Matcher) updatePrefs(ctx context.Context, who auth.Identity, change func(*prefsDoc) (bool, error)) error {
	err := m.st.UpdatePreferences(ctx, who.UserID, who.OrgID, func(d *prefsDoc) (bool, error) {
		changed, err := change(d)
		if changed {
			d.Entries = nonNil(d.Entries)
			d.VolunteerIDs = entryIDs(d.Entries)
		}
		return changed, err
	})
	switch {
	case errors.Is(err, ErrConflict):
		return fault.StateConflictf("your preferences changed meanwhile; try again")
	case err != nil && fault.KindOf(err) == fault.Internal:
		return fault.Wrap(err, "store preference")
	}
	return err
}

func entryIDs(entries []prefEntry) []string {
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.VolunteerID
	}
	return ids
}

// Preferences lists who's preferences, newest first.
func (m *Matcher) Preferences(ctx context.Context, who auth.Identity, limit int, cursor string) (PreferencePage, error) {
	if who.Role != auth.RoleParticipant {
		return PreferencePage{}, fault.Forbiddenf("only participants choose their volunteers")
	}
	limit = pageSize(limit)
	var after *pageCursor
	if cursor != "" {
		c, err := decodePrefCursor(cursor)
		if err != nil {
			return PreferencePage{}, err
		}
		after = &c
	}
	d, err := m.st.Preferences(ctx, who.UserID)
	if err != nil {
		return PreferencePage{}, fault.Wrap(err, "read preferences")
	}
	var entries []prefEntry
	if d != nil {
		entries = slices.Clone(d.Entries)
	}
	slices.SortFunc(entries, func(a, b prefEntry) int {
		if c := b.At.Compare(a.At); c != 0 {
			return c
		}
		return strings.Compare(a.VolunteerID, b.VolunteerID)
	})
	if after != nil {
		entries = slices.DeleteFunc(entries, func(e prefEntry) bool {
			return e.At.After(after.at) || (e.At.Equal(after.at) && e.VolunteerID <= after.id)
		})
	}
	page := PreferencePage{Items: []PreferenceView{}}
	if len(entries) > limit {
		last := entries[limit-1]
		page.NextCursor = encodePrefCursor(pageCursor{at: last.At, id: last.VolunteerID})
		entries = entries[:limit]
	}
	members, err := m.members(ctx, entryIDs(entries))
	if err != nil {
		return PreferencePage{}, fault.Wrap(err, "read volunteers' names")
	}
	for _, e := range entries {
		page.Items = append(page.Items, PreferenceView{VolunteerID: e.VolunteerID, Name: firstName(members[e.VolunteerID].Name),
			Preference: e.Preference, UpdatedAt: e.At})
	}
	return page, nil
}

// Preference cursors sort newest first, then by volunteer id.
func encodePrefCursor(c pageCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte("p" + strconv.FormatInt(c.at.UnixMilli(), 10) + "." + c.id))
}

func decodePrefCursor(s string) (pageCursor, error) {
	bad := fault.InvalidField("cursor", "is not a cursor this list gave out")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return pageCursor{}, bad
	}
	rest, ok := strings.CutPrefix(string(raw), "p")
	ms, id, ok2 := strings.Cut(rest, ".")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || !ok2 || err != nil || id == "" {
		return pageCursor{}, bad
	}
	return pageCursor{at: time.UnixMilli(n).UTC(), id: id}, nil
}

// ---- export and erasure ----

// PersonalHook is the matcher's part of a user's export and erasure:
// preferences a participant stated, and the offers a volunteer received.
// main.go registers it after the outings service's hook, so on erasure it
// runs first. A volunteer's export does not show which participants marked
// them never-again or preferred: that is the participant's choice, and
// telling it could expose a vulnerable person.
func (m *Matcher) PersonalHook() personal.Hook {
	return personal.Hook{Name: "matching_preferences", Export: m.exportUser, Erase: m.eraseUser}
}

// PreferencesExport is what the matcher stores about one user.
type PreferencesExport struct {
	Preferences    []PreferenceView `json:"preferences"`
	OffersReceived []OfferRecord    `json:"offers_received"`
}

func (m *Matcher) exportUser(ctx context.Context, userID string) (any, error) {
	out := PreferencesExport{Preferences: []PreferenceView{}, OffersReceived: []OfferRecord{}}
	d, err := m.st.Preferences(ctx, userID)
	if err != nil {
		return nil, err
	}
	if d != nil {
		for _, e := range d.Entries {
			out.Preferences = append(out.Preferences, PreferenceView{VolunteerID: e.VolunteerID, Preference: e.Preference, UpdatedAt: e.At})
		}
	}
	offers, err := m.st.OffersFor(ctx, userID)
	if err != nil {
		return nil, err
	}
	out.OffersReceived = append(out.OffersReceived, offers...)
	return out, nil
}

// eraseUser deletes a participant's preferences, takes a volunteer out of
// every participant's list, and takes them out of the offer records of
// outings.
func (m *Matcher) eraseUser(ctx context.Context, userID string) error {
	if userID == "" {
		return fault.InvalidField("user_id", "is not a user")
	}
	if err := m.st.DeletePreferences(ctx, userID); err != nil {
		return err
	}
	holders, err := m.st.ParticipantsListing(ctx, userID)
	if err != nil {
		return err
	}
	for _, h := range holders {
		err := m.updatePrefs(ctx, auth.Identity{UserID: h}, func(d *prefsDoc) (bool, error) {
			n := len(d.Entries)
			d.Entries = slices.DeleteFunc(d.Entries, func(e prefEntry) bool { return e.VolunteerID == userID })
			return len(d.Entries) != n, nil
		})
		if err != nil {
			return err
		}
	}
	return m.st.StripOffers(ctx, userID)
}

// relationTo is RelationOf with the participant's never-again list: a
// volunteer they marked "never" stands to their outings as an outsider (no
// limited view, no accept or decline: 404 as for another organisation's
// outing), which also keeps the never-again undisclosed. Only the
// RelVolunteer case costs a read (the participant's preferences, by id).
func (s *Service) relationTo(ctx context.Context, o *Outing, who auth.Identity) (Relation, error) {
	rel := RelationOf(o, who)
	if rel != RelVolunteer {
		return rel, nil
	}
	p, err := s.preferencesOf(ctx, o.ParticipantID)
	if err != nil {
		return RelNone, fault.Wrap(err, "read preferences")
	}
	if p.never[who.UserID] {
		return RelNone, nil
	}
	return rel, nil
}
