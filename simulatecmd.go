package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/clavis-app/clavis/matching"
	"github.com/clavis-app/clavis/simulate"
)

// runSimulate is `clavis simulate`: a month of a town through the real
// matching services, Clavis's ranking against nearest-first
// (docs/simulate.md). It touches no data directory.
func runSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	def := simulate.DefaultConfig()
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg := def
	fs.IntVar(&cfg.Participants, "participants", def.Participants, "participants in the town")
	fs.IntVar(&cfg.Volunteers, "volunteers", def.Volunteers, "volunteers in the town")
	fs.IntVar(&cfg.Days, "days", def.Days, "days during which requests are made")
	fs.Int64Var(&cfg.Seed, "seed", def.Seed, "seed of the town and of everyone's choices")
	weights := fs.String("weights", "", "Clavis's weights, as CLAVIS_MATCH_WEIGHTS (default: the built-in ones)")
	asJSON := fs.Bool("json", false, "print JSON instead of the table")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return nil // the flags' usage is printed
	} else if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	w, err := matching.ParseWeights(*weights)
	if err != nil {
		return fmt.Errorf("-weights: %w", err)
	}
	cfg.Weights = w
	res, err := simulate.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		return res.WriteJSON(stdout)
	}
	return res.WriteTable(stdout)
}
