package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clavis-app/clavis/auth"
)

// The binary is built once per test run, into a directory TestMain removes.
var (
	buildOnce sync.Once
	buildDir  string
	builtBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// clavisBin builds the module's main package (once) and returns its path.
func clavisBin(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := filepath.Abs("..")
		if err != nil {
			buildErr = err
			return
		}
		if buildDir, buildErr = os.MkdirTemp("", "clavis-e2e-bin-"); buildErr != nil {
			return
		}
		builtBin = filepath.Join(buildDir, "clavis")
		cmd := exec.Command("go", "build", "-o", builtBin, ".")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Accounts every test's servers bootstrap or register.
const (
	adminEmail    = "admin@e2e.clavis.test"
	adminPassword = "admin-password-e2e"
	userPassword  = "e2e-password-123"
)

// baseEnv is the configuration every test's servers share: one signing key
// file (so that any server accepts another's tokens), the bootstrap admin,
// a quick shutdown. extra comes last and wins.
func baseEnv(t testing.TB, dir string, extra ...string) []string {
	t.Helper()
	keyFile := filepath.Join(dir, "jwt.pem")
	if _, err := os.Stat(keyFile); err != nil {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pemKey, err := auth.MarshalPrivateKeyPEM(priv)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyFile, pemKey, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return append([]string{
		"CLAVIS_JWT_KEY_FILE=" + keyFile,
		"CLAVIS_ADMIN_EMAIL=" + adminEmail,
		"CLAVIS_ADMIN_PASSWORD=" + adminPassword,
		"CLAVIS_SHUTDOWN_TIMEOUT=3s",
		"LOG_LEVEL=info",
	}, extra...)
}

// childEnv is this process's environment without any setting clavis reads,
// so that a developer's own configuration cannot leak into the test.
func childEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "CLAVIS_"), name == "MONGODB_URI", name == "PORT", name == "LOG_LEVEL",
			name == "GOOGLE_APPLICATION_CREDENTIALS":
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// runClavis runs the binary to completion (a subcommand, or a server start
// that must fail) and returns its exit code, stdout and stderr.
func runClavis(t testing.TB, dir string, env []string, args ...string) (int, string, string) {
	t.Helper()
	return runCommand(t, dir, env, clavisBin(t), args...)
}

func runCommand(t testing.TB, dir string, env []string, name string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = childEnv(append(env, "PORT="+strconv.Itoa(freePort(t))))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %v did not finish within 60 s (a server that should have refused to start?)\nstderr:\n%s", name, args, stderr.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %s %v: %v", name, args, err)
	}
	return code, stdout.String(), stderr.String()
}

type server struct {
	name string
	base string
	cmd  *exec.Cmd
	log  *lockedBuffer
	done chan error
}

func startServer(t testing.TB, dir, name string, env []string) *server {
	t.Helper()
	port := freePort(t)
	s := &server{name: name, base: "http://127.0.0.1:" + strconv.Itoa(port), log: &lockedBuffer{}, done: make(chan error, 1)}
	s.cmd = exec.Command(clavisBin(t))
	s.cmd.Dir = dir
	s.cmd.Env = childEnv(append(env, "PORT="+strconv.Itoa(port)))
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { s.done <- s.cmd.Wait() }()
	return s
}

func (s *server) waitReady(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			s.done <- err
			t.Fatalf("%s exited before it was ready: %v\n%s", s.name, err, s.logs())
		default:
		}
		resp, err := http.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s not ready after 30 s:\n%s", s.name, s.logs())
}

// stop sends SIGTERM, as Kubernetes does, and checks the server shut down
// cleanly. Stopping a stopped (or killed) server does nothing.
func (s *server) stop(t testing.TB) {
	select {
	case err := <-s.done:
		s.done <- err
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			t.Errorf("%s exited with %v after SIGTERM:\n%s", s.name, err, s.logs())
		}
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		s.done <- <-s.done
		t.Errorf("%s did not stop within 20 s of SIGTERM:\n%s", s.name, s.logs())
	}
}

// kill sends SIGKILL: no shutdown code runs, as in an OOM kill or power-off
// of the container (the kernel keeps what was written to the files).
func (s *server) kill(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s: %v", s.name, err)
	}
	err := <-s.done
	s.done <- err
	if ee, ok := err.(*exec.ExitError); !ok || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("%s: want death by SIGKILL, got %v", s.name, err)
	}
}

func (s *server) logs() string { return s.log.String() }

// client allows as many idle connections as the load has goroutines.
var client = &http.Client{Transport: &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 128}}

// do sends a JSON request and returns the status and body; err is a
// transport error (no answer, e.g. the server was killed).
func (s *server) do(method, path, token string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, raw, nil
}

// call is do that fails the test unless the status is want, decoding the
// answer into out.
func (s *server) call(t testing.TB, method, path, token string, body any, want int, out any) {
	t.Helper()
	status, raw, err := s.do(method, path, token, body)
	if err != nil {
		t.Fatalf("%s %s %s: %v", s.name, method, path, err)
	}
	if status != want {
		t.Fatalf("%s %s %s: status %d, want %d: %s", s.name, method, path, status, want, raw)
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s %s: %v: %s", s.name, method, path, err, raw)
		}
	}
}

func (s *server) login(t testing.TB, email, password string) string {
	t.Helper()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	s.call(t, "POST", "/v1/auth/login", "", map[string]any{"email": email, "password": password}, 200, &tok)
	if tok.AccessToken == "" {
		t.Fatalf("%s: login of %s gave no access token", s.name, email)
	}
	return tok.AccessToken
}

var pushSentLine = regexp.MustCompile(`^clavis_push_sent_total\{type="([^"]+)"\} (\S+)$`)

// pushSent summarises this server's clavis_push_sent_total by type.
func (s *server) pushSent() map[string]string {
	out := map[string]string{}
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if m := pushSentLine.FindStringSubmatch(sc.Text()); m != nil {
			out[m[1]] = m[2]
		}
	}
	return out
}

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
