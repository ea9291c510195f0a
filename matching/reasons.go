package matching

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The reasons of a ranked volunteer, in words a coordinator reads in the
// console and the API: the ranking core's scores said in Swedish or English.

// reasons says in the coordinator's language why this volunteer ranks where
// they do, most telling first.
func (r *ranking) reasons(c *Candidate, dist float64, travel time.Duration, lang string) []string {
	sv := lang == "sv"
	pick := func(en, svText string) string {
		if sv {
			return svText
		}
		return en
	}
	name := r.req.ParticipantFirstName
	if name == "" {
		name = pick("the participant", "deltagaren")
	}
	out := make([]string, 0, 7)

	km := number(dist, 1, sv)
	out = append(out, pick(km+" km from the meeting point", km+" km från mötesplatsen"))

	if n := c.CompletedWith; n > 0 {
		var s string
		if n == 1 {
			s = pick("met "+name+" once", "har träffat "+name+" en gång")
		} else {
			s = pick(fmt.Sprintf("met %s %d times", name, n), fmt.Sprintf("har träffat %s %d gånger", name, n))
		}
		if c.AvgRatingWith > 0 {
			s += pick(", rated ", ", betyg ") + rating(c.AvgRatingWith, sv)
		}
		out = append(out, s)
	}
	if r.isPreferred(c) {
		out = append(out, pick("preferred by "+name, "önskad av "+name))
	}

	if c.LastOutingAt.IsZero() || r.now.Sub(c.LastOutingAt) >= RestDays*24*time.Hour {
		out = append(out, pick(
			fmt.Sprintf("no outing in the last %d days", RestDays),
			fmt.Sprintf("ingen utflykt de senaste %d dagarna", RestDays)))
	} else if n := c.OutingsLast30Days; n == 1 {
		out = append(out, pick("1 outing in the last 30 days", "1 utflykt de senaste 30 dagarna"))
	} else {
		out = append(out, pick(
			fmt.Sprintf("%d outings in the last 30 days", n),
			fmt.Sprintf("%d utflykter de senaste 30 dagarna", n)))
	}

	switch s := r.slack(c, travel); {
	case s >= time.Hour:
		out = append(out, pick("at least "+duration(s)+" free before and after", "minst "+duration(s)+" ledig tid före och efter"))
	case s < 30*time.Minute:
		out = append(out, pick("only "+duration(s)+" to spare around the outing", "bara "+duration(s)+" marginal runt utflykten"))
	}

	if c.Ratings > 0 && c.AvgRating >= 1 {
		avg := rating(c.AvgRating, sv)
		if c.Ratings == 1 {
			out = append(out, pick("rated "+avg+" after 1 outing", "betyg "+avg+" efter 1 utflykt"))
		} else {
			out = append(out, pick(
				fmt.Sprintf("average rating %s over %d outings", avg, c.Ratings),
				fmt.Sprintf("snittbetyg %s efter %d utflykter", avg, c.Ratings)))
		}
	} else {
		out = append(out, pick("no ratings yet", "inga betyg ännu"))
	}

	var matched []string
	if r.matchedSkills(c, &matched) > 0 {
		for i, s := range matched {
			matched[i] = strings.ReplaceAll(s, "_", " ")
		}
		k := kindNames[r.req.Kind]
		if k == [2]string{} {
			k = kindNames["other"]
		}
		list := strings.Join(matched, ", ")
		out = append(out, pick("skills for "+k[0]+": "+list, "färdigheter för "+k[1]+": "+list))
	}
	return out
}

var kindNames = map[string][2]string{
	"bus_trip": {"a bus trip", "en bussresa"},
	"cafe":     {"a café visit", "ett kafébesök"},
	"walk":     {"a walk", "en promenad"},
	"errand":   {"an errand", "ett ärende"},
	"activity": {"an activity", "en aktivitet"},
	"other":    {"this outing", "utflykten"},
}

// number formats x with the given decimals, with a decimal comma in Swedish.
func number(x float64, decimals int, sv bool) string {
	s := strconv.FormatFloat(x, 'f', decimals, 64)
	if sv {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

// rating shows a whole rating as "5" and others to one decimal.
func rating(x float64, sv bool) string {
	x = math.Round(x*10) / 10
	if x == math.Trunc(x) {
		return strconv.Itoa(int(x))
	}
	return number(x, 1, sv)
}

// duration shows whole minutes as "45 min", "2 h" or "1 h 30 min".
func duration(d time.Duration) string {
	m := int(d / time.Minute)
	switch h := m / 60; {
	case h == 0:
		return strconv.Itoa(m) + " min"
	case m%60 == 0:
		return strconv.Itoa(h) + " h"
	default:
		return strconv.Itoa(h) + " h " + strconv.Itoa(m%60) + " min"
	}
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
