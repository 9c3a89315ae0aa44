package ratelimit

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// QuotaWindow is one fixed window of a quota key: at most Max requests in the
// window that ends at End. Unlike a Limit, whose capacity comes back
// continuously, a window's capacity comes back all at once when it ends:
// API-key quotas per 10 seconds, per calendar day, per calendar month.
type QuotaWindow struct {
	// Name tells the key's windows apart ("daily", "monthly"): a window's
	// count is kept under its key and Name, so a key whose set of windows
	// changes keeps each remaining window's count. It must not be empty, and
	// the windows of one call must have distinct names.
	Name string
	// Max is the number of requests the window allows; it must not be
	// negative (0 refuses every charge).
	Max int64
	// End is when the window ends. A count belongs to the End it was made
	// for: a window given with another End (the next day) counts from zero.
	End time.Time
}

// QuotaCounter is implemented by limiters that also keep fixed-window quotas,
// so that quota state is shared wherever the limiter is (one process for the
// memory limiter, every instance for a shared one). A quota key (an API key)
// holds several windows that are decided together. Implementations are safe
// for concurrent use.
//
// A call carries everything a decision needs, so that a shared limiter makes
// it in one round trip: in Redis, one hash per key with a field per window
// Name holding the window's End and count, one script that reads the given
// fields, counts a field whose End differs from the given one or has passed
// as zero, checks every Max, writes the new counts when all fit and sets the
// hash to expire at the latest End; ResetQuota deletes the hash.
type QuotaCounter interface {
	// Consume charges n requests to every window of key, or to none of them:
	// when one would go over its Max (used + n > Max), nothing is charged and
	// allowed is false. used[i] receives windows[i]'s count after the call
	// (before it, when refused); used must have len(windows) elements.
	//
	// A window's count is the one kept for its Name and End: a window whose
	// End differs from the one its count was made for (the next day) counts
	// from zero while the key's other windows keep their counts, and a window
	// whose End has passed (by the limiter's clock) counts from zero and keeps
	// nothing. Windows of key that are not given are neither read nor
	// charged. n = 0 reads the counts without charging; allowed then reports
	// whether every count is within its Max. windows is only read: callers
	// may share one slice between concurrent calls. Invalid arguments
	// (negative n or Max, an empty or repeated Name, a used of the wrong
	// length) are errors wrapping ErrInvalidLimit (ValidateQuota).
	Consume(ctx context.Context, key string, windows []QuotaWindow, n int64, used []int64) (allowed bool, err error)
	// ResetQuota forgets the counts of every window of key: its next call
	// counts from zero. Resetting an unknown key is not an error.
	ResetQuota(ctx context.Context, key string) error
}

// QuotaClock is implemented by QuotaCounters that read a wall clock of their
// own to tell which windows have ended. A caller that computes windows
// (QuotaWindow.End) reads it too, unless told to read another clock, so that
// windows and the counts kept for them follow one clock; a counter's clock
// may also be cheaper to read than time.Now (the memory limiter's is).
type QuotaClock interface {
	// Now returns the counter's wall-clock time.
	Now() time.Time
}

// ValidateQuota reports, wrapping ErrInvalidLimit, why the windows of key
// cannot be counted with a charge of n into used. Implementations of
// QuotaCounter call it first.
func ValidateQuota(key string, windows []QuotaWindow, n int64, used []int64) error {
	if n < 0 {
		return fmt.Errorf("%w: negative charge %d", ErrInvalidLimit, n)
	}
	if len(used) != len(windows) {
		return fmt.Errorf("%w: %d quota windows but room for %d counts", ErrInvalidLimit, len(windows), len(used))
	}
	for i, w := range windows {
		if w.Max < 0 {
			return fmt.Errorf("%w: quota %q window %q: max %d is negative", ErrInvalidLimit, key, w.Name, w.Max)
		}
		if w.Name == "" {
			return fmt.Errorf("%w: quota %q: window %d has no name", ErrInvalidLimit, key, i)
		}
		for j := range i {
			if windows[j].Name == w.Name {
				return fmt.Errorf("%w: quota %q: window %q appears twice (windows %d and %d)", ErrInvalidLimit, key, w.Name, j, i)
			}
		}
	}
	return nil
}

// DayEnd is the end of t's calendar day in UTC: the next midnight.
func DayEnd(t time.Time) time.Time {
	const day = 86_400 // a UTC day in Unix seconds, which have no leap seconds
	s := t.Unix()
	rem := s % day
	if rem < 0 { // before the epoch: round towards the past too
		rem += day
	}
	return time.Unix(s-rem+day, 0).UTC()
}

// monthCache is the calendar month MonthEnd last computed, in Unix seconds
// [start, end): times within it need no calendar arithmetic.
var monthCache atomic.Pointer[[2]int64]

// MonthEnd is the end of t's calendar month in UTC: midnight on the first of
// the next month.
func MonthEnd(t time.Time) time.Time {
	s := t.Unix()
	if c := monthCache.Load(); c != nil && c[0] <= s && s < c[1] {
		return time.Unix(c[1], 0).UTC()
	}
	y, m, _ := t.UTC().Date()
	start := time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC)
	monthCache.Store(&[2]int64{start.Unix(), end.Unix()})
	return end
}

// WindowEnd is the end of the fixed window of length d that holds t, windows
// being aligned on the Unix epoch (every instance computes the same ones).
// d must be positive.
func WindowEnd(t time.Time, d time.Duration) time.Time {
	ns := t.UnixNano()
	rem := ns % int64(d)
	if rem < 0 { // before the epoch: round towards the past too
		rem += int64(d)
	}
	return time.Unix(0, ns-rem+int64(d)).UTC()
}
