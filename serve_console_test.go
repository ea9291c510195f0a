package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The binary serves the console beside the API: its pages with their
// security headers, its vendored htmx, and the API's 404 for the rest.
func TestServeMountsTheConsole(t *testing.T) {
	port := freePort(t)
	vars := map[string]string{"PORT": strconv.Itoa(port), "CLAVIS_LISTEN_ADDR": "127.0.0.1",
		"CLAVIS_DATA_DIR": filepath.Join(t.TempDir(), "data"), "LOG_LEVEL": "warn"}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- dispatch(ctx, []string{"serve"}, env(vars), io.Discard, io.Discard) }()
	defer func() { cancel(); <-done }()
	waitReady(t, base, done)
	get := func(path string) (*http.Response, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := get("/console/login")
	if resp.StatusCode != 200 || !strings.Contains(body, `action="/console/login"`) ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Fatalf("login page: %d %v", resp.StatusCode, resp.Header)
	}
	if resp, body := get("/console/static/htmx.min.js"); resp.StatusCode != 200 || !strings.Contains(body, "htmx") {
		t.Fatalf("htmx: %d", resp.StatusCode)
	}
	if resp, _ := get("/console/today"); resp.Request.URL.Path != "/console/login" {
		t.Fatalf("signed out, Today went to %s", resp.Request.URL)
	}
	if resp, body := get("/v1/nothing"); resp.StatusCode != 404 || !strings.Contains(resp.Header.Get("Content-Type"), "problem+json") {
		t.Fatalf("API 404: %d %s", resp.StatusCode, body)
	}
}
