package deploy_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

const dockerfile = "Dockerfile"

// runtimeBases are the runtime images allowed for the last stage: no shell,
// no package manager, no libc.
var runtimeBases = []string{"gcr.io/distroless/static-debian12:nonroot", "gcr.io/distroless/static-debian12", "scratch"}

// validateDockerfile parses the Dockerfile with BuildKit's own parser and
// instruction decoder (with its linter on) and checks the image it describes:
// a Go build stage on go.mod's Go version making a static, versioned binary,
// and a minimal runtime stage that runs it as a non-root user, with no
// HEALTHCHECK.
func validateDockerfile(content []byte, goVersion string, rules k8sRules) error {
	res, err := parser.Parse(bytes.NewReader(content))
	if err != nil {
		return err
	}
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	for _, w := range res.Warnings {
		fail("parser: %s", w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, loc []parser.Range) {
		line := 0
		if len(loc) > 0 {
			line = loc[0].Start.Line
		}
		fail("lint %s (line %d): %s", rule, line, msg)
	}})
	stages, metaArgs, err := instructions.Parse(res.AST, lint)
	if err != nil {
		return err
	}
	if len(stages) < 2 {
		fail("want a build stage and a runtime stage, have %d stage(s)", len(stages))
		return errors.New(strings.Join(errs, "\n"))
	}
	meta := map[string]string{}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			meta[kv.Key] = kv.ValueString()
		}
	}
	expand := func(s string) string {
		return os.Expand(s, func(k string) string { return meta[k] })
	}

	build := stages[0]
	for _, st := range stages {
		for _, cmd := range st.Commands {
			if _, ok := cmd.(*instructions.HealthCheckCommand); ok {
				fail("stage %q has a HEALTHCHECK; Kubernetes probes /healthz and /readyz", st.Name)
			}
			if e, ok := cmd.(*instructions.EnvCommand); ok && st.Name != build.Name {
				for _, kv := range e.Env {
					if !rules.variables[kv.Key] && !goRuntimeVariables[kv.Key] {
						fail("ENV %s is not a variable Clavis reads", kv.Key)
					}
				}
			}
			if a, ok := cmd.(*instructions.ArgCommand); ok {
				for _, kv := range a.Args {
					if regexp.MustCompile(`(?i)secret|password|token|key`).MatchString(kv.Key) {
						fail("ARG %s would leave a secret in the image history", kv.Key)
					}
				}
			}
		}
	}

	// The build stage: golang at go.mod's version, CGO off, version stamped.
	if base := expand(build.BaseName); !strings.HasPrefix(base, "golang:"+goVersion) {
		fail("build stage base %s, want golang:%s (go.mod's go line)", base, goVersion)
	}
	var buildRun *instructions.RunCommand
	var stageArgs []string
	for _, cmd := range build.Commands {
		switch c := cmd.(type) {
		case *instructions.ArgCommand:
			for _, kv := range c.Args {
				stageArgs = append(stageArgs, kv.Key)
			}
		case *instructions.RunCommand:
			if strings.Contains(strings.Join(c.CmdLine, " "), "go build") {
				buildRun = c
			}
		}
	}
	var output string
	if buildRun == nil {
		fail("build stage has no RUN with go build")
	} else {
		line := strings.Join(buildRun.CmdLine, " ")
		for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.version=${VERSION}"} {
			if !strings.Contains(line, want) {
				fail("go build line lacks %s: %s", want, line)
			}
		}
		if !slices.Contains(stageArgs, "VERSION") {
			fail("build stage has no ARG VERSION, so ${VERSION} is empty in go build")
		}
		if m := regexp.MustCompile(`-o\s+(\S+)`).FindStringSubmatch(line); m != nil {
			output = m[1]
		} else {
			fail("go build has no -o output path")
		}
	}

	// The runtime stage.
	final := stages[len(stages)-1]
	if !slices.Contains(runtimeBases, expand(final.BaseName)) {
		fail("runtime stage base %s, want one of %v", final.BaseName, runtimeBases)
	}
	var user string
	var entry []string
	var exposed []string
	var binary string
	for _, cmd := range final.Commands {
		switch c := cmd.(type) {
		case *instructions.UserCommand:
			user = c.User
		case *instructions.EntrypointCommand:
			if c.PrependShell {
				fail("ENTRYPOINT in shell form; the runtime image has no shell")
			}
			entry = c.CmdLine
		case *instructions.ExposeCommand:
			exposed = append(exposed, c.Ports...)
		case *instructions.CopyCommand:
			if c.From == build.Name && slices.Contains(c.SourcePaths, output) {
				binary = c.DestPath
			}
		case *instructions.RunCommand:
			fail("RUN in the runtime stage; it has no shell")
		}
	}
	if binary == "" {
		fail("runtime stage does not copy the binary %q from stage %q", output, build.Name)
	}
	uid, _, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		fail("runtime USER %q, want a numeric non-root uid (Kubernetes' runAsNonRoot can only verify a number)", user)
	}
	if len(entry) == 0 || binary != "" && entry[0] != binary {
		fail("ENTRYPOINT %q does not run the binary copied to %s", entry, binary)
	}
	if !slices.Contains(exposed, strconv.Itoa(httpPortNum)) {
		fail("runtime stage does not EXPOSE %d", httpPortNum)
	}
	if len(errs) == 0 {
		return nil
	}
	return errors.New(strings.Join(errs, "\n"))
}

