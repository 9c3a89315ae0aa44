// Package limitertest is the conformance suite of ratelimit.Limiter: every back-end
// runs Run from its own tests, so that all of them decide the same way.
package limitertest

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/ratelimit"
)

// Start is the fake clock's first reading. It is deliberately not on a round
// second, so that a limiter aligning windows to the clock shows it.
var Start = time.Date(2026, 1, 1, 0, 0, 0, 123_456_789, time.UTC)

// clock is a fake clock that only moves when the test advances it.
type clock struct{ ns atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// Run checks that the limiters newLimiter returns behave as ratelimit.Limiter
// documents. newLimiter is called once per subtest with a fake clock the
// limiter must read instead of the wall clock; it must return a limiter that
// holds no key (use t.Cleanup to release it). Keys are unique per subtest.
//
// Besides the interface's documentation, the suite pins down what the
// gateway and its users rely on:
//   - of N concurrent requests on a fresh key with N > Count, exactly Count
//     are allowed, and their Remaining values are Count-1 … 0, each once;
//   - capacity comes back smoothly: a key spent at T has Count·d/Window
//     requests back at T+d, within ±1 (checked at d = Window/2), and all of
//     them at T+Window, and after the Reset a decision reports;
//   - a refused request charges nothing, RetryAfter is in (0, Window] and
//     waiting that long lets the same request through; Reset is in [0, Window];
//   - n = 0 reads without charging; n > Count is refused and charges nothing;
//   - invalid limits and negative n are errors wrapping ratelimit.ErrInvalidLimit;
//   - a limiter that implements ratelimit.Resetter gives a reset key full capacity.
//
// A limiter that implements ratelimit.MultiLimiter is also checked (subtests
// under AllowAll, skipped otherwise):
//   - all or none: when one limit refuses, none of the keys is charged (each
//     read back with Allow n = 0), wherever the refusing limit is in reqs;
//   - of N concurrent AllowAll calls on two fresh keys with different Counts,
//     exactly the smaller Count are allowed, and each key is charged exactly
//     that much;
//   - out[i] is what a single Allow call on the same limit and state reports,
//     for allowed and refused calls, weights and peeks included;
//   - n = 0 reads every limit and charges nothing;
//   - invalid limits (in any position), negative n, an out of the wrong length
//     and a key given twice are errors wrapping ratelimit.ErrInvalidLimit, and
//     charge nothing.
func Run(t *testing.T, newLimiter func(t *testing.T, now func() time.Time) ratelimit.Limiter) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, ratelimit.Limiter, *clock)
	}{
		{"ConcurrentExactness", testConcurrent},
		{"RemainingCountsDown", testCountsDown},
		{"Refused", testRefused},
		{"RollOver", testRollOver},
		{"HalfWindow", testHalfWindow},
		{"IndependentKeys", testIndependentKeys},
		{"Peek", testPeek},
		{"Weights", testWeights},
		{"TooHeavy", testTooHeavy},
		{"Reset", testReset},
		{"InvalidLimits", testInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &clock{}
			c.ns.Store(Start.UnixNano())
			l := newLimiter(t, c.now)
			require.NotNil(t, l)
			tc.fn(t, l, c)
		})
	}
	t.Run("AllowAll", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			fn   func(*testing.T, ratelimit.Limiter, ratelimit.MultiLimiter, *clock)
		}{
			{"AllOrNone", testMultiAllOrNone},
			{"ConcurrentExactness", testMultiConcurrent},
			{"MatchesAllow", testMultiMatchesAllow},
			{"Peek", testMultiPeek},
			{"Invalid", testMultiInvalid},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c := &clock{}
				c.ns.Store(Start.UnixNano())
				l := newLimiter(t, c.now)
				require.NotNil(t, l)
				m, ok := l.(ratelimit.MultiLimiter)
				if !ok {
					t.Skip("limiter does not implement ratelimit.MultiLimiter")
				}
				tc.fn(t, l, m, c)
			})
		}
	})
}

var perMinute = ratelimit.Limit{Count: 10, Window: time.Minute}

func key(t *testing.T, suffix string) string {
	return fmt.Sprintf("limitertest/%s/%s", t.Name(), suffix)
}

