package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/ratelimit"
	"github.com/gatehousehq/gatehouse/ratelimit/memory"
)

// plainLimiter hides the memory limiter's AllowAll, so that the fallback of
// ratelimit.AllowAll runs.
type plainLimiter struct{ ratelimit.Limiter }

func TestAllowAllFallback(t *testing.T) {
	ctx := context.Background()
	l := plainLimiter{memory.New()}
	small := ratelimit.Request{Key: "small", Limit: ratelimit.Limit{Count: 2, Window: time.Hour}}
	large := ratelimit.Request{Key: "large", Limit: ratelimit.Limit{Count: 10, Window: time.Hour}}
	reqs := []ratelimit.Request{large, small}
	out := make([]ratelimit.Decision, 2)
	for i := range 2 {
		ok, err := ratelimit.AllowAll(ctx, l, reqs, 1, out)
		require.NoError(t, err)
		require.True(t, ok, "request %d", i)
		require.True(t, out[0].Allowed && out[1].Allowed)
	}
	ok, err := ratelimit.AllowAll(ctx, l, reqs, 1, out)
	require.NoError(t, err)
	require.False(t, ok, "the small limit is spent")
	require.True(t, out[0].Allowed, "the large limit had room")
	require.False(t, out[1].Allowed)
	require.Positive(t, out[1].RetryAfter)
	d, err := l.Allow(ctx, "large", large.Limit, 0)
	require.NoError(t, err)
	require.EqualValues(t, 8, d.Remaining, "the refusal spent nothing of the large limit")

	_, err = ratelimit.AllowAll(ctx, l, []ratelimit.Request{small, small}, 1, out)
	require.ErrorIs(t, err, ratelimit.ErrInvalidLimit, "a key given twice")
	_, err = ratelimit.AllowAll(ctx, l, reqs, 1, out[:1])
	require.ErrorIs(t, err, ratelimit.ErrInvalidLimit, "no room for every decision")
}
