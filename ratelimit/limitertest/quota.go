package limitertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/ratelimit"
)

// RunQuotas checks that the quota counters newCounter returns behave as
// ratelimit.QuotaCounter documents. newCounter is called once per subtest with
// a fake clock the counter must read; keys are unique per subtest. It pins
// down:
//   - of N concurrent charges on a fresh quota with N > Max, exactly Max are
//     allowed;
//   - several quotas are charged together or not at all: one that is spent
//     leaves the others as they were;
//   - a quota counts from zero once its End has passed, and in a new window;
//   - n = 0 reads; Max = 0 refuses every charge; ResetQuota forgets a key;
//   - negative n, negative Max and a used slice of the wrong length are errors
//     wrapping ratelimit.ErrInvalidLimit.
func RunQuotas(t *testing.T, newCounter func(t *testing.T, now func() time.Time) ratelimit.QuotaCounter) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, ratelimit.QuotaCounter, *clock)
	}{
		{"ConcurrentExactness", testQuotaConcurrent},
		{"AllOrNone", testQuotaAllOrNone},
		{"WindowEnds", testQuotaWindowEnds},
		{"ReadZeroReset", testQuotaReadZeroReset},
		{"Invalid", testQuotaInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{}
			c.ns.Store(Start.UnixNano())
			tc.fn(t, newCounter(t, c.now), c)
		})
	}
}

func quotaKey(t *testing.T, name string) string {
	return fmt.Sprintf("limitertest:%s:%s", t.Name(), name)
}

