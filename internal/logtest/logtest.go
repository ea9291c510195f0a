// Package logtest captures log output in tests.
package logtest

import (
	"bytes"
	"sync"
)

// Buffer collects what a logger writes. Servers under test log from many
// goroutines at once, and tests read it while they do, so it is guarded.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
