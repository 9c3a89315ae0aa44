package redislimiter_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/internal/testenv"
	"github.com/gatehousehq/gatehouse/internal/testlog"
	"github.com/gatehousehq/gatehouse/internal/testnet"
	"github.com/gatehousehq/gatehouse/ratelimit"
	"github.com/gatehousehq/gatehouse/ratelimit/limitertest"
	"github.com/gatehousehq/gatehouse/ratelimit/limitplugin"
	"github.com/gatehousehq/gatehouse/ratelimit/memory"
	"github.com/gatehousehq/gatehouse/ratelimit/redislimiter"
)

func TestConformance(t *testing.T) {
	c := newClient(t, "")
	limitertest.Run(t, func(t *testing.T, now func() time.Time) ratelimit.Limiter {
		return redislimiter.New(c, redislimiter.WithPrefix(testPrefix(t, c)), redislimiter.WithClock(now))
	})
}

func TestQuotaConformance(t *testing.T) {
	c := newClient(t, "")
	limitertest.RunQuotas(t, func(t *testing.T, now func() time.Time) ratelimit.QuotaCounter {
		return redislimiter.New(c, redislimiter.WithPrefix(testPrefix(t, c)), redislimiter.WithClock(now))
	})
}

// fakeClock moves only when the test advances it.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time { return time.Unix(0, c.ns.Load()) }

