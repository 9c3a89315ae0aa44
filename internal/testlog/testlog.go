// Package testlog holds what the project's tests write logs and program output
// into: a buffer both sides use at once, a debug-level logger, and a handler
// that records levels. With GATEHOUSE_TEST_LOG_FILE set, everything written
// through New and Buffer is also appended to that file, for internal/logcheck.
package testlog

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
)

// EnvFile names the environment variable that names a file every logger
// made by New, and every Buffer, also appends what it is given to: the whole
// suite's logs in one place, which internal/logcheck searches for the
// secrets the tests use (.ci/run sets it).
const EnvFile = "GATEHOUSE_TEST_LOG_FILE"

var (
	fileOnce sync.Once
	file     io.Writer // nil when EnvFile is unset
	fileMu   sync.Mutex
)

// suiteFile returns the file named by EnvFile, opened once per test binary
// for appending (several test binaries append to it at once: each write is
// one O_APPEND write), or nil.
func suiteFile() io.Writer {
	fileOnce.Do(func() {
		name := os.Getenv(EnvFile)
		if name == "" {
			return
		}
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			panic("testlog: " + EnvFile + ": " + err.Error())
		}
		file = f
	})
	return file
}

// teeWriter writes to w and to the suite's file.
type teeWriter struct{ w io.Writer }

func (t teeWriter) Write(p []byte) (int, error) {
	if f := suiteFile(); f != nil {
		fileMu.Lock()
		_, _ = f.Write(p)
		fileMu.Unlock()
	}
	return t.w.Write(p)
}

// New returns a logger that writes text records at debug level and above to
// w (io.Discard to keep none), and to the suite's file when EnvFile is set.
// Debug level, so that the tests run the code that logs refusal reasons, and
// the suite's file shows whether any of it writes a secret.
func New(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(teeWriter{w}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Buffer is an io.Writer safe for concurrent use: goroutines of the code
// under test write to it while the test reads it with String. The zero value
// is ready to use.
type Buffer struct {
	mu sync.Mutex
	b  strings.Builder
}

// Write appends p (and appends it to the suite's file when EnvFile is set).
func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := suiteFile(); f != nil {
		fileMu.Lock()
		_, _ = f.Write(p)
		fileMu.Unlock()
	}
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
