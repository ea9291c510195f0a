package console_test

import (
	"strings"
	"testing"

	"github.com/clavis-app/clavis/console"
)

// The Reports page names each goal in words and says met or not met in a
// word, in Swedish and in English; the raw keys never show.
func TestReportsPageGoalsInWords(t *testing.T) {
	e := newEnv(t, func(c *console.Config) { c.Reports = fakeReports{} })
	c := e.signIn(e.Coord)
	status, body := c.get(t, "/console/reports?from=2026-01-01&to=2026-11-25")
	if status != 200 {
		t.Fatalf("reports: %d %s", status, body)
	}
	for _, want := range []string{"Deltagare som fått stöd", "Andel som fullföljt en grupp", "75 %", "50 %",
		"✓ Uppfyllt", "✗ Inte uppfyllt"} {
		if !strings.Contains(body, want) {
			t.Errorf("Swedish page lacks %q", want)
		}
	}
	if strings.Contains(body, "group_completion_rate") {
		t.Error("a raw goal key on the page")
	}
	// The main figures: a column per gender, a row per figure; outings only in total.
	for _, want := range []string{
		`<th scope="col" class="num">Kvinnor</th><th scope="col" class="num">Män</th><th scope="col" class="num">Annat</th><th scope="col" class="num">Ej angivet</th>`,
		`<th scope="row">Deltagare som fått stöd</th><td class="num">12</td><td class="num">7</td><td class="num">4</td><td class="num">0</td><td class="num">1</td>`,
		`<th scope="row">Stärkt självförtroende (andel)</th><td class="num">60 %</td><td class="num">50 %</td><td class="num">75 %</td>`,
		`<th scope="row">Utflykter efterfrågade</th><td class="num">30</td><td class="num"><span aria-hidden="true">–</span><span class="sr">ej uppdelat</span>`,
		"Utflykterna delas inte upp per kön",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("by-gender table lacks %s", want)
		}
	}
	// The chart: one bar per gender of each count, labelled in words and
	// figures; shares and unsplit outings stay out of it.
	chart := body[strings.Index(body, "<svg class=\"chart bars\""):]
	chart = chart[:strings.Index(chart, "</svg>")]
	if n := strings.Count(chart, "<rect "); n != 4 {
		t.Errorf("chart has %d bars, want 4 (participants by gender)", n)
	}
	for _, want := range []string{`role="img"`, "Kvinnor", `class="value">7</text>`, `class="bar bar-female"`} {
		if !strings.Contains(chart, want) {
			t.Errorf("chart lacks %s", want)
		}
	}
	if strings.Contains(chart, "Utflykter") || strings.Contains(chart, "självförtroende (andel)") {
		t.Error("chart plots an unsplit figure or a share")
	}

	_, body = c.get(t, "/console/lang/en?back=/console/reports")
	for _, want := range []string{"Participants served", "Share who completed a group", "✓ Met", "✗ Not met", "Women", "Not stated", "Outings requested"} {
		if !strings.Contains(body, want) {
			t.Errorf("English page lacks %q", want)
		}
	}
}

// The print view (?print=1) has no navigation, no form and no button; the
// stylesheet prints to A4, black on white, without splitting tables.
func TestReportsPrintView(t *testing.T) {
	e := newEnv(t, func(c *console.Config) { c.Reports = fakeReports{} })
	c := e.signIn(e.Coord)
	_, body := c.get(t, "/console/reports?from=2026-01-01&to=2026-11-25")
	if !strings.Contains(body, `href="/console/reports?from=2026-01-01&amp;to=2026-11-25&amp;print=1"`) {
		t.Fatalf("no print link: %s", body)
	}
	status, body := c.get(t, "/console/reports?from=2026-01-01&to=2026-11-25&print=1")
	if status != 200 || !strings.Contains(body, `<body class="print"`) {
		t.Fatalf("print view: %d %s", status, body)
	}
	for _, gone := range []string{"<nav", "<form", "<button", "/console/today"} {
		if strings.Contains(body, gone) {
			t.Errorf("print view has %s", gone)
		}
	}
	for _, want := range []string{"Utfallsrapport", "2026-01-01 – 2026-11-25", "Deltagare som fått stöd", "<svg class=\"chart bars\""} {
		if !strings.Contains(body, want) {
			t.Errorf("print view lacks %s", want)
		}
	}
	_, css := c.get(t, "/console/static/console.css")
	i := strings.Index(css, "@media print {")
	if i < 0 {
		t.Fatal("no print stylesheet")
	}
	print := css[i:]
	for _, want := range []string{"size: A4", "header.top, nav, .noprint, .skip, form, button { display: none", "color: #000", "break-inside: avoid"} {
		if !strings.Contains(print, want) {
			t.Errorf("print stylesheet lacks %q", want)
		}
	}
}