func testQuotaConcurrent(t *testing.T, qc ratelimit.QuotaCounter, c *clock) {
	const maxCalls, callers = 40, 100
	q := []ratelimit.Quota{{Key: quotaKey(t, "k"), Max: maxCalls, End: c.now().Add(time.Hour)}}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			used := make([]int64, 1)
			ok, err := qc.Consume(context.Background(), q, 1, used)
			if err != nil {
				errs <- err
				return
			}
			if ok {
				allowed.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.EqualValues(t, maxCalls, allowed.Load(), "exactly Max of the concurrent charges pass")
	used := make([]int64, 1)
	ok, err := qc.Consume(context.Background(), q, 0, used)
	require.NoError(t, err)
	require.True(t, ok)
	require.EqualValues(t, maxCalls, used[0], "refused charges count nothing")
}

func testQuotaAllOrNone(t *testing.T, qc ratelimit.QuotaCounter, c *clock) {
	ctx := context.Background()
	end := c.now().Add(time.Hour)
	small := ratelimit.Quota{Key: quotaKey(t, "small"), Max: 2, End: end}
	large := ratelimit.Quota{Key: quotaKey(t, "large"), Max: 10, End: end}
	both := []ratelimit.Quota{large, small}
	used := make([]int64, 2)
	for i := range 2 {
		ok, err := qc.Consume(ctx, both, 1, used)
		require.NoError(t, err)
		require.True(t, ok, "charge %d", i)
		require.Equal(t, []int64{int64(i + 1), int64(i + 1)}, used)
	}
	for range 3 {
		ok, err := qc.Consume(ctx, both, 1, used)
		require.NoError(t, err)
		require.False(t, ok, "the small quota is spent")
		require.Equal(t, []int64{2, 2}, used, "a refusal reports the counts as they were")
	}
	one := make([]int64, 1)
	ok, err := qc.Consume(ctx, []ratelimit.Quota{large}, 0, one)
	require.NoError(t, err)
	require.True(t, ok)
	require.EqualValues(t, 2, one[0], "the refused charges did not touch the large quota")
	ok, err = qc.Consume(ctx, []ratelimit.Quota{large}, 8, one)
	require.NoError(t, err)
	require.True(t, ok, "a weight that fits exactly passes")
	require.EqualValues(t, 10, one[0])
}

func testQuotaWindowEnds(t *testing.T, qc ratelimit.QuotaCounter, c *clock) {
	ctx := context.Background()
	key := quotaKey(t, "k")
	first := c.now().Add(10 * time.Second)
	used := make([]int64, 1)
	for range 3 {
		ok, err := qc.Consume(ctx, []ratelimit.Quota{{Key: key, Max: 3, End: first}}, 1, used)
		require.NoError(t, err)
		require.True(t, ok)
	}
	ok, err := qc.Consume(ctx, []ratelimit.Quota{{Key: key, Max: 3, End: first}}, 1, used)
	require.NoError(t, err)
	require.False(t, ok)

	c.advance(9 * time.Second)
	ok, err = qc.Consume(ctx, []ratelimit.Quota{{Key: key, Max: 3, End: first}}, 1, used)
	require.NoError(t, err)
	require.False(t, ok, "still the same window")

	c.advance(time.Second) // now == first: the window is over
	next := first.Add(10 * time.Second)
	ok, err = qc.Consume(ctx, []ratelimit.Quota{{Key: key, Max: 3, End: next}}, 1, used)
	require.NoError(t, err)
	require.True(t, ok, "the next window starts from zero")
	require.EqualValues(t, 1, used[0])

	// A caller that moves to a new End before the old one passed (a day
	// boundary computed by another instance's clock) starts a new count too.
	later := next.Add(time.Hour)
	ok, err = qc.Consume(ctx, []ratelimit.Quota{{Key: key, Max: 3, End: later}}, 0, used)
	require.NoError(t, err)
	require.True(t, ok)
	require.EqualValues(t, 0, used[0])
}

func testQuotaReadZeroReset(t *testing.T, qc ratelimit.QuotaCounter, c *clock) {
	ctx := context.Background()
	q := []ratelimit.Quota{{Key: quotaKey(t, "k"), Max: 5, End: c.now().Add(time.Minute)}}
	used := make([]int64, 1)
	ok, err := qc.Consume(ctx, q, 0, used)
	require.NoError(t, err)
	require.True(t, ok)
	require.EqualValues(t, 0, used[0], "an unknown key has used nothing")
	ok, err = qc.Consume(ctx, q, 5, used)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = qc.Consume(ctx, q, 0, used)
	require.NoError(t, err)
	require.True(t, ok, "reading a spent quota is not a refusal")
	require.EqualValues(t, 5, used[0])

	require.NoError(t, qc.ResetQuota(ctx, q[0].Key))
	ok, err = qc.Consume(ctx, q, 1, used)
	require.NoError(t, err)
	require.True(t, ok, "a reset key has its whole quota")
	require.EqualValues(t, 1, used[0])
	require.NoError(t, qc.ResetQuota(ctx, quotaKey(t, "never-used")), "resetting an unknown key is fine")

	zero := []ratelimit.Quota{{Key: quotaKey(t, "zero"), Max: 0, End: c.now().Add(time.Minute)}}
	ok, err = qc.Consume(ctx, zero, 1, used)
	require.NoError(t, err)
	require.False(t, ok, "a quota of 0 refuses every call")
}

func testQuotaInvalid(t *testing.T, qc ratelimit.QuotaCounter, c *clock) {
	ctx := context.Background()
	q := []ratelimit.Quota{{Key: quotaKey(t, "k"), Max: 5, End: c.now().Add(time.Minute)}}
	_, err := qc.Consume(ctx, q, -1, make([]int64, 1))
	require.True(t, errors.Is(err, ratelimit.ErrInvalidLimit), "negative n: %v", err)
	_, err = qc.Consume(ctx, []ratelimit.Quota{{Key: q[0].Key, Max: -1, End: q[0].End}}, 1, make([]int64, 1))
	require.True(t, errors.Is(err, ratelimit.ErrInvalidLimit), "negative Max: %v", err)
	_, err = qc.Consume(ctx, q, 1, nil)
	require.True(t, errors.Is(err, ratelimit.ErrInvalidLimit), "no room for counts: %v", err)
}
