// Package testlog holds what the project's tests write logs and program output
// into: a buffer that the code under test and the test can use at once.
package testlog

import (
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
