package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docVariables returns the variables named in the first column of the
// table in docs/configuration.md ("| `NAME`, `OTHER` | default | meaning |").
func docVariables(text string) []string {
	code := regexp.MustCompile("`([A-Z][A-Z0-9_]*)`")
	var names []string
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		first := strings.SplitN(line[1:], "|", 2)[0]
		for _, m := range code.FindAllStringSubmatch(first, -1) {
			names = append(names, m[1])
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// readVariables returns every variable loadConfig asks the environment for.
func readVariables() []string {
	var names []string
	_, _ = loadConfig(func(k string) string { names = append(names, k); return "" })
	slices.Sort(names)
	return slices.Compact(names)
}

// The configuration page lists exactly the variables the server reads: a
// new setting without a row, or a row for a setting that is gone, fails.
func TestConfigurationDocumented(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	documented, read := docVariables(string(b)), readVariables()
	if len(read) < 15 {
		t.Fatalf("loadConfig asked for only %v", read)
	}
	for _, name := range read {
		if !slices.Contains(documented, name) {
			t.Errorf("%s is read by config.go but not in docs/configuration.md's table", name)
		}
	}
	for _, name := range documented {
		if !slices.Contains(read, name) {
			t.Errorf("%s is in docs/configuration.md's table but config.go does not read it", name)
		}
	}
	// The check itself: a row more or less is noticed.
	if got := docVariables("| `PORT` | 1 | x |\n| `A_B`, `C` | | |\n| not | `D` |\n"); !slices.Equal(got, []string{"A_B", "C", "PORT"}) {
		t.Fatalf("docVariables = %v", got)
	}
}
