package memory

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/ratelimit"
)

// quotaEntries counts the quota keys l holds.
func quotaEntries(l *Limiter) int {
	n := 0
	for i := range l.quotas.shards {
		s := &l.quotas.shards[i]
		s.mu.Lock()
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

type testClock struct{ ns int64 }

func (c *testClock) now() time.Time { return time.Unix(0, c.ns) }

func TestQuotaEndedKeysAreDropped(t *testing.T) {
	c := &testClock{ns: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()}
	l := New(WithClock(c.now), WithShards(1))
	ctx := context.Background()
	used := make([]int64, 2)
	charge := func(key string, d time.Duration) {
		t.Helper()
		ws := []ratelimit.QuotaWindow{
			{Name: "short", Max: 10, End: c.now().Add(d)},
			{Name: "long", Max: 10, End: c.now().Add(2 * d)},
		}
		ok, err := l.Consume(ctx, key, ws, 1, used)
		require.NoError(t, err)
		require.True(t, ok)
	}
	for i := range 1000 {
		charge(fmt.Sprint("old-", i), 10*time.Second)
	}
	require.Equal(t, 1000, quotaEntries(l))
	for i := range 50 {
		_, err := l.Consume(ctx, fmt.Sprint("reader-", i), []ratelimit.QuotaWindow{{Name: "w", Max: 1, End: c.now().Add(time.Hour)}}, 0, used[:1])
		require.NoError(t, err)
	}
	require.Equal(t, 1000, quotaEntries(l), "reads hold nothing")

	c.ns += int64(15 * time.Second) // the short windows are over, not the long ones
	for i := range 100 {
		charge(fmt.Sprint("new-", i), time.Hour)
	}
	require.Equal(t, 1100, quotaEntries(l), "a key with a window in progress is kept")

	c.ns += int64(10 * time.Second) // every old window is over
	for i := range 1000 {
		charge(fmt.Sprint("newer-", i), time.Hour)
	}
	require.Less(t, quotaEntries(l), 1100+1000+10, "new keys dropped (nearly) all the ended ones")
	require.GreaterOrEqual(t, quotaEntries(l), 1100)
}

func TestQuotaSlotsAreReused(t *testing.T) {
	c := &testClock{ns: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()}
	l := New(WithClock(c.now))
	ctx := context.Background()
	used := make([]int64, 2)
	kept := c.now().Add(time.Hour)
	for i := range 100 {
		// A window that keeps its name and one renamed every time, as when
		// a key's quotas are changed: ended slots are reused.
		ws := []ratelimit.QuotaWindow{
			{Name: "kept", Max: 1000, End: kept},
			{Name: fmt.Sprint("renamed-", i), Max: 1000, End: c.now().Add(time.Second)},
		}
		ok, err := l.Consume(ctx, "k", ws, 1, used)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, []int64{int64(i + 1), 1}, used)
		c.ns += int64(time.Second)
	}
	e := l.quotas.shard("k").m["k"]
	require.Len(t, e.slots, 2, "one slot per window in progress")
}

// TestQuotaWallClock checks that, with the default clock, quotas read the
// wall clock even when it has moved away from the monotonic clock the rate
// limits count (here, as if it had been set an hour forward after New).
func TestQuotaWallClock(t *testing.T) {
	// The reading trails the wall clock by the ticker's lag, which a loaded
	// machine (CI under -race) stretches; what must never happen is the
	// hour the coarse clock is off by, or a reading ahead of the wall clock.
	const slack = time.Second
	c := newCoarseClock(time.Millisecond, time.Second)
	defer c.stop()
	c.mono.startNS -= int64(time.Hour) // the ticker has not read it yet
	c.ns.Store(c.mono.read())
	var w wallClock
	for i := range 1000 {
		r := w.now(c)
		wall := time.Now().UnixNano()
		require.LessOrEqual(t, r, wall, "reading %d leads the wall clock", i)
		require.Less(t, wall-r, int64(time.Millisecond+slack), "reading %d lags the wall clock", i)
		if i%100 == 0 {
			time.Sleep(2 * time.Millisecond)
		}
	}
}
