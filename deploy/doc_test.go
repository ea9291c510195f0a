// The checks here run on the real files and on deliberately broken copies,
// to show each one can fail.

package deploy_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// repoRoot is the module root, seen from this package's folder (go test runs
// each package in its own directory).
const repoRoot = ".."

var envName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// clavisVariables returns every environment variable the server reads: the
// names passed as the first argument of a call in the main package (str,
// integer, duration, getenv, ...), so a variable added to main.go is known
// here without a list to keep in step.
func clavisVariables(t *testing.T) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && envName.MatchString(s) {
					names[s] = true
				}
			}
			return true
		})
	}
	// A sanity floor: if main.go changes shape so that nothing is found, say
	// so instead of letting every ConfigMap key look unknown (or known).
	for _, must := range []string{"PORT", "MONGODB_URI", "LOG_LEVEL", "CLAVIS_JWT_KEY_FILE"} {
		if !names[must] {
			t.Fatalf("main package: did not find the configuration variable %s; found %v", must, sortedKeys(names))
		}
	}
	return names
}

// documentedVariables returns the variables named in the first column of
// the table in docs/configuration.md ("| `NAME`, `OTHER` | default | meaning |").
func documentedVariables(t *testing.T) map[string]bool {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(repoRoot, "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	code := regexp.MustCompile("`([A-Z][A-Z0-9_]*)`")
	for _, line := range strings.Split(string(readme), "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		first := strings.SplitN(line[1:], "|", 2)[0]
		for _, m := range code.FindAllStringSubmatch(first, -1) {
			names[m[1]] = true
		}
	}
	if !names["PORT"] || !names["MONGODB_URI"] {
		t.Fatalf("docs/configuration.md: could not read the configuration table (found %v)", sortedKeys(names))
	}
	return names
}

// goRuntimeVariables are read by the Go runtime, not by Clavis, and may be
// set on the container.
var goRuntimeVariables = map[string]bool{"GOMEMLIMIT": true, "GOMAXPROCS": true, "GOGC": true}

// secretVariables must never be written into a manifest as a plain value.
var secretVariables = []string{"MONGODB_URI", "CLAVIS_ADMIN_PASSWORD"}

// literalSecret matches text that looks like a committed secret: a PEM
// block, a service-account key, or a URI with a password.
var literalSecret = regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----|"private_key"\s*:|[a-z+]+://[^/\s:@]+:[^@\s/]+@`)

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// mutate returns text with old replaced by new once, failing the test if old
// is absent (so a mutation that no longer applies is noticed, not skipped).
func mutate(t *testing.T, text, old, new string) string {
	t.Helper()
	if !strings.Contains(text, old) {
		t.Fatalf("mutation target %q not found", old)
	}
	return strings.Replace(text, old, new, 1)
}

// TestNoLiteralSecrets reads every deployment file as text: a key, password
// or credentialed URI must never be committed.
func TestNoLiteralSecrets(t *testing.T) {
	n := 0
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".go") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		if m := literalSecret.Find(b); m != nil {
			t.Errorf("%s: looks like a committed secret: %q", path, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("read only %d deployment files; expected the Dockerfile, compose.yaml and the k8s folder", n)
	}
	if literalSecret.FindString("MONGODB_URI=mongodb://clavis:hunter2@db:27017/") == "" {
		t.Fatal("the secret pattern misses a credentialed MongoDB URI")
	}
}
