package logbuf

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

type countingWriter struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	return c.buf.Write(p)
}

func (c *countingWriter) state() (string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String(), c.writes
}

// Info lines are batched into one write; a warning goes out at once with
// what was pending before it; Close writes the rest.
func TestBatchesInfoFlushesWarnings(t *testing.T) {
	out := &countingWriter{}
	b := New(out, time.Hour)
	log := slog.New(Urgent(slog.NewJSONHandler(b, nil), b, slog.LevelWarn))
	for range 100 {
		log.Info("request", "status", 200)
	}
	if got, n := out.state(); n != 0 || got != "" {
		t.Fatalf("info lines written before a flush: %d writes", n)
	}
	log.Warn("slow")
	got, n := out.state()
	if n != 1 || strings.Count(got, "\n") != 101 || !strings.Contains(got, `"msg":"slow"`) {
		t.Fatalf("after a warning: %d writes, %d lines", n, strings.Count(got, "\n"))
	}
	log.Info("last")
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if got, n := out.state(); n != 2 || !strings.HasSuffix(got, "\"msg\":\"last\"}\n") {
		t.Fatalf("after Close: %d writes, ends %q", n, got[max(0, len(got)-40):])
	}
}

// The timer flushes without a warning.
func TestFlushesEveryInterval(t *testing.T) {
	out := &countingWriter{}
	b := New(out, 10*time.Millisecond)
	defer b.Close()
	slog.New(slog.NewJSONHandler(b, nil)).Info("request")
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if got, _ := out.state(); strings.Contains(got, "request") {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("a pending line was never written")
}
