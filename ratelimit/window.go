package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// ErrInvalidWindow is wrapped by the errors of ParseWindow.
var ErrInvalidWindow = errors.New("invalid window")

// ParseWindow parses a window as API.md writes it: a positive whole number
// followed by one unit, s (seconds), m (minutes), h (hours) or d (days of 24
// hours), as in "30s", "1m", "1h", "1d"; a bare number counts seconds ("60").
// Zero, signs, spaces, fractions, other units and windows longer than
// time.Duration can hold are refused with an error wrapping ErrInvalidWindow.
func ParseWindow(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("%w: empty", ErrInvalidWindow)
	}
	digits, unit := s, time.Second
	switch s[len(s)-1] {
	case 's':
		digits = s[:len(s)-1]
	case 'm':
		digits, unit = s[:len(s)-1], time.Minute
	case 'h':
		digits, unit = s[:len(s)-1], time.Hour
	case 'd':
		digits, unit = s[:len(s)-1], 24*time.Hour
	}
	if digits == "" {
		return 0, fmt.Errorf("%w: %q has no number", ErrInvalidWindow, s)
	}
	var v int64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: %q is not a whole number followed by s, m, h or d", ErrInvalidWindow, s)
		}
		if v > (math.MaxInt64-int64(c-'0'))/10 {
			return 0, fmt.Errorf("%w: %q is too long", ErrInvalidWindow, s)
		}
		v = v*10 + int64(c-'0')
	}
	if v == 0 {
		return 0, fmt.Errorf("%w: %q is zero", ErrInvalidWindow, s)
	}
	if v > math.MaxInt64/int64(unit) {
		return 0, fmt.Errorf("%w: %q is too long", ErrInvalidWindow, s)
	}
	return time.Duration(v) * unit, nil
}
