package memory_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/ratelimit"
	"github.com/gatehousehq/gatehouse/ratelimit/limitertest"
	"github.com/gatehousehq/gatehouse/ratelimit/memory"
)

func TestConformance(t *testing.T) {
	limitertest.Run(t, func(_ *testing.T, now func() time.Time) ratelimit.Limiter {
		return memory.New(memory.WithClock(now))
	})
}

func TestConformanceOneShard(t *testing.T) {
	limitertest.Run(t, func(_ *testing.T, now func() time.Time) ratelimit.Limiter {
		return memory.New(memory.WithClock(now), memory.WithShards(1))
	})
}

type fakeClock struct{ ns atomic.Int64 }

func newClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(limitertest.Start.UnixNano())
	return c
}
func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

var perSecond = ratelimit.Limit{Count: 5, Window: time.Second}

func TestIdleKeysAreSwept(t *testing.T) {
	c := newClock()
	l := memory.New(memory.WithClock(c.now), memory.WithShards(4))
	ctx := context.Background()
	for i := range 1000 {
		_, err := l.Allow(ctx, fmt.Sprint("idle-", i), perSecond, 1)
		require.NoError(t, err)
	}
	require.Equal(t, 1000, l.Len())
	// Each shard is swept about once a second, one shard per call when due.
	for range 4 {
		c.advance(time.Second)
		_, err := l.Allow(ctx, "busy", perSecond, 1)
		require.NoError(t, err)
	}
	require.LessOrEqual(t, l.Len(), 1, "idle keys are dropped, only the busy one may remain")
}

func TestLiveKeysAreNotSwept(t *testing.T) {
	c := newClock()
	l := memory.New(memory.WithClock(c.now), memory.WithShards(4))
	ctx := context.Background()
	hour := ratelimit.Limit{Count: 2, Window: time.Hour}
	_, err := l.Allow(ctx, "live", hour, 2)
	require.NoError(t, err)
	for range 8 {
		c.advance(time.Second)
		_, err := l.Allow(ctx, "other", perSecond, 1)
		require.NoError(t, err)
	}
	d, err := l.Allow(ctx, "live", hour, 1)
	require.NoError(t, err)
	require.False(t, d.Allowed, "the sweep kept a key still in use")
}

func TestMaxKeysBoundsMemory(t *testing.T) {
	c := newClock()
	l := memory.New(memory.WithClock(c.now), memory.WithShards(4), memory.WithMaxKeys(100))
	ctx := context.Background()
	day := ratelimit.Limit{Count: 10, Window: 24 * time.Hour}
	for i := range 10_000 {
		d, err := l.Allow(ctx, fmt.Sprint("k", i), day, 1)
		require.NoError(t, err)
		require.True(t, d.Allowed)
		require.LessOrEqual(t, l.Len(), 100)
	}
	// The most recent key keeps its usage.
	d, err := l.Allow(ctx, "k9999", day, 0)
	require.NoError(t, err)
	require.Equal(t, int64(9), d.Remaining)
}

func TestMaxKeysEvictsIdleFirst(t *testing.T) {
	c := newClock()
	l := memory.New(memory.WithClock(c.now), memory.WithShards(1), memory.WithMaxKeys(64))
	ctx := context.Background()
	hour := ratelimit.Limit{Count: 1, Window: time.Hour}
	_, err := l.Allow(ctx, "live", hour, 1)
	require.NoError(t, err)
	for i := range 63 {
		_, err := l.Allow(ctx, fmt.Sprint("idle-", i), perSecond, 1)
		require.NoError(t, err)
	}
	// The 63 others are idle after 200ms; no sweep is due before a second.
	c.advance(500 * time.Millisecond)
	for i := range 200 {
		_, err := l.Allow(ctx, fmt.Sprint("new-", i), perSecond, 1)
		require.NoError(t, err)
	}
	d, err := l.Allow(ctx, "live", hour, 1)
	require.NoError(t, err)
	require.False(t, d.Allowed, "a full shard evicts idle keys before live ones")
}

func TestNoAllocationsForKnownKey(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	l := memory.New()
	ctx := context.Background()
	lim := ratelimit.Limit{Count: 1 << 40, Window: time.Hour}
	_, err := l.Allow(ctx, "hot", lim, 1)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(1000, func() {
		_, _ = l.Allow(ctx, "hot", lim, 1)
	})
	require.Zero(t, allocs)
}

// TestBytesPerKey measures the heap a live key costs, map overhead and key
// copy included.
func TestBytesPerKey(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 200k keys")
	}
	const n = 200_000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("consumer-%08d", i)
	}
	perKey := bytesPerKey(t, keys)
	t.Logf("%.1f bytes per live key (%d keys, 16-byte key strings)", perKey, n)
	require.LessOrEqual(t, perKey, 100.0)
}

func bytesPerKey(t testing.TB, keys []string) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	l := memory.New(memory.WithMaxKeys(len(keys)))
	ctx := context.Background()
	lim := ratelimit.Limit{Count: 100, Window: time.Hour}
	for _, k := range keys {
		if _, err := l.Allow(ctx, k, lim, 1); err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if l.Len() != len(keys) {
		t.Fatalf("%d live keys, want %d", l.Len(), len(keys))
	}
	runtime.KeepAlive(l)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(len(keys))
}
