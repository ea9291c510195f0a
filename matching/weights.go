package matching

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Weights are the relative importance of the score parts; only their ratios
// matter (the score is 100·Σ w·part / Σ w). The defaults put continuity
// first, because a familiar face matters most to this group, then distance:
// with them a volunteer who met the participant three times and was rated 5,
// 3 km away, scores well above an otherwise equal stranger 1 km away
// (continuity is worth 26 points there, the 2 km only 5).
type Weights struct {
	Distance   float64
	Continuity float64
	Slack      float64
	Fairness   float64
	Feedback   float64
	Skills     float64
}

// DefaultWeights: continuity 30, distance 25, fairness 15, slack 10,
// feedback 10, skills 10.
func DefaultWeights() Weights {
	return Weights{Distance: 25, Continuity: 30, Slack: 10, Fairness: 15, Feedback: 10, Skills: 10}
}

var weightNames = [6]string{"distance", "continuity", "slack", "fairness", "feedback", "skills"}

func (w Weights) array() [6]float64 {
	return [6]float64{w.Distance, w.Continuity, w.Slack, w.Fairness, w.Feedback, w.Skills}
}

func (w *Weights) set(i int, x float64) {
	switch i {
	case 0:
		w.Distance = x
	case 1:
		w.Continuity = x
	case 2:
		w.Slack = x
	case 3:
		w.Fairness = x
	case 4:
		w.Feedback = x
	case 5:
		w.Skills = x
	}
}

func (w Weights) sum() float64 {
	var s float64
	for _, x := range w.array() {
		s += x
	}
	return s
}

// MaxWeight bounds a single weight, to catch a typo such as 2500 for 25.
const MaxWeight = 1000

// Validate reports a weight that is negative, not finite or above MaxWeight,
// or weights that are all zero.
func (w Weights) Validate() error {
	for i, x := range w.array() {
		if math.IsNaN(x) || x < 0 || x > MaxWeight {
			return fmt.Errorf("weight %s: %v is not a number from 0 to %d", weightNames[i], x, MaxWeight)
		}
	}
	if w.sum() <= 0 {
		return fmt.Errorf("weights: at least one must be above 0")
	}
	return nil
}

// ParseWeights reads weights written as "distance=25,continuity=30,...",
// the form of CLAVIS_MATCH_WEIGHTS. Parts not named keep their default; an
// empty string gives DefaultWeights. Unknown or repeated names, malformed
// numbers and invalid weights are errors that name the culprit.
func ParseWeights(s string) (Weights, error) {
	w := DefaultWeights()
	if strings.TrimSpace(s) == "" {
		return w, nil
	}
	var seen [6]bool
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, value, ok := strings.Cut(item, "=")
		name, value = strings.ToLower(strings.TrimSpace(name)), strings.TrimSpace(value)
		if !ok || name == "" || value == "" {
			return Weights{}, fmt.Errorf("weights: %q is not name=number", item)
		}
		i := slices.Index(weightNames[:], name)
		if i < 0 {
			return Weights{}, fmt.Errorf("weights: unknown part %q (known: %s)", name, strings.Join(weightNames[:], ", "))
		}
		if seen[i] {
			return Weights{}, fmt.Errorf("weights: %s given twice", name)
		}
		seen[i] = true
		x, err := strconv.ParseFloat(value, 64)
		if err != nil || math.IsInf(x, 0) {
			return Weights{}, fmt.Errorf("weights: %s=%q is not a number", name, value)
		}
		w.set(i, x)
	}
	if err := w.Validate(); err != nil {
		return Weights{}, err
	}
	return w, nil
}
