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

// figureRow is one main figure: its total and, when split, one cell per
// gender in reportGenders' order.
type figureRow struct {
	Key      string
	Total    string
	ByGender []string // nil: not split by gender
}

type reportView struct {
	Goals   []goalRow
	Genders []string
	Figures []figureRow
	Split   bool // some figure is not split by gender (a note says so)
	Chart   barChart
}

// barChart is a horizontal bar chart of the counts split by gender: one
// group of bars per figure, each bar labelled with its gender and value
// in text (never colour alone).
type barChart struct {
	Width, Height int
	LabelX, BarX  int
	Groups        []barGroup
}

type barGroup struct {
	Key  string
	Y    int
	Bars []bar
}

type bar struct {
	Gender, Value string
	Y, W, TextX   int
}

const (
	barW, barLabelW, barH, barGap, barHead = 560, 110, 14, 3, 22
)

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
	v.Genders = reportGenders
	for _, f := range r.Figures {
		row := figureRow{Key: f.Measure, Total: figure(f.Total, f.Share)}
		if f.ByGender == nil {
			v.Split = true
		} else {
			for _, g := range reportGenders {
				row.ByGender = append(row.ByGender, figure(f.ByGender[g], f.Share))
			}
		}
		v.Figures = append(v.Figures, row)
	}
	v.Chart = barChartOf(r.Figures)
	return v
}

// barChartOf draws the counts split by gender on one scale (shares
// would need another; the table has them).
func barChartOf(fs []ReportFigure) barChart {
	c := barChart{Width: barW, LabelX: barLabelW - 6, BarX: barLabelW}
	top := 1.0
	for _, f := range fs {
		if f.Share || f.ByGender == nil {
			continue
		}
		for _, g := range reportGenders {
			top = math.Max(top, f.ByGender[g])
		}
	}
	span := float64(barW - barLabelW - 40)
	y := 4
	for _, f := range fs {
		if f.Share || f.ByGender == nil {
			continue
		}
		grp := barGroup{Key: f.Measure, Y: y + 14}
		y += barHead
		for _, g := range reportGenders {
			w := int(math.Round(f.ByGender[g] / top * span))
			grp.Bars = append(grp.Bars, bar{Gender: g, Value: figure(f.ByGender[g], false), Y: y, W: w, TextX: barLabelW + w + 4})
			y += barH + barGap
		}
		y += 6
		c.Groups = append(c.Groups, grp)
	}
	c.Height = y
	return c
}
