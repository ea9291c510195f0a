package notify

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestEveryPushTypeHasBothLanguages(t *testing.T) {
	c, err := loadCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 5, 14, 0, 0, 0, stockholm) // a Thursday
	for _, lang := range Languages {
		for _, pt := range PushTypes {
			for _, aud := range []string{audiencePerson, audienceCoordinator} {
				title, body, err := c.render(lang, pt, aud, start, stockholm)
				if err != nil {
					t.Fatalf("%s %s %q: %v", lang, pt, aud, err)
				}
				if title == "" || body == "" {
					t.Fatalf("%s %s %q: empty text", lang, pt, aud)
				}
				// Short enough for a lock screen, and calm: no shouting.
				if len([]rune(title)) > 40 || len([]rune(body)) > 150 {
					t.Errorf("%s %s %q too long: %q / %q", lang, pt, aud, title, body)
				}
				if strings.Contains(title+body, "!") || strings.ToUpper(title) == title {
					t.Errorf("%s %s %q is not calm: %q / %q", lang, pt, aud, title, body)
				}
				if strings.Contains(title+body, "{{") || strings.Contains(title+body, "<no value>") {
					t.Errorf("%s %s %q left a placeholder: %q / %q", lang, pt, aud, title, body)
				}
			}
		}
	}
	// The languages really differ, and the time is local and localised.
	_, sv, _ := c.render("sv", "outing.reminder", audiencePerson, start, stockholm)
	_, en, _ := c.render("en", "outing.reminder", audiencePerson, start, stockholm)
	if sv != "Din aktivitet är torsdag 5 mars kl. 14:00." || en != "Your outing is on Thursday 5 March at 14:00." {
		t.Fatalf("reminder texts: sv %q, en %q", sv, en)
	}
	// An unknown language falls back to Swedish rather than failing.
	_, fb, err := c.render("fi", "outing.reminder", audiencePerson, start, stockholm)
	if err != nil || fb != sv {
		t.Fatalf("fallback: %q, %v", fb, err)
	}
}

// No template can include the outing's note (or address, or a name beyond
// what is allowed): the data a template sees has no such field, so a
// template asking for one is refused when the catalogue loads.
func TestTemplatesCannotIncludeTheNote(t *testing.T) {
	allowed := map[string]bool{"Kind": true, "Time": true, "Clock": true, "FirstName": true}
	rt := reflect.TypeOf(templateData{})
	for i := range rt.NumField() {
		if !allowed[rt.Field(i).Name] {
			t.Errorf("templateData has field %s; templates may take only kind, time and first name", rt.Field(i).Name)
		}
	}
	for _, field := range []string{"Note", "MeetingPoint", "Address", "Description", "Health", "Name"} {
		if _, err := parseText("test", "Hej", "{{."+field+"}}"); err == nil {
			t.Errorf("a template using .%s was accepted", field)
		}
	}
	// And the shipped files use nothing but the allowed fields.
	fieldRef := regexp.MustCompile(`\{\{[^}]*\.(\w+)`)
	for _, lang := range Languages {
		raw, err := templateFiles.ReadFile("templates/" + lang + ".json")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range fieldRef.FindAllStringSubmatch(string(raw), -1) {
			if !allowed[m[1]] {
				t.Errorf("templates/%s.json uses .%s", lang, m[1])
			}
		}
	}
}

func TestQuietHours(t *testing.T) {
	cases := []struct {
		local string
		quiet bool
		until string
	}{
		{"2026-03-02 21:59", false, ""},
		{"2026-03-02 22:00", true, "2026-03-03 07:00"},
		{"2026-03-02 23:30", true, "2026-03-03 07:00"},
		{"2026-03-03 03:00", true, "2026-03-03 07:00"},
		{"2026-03-03 07:00", false, ""},
		// The night the clocks go forward (29 March 2026, 02:00 → 03:00).
		{"2026-03-28 23:00", true, "2026-03-29 07:00"},
	}
	for _, c := range cases {
		now, _ := time.ParseInLocation("2006-01-02 15:04", c.local, stockholm)
		until, quiet := quietUntil(now, stockholm)
		if quiet != c.quiet {
			t.Errorf("%s: quiet %v, want %v", c.local, quiet, c.quiet)
			continue
		}
		if quiet && until.In(stockholm).Format("2006-01-02 15:04") != c.until {
			t.Errorf("%s: until %s, want %s", c.local, until.In(stockholm).Format("2006-01-02 15:04"), c.until)
		}
	}
	// At 23:00 news of an outing before 08:00 goes at once; later ones wait for 07:00.
	now := time.Date(2026, 3, 2, 23, 0, 0, 0, stockholm)
	morning := time.Date(2026, 3, 3, 7, 0, 0, 0, stockholm)
	for _, c := range []struct {
		start time.Time
		wait  bool
	}{
		{now.Add(3 * time.Minute), false},
		{morning.Add(59 * time.Minute), false},
		{morning.Add(time.Hour), true},
		{now.Add(7 * 24 * time.Hour), true},
	} {
		until, wait := deferUntil(c.start, now, stockholm)
		if wait != c.wait || wait && !until.Equal(morning) {
			t.Errorf("outing at %s: wait %v until %s, want %v", c.start.In(stockholm).Format("Jan 2 15:04"), wait, until, c.wait)
		}
	}
	if _, wait := deferUntil(now.Add(7*24*time.Hour), time.Date(2026, 3, 3, 12, 0, 0, 0, stockholm), stockholm); wait {
		t.Error("a push waited outside the quiet hours")
	}
}
