package ids

import (
	"regexp"
	"testing"
)

func TestNewIsRandomAndWellFormed(t *testing.T) {
	shape := regexp.MustCompile(`^[0-9a-f]{32}$`)
	seen := map[string]bool{}
	prev := ""
	for i := 0; i < 10000; i++ {
		id := New()
		if !shape.MatchString(id) {
			t.Fatalf("id %q is not 32 hex digits", id)
		}
		if seen[id] {
			t.Fatalf("id %q repeated", id)
		}
		seen[id] = true
		// Two ids made in a row share no long prefix (an ObjectID made in the
		// same second shares its first 16 digits).
		if prev != "" && id[:8] == prev[:8] {
			t.Fatalf("consecutive ids %q and %q share their first 8 digits", prev, id)
		}
		prev = id
	}
}