func allow(t *testing.T, l ratelimit.Limiter, k string, lim ratelimit.Limit, n int64) ratelimit.Decision {
	t.Helper()
	d, err := l.Allow(context.Background(), k, lim, n)
	require.NoError(t, err)
	require.Equal(t, lim.Count, d.Limit, "Decision.Limit")
	return d
}

// drain charges 1 until refused and returns how many were allowed (at most
// 2×Count, to stop a limiter that never refuses).
func drain(t *testing.T, l ratelimit.Limiter, k string, lim ratelimit.Limit) int64 {
	t.Helper()
	var n int64
	for n < 2*lim.Count {
		if !allow(t, l, k, lim, 1).Allowed {
			break
		}
		n++
	}
	return n
}

func testConcurrent(t *testing.T, l ratelimit.Limiter, _ *clock) {
	lim := ratelimit.Limit{Count: 20, Window: time.Minute}
	const workers = 100
	for round := range 5 {
		k := key(t, fmt.Sprint(round))
		var (
			start     = make(chan struct{})
			wg        sync.WaitGroup
			mu        sync.Mutex
			remaining []int64
			errs      []error
		)
		for range workers {
			wg.Go(func() {
				<-start
				d, err := l.Allow(context.Background(), k, lim, 1)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
				} else if d.Allowed {
					remaining = append(remaining, d.Remaining)
				}
			})
		}
		close(start)
		wg.Wait()
		require.Empty(t, errs)
		require.Len(t, remaining, int(lim.Count), "round %d: allowed requests", round)
		sort.Slice(remaining, func(i, j int) bool { return remaining[i] < remaining[j] })
		for i, r := range remaining {
			require.Equal(t, int64(i), r, "round %d: Remaining values", round)
		}
	}
}

func testCountsDown(t *testing.T, l ratelimit.Limiter, _ *clock) {
	k := key(t, "a")
	for want := perMinute.Count - 1; want >= 0; want-- {
		d := allow(t, l, k, perMinute, 1)
		require.True(t, d.Allowed)
		require.Equal(t, want, d.Remaining)
		require.Zero(t, d.RetryAfter)
		require.Positive(t, d.Reset)
		require.LessOrEqual(t, d.Reset, perMinute.Window)
	}
	d := allow(t, l, k, perMinute, 1)
	require.False(t, d.Allowed)
	require.Zero(t, d.Remaining)
}

func testRefused(t *testing.T, l ratelimit.Limiter, c *clock) {
	k := key(t, "a")
	require.Equal(t, perMinute.Count, drain(t, l, k, perMinute))
	d := allow(t, l, k, perMinute, 1)
	require.False(t, d.Allowed)
	require.Positive(t, d.RetryAfter)
	require.LessOrEqual(t, d.RetryAfter, perMinute.Window)
	require.Positive(t, d.Reset)
	require.LessOrEqual(t, d.Reset, perMinute.Window)
	require.GreaterOrEqual(t, d.Reset, d.RetryAfter)

	// Refused requests charge nothing: hammering does not push the hint back.
	for range 50 {
		require.False(t, allow(t, l, k, perMinute, 1).Allowed)
	}
	// Waiting RetryAfter is enough.
	c.advance(d.RetryAfter)
	require.True(t, allow(t, l, k, perMinute, 1).Allowed)
}

func testRollOver(t *testing.T, l ratelimit.Limiter, c *clock) {
	k := key(t, "a")
	require.Equal(t, perMinute.Count, drain(t, l, k, perMinute))
	c.advance(perMinute.Window)
	peek := allow(t, l, k, perMinute, 0)
	require.Equal(t, perMinute.Count, peek.Remaining, "full capacity one window later")
	require.Zero(t, peek.Reset)
	require.Equal(t, perMinute.Count, drain(t, l, k, perMinute))

	// After the Reset a decision reports, the key has its full capacity.
	d := allow(t, l, k, perMinute, 0)
	require.Positive(t, d.Reset)
	c.advance(d.Reset)
	require.Equal(t, perMinute.Count, drain(t, l, k, perMinute))
}

func testHalfWindow(t *testing.T, l ratelimit.Limiter, c *clock) {
	for _, lim := range []ratelimit.Limit{perMinute, {Count: 100, Window: time.Hour}, {Count: 3, Window: time.Second}} {
		k := key(t, fmt.Sprint(lim.Count))
		require.Equal(t, lim.Count, drain(t, l, k, lim))
		c.advance(lim.Window / 2)
		got := drain(t, l, k, lim)
		require.InDelta(t, float64(lim.Count)/2, float64(got), 1,
			"%d per %s: half of the capacity back half a window later", lim.Count, lim.Window)
		c.advance(lim.Window) // leave the clock clear of this key for the next one
	}
}

