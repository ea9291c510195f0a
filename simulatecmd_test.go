package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// clavis simulate: flags reach the run, -json prints the same figures as
// JSON, and bad flags fail with exit 1 before anything runs.
func TestSimulateCommand(t *testing.T) {
	var out, errOut bytes.Buffer
	args := []string{"simulate", "-participants", "4", "-volunteers", "3", "-days", "2", "-seed", "5", "-weights", "continuity=40", "-json"}
	if code := dispatch(context.Background(), args, env(nil), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	var got struct {
		Town struct {
			Participants, Volunteers, Days int
			Seed                           int64
			Weights                        string
		}
		Clavis       map[string]any `json:"clavis"`
		NearestFirst map[string]any `json:"nearest_first"`
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if got.Town.Participants != 4 || got.Town.Volunteers != 3 || got.Town.Days != 2 || got.Town.Seed != 5 ||
		!strings.Contains(got.Town.Weights, "continuity=40,") || got.Clavis["requests"] == nil || got.NearestFirst["requests"] == nil {
		t.Fatalf("flags not applied: %s", out.String())
	}
	for _, bad := range [][]string{{"-weights", "charm=3"}, {"-days", "0"}, {"extra"}, {"-nope"}} {
		out.Reset()
		errOut.Reset()
		if code := dispatch(context.Background(), append([]string{"simulate"}, bad...), env(nil), &out, &errOut); code != 1 || out.Len() != 0 {
			t.Errorf("simulate %v: exit %d, stdout %q", bad, code, out.String())
		}
	}
}
