package console_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
	"github.com/clavis-app/clavis/matching"
)

// benchScale: CLAVIS_CONSOLE_BENCH_OUTINGS / _VOLUNTEERS, by default the
// issue's 10 000 outings and 1 000 volunteers.
func benchScale(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// seedLarge fills one organisation through the domain services: volunteers
// near Stora Torg, 200 participants, and outings over the past 300 days
// (most completed, the rest cancelled) and the coming week (open, pending,
// confirmed), so that every page has its full share to read.
func seedLarge(b *testing.B, e *env, outings, volunteers int) (participant, volunteer person, request string) {
	ctx := context.Background()
	now := e.Clock.Now()
	vs := make([]person, volunteers)
	for i := range vs {
		vs[i] = e.volunteer(fmt.Sprintf("Volontär %d", i), float64(i%100)/10)
	}
	ps := make([]person, 200)
	for i := range ps {
		ps[i] = e.user(auth.RoleParticipant, e.Org, auth.StatusActive, fmt.Sprintf("Deltagare %d", i))
	}
	upcoming := outings * 6 / 100
	past := outings - upcoming
	for i := range past {
		start := now.Add(-300*24*time.Hour + time.Duration(i)*(300*24*time.Hour/time.Duration(past)))
		p, v := ps[i%len(ps)], vs[i%len(vs)]
		e.Clock.Set(start.Add(-24 * time.Hour))
		id := e.outing(p, start)
		if i%5 == 4 {
			e.must(e.Outings.Cancel(ctx, e.Coord.Who, id, "Sjuk"))
			continue
		}
		e.must(e.Outings.Accept(ctx, v.Who, id))
		e.must(e.Outings.Approve(ctx, e.Coord.Who, id))
		e.Clock.Set(start)
		e.must(e.Outings.CheckIn(ctx, p.Who, id))
		e.Clock.Set(start.Add(2*time.Hour + time.Minute))
		e.must(e.Outings.Complete(ctx, e.Coord.Who, id))
		if i%10 == 0 {
			before, after := 2+i%3, 3+i%3
			if _, err := e.Outings.GiveFeedback(ctx, p.Who, id, matching.FeedbackInput{Rating: 4, ComfortBefore: &before, ComfortAfter: &after}); err != nil {
				b.Fatal(err)
			}
		}
	}
	e.Clock.Set(now)
	for i := range upcoming {
		start := now.Add(time.Hour + time.Duration(i)*(7*24*time.Hour/time.Duration(upcoming)))
		p, v := ps[i%len(ps)], vs[(i*7)%len(vs)]
		id := e.outing(p, start)
		switch i % 4 {
		case 1:
			e.must(e.Outings.Accept(ctx, v.Who, id))
		case 2, 3:
			e.must(e.Outings.Accept(ctx, v.Who, id))
			e.must(e.Outings.Approve(ctx, e.Coord.Who, id))
		default:
			request = id
		}
	}
	return ps[0], vs[0], request
}

// BenchmarkPages is the server time per page (from the request leaving the
// client to the last byte back, over loopback) at 10 000 outings and 1 000
// volunteers: p50 per page, goal < 50 ms.
func BenchmarkPages(b *testing.B) {
	e := newEnv(b)
	n, nv := benchScale("CLAVIS_CONSOLE_BENCH_OUTINGS", 10000), benchScale("CLAVIS_CONSOLE_BENCH_VOLUNTEERS", 1000)
	start := time.Now()
	p, v, req := seedLarge(b, e, n, nv)
	b.Logf("seeded %d outings, %d volunteers in %v", n, nv, time.Since(start).Round(time.Second))
	c := e.signIn(e.Coord)
	pages := []struct{ name, path string }{
		{"today", "/console/today"}, {"today-poll", "/console/today/list"}, {"requests", "/console/requests"},
		{"request", "/console/requests/" + req}, {"approvals", "/console/approvals"}, {"members", "/console/members"},
		{"participant", "/console/people/" + p.ID}, {"volunteer", "/console/people/" + v.ID},
	}
	b.ResetTimer()
	for _, pg := range pages {
		b.Run(pg.name, func(b *testing.B) {
			var times []time.Duration
			size := 0
			for b.Loop() {
				t0 := time.Now()
				resp, err := c.Get(e.URL + pg.path)
				if err != nil {
					b.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				times = append(times, time.Since(t0))
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("%s: %d", pg.path, resp.StatusCode)
				}
				size = len(body)
			}
			slices.Sort(times)
			p50 := times[len(times)/2]
			b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(size), "html-bytes")
		})
	}
}