// The Redis limiter decides exactly as the memory limiter does: the same
// random sequence of charges, peeks, weights, AllowAll calls and clock steps
// (of any number of nanoseconds) gets the same decisions, field for field.
func TestMatchesMemory(t *testing.T) {
	c := newClient(t, "")
	clock := &fakeClock{}
	clock.ns.Store(limitertest.Start.UnixNano())
	mem := memory.New(memory.WithClock(clock.now))
	rl := redislimiter.New(c, redislimiter.WithPrefix(testPrefix(t, c)), redislimiter.WithClock(clock.now))
	limits := []ratelimit.Limit{
		{Count: 3, Window: time.Second},       // an interval that is not a whole µs
		{Count: 7, Window: time.Minute},       // nor a whole ms
		{Count: 1000, Window: 24 * time.Hour}, // a day
		{Count: 5, Window: 5},                 // one nanosecond apart
		{Count: 2, Window: 40 * 24 * time.Hour},
	}
	keys := make([]string, len(limits))
	for i := range keys {
		keys[i] = fmt.Sprintf("k%d", i)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ctx := context.Background()
	weights := []int64{0, 1, 1, 1, 1, 2, 3, 8}
	synced := time.Now()
	for step := range 1500 {
		n := weights[rng.IntN(len(weights))]
		if rng.IntN(4) == 0 {
			i, j := rng.IntN(len(keys)), rng.IntN(len(keys))
			if i == j {
				j = (i + 1) % len(keys)
			}
			reqs := []ratelimit.Request{{Key: keys[i], Limit: limits[i]}, {Key: keys[j], Limit: limits[j]}}
			wantOut, gotOut := make([]ratelimit.Decision, 2), make([]ratelimit.Decision, 2)
			want, err := mem.AllowAll(ctx, reqs, n, wantOut)
			require.NoError(t, err)
			got, err := rl.AllowAll(ctx, reqs, n, gotOut)
			require.NoError(t, err)
			require.Equal(t, want, got, "step %d: AllowAll(%s, %s, %d)", step, keys[i], keys[j], n)
			require.Equal(t, wantOut, gotOut, "step %d: AllowAll(%s, %s, %d)", step, keys[i], keys[j], n)
		} else {
			i := rng.IntN(len(keys))
			want, err := mem.Allow(ctx, keys[i], limits[i], n)
			require.NoError(t, err)
			got, err := rl.Allow(ctx, keys[i], limits[i], n)
			require.NoError(t, err)
			require.Equal(t, want, got, "step %d: Allow(%s, %d)", step, keys[i], n)
		}
		// Steps of any size, mostly within a limit's interval.
		lim := limits[rng.IntN(len(limits))]
		clock.ns.Add(rng.Int64N(2 * int64(lim.Window) / lim.Count))
		// The clock may not run slower than real time (WithClock): Redis
		// expires keys by its own, a millisecond at least after a charge
		// (PX), so a 5 ns key charged now is gone a millisecond later
		// whatever the fake clock says. It catches up whenever a quarter of
		// that has passed.
		if d := time.Since(synced); d > 250*time.Microsecond {
			clock.ns.Add(int64(d))
			synced = time.Now()
		}
	}
}

// Without WithClock the script reads Redis' clock: decisions still follow
// GCRA, and a key's TAT lives in Redis, so a second limiter (another
// instance) sees the charges of the first.
func TestRedisClock(t *testing.T) {
	c := newClient(t, "")
	prefix := testPrefix(t, c)
	a, b := redislimiter.New(c, redislimiter.WithPrefix(prefix)), redislimiter.New(c, redislimiter.WithPrefix(prefix))
	ctx := context.Background()
	lim := ratelimit.Limit{Count: 5, Window: time.Minute}
	for i := range 5 {
		l := a
		if i%2 == 1 {
			l = b
		}
		d, err := l.Allow(ctx, "k", lim, 1)
		require.NoError(t, err)
		require.True(t, d.Allowed)
		require.Equal(t, int64(4-i), d.Remaining)
	}
	d, err := b.Allow(ctx, "k", lim, 1)
	require.NoError(t, err)
	require.False(t, d.Allowed, "the five charges of both instances count")
	require.Greater(t, d.RetryAfter, 11*time.Second, "one interval (12 s) less the time the test took")
	require.LessOrEqual(t, d.RetryAfter, 12*time.Second)

	ttl, err := c.PTTL(ctx, prefix+"r:k").Result()
	require.NoError(t, err)
	require.InDelta(t, time.Minute, ttl, float64(time.Second), "the key expires when its capacity is back")

	require.NoError(t, a.Reset(ctx, "k"))
	d, err = b.Allow(ctx, "k", lim, 0)
	require.NoError(t, err)
	require.Equal(t, int64(5), d.Remaining)

	w := []ratelimit.QuotaWindow{{Name: "day", Max: 2, End: ratelimit.DayEnd(time.Now())}}
	for _, want := range []bool{true, true, false} {
		ok, err := a.Consume(ctx, "q", w, 1, make([]int64, 1))
		require.NoError(t, err)
		require.Equal(t, want, ok)
	}
	ttl, err = c.PTTL(ctx, prefix+"q:q").Result()
	require.NoError(t, err)
	require.InDelta(t, time.Until(w[0].End), ttl, float64(2*time.Second), "the quota expires when its window ends")
	over := []ratelimit.QuotaWindow{{Name: "past", Max: 1, End: time.Now().Add(-time.Second)}}
	used := make([]int64, 1)
	for range 2 {
		ok, err := a.Consume(ctx, "q2", over, 1, used)
		require.NoError(t, err)
		require.True(t, ok, "a window Redis sees as over counts from zero")
	}
	n, err := c.Exists(ctx, prefix+"q:q2").Result()
	require.NoError(t, err)
	require.Zero(t, n, "and keeps nothing")
}

// Every decision is one round trip, AllowAll of three limits included.
func TestOneRoundTrip(t *testing.T) {
	c := newClient(t, "")
	hook := &counter{}
	c.AddHook(hook)
	l := redislimiter.New(c, redislimiter.WithPrefix(testPrefix(t, c)))
	ctx := context.Background()
	require.NoError(t, c.Ping(ctx).Err()) // the connection's handshake is not a decision's
	hook.take()
	lim := ratelimit.Limit{Count: 10, Window: time.Minute}
	for range 3 {
		_, err := l.Allow(ctx, "a", lim, 1)
		require.NoError(t, err)
		trips, _ := hook.take()
		require.Equal(t, 1, trips, "Allow")

		reqs := []ratelimit.Request{{Key: "a", Limit: lim}, {Key: "b", Limit: lim}, {Key: "c", Limit: lim}}
		_, err = l.AllowAll(ctx, reqs, 1, make([]ratelimit.Decision, 3))
		require.NoError(t, err)
		trips, keys := hook.take()
		require.Equal(t, 1, trips, "AllowAll")
		require.Len(t, keys, 3)

		w := []ratelimit.QuotaWindow{{Name: "d", Max: 5, End: time.Now().Add(time.Hour)}, {Name: "m", Max: 9, End: time.Now().Add(2 * time.Hour)}}
		_, err = l.Consume(ctx, "q", w, 1, make([]int64, 2))
		require.NoError(t, err)
		trips, _ = hook.take()
		require.Equal(t, 1, trips, "Consume")

		_, err = l.Remember(ctx, [32]byte{1}, time.Now().Add(time.Minute))
		require.NoError(t, err)
		trips, _ = hook.take()
		require.Equal(t, 1, trips, "Remember")
	}
}

// The slot rule: the keys of one advanced_rate_limiter check share a Redis
// Cluster slot, limit-count keys spread over the slots.
func TestClusterSlots(t *testing.T) {
	// Known slots (CLUSTER KEYSLOT), to trust the local CRC16.
	require.Equal(t, uint16(12182), slot("foo"))
	require.Equal(t, uint16(5061), slot("bar"))
	require.Equal(t, slot("user1000"), slot("{user1000}.following"))

	c := newClient(t, "")
	hook := &counter{}
	c.AddHook(hook)
	l := redislimiter.New(c, redislimiter.WithPrefix(testPrefix(t, c)))
	plugins := limitplugin.New(l)
	arl := compile(t, plugins.AdvancedRateLimiter(), `{"limits":{
		"global":{"limit":1000,"window":"1m"},
		"per_ip":{"limit":100,"window":"1m"},
		"per_user":{"limit":50,"window":"1m"}}}`)
	lc := compile(t, plugins.LimitCount(), `{"count":5,"time_window":60,"key_type":"consumer"}`)
	ctx := context.Background()
	groupSlots, userSlots := map[uint16]bool{}, map[uint16]bool{}
	for i := range 50 {
		who := limitplugin.Caller{
			Consumer: fmt.Sprintf("user%d", i), Group: "premium", Scope: "consumer_group:premium",
			Addr: netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}),
		}
		o := arl.Check(ctx, who)
		require.Equal(t, limitplugin.Allowed, o.Verdict(), "%v", o.Err())
		_, keys := hook.take()
		require.Len(t, keys, 3, "three limits, one script")
		for _, k := range keys {
			require.Equal(t, slot(keys[0]), slot(k), "%q and %q", keys[0], k)
			groupSlots[slot(k)] = true
		}

		who.Scope = "route:orders"
		o = lc.Check(ctx, who)
		require.Equal(t, limitplugin.Allowed, o.Verdict(), "%v", o.Err())
		_, keys = hook.take()
		require.Len(t, keys, 1)
		userSlots[slot(keys[0])] = true
	}
	require.Len(t, groupSlots, 1, "one consumer group's limits: one slot")
	require.Greater(t, len(userSlots), 40, "keys charged alone spread over the slots")
}

