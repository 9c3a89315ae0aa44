// Package ratelimit defines the Limiter every rate-limiting back-end implements and its Decision;
// back-ends: ratelimit/memory (in process), ratelimit/redislimiter (shared); the suite is ratelimit/limitertest.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrInvalidLimit is wrapped by the error a Limiter returns for a Limit or a
// charge it cannot apply: Count or Window not positive, a Window shorter than
// Count nanoseconds, or a negative n. Match it with errors.Is.
var ErrInvalidLimit = errors.New("invalid rate limit")

// Limit allows Count requests per Window.
type Limit struct {
	// Count is the number of requests allowed per Window; it must be positive.
	Count int64
	// Window is the period Count applies to; it must be positive.
	Window time.Duration
}

// Validate reports, wrapping ErrInvalidLimit, why l cannot be enforced.
func (l Limit) Validate() error {
	switch {
	case l.Count <= 0:
		return fmt.Errorf("%w: count %d is not positive", ErrInvalidLimit, l.Count)
	case l.Window <= 0:
		return fmt.Errorf("%w: window %s is not positive", ErrInvalidLimit, l.Window)
	case int64(l.Window) < l.Count:
		return fmt.Errorf("%w: window %s is shorter than one nanosecond per request (count %d)", ErrInvalidLimit, l.Window, l.Count)
	}
	return nil
}

// Decision is the outcome of one Allow call.
type Decision struct {
	// Allowed reports whether the request may proceed; when it is true the
	// charge has been recorded, when it is false nothing was charged.
	Allowed bool
	// Limit is the Count of the Limit the decision was made against.
	Limit int64
	// Remaining is how many more requests of weight 1 would be allowed right now.
	Remaining int64
	// Reset is the time until the key has its full capacity back (0 when it has).
	Reset time.Duration
	// RetryAfter is the time until the same request would be allowed; 0 when
	// Allowed.
	RetryAfter time.Duration
}

// Limiter makes one rate-limiting decision for one key: it charges n requests
// against limit and reports the outcome. n may be 0 to read the state without
// charging; a request with n greater than limit.Count can never be allowed and
// is refused without charging. Implementations are safe for concurrent use.
type Limiter interface {
	Allow(ctx context.Context, key string, limit Limit, n int64) (Decision, error)
}

// Resetter is implemented by limiters that can forget a key's usage, so that
// its next request starts with full capacity (quota resets).
type Resetter interface {
	Reset(ctx context.Context, key string) error
}
