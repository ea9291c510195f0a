package console

import (
	"fmt"
	"math"
	"strings"
)

// The Reports page's view of a Report: every number formatted once here,
// so that the table, the chart and its text equivalent agree.

// reportGenders is the order of the gender columns (outcomes' order).
var reportGenders = []string{"female", "male", "other", "unspecified"}

type goalRow struct {
	Key            string
	Target, Actual string
	Met            bool
}

type reportView struct {
	Goals []goalRow
}

// isShare: the outcomes goals whose value is a fraction 0–1.
func isShare(key string) bool {
	return strings.HasSuffix(key, "_rate") || strings.HasSuffix(key, "_share")
}

// figure formats a count as an integer and a share as a whole percentage.
func figure(v float64, share bool) string {
	if share {
		return fmt.Sprintf("%.0f %%", math.Round(v*100))
	}
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func viewOf(r Report) reportView {
	var v reportView
	for _, l := range r.Lines {
		s := isShare(l.Measure)
		v.Goals = append(v.Goals, goalRow{Key: l.Measure, Target: figure(l.Goal, s), Actual: figure(l.Actual, s), Met: l.Met})
	}
	return v
}