func compile(t *testing.T, d *limitplugin.Definition, settings string) *limitplugin.Limiter {
	t.Helper()
	p, err := d.New([]byte(settings))
	require.NoError(t, err)
	return p.(*limitplugin.Limiter)
}

// failingClient connects through a proxy the test cuts, with short timeouts
// and no retries, so that an outage shows at once.
func failingClient(t *testing.T) (*redis.Client, *testnet.Proxy) {
	t.Helper()
	opt, err := redis.ParseURL(testenv.Redis(t))
	require.NoError(t, err)
	p := testnet.NewProxy(t, opt.Addr)
	opt.Addr = p.Addr()
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = 500*time.Millisecond, 500*time.Millisecond, 500*time.Millisecond
	opt.MaxRetries = -1
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c, p
}

// When Redis goes away, decisions fail with ErrUnavailable, the plugins
// follow allow_degradation and log the outage once; when it is back,
// decisions succeed again, with nothing restarted.
func TestOutage(t *testing.T) {
	c, p := failingClient(t)
	l := redislimiter.New(c, redislimiter.WithPrefix(testPrefix(t, newClient(t, ""))))
	log := &testlog.Levels{}
	plugins := limitplugin.New(l, limitplugin.WithLogger(slog.New(log)))
	// An hour: no unit comes back during the outage and go-redis's
	// reconnection (a refused server is dialled again after a second or so).
	open := compile(t, plugins.LimitCount(), `{"count":100,"time_window":3600,"allow_degradation":true}`)
	closed := compile(t, plugins.AdvancedRateLimiter(), `{"limits":{"per_user":{"limit":100,"window":"1m"},"global":{"limit":1000,"window":"1m"}}}`)
	who := limitplugin.Caller{Consumer: "alice", Group: "g", Scope: "consumer_group:g", Addr: netip.MustParseAddr("198.51.100.1")}
	ctx := context.Background()

	for _, pl := range []*limitplugin.Limiter{open, closed} {
		o := pl.Check(ctx, who)
		require.Equal(t, limitplugin.Allowed, o.Verdict(), "%v", o.Err())
		require.False(t, o.Degraded())
	}

	p.Cut()
	for range 3 {
		o := open.Check(ctx, who)
		require.Equal(t, limitplugin.Allowed, o.Verdict(), "allow_degradation lets requests through")
		require.True(t, o.Degraded())
		require.ErrorIs(t, o.Err(), redislimiter.ErrUnavailable)
		o = closed.Check(ctx, who)
		require.Equal(t, limitplugin.Failed, o.Verdict(), "without it they fail")
		require.ErrorIs(t, o.Err(), redislimiter.ErrUnavailable)
	}
	_, err := l.Consume(ctx, "q", []ratelimit.QuotaWindow{{Name: "d", Max: 1, End: time.Now().Add(time.Hour)}}, 1, make([]int64, 1))
	require.ErrorIs(t, err, redislimiter.ErrUnavailable)
	_, err = l.Remember(ctx, [32]byte{1}, time.Now().Add(time.Minute))
	require.ErrorIs(t, err, redislimiter.ErrUnavailable)
	require.ErrorIs(t, l.Reset(ctx, "k"), redislimiter.ErrUnavailable)
	require.Equal(t, []slog.Level{slog.LevelError}, log.Get(), "one outage, one line")

	require.NoError(t, p.Restore())
	require.Eventually(t, func() bool {
		o := closed.Check(ctx, who)
		return o.Verdict() == limitplugin.Allowed && !o.Degraded()
	}, 5*time.Second, 20*time.Millisecond, "decisions succeed again without a restart")
	o := open.Check(ctx, who)
	require.False(t, o.Degraded())
	r, ok := o.Remaining("limit-count")
	require.True(t, ok)
	require.Equal(t, int64(98), r, "the counter kept in Redis survived the outage")
	require.Equal(t, []slog.Level{slog.LevelError, slog.LevelInfo}, log.Get(), "the recovery is logged once")
}

