package ratelimit

import (
	"context"
	"fmt"
	"time"
)

// Quota is one fixed-window counter of a QuotaCounter.Consume call: at most
// Max requests counted under Key in the window that ends at End. Unlike a
// Limit, whose capacity comes back continuously, a quota comes back all at
// once when its window ends: API-key quotas per calendar day or month.
type Quota struct {
	// Key names the counter; a counter whose window has ended starts again
	// from zero for the next End.
	Key string
	// Max is the number of requests the window allows; it must not be
	// negative (0 refuses every request).
	Max int64
	// End is when the window ends and the count is forgotten.
	End time.Time
}

// QuotaCounter is implemented by limiters that also keep fixed-window quotas,
// so that quota state is shared wherever the limiter is (one process for the
// memory limiter, every instance for a shared one). Implementations are safe
// for concurrent use.
type QuotaCounter interface {
	// Consume charges n requests to every quota, or to none of them: when one
	// would go over its Max, nothing is charged and allowed is false. used[i]
	// receives quota i's count after the call (before it, when refused); used
	// must have len(quotas) elements. n = 0 reads the counts. A quota whose
	// End has passed counts from zero.
	Consume(ctx context.Context, quotas []Quota, n int64, used []int64) (allowed bool, err error)
	// ResetQuota forgets the count kept under key.
	ResetQuota(ctx context.Context, key string) error
}

// ValidateQuotas reports, wrapping ErrInvalidLimit, why quotas cannot be
// counted with a charge of n.
func ValidateQuotas(quotas []Quota, n int64, used []int64) error {
	if n < 0 {
		return fmt.Errorf("%w: negative charge %d", ErrInvalidLimit, n)
	}
	if len(used) != len(quotas) {
		return fmt.Errorf("%w: %d quotas but room for %d counts", ErrInvalidLimit, len(quotas), len(used))
	}
	for _, q := range quotas {
		if q.Max < 0 {
			return fmt.Errorf("%w: quota %q: max %d is negative", ErrInvalidLimit, q.Key, q.Max)
		}
	}
	return nil
}

// DayEnd is the end of t's calendar day in UTC: the next midnight.
func DayEnd(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, time.UTC)
}

// MonthEnd is the end of t's calendar month in UTC: midnight on the first of
// the next month.
func MonthEnd(t time.Time) time.Time {
	y, m, _ := t.UTC().Date()
	return time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC)
}

// WindowEnd is the end of the fixed window of length d that holds t, windows
// being aligned on the Unix epoch (every instance computes the same ones).
// d must be positive.
func WindowEnd(t time.Time, d time.Duration) time.Time {
	ns := t.UnixNano()
	end := ns - ns%int64(d) + int64(d)
	return time.Unix(0, end).UTC()
}
