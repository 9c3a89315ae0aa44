package limitertest

import (
	"context"
	"sync/atomic"

	"github.com/gatehousehq/gatehouse/ratelimit"
)

// Switch is a ratelimit.Limiter that passes every call to Next, or fails it
// with Err while it is down: a back-end that goes away and comes back, for
// tests of what its callers do during an outage. A nil Next is a back-end
// that is always down.
type Switch struct {
	// Next answers while the switch is up.
	Next ratelimit.Limiter
	// Err is what every call returns while down.
	Err  error
	down atomic.Bool
}

// Down returns a Switch that is down for good: every call fails with err.
func Down(err error) *Switch {
	s := &Switch{Err: err}
	s.SetDown(true)
	return s
}

// SetDown takes the back-end away (true) or brings it back (false).
func (s *Switch) SetDown(down bool) { s.down.Store(down) }

// Allow is Next's Allow, or fails with Err while down (ratelimit.Limiter).
func (s *Switch) Allow(ctx context.Context, key string, limit ratelimit.Limit, n int64) (ratelimit.Decision, error) {
	if s.down.Load() || s.Next == nil {
		return ratelimit.Decision{}, s.Err
	}
	return s.Next.Allow(ctx, key, limit, n)
}