// goModVersion reads the go line of go.mod.
func goModVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go ([0-9.]+)\s*$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	return string(m[1])
}

func TestDockerfile(t *testing.T) {
	content, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	if err := validateDockerfile(content, goModVersion(t), k8sTestRules(t)); err != nil {
		t.Fatal(err)
	}
}

// TestDockerfileValidatorCatchesMistakes feeds broken copies of the
// Dockerfile to the same validator.
func TestDockerfileValidatorCatchesMistakes(t *testing.T) {
	content, err := os.ReadFile(dockerfile)
	if err != nil {
		t.Fatal(err)
	}
	goVersion := goModVersion(t)
	rules := k8sTestRules(t)
	cases := []struct{ name, old, new, want string }{
		{"runs as root", "USER 65532:65532", "USER root", "numeric non-root uid"},
		{"no user", "USER 65532:65532\n", "", "numeric non-root uid"},
		{"healthcheck", "EXPOSE 8080", "EXPOSE 8080\nHEALTHCHECK CMD [\"/usr/local/bin/clavis\", \"version\"]", "HEALTHCHECK"},
		{"cgo on", "CGO_ENABLED=0", "CGO_ENABLED=1", "CGO_ENABLED=0"},
		{"version not stamped", "ARG VERSION=dev\n# Static", "# Static", "ARG VERSION"},
		{"one stage", "FROM golang:${GO_VERSION} AS build", "FROM golang:${GO_VERSION}", "copy the binary"},
		{"go version drift", "ARG GO_VERSION=" + goVersion, "ARG GO_VERSION=1.20", "go.mod's go line"},
		{"full base image", "FROM gcr.io/distroless/static-debian12:nonroot", "FROM debian:12", "runtime stage base"},
		{"shell entrypoint", `ENTRYPOINT ["/usr/local/bin/clavis"]`, `ENTRYPOINT /usr/local/bin/clavis`, "shell form"},
		{"casing (linter)", "FROM golang:${GO_VERSION} AS build", "FROM golang:${GO_VERSION} as build", "FromAsCasing"},
		{"unknown instruction", "EXPOSE 8080", "EXPOSES 8080", "unknown instruction"},
		{"unknown variable", "ENV CLAVIS_DATA_DIR=/data", "ENV CLAVIS_DATADIR=/data", "CLAVIS_DATADIR is not a variable"},
		{"secret build arg", "ARG VERSION=dev\n# Static", "ARG VERSION=dev\nARG SIGNING_KEY\n# Static", "SIGNING_KEY"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := validateDockerfile([]byte(mutate(t, string(content), tc.old, tc.new)), goVersion, rules)
			if err == nil {
				t.Fatalf("the validator accepted %s", tc.name)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error does not mention %q:\n%v", tc.want, err)
			}
			t.Logf("rejected as expected:\n%v", err)
		})
	}
}

// TestDockerIgnoreKeepsSources reads .dockerignore with BuildKit's matcher:
// everything `go build .` needs stays in the build context (sources,
// go.mod/go.sum, embedded files), and the repository's history, local data
// and deployment files stay out.
func TestDockerIgnoreKeepsSources(t *testing.T) {
	f, err := os.Open(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		t.Fatal(err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	ignored := func(rel string) bool {
		ok, err := pm.MatchesOrParentMatches(filepath.ToSlash(rel))
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	for _, out := range []string{".git/HEAD", "data/clavis.db", "data/clavis.sqlite", "deploy/compose.yaml", "deploy/k8s/base/deployment.yaml"} {
		if !ignored(out) {
			t.Errorf(".dockerignore sends %s to the build", out)
		}
	}
	kept := 0
	err = filepath.WalkDir(repoRoot, func(p string, d os.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed while we walked (someone else's scratch file)
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(repoRoot, p)
		if d.IsDir() {
			switch rel {
			case ".git", "data", "deploy", ".ci":
				return filepath.SkipDir
			}
			return nil
		}
		// Sources, module files and anything a package embeds.
		if strings.HasSuffix(rel, ".go") || rel == "go.mod" || rel == "go.sum" || strings.Contains(rel, string(filepath.Separator)) {
			if ignored(rel) {
				t.Errorf(".dockerignore leaves %s out of the build", rel)
			}
			kept++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if kept < 5 {
		t.Fatalf("only %d source files seen; is repoRoot right?", kept)
	}
}
