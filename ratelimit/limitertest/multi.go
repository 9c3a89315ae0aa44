package limitertest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/ratelimit"
)

// The limits of the AllowAll subtests: different Counts and Windows, so that
// a decision reported for the wrong limit shows.
var (
	hourly         = ratelimit.Limit{Count: 100, Window: time.Hour}
	threePerSecond = ratelimit.Limit{Count: 3, Window: time.Second}
)

// multiRequests returns one request per limit, on keys named after the subtest,
// prefix and the limit's position.
func multiRequests(t *testing.T, prefix string, limits ...ratelimit.Limit) []ratelimit.Request {
	reqs := make([]ratelimit.Request, len(limits))
	for i, lim := range limits {
		reqs[i] = ratelimit.Request{Key: key(t, fmt.Sprintf("%s%d", prefix, i)), Limit: lim}
	}
	return reqs
}

func multiAllow(t *testing.T, m ratelimit.MultiLimiter, reqs []ratelimit.Request, n int64) (bool, []ratelimit.Decision) {
	t.Helper()
	out := make([]ratelimit.Decision, len(reqs))
	ok, err := m.AllowAll(context.Background(), reqs, n, out)
	require.NoError(t, err)
	for i, d := range out {
		require.Equal(t, reqs[i].Limit.Count, d.Limit, "out[%d].Limit", i)
	}
	return ok, out
}

// readRemaining reads every request's key with Allow n = 0.
func readRemaining(t *testing.T, l ratelimit.Limiter, reqs []ratelimit.Request) []int64 {
	t.Helper()
	r := make([]int64, len(reqs))
	for i, q := range reqs {
		r[i] = allow(t, l, q.Key, q.Limit, 0).Remaining
	}
	return r
}

func testMultiAllOrNone(t *testing.T, l ratelimit.Limiter, m ratelimit.MultiLimiter, _ *clock) {
	limits := []ratelimit.Limit{perMinute, hourly, threePerSecond}
	// The refusing limit first, in the middle, last.
	for spent := range limits {
		reqs := multiRequests(t, fmt.Sprintf("spent%d-", spent), limits...)
		require.Equal(t, limits[spent].Count, drain(t, l, reqs[spent].Key, limits[spent]))
		before := readRemaining(t, l, reqs)

		ok, out := multiAllow(t, m, reqs, 1)
		require.False(t, ok, "limit %d is spent", spent)
		require.False(t, out[spent].Allowed)
		require.Positive(t, out[spent].RetryAfter)
		require.Equal(t, before, readRemaining(t, l, reqs), "a refused AllowAll charges no key")

		// Repeated refusals charge nothing either.
		for range 5 {
			ok, _ := multiAllow(t, m, reqs, 1)
			require.False(t, ok)
		}
		require.Equal(t, before, readRemaining(t, l, reqs))
	}

	// A weight that one limit cannot fit: refused, nothing charged; one that
	// fits everywhere is charged everywhere.
	reqs := multiRequests(t, "weights-", limits...)
	ok, out := multiAllow(t, m, reqs, 4) // 4 > threePerSecond's Count of 3
	require.False(t, ok)
	require.False(t, out[2].Allowed)
	require.Equal(t, []int64{perMinute.Count, hourly.Count, threePerSecond.Count}, readRemaining(t, l, reqs))
	ok, _ = multiAllow(t, m, reqs, 2)
	require.True(t, ok)
	require.Equal(t, []int64{perMinute.Count - 2, hourly.Count - 2, threePerSecond.Count - 2}, readRemaining(t, l, reqs))
}

