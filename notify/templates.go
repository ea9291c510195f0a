package notify

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/clavis-app/clavis/groups"
	"github.com/clavis-app/clavis/matching"
)

// PushTypes are the push types of docs/api.md, each with a Swedish and an English text.
var PushTypes = []string{
	matching.EventOffer, matching.EventAccepted, matching.EventApproved, matching.EventRejected,
	matching.EventCancelled, matching.EventReopened, matching.EventReminder, matching.EventCheckinMissed,
	// An expired request tells the participant kindly that nobody could be
	// found, and coordinators hear when offers run dry.
	matching.EventExpired, matching.EventNoCandidates,
	// Groups (notify/groups.go).
	groups.PushEnrolled, groups.PushPromoted, groups.PushSessionReminder, groups.PushSessionMoved, groups.PushSessionCancelled,
	// Outcomes' asks (about no outing; the coordinator texts are never sent
	// but every type has both audiences).
	PushWellbeingDue, PushPulseDue,
	// The care around an outing (care.go).
	matching.EventPostponeAsked, matching.EventPostponed, matching.EventEndedEarly, matching.EventHelp, ExpenseDecided,
}

// textTypes are texts that are not push types of their own.
var textTypes = []string{reminderCard}

// Languages are the languages every template exists in; the first is the fallback.
var Languages = []string{"sv", "en"}

// Audiences: a participant or volunteer reads the plain text, a coordinator
// reads about someone else's outing.
const (
	audiencePerson      = ""
	audienceCoordinator = "coordinator"
)

//go:embed templates/*.json
var templateFiles embed.FS

// templateData is everything a push text may show. It has no note, address,
// health detail or name field on purpose: a template that names one fails
// to render, so no text can leak them.
type templateData struct {
	// Time is the outing's start in the reader's language and time zone,
	// e.g. "tisdag 14 maj kl. 14:00".
	Time string
	// Clock is only the local time of day, e.g. "14:00".
	Clock string
}

type text struct {
	title, body *template.Template
}

// catalogue holds every parsed template: language -> key -> text.
type catalogue map[string]map[string]text

func templateKey(pushType, audience string) string {
	if audience == audiencePerson {
		return pushType
	}
	return pushType + "/" + audience
}

// loadCatalogue parses the embedded templates and checks that every push type
// has every audience in every language.
func loadCatalogue() (catalogue, error) {
	c := catalogue{}
	for _, lang := range Languages {
		raw, err := templateFiles.ReadFile("templates/" + lang + ".json")
		if err != nil {
			return nil, fmt.Errorf("templates for %s: %w", lang, err)
		}
		var entries map[string]struct {
			Title string `json:"title"`
			Body  string `json:"body"`
		}
		if err := json.Unmarshal(raw, &entries); err != nil {
			return nil, fmt.Errorf("templates/%s.json: %w", lang, err)
		}
		c[lang] = map[string]text{}
		for key, e := range entries {
			t, err := parseText(lang+":"+key, e.Title, e.Body)
			if err != nil {
				return nil, err
			}
			c[lang][key] = t
		}
		for _, pt := range append(slices.Clone(PushTypes), textTypes...) {
			for _, aud := range []string{audiencePerson, audienceCoordinator} {
				if _, ok := c[lang][templateKey(pt, aud)]; !ok {
					return nil, fmt.Errorf("templates/%s.json has no %q", lang, templateKey(pt, aud))
				}
			}
		}
	}
	return c, nil
}

func parseText(name, title, body string) (text, error) {
	if strings.TrimSpace(title) == "" || strings.TrimSpace(body) == "" {
		return text{}, fmt.Errorf("template %s: title and body must not be empty", name)
	}
	tt, err := template.New(name + ".title").Option("missingkey=error").Parse(title)
	if err != nil {
		return text{}, fmt.Errorf("template %s: %w", name, err)
	}
	bt, err := template.New(name + ".body").Option("missingkey=error").Parse(body)
	if err != nil {
		return text{}, fmt.Errorf("template %s: %w", name, err)
	}
	// Render once now so that a field templateData lacks (a note, an
	// address) fails at start, not when a push is due.
	if _, _, err := (text{tt, bt}).render(templateData{Time: "x", Clock: "x"}); err != nil {
		return text{}, err
	}
	return text{tt, bt}, nil
}

func (t text) render(d templateData) (title, body string, err error) {
	var tb, bb bytes.Buffer
	if err := t.title.Execute(&tb, d); err != nil {
		return "", "", err
	}
	if err := t.body.Execute(&bb, d); err != nil {
		return "", "", err
	}
	return tb.String(), bb.String(), nil
}

// render returns the title and body of a push in lang (Swedish when the
// language is unknown) for an outing starting at start, shown in loc.
func (c catalogue) render(lang, pushType, audience string, start time.Time, loc *time.Location) (string, string, error) {
	texts, ok := c[lang]
	if !ok {
		lang, texts = Languages[0], c[Languages[0]]
	}
	t, ok := texts[templateKey(pushType, audience)]
	if !ok {
		return "", "", fmt.Errorf("no template for %s in %s", templateKey(pushType, audience), lang)
	}
	return t.render(timeData(lang, start, loc))
}

var (
	svDays   = []string{"söndag", "måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag"}
	svMonths = []string{"januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober", "november", "december"}
)

func timeData(lang string, start time.Time, loc *time.Location) templateData {
	if loc == nil {
		loc = defaultLocation
	}
	l := start.In(loc)
	clock := l.Format("15:04")
	if lang == "en" {
		return templateData{Time: l.Format("Monday 2 January") + " at " + clock, Clock: clock}
	}
	return templateData{
		Time:  fmt.Sprintf("%s %d %s kl. %s", svDays[l.Weekday()], l.Day(), svMonths[l.Month()-1], clock),
		Clock: clock,
	}
}
