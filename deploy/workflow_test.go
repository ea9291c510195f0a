package deploy_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rhysd/actionlint"
	"gopkg.in/yaml.v3"
)

var workflowPath = filepath.Join(repoRoot, ".github", "workflows", "ci.yml")

// lintWorkflow runs actionlint's checks (syntax, expressions, job and step
// keys, popular actions' inputs) on a workflow's bytes. Shellcheck and
// pyflakes are left off: they are programs, not part of the library, and
// neither is on every machine that runs these tests.
func lintWorkflow(t *testing.T, content []byte) []*actionlint.Error {
	t.Helper()
	l, err := actionlint.NewLinter(io.Discard, &actionlint.LinterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	errs, err := l.Lint("ci.yml", content, nil)
	if err != nil {
		t.Fatal(err)
	}
	return errs
}

// yaml.v3 reads YAML 1.2, where the key "on" is a string; YAML 1.1 readers
// (sigs.k8s.io/yaml) turn it into true.
type workflow struct {
	On   map[string]any `yaml:"on"`
	Jobs map[string]struct {
		Env   map[string]string `yaml:"env"`
		Steps []struct {
			Name string            `yaml:"name"`
			Uses string            `yaml:"uses"`
			With map[string]string `yaml:"with"`
			Run  string            `yaml:"run"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

// checkWorkflow returns what the CI workflow must do beyond being valid:
// run on pushes and pull requests, take Go from go.mod, start MongoDB 8 as
// the single-node replica set rs0 and wait for its primary, and run
// .ci/run's command with the contract suites pointed at that MongoDB.
func checkWorkflow(content []byte) []string {
	var problems []string
	var w workflow
	if err := yaml.Unmarshal(content, &w); err != nil {
		return []string{err.Error()}
	}
	for _, event := range []string{"push", "pull_request"} {
		if _, ok := w.On[event]; !ok {
			problems = append(problems, "does not run on "+event)
		}
	}
	job, ok := w.Jobs["test"]
	if !ok {
		return append(problems, "no job test")
	}
	const uri = "mongodb://localhost:27017/?replicaSet=rs0&directConnection=true"
	if job.Env["CLAVIS_TEST_MONGODB_URI"] != uri {
		problems = append(problems, "CLAVIS_TEST_MONGODB_URI is "+job.Env["CLAVIS_TEST_MONGODB_URI"]+", want "+uri)
	}
	var goFromMod, mongo, initiate, waits, tests bool
	mongoStep, testStep := -1, -1
	for i, s := range job.Steps {
		if strings.HasPrefix(s.Uses, "actions/setup-go@") && s.With["go-version-file"] == "go.mod" {
			goFromMod = true
		}
		if strings.Contains(s.Run, "mongo:8 ") && strings.Contains(s.Run, "--replSet rs0") {
			mongo, mongoStep = true, i
		}
		if strings.Contains(s.Run, "mongosh") && strings.Contains(s.Run, `rs.initiate({_id: "rs0"`) {
			initiate = true
		}
		if strings.Contains(s.Run, "isWritablePrimary") {
			waits = true
		}
		if strings.TrimSpace(s.Run) == "bash .ci/run" {
			tests, testStep = true, i
		}
	}
	for _, c := range []struct {
		ok   bool
		what string
	}{
		{goFromMod, "Go is not set up from go.mod"},
		{mongo, "no mongo:8 started with --replSet rs0"},
		{initiate, "no rs.initiate of rs0 through mongosh"},
		{waits, "no wait for a writable primary"},
		{tests, "no step runs bash .ci/run"},
		{!tests || !mongo || mongoStep < testStep, "the tests run before MongoDB is started"},
	} {
		if !c.ok {
			problems = append(problems, c.what)
		}
	}
	return problems
}

func TestWorkflowIsValid(t *testing.T) {
	content, err := os.ReadFile(workflowPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range lintWorkflow(t, content) {
		t.Errorf("%s:%d:%d: %s [%s]", workflowPath, e.Line, e.Column, e.Message, e.Kind)
	}
	for _, p := range checkWorkflow(content) {
		t.Errorf("%s: %s", workflowPath, p)
	}
}

// The same checks on broken copies, to show each can fail.
func TestWorkflowChecksCatchBreakage(t *testing.T) {
	content, err := os.ReadFile(workflowPath)
	if err != nil {
		t.Fatal(err)
	}
	good := string(content)
	for _, c := range []struct{ name, old, new string }{
		{"misspelt job key", "runs-on:", "run-on:"},
		{"unknown action input", "go-version-file: go.mod", "go-version-fil: go.mod"},
		{"bad expression", "${{ github.ref }}", "${{ github.nope.ref( }}"},
	} {
		broken := strings.Replace(good, c.old, c.new, 1)
		if broken == good {
			t.Fatalf("%s: %q not found in the workflow", c.name, c.old)
		}
		if errs := lintWorkflow(t, []byte(broken)); len(errs) == 0 {
			t.Errorf("%s: actionlint found nothing", c.name)
		}
	}
	for _, c := range []struct{ name, old, new string }{
		{"no pull requests", "  pull_request:\n", ""},
		{"Go from elsewhere", "go-version-file: go.mod", "go-version: stable"},
		{"no replica set", "--replSet rs0", ""},
		{"wrong URI", "directConnection=true", "directConnection=false"},
		{"tests skipped", "run: bash .ci/run", "run: go build ./..."},
		{"no wait", "isWritablePrimary", "isMaster"},
	} {
		broken := strings.Replace(good, c.old, c.new, 1)
		if broken == good {
			t.Fatalf("%s: %q not found in the workflow", c.name, c.old)
		}
		if len(checkWorkflow([]byte(broken))) == 0 {
			t.Errorf("%s: the check passed a broken workflow", c.name)
		}
	}
}
