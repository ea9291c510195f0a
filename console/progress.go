package console

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/clavis-app/clavis/auth"
)

// Progress is what a participant's page shows from the outcomes domain
// (issue 15): their wellbeing answers and milestones. Health data: shown to
// their coordinators only, never logged.
type Progress interface {
	Progress(ctx context.Context, who auth.Identity, participantID string) ([]WellbeingAnswer, []MilestoneMark, error)
}

// WellbeingAnswer is one check-in: three answers from 1 to 5.
type WellbeingAnswer struct {
	At                             time.Time
	Confidence, Social, Occupation int
}

// MilestoneMark is one milestone: its kind (work_practice, job, study,
// meaningful_occupation) and its date.
type MilestoneMark struct {
	On   time.Time
	Kind string
}

// maxProgressPoints bounds each chart (the latest answers and milestones).
const maxProgressPoints = 12

// seriesChart is a line chart of several 1–5 series over the same points,
// drawn on the server like the comfort chart.
type seriesChart struct {
	Width, Height int
	Grid          []chartLine
	Series        []chartSeries
}

type chartSeries struct {
	Key    string // i18n key and CSS class
	Points string
	Dots   []chartDot
}

// timeline places milestones along a date axis.
type timeline struct {
	Width, Height int
	Marks         []timelineMark
	First, Last   time.Time
}

type timelineMark struct {
	X     int
	Kind  string
	On    time.Time
	Above bool // alternate labels above and below the axis
}

func wellbeingChart(as []WellbeingAnswer) seriesChart {
	c := seriesChart{Width: chartW, Height: chartH}
	y := func(v int) int { return chartH - chartPad - (v-1)*(chartH-2*chartPad)/4 }
	for v := 1; v <= 5; v++ {
		c.Grid = append(c.Grid, chartLine{Y: y(v), Label: v})
	}
	step := 0
	if len(as) > 1 {
		step = (chartW - 2*chartPad) / (len(as) - 1)
	}
	for _, s := range []struct {
		key string
		of  func(WellbeingAnswer) int
	}{{"wb.confidence", func(a WellbeingAnswer) int { return a.Confidence }},
		{"wb.social", func(a WellbeingAnswer) int { return a.Social }},
		{"wb.occupation", func(a WellbeingAnswer) int { return a.Occupation }}} {
		series := chartSeries{Key: s.key}
		var pts []string
		for i, a := range as {
			x, yy := chartPad+i*step, y(s.of(a))
			pts = append(pts, fmt.Sprintf("%d,%d", x, yy))
			series.Dots = append(series.Dots, chartDot{X: x, Y: yy, Title: fmt.Sprint(s.of(a))})
		}
		series.Points = strings.Join(pts, " ")
		c.Series = append(c.Series, series)
	}
	return c
}

func milestoneTimeline(ms []MilestoneMark) timeline {
	t := timeline{Width: chartW, Height: 90}
	if len(ms) == 0 {
		return t
	}
	t.First, t.Last = ms[0].On, ms[len(ms)-1].On
	span := t.Last.Sub(t.First)
	for i, m := range ms {
		x := chartW / 2
		if span > 0 {
			x = chartPad + int(float64(chartW-2*chartPad)*float64(m.On.Sub(t.First))/float64(span))
		}
		t.Marks = append(t.Marks, timelineMark{X: x, Kind: m.Kind, On: m.On, Above: i%2 == 0})
	}
	return t
}

// progressData is the person page's wellbeing and milestones, oldest first.
type progressData struct {
	Shown      bool
	Answers    []WellbeingAnswer
	Milestones []MilestoneMark
	Wellbeing  seriesChart
	Timeline   timeline
}

func (c *Console) progress(ctx context.Context, who auth.Identity, participantID string) (progressData, error) {
	if c.cfg.Progress == nil {
		return progressData{}, nil
	}
	as, ms, err := c.cfg.Progress.Progress(ctx, who, participantID)
	if err != nil {
		return progressData{}, err
	}
	slices.SortFunc(as, func(a, b WellbeingAnswer) int { return a.At.Compare(b.At) })
	slices.SortFunc(ms, func(a, b MilestoneMark) int { return a.On.Compare(b.On) })
	if len(as) > maxProgressPoints {
		as = as[len(as)-maxProgressPoints:]
	}
	if len(ms) > maxProgressPoints {
		ms = ms[len(ms)-maxProgressPoints:]
	}
	return progressData{Shown: true, Answers: as, Milestones: ms, Wellbeing: wellbeingChart(as), Timeline: milestoneTimeline(ms)}, nil
}