func testMultiConcurrent(t *testing.T, l ratelimit.Limiter, m ratelimit.MultiLimiter, _ *clock) {
	small := ratelimit.Limit{Count: 20, Window: time.Minute}
	large := ratelimit.Limit{Count: 30, Window: time.Minute}
	const workers = 100
	for round := range 5 {
		reqs := multiRequests(t, fmt.Sprintf("round%d-", round), large, small)
		var (
			start   = make(chan struct{})
			wg      sync.WaitGroup
			allowed atomic.Int64
			errs    = make(chan error, workers)
		)
		for range workers {
			wg.Go(func() {
				<-start
				out := make([]ratelimit.Decision, len(reqs))
				ok, err := m.AllowAll(context.Background(), reqs, 1, out)
				if err != nil {
					errs <- err
				} else if ok {
					allowed.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.Equal(t, small.Count, allowed.Load(), "round %d: allowed calls", round)
		require.Equal(t, []int64{large.Count - small.Count, 0}, readRemaining(t, l, reqs),
			"round %d: each key charged exactly once per allowed call", round)
	}
}

func testMultiMatchesAllow(t *testing.T, l ratelimit.Limiter, m ratelimit.MultiLimiter, c *clock) {
	limits := []ratelimit.Limit{perMinute, hourly, threePerSecond}
	multi := multiRequests(t, "multi-", limits...)
	single := multiRequests(t, "single-", limits...) // the same limits on twin keys
	compare := func(step string, n int64) bool {
		t.Helper()
		ok, out := multiAllow(t, m, multi, n)
		all := true
		for i, r := range single {
			d := allow(t, l, r.Key, r.Limit, n)
			require.Equal(t, d, out[i], "%s: out[%d] against Allow", step, i)
			all = all && d.Allowed
		}
		require.Equal(t, all, ok, "%s: allowed when every limit allows", step)
		return ok
	}
	// Allowed calls keep the twins in step.
	require.True(t, compare("first", 1))
	require.True(t, compare("weight 2", 2))
	c.advance(400 * time.Millisecond)
	require.True(t, compare("peek", 0))
	c.advance(5 * time.Second) // threePerSecond is full again, the others are not
	require.True(t, compare("later", 3))
	require.True(t, compare("later peek", 0))
	// threePerSecond (3/s) refuses a fourth request now: the last step, since the
	// single Allow calls charge the limits that allow.
	require.False(t, compare("refused", 1))
}

func testMultiPeek(t *testing.T, l ratelimit.Limiter, m ratelimit.MultiLimiter, _ *clock) {
	reqs := multiRequests(t, "peek-", perMinute, hourly, threePerSecond)
	allow(t, l, reqs[0].Key, perMinute, 4)
	require.Equal(t, threePerSecond.Count, drain(t, l, reqs[2].Key, threePerSecond))
	want := []int64{perMinute.Count - 4, hourly.Count, 0}
	for range 3 {
		ok, out := multiAllow(t, m, reqs, 0)
		require.True(t, ok, "a read is allowed, even of a spent key")
		for i, d := range out {
			require.True(t, d.Allowed)
			require.Equal(t, want[i], d.Remaining, "out[%d]", i)
			require.Zero(t, d.RetryAfter)
		}
	}
	require.Equal(t, want, readRemaining(t, l, reqs), "reads charge nothing")
}

func testMultiInvalid(t *testing.T, l ratelimit.Limiter, m ratelimit.MultiLimiter, _ *clock) {
	valid := []ratelimit.Limit{perMinute, hourly}
	full := []int64{perMinute.Count, hourly.Count}
	ctx := context.Background()
	for _, bad := range []ratelimit.Limit{
		{Count: 0, Window: time.Minute},
		{Count: -1, Window: time.Minute},
		{Count: 10, Window: 0},
		{Count: 10, Window: -time.Minute},
	} {
		for pos := range 3 {
			reqs := multiRequests(t, fmt.Sprintf("bad%d-", pos), valid...)
			reqs = append(reqs[:pos:pos], append([]ratelimit.Request{{Key: key(t, "bad"), Limit: bad}}, reqs[pos:]...)...)
			ok, err := m.AllowAll(ctx, reqs, 1, make([]ratelimit.Decision, len(reqs)))
			require.ErrorIs(t, err, ratelimit.ErrInvalidLimit, "%+v at %d", bad, pos)
			require.False(t, ok)
			var good []ratelimit.Request
			for _, r := range reqs {
				if r.Limit != bad {
					good = append(good, r)
				}
			}
			require.Equal(t, full, readRemaining(t, l, good), "an invalid limit charges nothing")
		}
	}

	reqs := multiRequests(t, "other-", valid...)
	ok, err := m.AllowAll(ctx, reqs, -1, make([]ratelimit.Decision, len(reqs)))
	require.ErrorIs(t, err, ratelimit.ErrInvalidLimit, "negative n")
	require.False(t, ok)
	for _, size := range []int{0, 1, 3} {
		ok, err = m.AllowAll(ctx, reqs, 1, make([]ratelimit.Decision, size))
		require.ErrorIs(t, err, ratelimit.ErrInvalidLimit, "out of length %d for 2 limits", size)
		require.False(t, ok)
	}
	twice := append(reqs, ratelimit.Request{Key: reqs[0].Key, Limit: threePerSecond})
	ok, err = m.AllowAll(ctx, twice, 1, make([]ratelimit.Decision, len(twice)))
	require.ErrorIs(t, err, ratelimit.ErrInvalidLimit, "a key given twice")
	require.False(t, ok)
	require.Equal(t, full, readRemaining(t, l, reqs), "errors charge nothing")
}
