package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// outcomesWalk is the outcomes walk-through on the demo data, as a reader
// would paste it: Pia states her gender, answers a baseline and a
// follow-up check-in, Karin records a milestone and reads the report as
// JSON and as CSV. TestOutcomesWalkThrough runs it against a real server
// and writes the transcript to $CLAVIS_WALK_OUT when it is set.
const outcomesWalk = `exec 2>&1
login() { curl -sS "$BASE/v1/auth/login" -H 'Content-Type: application/json' -d "{\"email\": \"$1\", \"password\": \"clavis-demo-2026\"}" | jq -r .access_token; }
PIA=$(login pia@demo.clavis.app)
KARIN=$(login coordinator@demo.clavis.app)
PIA_ID=$(curl -sS "$BASE/v1/me" -H "Authorization: Bearer $PIA" | jq -r .id)
ORG=$(curl -sS "$BASE/v1/me" -H "Authorization: Bearer $KARIN" | jq -r .organisation_id)
curl -sS -X PUT "$BASE/v1/participants/me/profile" -H "Authorization: Bearer $PIA" -H 'Content-Type: application/json' -d '{"languages": ["sv"], "companion_gender": "any", "gender": "female"}' | jq -c .
curl -sS "$BASE/v1/participants/me/wellbeing" -H "Authorization: Bearer $PIA" -H 'Content-Type: application/json' -d '{"confidence": 2, "social": 2, "occupation": 1}' | jq -c .
curl -sS "$BASE/v1/participants/me/wellbeing" -H "Authorization: Bearer $PIA" -H 'Content-Type: application/json' -d '{"confidence": 4, "social": 3, "occupation": 2}' | jq -c .
curl -sS "$BASE/v1/participants/me/wellbeing" -H "Authorization: Bearer $PIA" -H 'Content-Type: application/json' -d '{"confidence": 9, "social": 3, "occupation": 2}' | jq -c .
curl -sS "$BASE/v1/organisations/$ORG/participants/$PIA_ID/wellbeing" -H "Authorization: Bearer $KARIN" | jq -c '.items | length'
curl -sS "$BASE/v1/organisations/$ORG/participants/$PIA_ID/milestones" -H "Authorization: Bearer $KARIN" -H 'Content-Type: application/json' -d "{\"kind\": \"work_practice\", \"on\": \"$TODAY\", \"note\": \"Praktik på biblioteket\"}" | jq -c '{kind, on, participant_id: (.participant_id == "'$PIA_ID'")}'
curl -sS "$BASE/v1/organisations/$ORG/reports/outcomes?from=$FROM&to=$TODAY" -H "Authorization: Bearer $KARIN" | jq '{participants, wellbeing, milestones, outings: .outings | {requested, matched}, goals: [.goals[] | {key, target, actual, met}]}'
curl -sS "$BASE/v1/organisations/$ORG/reports/outcomes?from=$FROM&to=$TODAY" -H "Authorization: Bearer $KARIN" -H 'Accept: text/csv' | head -n 12
`

func TestOutcomesWalkThrough(t *testing.T) {
	for _, tool := range []string{"sh", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the walk-through needs %s: %v", tool, err)
		}
	}
	dir := t.TempDir()
	port := freePort(t)
	vars := map[string]string{"PORT": strconv.Itoa(port), "CLAVIS_LISTEN_ADDR": "127.0.0.1",
		"CLAVIS_DATA_DIR": filepath.Join(dir, "data"), "LOG_LEVEL": "warn"}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var serverLog bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- dispatch(ctx, []string{"serve"}, env(vars), &serverLog, &serverLog) }()
	waitReady(t, base, done)
	var seedOut bytes.Buffer
	if code := dispatch(ctx, []string{"seed"}, env(vars), &seedOut, &seedOut); code != 0 {
		t.Fatalf("seed: exit %d\n%s", code, seedOut.String())
	}
	now := time.Now().UTC()
	script := filepath.Join(dir, "walk.sh")
	if err := os.WriteFile(script, []byte(outcomesWalk), 0o600); err != nil {
		t.Fatal(err)
	}
	sh := exec.CommandContext(ctx, "sh", "-v", script)
	sh.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "BASE=" + base, "LC_ALL=C.UTF-8",
		"TODAY=" + now.Format(time.DateOnly), "FROM=" + now.AddDate(0, -1, 0).Format(time.DateOnly)}
	out, err := sh.CombinedOutput()
	transcript := "# go run . serve; go run . seed; then, with BASE, TODAY and FROM set:\n" + string(out)
	if dest := os.Getenv("CLAVIS_WALK_OUT"); dest != "" {
		if werr := os.WriteFile(dest, []byte(transcript), 0o644); werr != nil {
			t.Error(werr)
		}
	}
	t.Log(transcript)
	if err != nil {
		t.Fatalf("walk-through: %v", err)
	}
	for _, want := range []string{
		`"gender":"female"`, // the profile now says so
		`"confidence":2,"social":2,"occupation":1`, `"confidence":4,"social":3,"occupation":2`,
		`"status":422`, `"field":"confidence"`, // nine is out of range, nothing stored
		"\n2\n", // Karin sees the two answers
		`{"kind":"work_practice","on":"` + now.Format(time.DateOnly) + `","participant_id":true}`,
		`"followed_up": 1`, `"confidence_improved_share": 1`,
		"figure,gender,value\norganisation_id,all,", "participants.served,female,",
	} {
		if !strings.Contains(transcript, want) {
			t.Errorf("the walk-through lacks %q", want)
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Error("the server did not stop")
	}
}
