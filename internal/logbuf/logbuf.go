// Package logbuf batches log lines: a server under load logged every
// request with a write system call of its own, as costly as sending the
// response. Lines wait in memory at most a flush interval (or until 32 KiB
// are pending); warnings and errors go out at once (Urgent), so only info
// and debug lines of the last interval can be lost when the process is
// killed.
package logbuf

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"
)

const maxPending = 32 << 10

// Writer is an io.Writer for a log handler that writes to w in batches.
type Writer struct {
	mu      sync.Mutex
	w       io.Writer
	pending []byte
	err     error
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

// New starts a Writer flushing to w every interval.
func New(w io.Writer, interval time.Duration) *Writer {
	b := &Writer{w: w, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				_ = b.Flush()
			case <-b.stop:
				return
			}
		}
	}()
	return b
}

// Write keeps p (one log record) for the next flush.
func (b *Writer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pending = append(b.pending, p...)
	if len(b.pending) >= maxPending {
		b.flushLocked()
	}
	return len(p), nil
}

// Flush writes what is pending; it returns the first write error seen.
func (b *Writer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.flushLocked()
	return b.err
}

func (b *Writer) flushLocked() {
	if len(b.pending) == 0 {
		return
	}
	if _, err := b.w.Write(b.pending); err != nil && b.err == nil {
		b.err = err
	}
	b.pending = b.pending[:0]
}

// Close stops the timer and flushes.
func (b *Writer) Close() error {
	b.once.Do(func() { close(b.stop); <-b.done })
	return b.Flush()
}

// Urgent wraps h so that records at level or above are flushed from b as
// soon as they are written.
func Urgent(h slog.Handler, b *Writer, level slog.Level) slog.Handler {
	return urgent{Handler: h, b: b, level: level}
}

type urgent struct {
	slog.Handler
	b     *Writer
	level slog.Level
}

func (u urgent) Handle(ctx context.Context, r slog.Record) error {
	err := u.Handler.Handle(ctx, r)
	if r.Level >= u.level {
		if ferr := u.b.Flush(); err == nil {
			err = ferr
		}
	}
	return err
}

func (u urgent) WithAttrs(as []slog.Attr) slog.Handler {
	return urgent{Handler: u.Handler.WithAttrs(as), b: u.b, level: u.level}
}

func (u urgent) WithGroup(name string) slog.Handler {
	return urgent{Handler: u.Handler.WithGroup(name), b: u.b, level: u.level}
}
