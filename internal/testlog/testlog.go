// Package testlog holds what the project's tests write logs and program output
// into: a buffer both sides use at once, and a handler that records levels.
package testlog

import (
	"context"
	"log/slog"
	"strings"
	"sync"
)

// Buffer is an io.Writer safe for concurrent use: goroutines of the code
// under test write to it while the test reads it with String. The zero value
// is ready to use.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
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

// Levels is a slog.Handler that records the level of every record at or
// above Min (the zero value: slog.LevelInfo, so debug lines are left out),
// for tests that count what was logged. It is safe for concurrent use.
type Levels struct {
	Min slog.Level

	mu     sync.Mutex
	levels []slog.Level
}

// Enabled reports whether lv is at or above Min.
func (l *Levels) Enabled(_ context.Context, lv slog.Level) bool { return lv >= l.Min }

// Handle records r's level.
func (l *Levels) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.levels = append(l.levels, r.Level)
	return nil
}

// WithAttrs returns l: attributes are not recorded.
func (l *Levels) WithAttrs([]slog.Attr) slog.Handler { return l }

// WithGroup returns l: groups are not recorded.
func (l *Levels) WithGroup(string) slog.Handler { return l }

// Get returns the levels recorded so far, in order.
func (l *Levels) Get() []slog.Level {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]slog.Level(nil), l.levels...)
}
