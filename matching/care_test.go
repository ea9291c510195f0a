package matching

import (
	"strings"
	"testing"

	"github.com/clavis-app/clavis/internal/fault"
)

// The volunteer's line is read before trust is built: contact details and
// a home address are refused, saying which and why; ordinary lines pass.
func TestCheckAbout(t *testing.T) {
	for about, want := range map[string]string{
		"Jag är 34 och gillar fika, hundar och långa promenader.": "",
		"Pensionerad lärare, 67 år. Två barnbarn.":                "",
		"Mejla mig: vera.holm@example.org":                        "e-mail",
		"Ring 070-123 45 67 så pratar vi":                         "phone number",
		"+46701234567":                                            "phone number",
		"Jag bor på Storgatan 12 i Halmstad":                      "street address",
		"I live at 12 Baker Street":                               "street address",
		"Kungsvägen 3B, trappa 2":                                 "street address",
		strings.Repeat("a", 201):                                  "at most 200",
	} {
		err := CheckAbout(about)
		if want == "" {
			if err != nil {
				t.Errorf("CheckAbout(%q) = %v, want nil", about, err)
			}
			continue
		}
		fe, ok := fault.As(err)
		if !ok || fe.Kind != fault.Validation || len(fe.Fields) != 1 || fe.Fields[0].Field != "about" || !strings.Contains(fe.Fields[0].Message, want) {
			t.Errorf("CheckAbout(%q) = %v, want a 422 on about naming %q", about, err, want)
		}
		if want != "at most 200" && !strings.Contains(fe.Fields[0].Message, "before trust is built") {
			t.Errorf("CheckAbout(%q) does not say why: %v", about, err)
		}
	}
}
