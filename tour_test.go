package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The tour (docs/tour.md) is run as written, so that it cannot drift from
// the server: its `go run . ARGS` lines run `clavis ARGS` in this process
// (the server on a real listener, the seed on the same data directory), and
// every other sh block runs, in order, in one `sh` with BASE set, through
// the real curl and jq a reader uses. Each curl must answer one of the
// statuses its line names after "→".
//
// Why curl and not a Go client parsing the curl lines: the tour's value is
// that a reader can paste it, and that includes the shell around curl
// (quoting, $(...), heredocs, jq filters); only a real shell checks that.
// Both tools are on the development machines and on GitHub's runners; a
// machine without them skips the test, except in CI, where it fails.

type tourCurl struct {
	line string // the command as written, continuation lines joined
	want []int
}

type tourDoc struct {
	commands [][]string // `go run . ARGS` lines: the ARGS
	script   string     // every other sh block, in order
	curls    []tourCurl
}

var (
	tourFence  = regexp.MustCompile("(?ms)^```sh\n(.*?)^```")
	tourWant   = regexp.MustCompile(`#\s*→(.*)$`)
	tourStatus = regexp.MustCompile(`\b[1-5][0-9][0-9]\b`)
	curlCall   = regexp.MustCompile(`(^|[\s($|;&])curl\s`)
)

// parseTour reads the sh blocks of the tour.
func parseTour(text string) (tourDoc, error) {
	var d tourDoc
	var script strings.Builder
	for _, m := range tourFence.FindAllStringSubmatch(text, -1) {
		block := m[1]
		if strings.HasPrefix(strings.TrimSpace(block), "go run .") {
			for _, line := range strings.Split(strings.TrimSpace(block), "\n") {
				cmd, _, _ := strings.Cut(line, "#")
				f := strings.Fields(cmd)
				if len(f) < 3 || f[0] != "go" || f[1] != "run" || f[2] != "." {
					return d, fmt.Errorf("a block starting with `go run .` may hold only such lines: %q", line)
				}
				d.commands = append(d.commands, f[3:])
			}
			continue
		}
		script.WriteString(block)
		script.WriteString("\n")
		logical := ""
		for _, line := range strings.Split(block, "\n") {
			if strings.HasSuffix(line, `\`) {
				logical += strings.TrimSuffix(line, `\`) + " "
				continue
			}
			logical += line
			if n := len(curlCall.FindAllString(logical, -1)); n > 0 {
				w := tourWant.FindStringSubmatch(logical)
				if n > 1 || w == nil {
					return d, fmt.Errorf("each curl command needs its own line ending in `# → STATUS`: %q", logical)
				}
				c := tourCurl{line: strings.Join(strings.Fields(logical), " ")}
				for _, s := range tourStatus.FindAllString(w[1], -1) {
					n, _ := strconv.Atoi(s)
					c.want = append(c.want, n)
				}
				if len(c.want) == 0 {
					return d, fmt.Errorf("no status after → in %q", logical)
				}
				d.curls = append(d.curls, c)
			}
			logical = ""
		}
	}
	d.script = script.String()
	if len(d.commands) == 0 || len(d.curls) == 0 {
		return d, fmt.Errorf("found %d `go run .` lines and %d curl commands; the tour needs both", len(d.commands), len(d.curls))
	}
	return d, nil
}

func TestParseTourNeedsAStatusPerCurl(t *testing.T) {
	good := "```sh\ngo run .\n```\n```sh\ncurl -sS \"$BASE/readyz\" \\\n  -H 'A: b'   # → 200\n```\n"
	d, err := parseTour(good)
	if err != nil || len(d.curls) != 1 || d.curls[0].want[0] != 200 || len(d.commands) != 1 {
		t.Fatalf("parseTour(good) = %+v, %v", d, err)
	}
	for _, bad := range []string{
		"```sh\ngo run .\n```\n```sh\ncurl -sS \"$BASE/readyz\"\n```\n",               // no status
		"```sh\ngo run .\n```\n```sh\ncurl -sS a # → 200\ncurl -sS b\n```\n",          // one of two
		"```sh\ngo run .\n```\n```sh\nX=$(curl -sS a) && curl -sS b   # → 200\n```\n", // two on one line
		"```sh\ngo run .\necho hi\n```\n```sh\ncurl -sS a # → 200\n```\n",             // stray line among go run
		"```sh\ncurl -sS a # → 200\n```\n",                                            // no server
	} {
		if _, err := parseTour(bad); err == nil {
			t.Errorf("parseTour accepted:\n%s", bad)
		}
	}
}

