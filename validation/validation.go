// Package validation holds the field-level error type shared by every entity:
// one error that names every invalid field, matchable with errors.Is(err, ErrInvalid).
package validation

import (
	"errors"
	"sort"
	"strings"
)

// ErrInvalid is matched (errors.Is) by every *Error.
var ErrInvalid = errors.New("invalid")

// Error lists every invalid field of an object, keyed by the field's JSON path
// (for example "username" or "plugins.key-auth.key"), with the reason.
type Error struct {
	Fields map[string]string
}

// Add records that field is invalid because of why. The first reason given for a
// field is kept.
func (e *Error) Add(field, why string) {
	if e.Fields == nil {
		e.Fields = make(map[string]string)
	}
	if _, ok := e.Fields[field]; !ok {
		e.Fields[field] = why
	}
}

// Merge adds every field of other under prefix (joined with a dot when prefix is
// not empty). A nil or non-validation error is added as the prefix field itself.
func (e *Error) Merge(prefix string, other error) {
	if other == nil {
		return
	}
	var ve *Error
	if errors.As(other, &ve) {
		for f, why := range ve.Fields {
			name := f
			switch {
			case prefix == "":
			case f == "":
				name = prefix
			default:
				name = prefix + "." + f
			}
			e.Add(name, why)
		}
		return
	}
	e.Add(prefix, other.Error())
}

// Err returns e when it names at least one field, and nil otherwise.
func (e *Error) Err() error {
	if e == nil || len(e.Fields) == 0 {
		return nil
	}
	return e
}

// Error lists the invalid fields in a stable order.
func (e *Error) Error() string {
	names := make([]string, 0, len(e.Fields))
	for f := range e.Fields {
		names = append(names, f)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("invalid ")
	for i, f := range names {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f)
		b.WriteString(": ")
		b.WriteString(e.Fields[f])
	}
	return b.String()
}

// Is reports whether target is ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

// Field returns an *Error naming one field.
func Field(field, why string) error {
	e := &Error{}
	e.Add(field, why)
	return e
}
