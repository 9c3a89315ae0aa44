package memory_test

import (
	"context"
	"fmt"
	"math/rand/v2"
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

// TestBytesPerKey measures the heap a live key costs, the free slots of the
// tables included.
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
	t.Logf("%.1f bytes per live key (%d keys of 17 bytes, which the limiter does not keep)", perKey, n)
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

func TestAllowAllNoAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	l := memory.New()
	ctx := context.Background()
	lim := ratelimit.Limit{Count: 1 << 40, Window: time.Hour}
	for size := 1; size <= 8; size++ {
		reqs := make([]ratelimit.Request, size)
		for i := range reqs {
			reqs[i] = ratelimit.Request{Key: fmt.Sprintf("noalloc-%d-%d", size, i), Limit: lim}
		}
		out := make([]ratelimit.Decision, size)
		ok, err := l.AllowAll(ctx, reqs, 1, out)
		require.NoError(t, err)
		require.True(t, ok)
		allocs := testing.AllocsPerRun(1000, func() {
			_, _ = l.AllowAll(ctx, reqs, 1, out)
		})
		require.Zero(t, allocs, "%d keys", size)
	}
}

// TestAllowAllManyKeys goes past the requests AllowAll handles without
// allocating, on one shard and on many.
func TestAllowAllManyKeys(t *testing.T) {
	for _, shards := range []int{1, 64} {
		l := memory.New(memory.WithClock(newClock().now), memory.WithShards(shards))
		ctx := context.Background()
		reqs := make([]ratelimit.Request, 40)
		for i := range reqs {
			reqs[i] = ratelimit.Request{Key: fmt.Sprint("many-", i), Limit: ratelimit.Limit{Count: int64(10 + i), Window: time.Minute}}
		}
		out := make([]ratelimit.Decision, len(reqs))
		// The first limit, 10 a minute, allows ten calls of the forty keys.
		for range 10 {
			ok, err := l.AllowAll(ctx, reqs, 1, out)
			require.NoError(t, err)
			require.True(t, ok)
		}
		ok, err := l.AllowAll(ctx, reqs, 1, out)
		require.NoError(t, err)
		require.False(t, ok)
		require.False(t, out[0].Allowed)
		for i, r := range reqs {
			d, err := l.Allow(ctx, r.Key, r.Limit, 0)
			require.NoError(t, err)
			require.Equal(t, int64(i), d.Remaining, "%d shards: key %d charged ten times", shards, i)
		}
		twice := append(reqs[:len(reqs):len(reqs)], ratelimit.Request{Key: reqs[33].Key, Limit: reqs[0].Limit})
		_, err = l.AllowAll(ctx, twice, 1, make([]ratelimit.Decision, len(twice)))
		require.ErrorIs(t, err, ratelimit.ErrInvalidLimit)
		require.Contains(t, err.Error(), `"many-33"`)
	}
}

// TestDefaultClock checks the clock New reads by default, updated every
// millisecond: waiting the RetryAfter a refusal reports, plus the clock's
// resolution, is enough while the clock's ticker gets CPU time. On a loaded
// machine it may lag further: a request may then be refused once more, with a
// RetryAfter of about that lag.
func TestDefaultClock(t *testing.T) {
	testRetryAfter(t, memory.New(), memory.DefaultClockResolution)
}

// TestExactClock checks WithClockResolution(0), the monotonic clock read on
// every decision: waiting RetryAfter is always enough.
func TestExactClock(t *testing.T) {
	testRetryAfter(t, memory.New(memory.WithClockResolution(0)), 0)
}

func testRetryAfter(t *testing.T, l *memory.Limiter, resolution time.Duration) {
	// How late the clock's ticker may run on a loaded test machine.
	const schedulerSlack = 50 * time.Millisecond
	ctx := context.Background()
	lim := ratelimit.Limit{Count: 1, Window: 50 * time.Millisecond}
	for round := range 5 {
		k := fmt.Sprint("k", round)
		d, err := l.Allow(ctx, k, lim, 1)
		require.NoError(t, err)
		require.True(t, d.Allowed)
		d, err = l.Allow(ctx, k, lim, 1)
		require.NoError(t, err)
		require.False(t, d.Allowed)
		require.Positive(t, d.RetryAfter)
		require.LessOrEqual(t, d.RetryAfter, lim.Window)
		time.Sleep(d.RetryAfter + resolution)
		for retry := 0; ; retry++ {
			d, err = l.Allow(ctx, k, lim, 1)
			require.NoError(t, err)
			if d.Allowed {
				break
			}
			require.NotZero(t, resolution, "round %d: refused after RetryAfter with an exact clock", round)
			require.Less(t, retry, 10, "round %d: still refused", round)
			require.LessOrEqual(t, d.RetryAfter, resolution+schedulerSlack, "round %d: refused again, for longer than the clock may lag", round)
			time.Sleep(d.RetryAfter)
		}
	}
}

// TestClockGoroutineEnds checks that the goroutine of the default clock ends
// once its Limiter is unreachable: limiters dropped without any Close leak
// nothing.
func TestClockGoroutineEnds(t *testing.T) {
	runtime.GC()
	base := runtime.NumGoroutine()
	func() {
		ctx := context.Background()
		for i := range 50 {
			l := memory.New()
			_, err := l.Allow(ctx, fmt.Sprint("k", i), perSecond, 1)
			require.NoError(t, err)
		}
		require.Greater(t, runtime.NumGoroutine(), base, "each limiter runs its clock")
	}()
	// Polled here: require.Eventually runs its condition on goroutines of its own.
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		runtime.GC() // unreachable limiters' cleanups run after a GC
		time.Sleep(10 * time.Millisecond)
	}
	require.LessOrEqual(t, runtime.NumGoroutine(), base, "goroutines left after the limiters were dropped")
}