func TestTourInDocs(t *testing.T) {
	for _, tool := range []string{"sh", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("the tour needs %s, which CI must have: %v", tool, err)
			}
			t.Skipf("the tour needs %s: %v", tool, err)
		}
	}
	text, err := os.ReadFile(filepath.Join("docs", "tour.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := parseTour(string(text))
	if err != nil {
		t.Fatalf("docs/tour.md: %v", err)
	}

	dir := t.TempDir()
	port := freePort(t)
	vars := map[string]string{"PORT": strconv.Itoa(port), "CLAVIS_LISTEN_ADDR": "127.0.0.1",
		"CLAVIS_DATA_DIR": filepath.Join(dir, "data"), "LOG_LEVEL": "warn"}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	serverLog, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer serverLog.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var servers []chan int
	for _, args := range doc.commands {
		if len(args) == 0 || args[0] == "serve" {
			done := make(chan int, 1)
			go func() { done <- dispatch(ctx, args, env(vars), serverLog, serverLog) }()
			servers = append(servers, done)
			waitReady(t, base, done)
			continue
		}
		var out, errOut bytes.Buffer
		if code := dispatch(ctx, args, env(vars), &out, &errOut); code != 0 {
			t.Fatalf("go run . %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errOut.String())
		}
		t.Logf("go run . %s:\n%s", strings.Join(args, " "), out.String())
	}
	if len(servers) != 1 {
		t.Fatalf("the tour starts %d servers, want 1", len(servers))
	}

	// The wrapper reports each curl's status on stderr, in order; the body
	// still goes where the tour sends it.
	prelude := `curl() { command curl -w '%{stderr}@@status %{http_code}\n' "$@"; }` + "\n"
	sh := exec.CommandContext(ctx, "sh", "-c", prelude+doc.script)
	sh.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "BASE=" + base, "LC_ALL=C.UTF-8"}
	var stdout, stderr bytes.Buffer
	sh.Stdout, sh.Stderr = &stdout, &stderr
	runErr := sh.Run()
	t.Logf("the tour's output:\n%s", stdout.String())

	var got []int
	var other []string
	for _, line := range strings.Split(stderr.String(), "\n") {
		if s, ok := strings.CutPrefix(line, "@@status "); ok {
			n, _ := strconv.Atoi(s)
			got = append(got, n)
		} else if strings.TrimSpace(line) != "" {
			other = append(other, line)
		}
	}
	if runErr != nil || len(other) > 0 {
		t.Errorf("the tour's shell: %v\n%s", runErr, strings.Join(other, "\n"))
	}
	for i, c := range doc.curls {
		if i >= len(got) {
			t.Errorf("curl %d never ran (%d of %d ran): %s", i+1, len(got), len(doc.curls), c.line)
			continue
		}
		ok := false
		for _, w := range c.want {
			ok = ok || got[i] == w
		}
		mark := "ok"
		if !ok {
			mark = "WRONG"
			t.Errorf("curl %d answered %d, the tour says %v: %s", i+1, got[i], c.want, c.line)
		}
		t.Logf("%-5s %d (tour: %v) %s", mark, got[i], c.want, c.line)
	}
	if len(got) > len(doc.curls) {
		t.Errorf("%d curl calls ran, the tour annotates %d", len(got), len(doc.curls))
	}

	cancel()
	select {
	case code := <-servers[0]:
		if code != 0 {
			b, _ := os.ReadFile(serverLog.Name())
			t.Errorf("the server exited %d:\n%s", code, b)
		}
	case <-time.After(30 * time.Second):
		t.Error("the server did not stop within 30 s of its context ending")
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitReady polls /readyz until the server answers 200.
func waitReady(t *testing.T, base string, done <-chan int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case code := <-done:
			t.Fatalf("the server exited %d before it was ready", code)
		default:
		}
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the server was not ready within 60 s")
}

// tourCommands returns the shell commands of the sh blocks in text,
// continuation lines joined, "# →" annotations and spacing left out.
func tourCommands(text string) []string {
	var out []string
	for _, m := range tourFence.FindAllStringSubmatch(text, -1) {
		logical := ""
		for _, line := range strings.Split(m[1], "\n") {
			if strings.HasSuffix(line, `\`) {
				logical += strings.TrimSuffix(line, `\`) + " "
				continue
			}
			logical += line
			if i := strings.Index(logical, "# →"); i >= 0 {
				logical = logical[:i]
			}
			if cmd := strings.Join(strings.Fields(logical), " "); cmd != "" {
				out = append(out, cmd)
			}
			logical = ""
		}
	}
	return out
}

// The README's first steps of the tour are the tour's own lines, so that
// they are tested with it.
func TestReadmeTourStepsAreTheTours(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	tour, err := os.ReadFile(filepath.Join("docs", "tour.md"))
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, c := range tourCommands(string(tour)) {
		known[c] = true
	}
	n := 0
	for _, c := range tourCommands(string(readme)) {
		if strings.HasPrefix(c, "go ") {
			continue // go run . and go test ./...: the tour's server lines are run by TestTourInDocs
		}
		n++
		if !known[c] {
			t.Errorf("README.md runs a command docs/tour.md does not (so no test runs it): %s", c)
		}
	}
	if n < 3 {
		t.Fatalf("found %d tour commands in README.md, want its first steps of the tour", n)
	}
}
