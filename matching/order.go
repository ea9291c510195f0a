package matching

// RankFunc orders an outing's candidates for the offer waves. The server
// uses Rank; `clavis simulate` swaps in NearestFirst to measure Clavis
// against the rule most dispatch apps use, with nothing else changed.
type RankFunc func(req MatchRequest, cands []Candidate, opt RankOptions) ([]Scored, []Exclusion)

// NearestFirst is the baseline ordering: the same hard rules as Rank, the
// candidates ordered by distance alone. A distance-only weighting is
// enough, because Rank breaks equal scores by distance.
func NearestFirst(req MatchRequest, cands []Candidate, opt RankOptions) ([]Scored, []Exclusion) {
	opt.Weights = Weights{Distance: 1}
	return Rank(req, cands, opt)
}