// model is a reference GCRA over a plain map, written from the Limiter's
// documentation: TestMatchesModel checks that the sharded tables (inserts,
// growth, deletions by peeks, Reset and sweeps) never lose or mix up a key.
type model map[string]int64

func (m model) allow(key string, lim ratelimit.Limit, n, now int64) ratelimit.Decision {
	interval := int64(lim.Window) / lim.Count
	tolerance := interval * lim.Count
	tat := max(m[key], now)
	next := tat + n*interval
	switch {
	case n > lim.Count:
		return ratelimit.Decision{Limit: lim.Count, Remaining: max(tolerance-(tat-now), 0) / interval,
			Reset: time.Duration(tat - now), RetryAfter: lim.Window}
	case next-now > tolerance:
		return ratelimit.Decision{Limit: lim.Count, Remaining: max(tolerance-(tat-now), 0) / interval,
			Reset: time.Duration(tat - now), RetryAfter: time.Duration(next - now - tolerance)}
	}
	return ratelimit.Decision{Allowed: true, Limit: lim.Count, Remaining: (tolerance - (next - now)) / interval,
		Reset: time.Duration(next - now)}
}

func TestMatchesModel(t *testing.T) {
	c := newClock()
	l := memory.New(memory.WithClock(c.now), memory.WithShards(2))
	ctx := context.Background()
	m := model{}
	rng := rand.New(rand.NewPCG(1, 2))
	limits := []ratelimit.Limit{
		{Count: 5, Window: time.Second},
		{Count: 3, Window: 100 * time.Millisecond},
		{Count: 50, Window: time.Minute},
	}
	steps := 200_000
	if testing.Short() {
		steps = 20_000
	}
	randomKey := func() string { return fmt.Sprint("model-", rng.IntN(3000)) }
	for step := range steps {
		now := c.now().UnixNano()
		switch r := rng.IntN(100); {
		case r < 2:
			k := randomKey()
			require.NoError(t, l.Reset(ctx, k))
			delete(m, k)
		case r < 5:
			c.advance(time.Duration(rng.Int64N(int64(300 * time.Millisecond))))
		case r < 20:
			reqs := make([]ratelimit.Request, 1+rng.IntN(4))
			for i := range reqs {
			again:
				k := randomKey()
				for _, q := range reqs[:i] {
					if q.Key == k {
						goto again
					}
				}
				reqs[i] = ratelimit.Request{Key: k, Limit: limits[rng.IntN(len(limits))]}
			}
			n := rng.Int64N(4)
			out := make([]ratelimit.Decision, len(reqs))
			ok, err := l.AllowAll(ctx, reqs, n, out)
			require.NoError(t, err)
			all := true
			for i, q := range reqs {
				want := m.allow(q.Key, q.Limit, n, now)
				require.Equal(t, want, out[i], "step %d: AllowAll out[%d]", step, i)
				all = all && want.Allowed
			}
			require.Equal(t, all, ok, "step %d", step)
			if ok && n > 0 {
				for i, q := range reqs {
					m[q.Key] = now + int64(out[i].Reset)
				}
			}
		default:
			k, lim, n := randomKey(), limits[rng.IntN(len(limits))], rng.Int64N(6)
			want := m.allow(k, lim, n, now)
			d, err := l.Allow(ctx, k, lim, n)
			require.NoError(t, err)
			require.Equal(t, want, d, "step %d: Allow(%s, %+v, %d)", step, k, lim, n)
			if want.Allowed && n > 0 {
				m[k] = now + int64(want.Reset)
			}
		}
	}
	// Every key is idle an hour later: sweeping both shards leaves none.
	c.advance(time.Hour)
	for range 3 {
		c.advance(time.Second)
		_, err := l.Allow(ctx, "never-charged", limits[0], 0)
		require.NoError(t, err)
	}
	require.Zero(t, l.Len())
}

// A prepared key (KeyPreparer) counts under the same counter as the key
// itself; one prepared by another limiter is ignored, not trusted.
func TestPreparedKeys(t *testing.T) {
	ctx := context.Background()
	l, other := memory.New(), memory.New()
	limit := ratelimit.Limit{Count: 3, Window: time.Minute}
	out := make([]ratelimit.Decision, 2)
	reqs := func(pa, pb any) []ratelimit.Request {
		return []ratelimit.Request{{Key: "a", Limit: limit, Prepared: pa}, {Key: "b", Limit: limit, Prepared: pb}}
	}
	ok, err := l.AllowAll(ctx, reqs(l.PrepareKey("a"), nil), 1, out)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = l.AllowAll(ctx, reqs(nil, other.PrepareKey("b")), 1, out) // other's: hashed again
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = l.AllowAll(ctx, reqs(l.PrepareKey("a"), l.PrepareKey("b")), 1, out)
	require.NoError(t, err)
	require.True(t, ok)
	require.EqualValues(t, 0, out[0].Remaining, "a: three charges, prepared or not, on one counter")
	require.EqualValues(t, 0, out[1].Remaining, "b likewise")
	d, err := l.Allow(ctx, "a", limit, 1)
	require.NoError(t, err)
	require.False(t, d.Allowed)
	_, err = l.AllowAll(ctx, []ratelimit.Request{{Key: "c", Limit: limit, Prepared: l.PrepareKey("c")}, {Key: "c", Limit: limit}}, 1, out)
	require.ErrorIs(t, err, ratelimit.ErrInvalidLimit, "a key twice, prepared once")
}