// A replay entry remembered through one limiter is seen through another
// sharing the Redis server: two gateway instances.
func TestRemember(t *testing.T) {
	c := newClient(t, "")
	prefix := testPrefix(t, c)
	a := redislimiter.New(c, redislimiter.WithPrefix(prefix))
	b := redislimiter.New(newClient(t, ""), redislimiter.WithPrefix(prefix))
	ctx := context.Background()
	key := [32]byte{7, 7, 7}
	seen, err := a.Remember(ctx, key, time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.False(t, seen)
	seen, err = b.Remember(ctx, key, time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.True(t, seen, "the other instance sees it")
	seen, err = b.Remember(ctx, [32]byte{7, 7, 8}, time.Now().Add(time.Minute))
	require.NoError(t, err)
	require.False(t, seen, "another key is new")

	short := [32]byte{9}
	seen, err = a.Remember(ctx, short, time.Now().Add(50*time.Millisecond))
	require.NoError(t, err)
	require.False(t, seen)
	require.Eventually(t, func() bool {
		seen, err := b.Remember(ctx, short, time.Now().Add(time.Minute))
		return err == nil && !seen
	}, 2*time.Second, 20*time.Millisecond, "an entry expires at until")
	seen, err = a.Remember(ctx, [32]byte{10}, time.Now().Add(-time.Second))
	require.NoError(t, err)
	require.False(t, seen, "an until already past records nothing")
}

func TestNew(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	require.Panics(t, func() { redislimiter.New(nil) })
	require.Panics(t, func() { redislimiter.New(c, redislimiter.WithPrefix("gh:{x}:")) }, "a prefix with a hash tag")
	l := redislimiter.New(c)
	_, err := l.Allow(context.Background(), "k", ratelimit.Limit{Count: 0, Window: time.Second}, 1)
	require.ErrorIs(t, err, ratelimit.ErrInvalidLimit, "invalid limits are refused before Redis is asked")
	_, err = l.Allow(context.Background(), "k", ratelimit.Limit{Count: 1, Window: time.Second}, 1)
	require.ErrorIs(t, err, redislimiter.ErrUnavailable, "nothing listens on port 1")
}

// A weight over Count is refused and charges nothing even where float64
// cannot tell it from Count (2⁶⁰ + 1).
func TestTooHeavyHugeCount(t *testing.T) {
	c := newClient(t, "")
	l := redislimiter.New(c, redislimiter.WithPrefix(testPrefix(t, c)))
	ctx := context.Background()
	huge := ratelimit.Limit{Count: 1 << 60, Window: 1 << 61}
	d, err := l.Allow(ctx, "k", huge, huge.Count+1)
	require.NoError(t, err)
	require.False(t, d.Allowed)
	require.Equal(t, huge.Window, d.RetryAfter)
	other := ratelimit.Limit{Count: 10, Window: time.Minute}
	out := make([]ratelimit.Decision, 2)
	ok, err := l.AllowAll(ctx, []ratelimit.Request{{Key: "a", Limit: huge}, {Key: "b", Limit: other}}, huge.Count+1, out)
	require.NoError(t, err)
	require.False(t, ok)
	require.False(t, out[0].Allowed)
	require.False(t, out[1].Allowed)
	for _, k := range []string{"k", "a"} {
		d, err = l.Allow(ctx, k, huge, 0)
		require.NoError(t, err)
		require.Equal(t, huge.Count, d.Remaining, "%s: nothing charged", k)
	}
}

// A key prepared once (ratelimit.KeyPreparer) names the same Redis key as
// the key itself; one prepared by another limiter is ignored.
func TestPrepareKey(t *testing.T) {
	c := newClient(t, "")
	hook := &counter{}
	c.AddHook(hook)
	prefix := testPrefix(t, c)
	l := redislimiter.New(c, redislimiter.WithPrefix(prefix))
	other := redislimiter.New(c, redislimiter.WithPrefix(prefix+"other:"))
	lim := ratelimit.Limit{Count: 10, Window: time.Minute}
	ctx := context.Background()
	call := func(prepared ...any) []string {
		t.Helper()
		reqs := []ratelimit.Request{{Key: "{t}:a", Limit: lim, Prepared: prepared[0]}, {Key: "{t}:b", Limit: lim, Prepared: prepared[1]}}
		ok, err := l.AllowAll(ctx, reqs, 1, make([]ratelimit.Decision, 2))
		require.NoError(t, err)
		require.True(t, ok)
		_, keys := hook.take()
		return keys
	}
	want := []string{prefix + "r:{t}:a", prefix + "r:{t}:b"}
	require.Equal(t, want, call(nil, nil))
	require.Equal(t, want, call(l.PrepareKey("{t}:a"), l.PrepareKey("{t}:b")))
	require.Equal(t, want, call(other.PrepareKey("{t}:a"), "not a prepared key"))
	d, err := l.Allow(ctx, "{t}:a", lim, 0)
	require.NoError(t, err)
	require.Equal(t, int64(7), d.Remaining, "three charges on one counter")
}
