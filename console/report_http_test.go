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
	_, body = c.get(t, "/console/lang/en?back=/console/reports")
	for _, want := range []string{"Participants served", "Share who completed a group", "✓ Met", "✗ Not met"} {
		if !strings.Contains(body, want) {
			t.Errorf("English page lacks %q", want)
		}
	}
}
