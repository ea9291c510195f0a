package console

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/matching"
)

type pageTemplate = template.Template

// pageNames are the templates/<name>.html files; each defines "content"
// (and "title") inside layout.html, or stands alone (fragments).
var pageNames = []string{"login", "error", "today", "requests", "request", "approvals", "members", "person", "groups", "group", "register", "reports", "admin"}

// fragments are rendered without the layout (htmx swaps them in).
var fragments = []string{"today_list"}

func parsePages() (map[string]map[string]*pageTemplate, error) {
	out := map[string]map[string]*pageTemplate{}
	for _, lang := range []string{"sv", "en"} {
		base, err := template.New("layout.html").Funcs(funcsFor(lang)).ParseFS(templateFS, "templates/layout.html", "templates/parts.html", "templates/today_list.html")
		if err != nil {
			return nil, err
		}
		out[lang] = map[string]*pageTemplate{}
		for _, name := range pageNames {
			t, err := base.Clone()
			if err != nil {
				return nil, err
			}
			if _, err := t.ParseFS(templateFS, "templates/"+name+".html"); err != nil {
				return nil, fmt.Errorf("console template %s: %w", name, err)
			}
			out[lang][name] = t
		}
	}
	return out, nil
}

// view is what every page template gets.
type view struct {
	Lang, Page, CSRF, UserName, OrgName, Path string
	Loc                                       *time.Location
	Now                                       time.Time
	HasGroups, HasReports, Admin              bool
	Print                                     bool // ?print=1: the layout for paper, without navigation or forms
	Data                                      any
}

func (c *Console) lang(f *fiber.Ctx) string {
	if l := f.Cookies(langCookie); l == "en" {
		return "en"
	}
	return "sv"
}

// render writes page name with data; a signed-in page also gets the
// navigation and the CSRF token. pageOrg is the organisation's time zone source.
func (c *Console) render(f *fiber.Ctx, status int, name string, data any, _ string) error {
	lang := c.lang(f)
	v := view{Lang: lang, Page: name, Data: data, Now: c.clock.Now(), Loc: time.UTC, Path: f.OriginalURL(),
		HasGroups: c.cfg.Groups != nil, HasReports: c.cfg.Reports != nil,
		Print: f.Query("print") == "1"}
	if sess, ok := f.Locals(localsSession).(*session); ok {
		v.CSRF = sess.csrf
	}
	if u, ok := f.Locals(localsUser).(auth.User); ok {
		v.UserName, v.Admin = u.Name, u.Role == auth.RoleAdmin
		if u.OrgID != "" {
			if org, err := c.cfg.Accounts.Organisation(f.UserContext(), u.OrgID); err == nil {
				v.OrgName = org.Name
				if loc, err := time.LoadLocation(org.TimeZone); err == nil {
					v.Loc = loc
				}
			}
		}
	}
	t, exec := c.pages[lang][name], "layout.html"
	for _, fr := range fragments {
		if fr == name {
			t, exec = c.pages[lang]["today"], name
		}
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, exec, v); err != nil {
		c.log.Error("console: render", "page", name, "error", err.Error())
		return f.Status(fiber.StatusInternalServerError).SendString("internal error")
	}
	f.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return f.Status(status).Send(buf.Bytes())
}

// fail shows an error page with a message in words.
func (c *Console) fail(f *fiber.Ctx, status int, key string) error {
	return c.render(f, status, "error", errorData{Status: status, Key: key}, "")
}

type errorData struct {
	Status int
	Key    string
	Back   string
}

func itoa(n int) string { return strconv.Itoa(n) }

var weekdays = map[string][]string{
	"sv": {"söndag", "måndag", "tisdag", "onsdag", "torsdag", "fredag", "lördag"},
	"en": {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"},
}

var months = map[string][]string{
	"sv": {"januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober", "november", "december"},
	"en": {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"},
}

func funcsFor(lang string) template.FuncMap {
	return template.FuncMap{
		"t":  func(key string) string { return tr(lang, key) },
		"tf": func(key string, args ...any) string { return fmt.Sprintf(tr(lang, key), args...) },
		// clock is a time in the organisation's zone, 24-hour.
		"clock": func(loc *time.Location, t time.Time) string { return t.In(loc).Format("15:04") },
		"day": func(loc *time.Location, t time.Time) string {
			t = t.In(loc)
			return fmt.Sprintf("%s %d %s", weekdays[lang][t.Weekday()], t.Day(), months[lang][t.Month()-1])
		},
		// date is a calendar date with its year (wellbeing answers and milestones span years).
		"date": func(loc *time.Location, t time.Time) string {
			t = t.In(loc)
			return fmt.Sprintf("%d %s %d", t.Day(), months[lang][t.Month()-1], t.Year())
		},
		// cls turns an i18n key (wb.social) into a CSS class (wb-social).
		"cls": func(key string) string { return strings.ReplaceAll(key, ".", "-") },
		"datetime": func(loc *time.Location, t time.Time) string {
			if t.IsZero() {
				return ""
			}
			t = t.In(loc)
			return fmt.Sprintf("%d %s %s", t.Day(), months[lang][t.Month()-1][:3], t.Format("2006 15:04"))
		},
		"until":  func(now, t time.Time) string { return until(lang, now, t) },
		"status": func(s any) string { return tr(lang, "status."+fmt.Sprint(s)) },
		"kind":   func(s any) string { return tr(lang, "kind."+fmt.Sprint(s)) },
		"pct":    func(x float64) string { return strconv.Itoa(int(math.Round(x * 100))) },
		"score":  func(x float64) string { return decimal(lang, x) },
		"km":     func(x float64) string { return decimal(lang, x) },
		"lower":  strings.ToLower,
		"rule":   func(r string) string { return tr(lang, "rule."+r) },
		"role":   func(r any) string { return tr(lang, "role."+fmt.Sprint(r)) },
		"wd":     func(d string) string { return tr(lang, "wd."+d) },
		"dict":   func(v view, o matching.OutingView) map[string]any { return map[string]any{"Loc": v.Loc, "O": o} },
		"other":  func() string { return map[string]string{"sv": "en", "en": "sv"}[lang] },
	}
}

// until says how long until t, in words: "om 3 h 20 min", "started 10 min ago".
func until(lang string, now, t time.Time) string {
	d := t.Sub(now).Round(time.Minute)
	past := d < 0
	if past {
		d = -d
	}
	var s string
	switch {
	case d >= 48*time.Hour:
		s = fmt.Sprintf("%d %s", int(d.Hours()/24), tr(lang, "unit.days"))
	case d >= time.Hour:
		s = fmt.Sprintf("%d h %d min", int(d.Hours()), int(d.Minutes())%60)
	default:
		s = fmt.Sprintf("%d min", int(d.Minutes()))
	}
	if past {
		return fmt.Sprintf(tr(lang, "unit.ago"), s)
	}
	return fmt.Sprintf(tr(lang, "unit.in"), s)
}

// decimal writes x with one decimal, with a decimal comma in Swedish.
func decimal(lang string, x float64) string {
	s := strconv.FormatFloat(x, 'f', 1, 64)
	if lang == "sv" {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}
