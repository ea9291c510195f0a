package console

import (
	"fmt"
	"strings"
)

// chart is a small line chart of comfort (1–5) before and after each
// outing, drawn as SVG on the server: no script, prints as it shows.
type chart struct {
	Width, Height int
	Before, After string // polyline points
	Dots          []chartDot
	Grid          []chartLine
}

type chartDot struct {
	X, Y  int
	After bool
	Title string
}

type chartLine struct {
	Y     int
	Label int
}

const (
	chartW, chartH, chartPad = 360, 160, 28
)

func comfortChart(ps []comfortPoint) chart {
	c := chart{Width: chartW, Height: chartH}
	y := func(v int) int { return chartH - chartPad - (v-1)*(chartH-2*chartPad)/4 }
	for v := 1; v <= 5; v++ {
		c.Grid = append(c.Grid, chartLine{Y: y(v), Label: v})
	}
	if len(ps) == 0 {
		return c
	}
	step := 0
	if len(ps) > 1 {
		step = (chartW - 2*chartPad) / (len(ps) - 1)
	}
	var b, a []string
	for i, p := range ps {
		x := chartPad + i*step
		b = append(b, fmt.Sprintf("%d,%d", x, y(p.Before)))
		a = append(a, fmt.Sprintf("%d,%d", x, y(p.After)))
		c.Dots = append(c.Dots, chartDot{X: x, Y: y(p.Before), Title: fmt.Sprint(p.Before)},
			chartDot{X: x, Y: y(p.After), After: true, Title: fmt.Sprint(p.After)})
	}
	c.Before, c.After = strings.Join(b, " "), strings.Join(a, " ")
	return c
}
