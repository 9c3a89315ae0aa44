package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gatehousehq/gatehouse/validation"
)

// Problem is one invalid field of a file.
type Problem struct {
	// Path names the field: "consumers[2].username",
	// "routes[0].plugins.key-auth"; "" for the file as a whole.
	Path string
	// Message says why, without quoting secret values.
	Message string
}

// String returns "path: message".
func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// ValidationError lists every problem of a file, in file order. Parse,
// Validate and Apply return it (Apply then writes nothing); match it with
// errors.As, or errors.Is(err, validation.ErrInvalid).
type ValidationError struct {
	Problems []Problem
}

// Error lists the problems, one per line after the first.
func (e *ValidationError) Error() string {
	var b strings.Builder
	if len(e.Problems) == 1 {
		b.WriteString("config: invalid: ")
		b.WriteString(e.Problems[0].String())
		return b.String()
	}
	fmt.Fprintf(&b, "config: %d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Is reports whether target is validation.ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == validation.ErrInvalid }

// problems collects Problems in order.
type problems struct{ list []Problem }

func (p *problems) add(path, why string) {
	pr := Problem{Path: path, Message: why}
	if !slices.Contains(p.list, pr) {
		p.list = append(p.list, pr)
	}
}

// merge adds every field of err (a *validation.Error, or any error) under
// path, fields in name order.
func (p *problems) merge(path string, err error) {
	if err == nil {
		return
	}
	var e validation.Error
	e.Merge(path, err)
	for _, f := range sortedKeys(e.Fields) {
		p.add(f, e.Fields[f])
	}
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &ValidationError{Problems: p.list}
}

// ApplyError is returned by Apply when a write failed after validation
// passed (the store refused it, or could not be reached): Applied counts the
// writes that were made before it, which stay; Op names the write that
// failed. Apply the file again once the cause is fixed: what was applied is
// then unchanged.
type ApplyError struct {
	// Applied counts the writes made before the failure.
	Applied Result
	// Op is the failed write, such as `create credential "main" of consumer "alice"`.
	Op string
	// Err is the store's error.
	Err error
}

// Error says what failed and what had been applied.
func (e *ApplyError) Error() string {
	return fmt.Sprintf("config: %s failed after %d of the file's changes were applied (%s): %v",
		e.Op, e.Applied.Changes(), e.Applied.String(), e.Err)
}

// Unwrap returns the store's error.
func (e *ApplyError) Unwrap() error { return e.Err }
