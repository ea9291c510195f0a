package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Issue 13.3: help in any of its spellings prints the commands and where
// configuration is documented, and exits 0 without starting a server; an
// unknown command exits 2 with the same text.
func TestHelpAndUnknownCommands(t *testing.T) {
	for _, arg := range []string{"help", "-h", "--help"} {
		var out, errOut bytes.Buffer
		code := dispatch(context.Background(), []string{arg}, env(nil), &out, &errOut)
		if code != 0 {
			t.Fatalf("clavis %s: exit %d, stderr %q", arg, code, errOut.String())
		}
		for _, want := range []string{"serve", "seed", "backup", "import-ferretdb", "simulate", "version", "docs/configuration.md"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("clavis %s does not mention %q:\n%s", arg, want, out.String())
			}
		}
	}
	var out, errOut bytes.Buffer
	if code := dispatch(context.Background(), []string{"serv"}, env(nil), &out, &errOut); code != 2 {
		t.Fatalf("unknown command: exit %d, want 2", code)
	}
	if !strings.Contains(errOut.String(), `unknown command "serv"`) || !strings.Contains(errOut.String(), "Usage:") {
		t.Fatalf("unknown command: stderr %q", errOut.String())
	}
	out.Reset()
	if code := dispatch(context.Background(), []string{"version"}, env(nil), &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "clavis ") {
		t.Fatalf("version: exit %d, %q", code, out.String())
	}
}