func testIndependentKeys(t *testing.T, l ratelimit.Limiter, _ *clock) {
	a, b := key(t, "a"), key(t, "b")
	require.Equal(t, perMinute.Count, drain(t, l, a, perMinute))
	d := allow(t, l, b, perMinute, 1)
	require.True(t, d.Allowed)
	require.Equal(t, perMinute.Count-1, d.Remaining)
	require.False(t, allow(t, l, a, perMinute, 1).Allowed)
}

func testPeek(t *testing.T, l ratelimit.Limiter, _ *clock) {
	k := key(t, "a")
	for range 3 {
		d := allow(t, l, k, perMinute, 0)
		require.True(t, d.Allowed)
		require.Equal(t, perMinute.Count, d.Remaining)
		require.Zero(t, d.RetryAfter)
	}
	allow(t, l, k, perMinute, 1)
	for range 3 {
		require.Equal(t, perMinute.Count-1, allow(t, l, k, perMinute, 0).Remaining)
	}
	require.Equal(t, perMinute.Count-1, drain(t, l, k, perMinute))
	require.Zero(t, allow(t, l, k, perMinute, 0).Remaining)
}

func testWeights(t *testing.T, l ratelimit.Limiter, _ *clock) {
	k := key(t, "a")
	d := allow(t, l, k, perMinute, 3)
	require.True(t, d.Allowed)
	require.Equal(t, perMinute.Count-3, d.Remaining)
	d = allow(t, l, k, perMinute, 5)
	require.True(t, d.Allowed)
	require.Equal(t, int64(2), d.Remaining)
	// 3 does not fit in the 2 left: refused, and nothing charged.
	d = allow(t, l, k, perMinute, 3)
	require.False(t, d.Allowed)
	require.Equal(t, int64(2), d.Remaining)
	require.Positive(t, d.RetryAfter)
	d = allow(t, l, k, perMinute, 2)
	require.True(t, d.Allowed)
	require.Zero(t, d.Remaining)
}

func testTooHeavy(t *testing.T, l ratelimit.Limiter, _ *clock) {
	k := key(t, "a")
	d := allow(t, l, k, perMinute, perMinute.Count+1)
	require.False(t, d.Allowed)
	require.Equal(t, perMinute.Count, d.Remaining)
	require.Equal(t, perMinute.Count, allow(t, l, k, perMinute, 0).Remaining, "nothing charged")
	require.True(t, allow(t, l, k, perMinute, perMinute.Count).Allowed)
}

func testReset(t *testing.T, l ratelimit.Limiter, _ *clock) {
	r, ok := l.(ratelimit.Resetter)
	if !ok {
		t.Skip("limiter does not implement ratelimit.Resetter")
	}
	a, b := key(t, "a"), key(t, "b")
	require.Equal(t, perMinute.Count, drain(t, l, a, perMinute))
	require.Equal(t, perMinute.Count, drain(t, l, b, perMinute))
	require.NoError(t, r.Reset(context.Background(), a))
	require.NoError(t, r.Reset(context.Background(), key(t, "never-used")))
	require.Equal(t, perMinute.Count, drain(t, l, a, perMinute))
	require.False(t, allow(t, l, b, perMinute, 1).Allowed, "other keys keep their usage")
}

func testInvalid(t *testing.T, l ratelimit.Limiter, _ *clock) {
	k := key(t, "a")
	for _, lim := range []ratelimit.Limit{
		{Count: 0, Window: time.Minute},
		{Count: -1, Window: time.Minute},
		{Count: 10, Window: 0},
		{Count: 10, Window: -time.Minute},
	} {
		_, err := l.Allow(context.Background(), k, lim, 1)
		require.ErrorIs(t, err, ratelimit.ErrInvalidLimit, "%+v", lim)
	}
	_, err := l.Allow(context.Background(), k, perMinute, -1)
	require.ErrorIs(t, err, ratelimit.ErrInvalidLimit, "negative n")
	require.Equal(t, perMinute.Count, allow(t, l, k, perMinute, 0).Remaining, "errors charge nothing")
}
