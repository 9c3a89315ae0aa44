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
//   - of N concurrent charges on a key's windows, exactly as many pass as the
//     tightest window has room for, and each window is charged exactly that
//     much, also when one window has started again while the others keep
//     their counts;
//   - the windows of a key are charged together or not at all, wherever the
//     spent one is: a refusal leaves every count as it was;
//   - a window given with a new End counts from zero while the key's other
//     windows keep their counts; a window whose End has passed counts from
//     zero and keeps nothing;
//   - windows not given are neither read nor charged, and a key's windows are
//     told apart by Name, not by position;
//   - n = 0 reads (and creates nothing); Max = 0 refuses every charge;
//     ResetQuota forgets every window of one key and no other key;
//   - negative n, negative Max, an empty or repeated Name and a used slice of
//     the wrong length are errors wrapping ratelimit.ErrInvalidLimit, and
//     charge nothing.
func RunQuotas(t *testing.T, newCounter func(t *testing.T, now func() time.Time) ratelimit.QuotaCounter) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, ratelimit.QuotaCounter, *clock)
	}{
		{"ConcurrentExactness", testQuotaConcurrent},
		{"AllOrNone", testQuotaAllOrNone},
		{"WindowEnds", testQuotaWindowEnds},
		{"OneWindowRollsOver", testQuotaRollOver},
		{"WindowsByName", testQuotaByName},
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

// consume calls qc.Consume and fails the test on an error.
func consume(t *testing.T, qc ratelimit.QuotaCounter, key string, ws []ratelimit.QuotaWindow, n int64) (bool, []int64) {
	t.Helper()
	used := make([]int64, len(ws))
	ok, err := qc.Consume(context.Background(), key, ws, n, used)
	require.NoError(t, err)
	return ok, used
}

// read returns the counts of ws without charging.
func read(t *testing.T, qc ratelimit.QuotaCounter, key string, ws ...ratelimit.QuotaWindow) []int64 {
	t.Helper()
	_, used := consume(t, qc, key, ws, 0)
	return used
}

// concurrently makes callers concurrent charges of 1 and returns how many
// were allowed.
func concurrently(t *testing.T, qc ratelimit.QuotaCounter, key string, ws []ratelimit.QuotaWindow, callers int) int64 {
	t.Helper()
	var allowed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, callers)
	for range callers {
		wg.Go(func() {
			<-start
			ok, err := qc.Consume(context.Background(), key, ws, 1, make([]int64, len(ws)))
			if err != nil {
				errs <- err
				return
			}
			if ok {
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
	return allowed.Load()
}

func testQuotaConcurrent(t *testing.T, qc ratelimit.QuotaCounter, c *clock) {
	key := quotaKey(t, "k")
	first := c.now().Add(10 * time.Second)
	short := ratelimit.QuotaWindow{Name: "short", Max: 40, End: first}
	long := ratelimit.QuotaWindow{Name: "long", Max: 60, End: c.now().Add(time.Hour)}
	ws := []ratelimit.QuotaWindow{short, long}
	require.EqualValues(t, 40, concurrently(t, qc, key, ws, 100), "exactly the short window's Max pass")
	require.Equal(t, []int64{40, 40}, read(t, qc, key, ws...), "refused charges count in no window")

	// The short window starts again; the long one has 20 left.
	c.advance(10 * time.Second)
	short.End = first.Add(10 * time.Second)
	ws = []ratelimit.QuotaWindow{short, long}
	require.EqualValues(t, 20, concurrently(t, qc, key, ws, 100), "exactly the long window's remaining 20 pass")
	require.Equal(t, []int64{20, 60}, read(t, qc, key, ws...))
}

func testQuotaAllOrNone(t *testing.T, qc ratelimit.QuotaCounter, c *clock) {
	end := c.now().Add(time.Hour)
	small := ratelimit.QuotaWindow{Name: "small", Max: 2, End: end}
	large := ratelimit.QuotaWindow{Name: "large", Max: 10, End: end}
	for _, order := range []struct {
		name string
		ws   []ratelimit.QuotaWindow
	}{
		{"spent window last", []ratelimit.QuotaWindow{large, small}},
		{"spent window first", []ratelimit.QuotaWindow{small, large}},
	} {
		t.Run(order.name, func(t *testing.T) {
			key := quotaKey(t, "k")
			for i := range 2 {
				ok, used := consume(t, qc, key, order.ws, 1)
				require.True(t, ok, "charge %d", i)
				require.Equal(t, []int64{int64(i + 1), int64(i + 1)}, used)
			}
			for range 3 {
				ok, used := consume(t, qc, key, order.ws, 1)
				require.False(t, ok, "the small window is spent")
				require.Equal(t, []int64{2, 2}, used, "a refusal reports the counts as they were")
			}
			require.Equal(t, []int64{2}, read(t, qc, key, large), "the refused charges did not touch the large window")
			ok, used := consume(t, qc, key, []ratelimit.QuotaWindow{large}, 8)
			require.True(t, ok, "a weight that fits exactly passes")
			require.Equal(t, []int64{10}, used)
			ok, used = consume(t, qc, key, []ratelimit.QuotaWindow{large}, 1)
			require.False(t, ok)
			require.Equal(t, []int64{10}, used)
		})
	}
	t.Run("weight over one window", func(t *testing.T) {
		key := quotaKey(t, "k")
		ok, used := consume(t, qc, key, []ratelimit.QuotaWindow{large, small}, 3)
		require.False(t, ok, "3 fits the large window, not the small one")
		require.Equal(t, []int64{0, 0}, used)
		require.Equal(t, []int64{0, 0}, read(t, qc, key, large, small))
	})
}

func testQuotaWindowEnds(t *testing.T, qc ratelimit.QuotaCounter, c *clock) {
	key := quotaKey(t, "k")
	first := c.now().Add(10 * time.Second)
	w := ratelimit.QuotaWindow{Name: "w", Max: 3, End: first}
	for range 3 {
		ok, _ := consume(t, qc, key, []ratelimit.QuotaWindow{w}, 1)
		require.True(t, ok)
	}
	ok, _ := consume(t, qc, key, []ratelimit.QuotaWindow{w}, 1)
	require.False(t, ok)

	c.advance(9 * time.Second)
	ok, _ = consume(t, qc, key, []ratelimit.QuotaWindow{w}, 1)
	require.False(t, ok, "still the same window")

	c.advance(time.Second) // now == first: the window is over
	require.Equal(t, []int64{0}, read(t, qc, key, w), "a window whose End has passed counts from zero")
	ok, used := consume(t, qc, key, []ratelimit.QuotaWindow{w}, 3)
	require.True(t, ok, "and allows its whole Max")
	require.Equal(t, []int64{3}, used)
	require.Equal(t, []int64{0}, read(t, qc, key, w), "but keeps nothing")

	w.End = first.Add(10 * time.Second)
	ok, used = consume(t, qc, key, []ratelimit.QuotaWindow{w}, 1)
	require.True(t, ok, "the next window starts from zero")
	require.Equal(t, []int64{1}, used)

	// A caller that moves to a new End before the old one passed (a day
	// boundary computed by another instance's clock) starts a new count too.
	w.End = w.End.Add(time.Hour)
	require.Equal(t, []int64{0}, read(t, qc, key, w))
}

func testQuotaRollOver(t *testing.T, qc ratelimit.QuotaCounter, c *clock) {
	key := quotaKey(t, "k")
	throttling := ratelimit.QuotaWindow{Name: "throttling", Max: 5, End: c.now().Add(10 * time.Second)}
	daily := ratelimit.QuotaWindow{Name: "daily", Max: 7, End: c.now().Add(24 * time.Hour)}
	monthly := ratelimit.QuotaWindow{Name: "monthly", Max: 100, End: c.now().Add(30 * 24 * time.Hour)}
	ok, used := consume(t, qc, key, []ratelimit.QuotaWindow{throttling, daily, monthly}, 5)
	require.True(t, ok)
	require.Equal(t, []int64{5, 5, 5}, used)
	ok, _ = consume(t, qc, key, []ratelimit.QuotaWindow{throttling, daily, monthly}, 1)
	require.False(t, ok, "the throttling window is spent")

	c.advance(10 * time.Second)
	throttling.End = throttling.End.Add(10 * time.Second)
	ws := []ratelimit.QuotaWindow{throttling, daily, monthly}
	require.Equal(t, []int64{0, 5, 5}, read(t, qc, key, ws...), "only the window with a new End starts from zero")
	ok, used = consume(t, qc, key, ws, 2)
	require.True(t, ok)
	require.Equal(t, []int64{2, 7, 7}, used)
	ok, used = consume(t, qc, key, ws, 1)
	require.False(t, ok, "the daily window is spent, whatever the throttling window has left")
	require.Equal(t, []int64{2, 7, 7}, used)

	// The next day: the daily window starts again, the monthly one goes on.
	c.advance(24 * time.Hour)
	throttling.End = c.now().Add(10 * time.Second)
	daily.End = daily.End.Add(24 * time.Hour)
	ok, used = consume(t, qc, key, []ratelimit.QuotaWindow{throttling, daily, monthly}, 1)
	require.True(t, ok)
	require.Equal(t, []int64{1, 1, 8}, used)
}

func testQuotaByName(t *testing.T, qc ratelimit.QuotaCounter, c *clock) {
	key, other := quotaKey(t, "k"), quotaKey(t, "other")
	end := c.now().Add(time.Hour)
	a := ratelimit.QuotaWindow{Name: "a", Max: 10, End: end}
	b := ratelimit.QuotaWindow{Name: "b", Max: 10, End: end}
	ok, _ := consume(t, qc, key, []ratelimit.QuotaWindow{a, b}, 3)
	require.True(t, ok)
	ok, _ = consume(t, qc, key, []ratelimit.QuotaWindow{b}, 2)
	require.True(t, ok, "a window charged alone")
	require.Equal(t, []int64{3, 5}, read(t, qc, key, a, b), "a window not given was not charged")
	require.Equal(t, []int64{5, 3}, read(t, qc, key, b, a), "windows are found by Name, in any order")
	ok, used := consume(t, qc, key, []ratelimit.QuotaWindow{{Name: "c", Max: 10, End: end}, a}, 1)
	require.True(t, ok, "a window added to a key")
	require.Equal(t, []int64{1, 4}, used)
	require.Equal(t, []int64{0, 0}, read(t, qc, other, a, b), "another key has counts of its own")

	// A new window given before one that has started again.
	c.advance(time.Hour) // a, b and c are over
	a.End, b.End = c.now().Add(time.Minute), c.now().Add(2*time.Minute)
	d := ratelimit.QuotaWindow{Name: "d", Max: 10, End: c.now().Add(3 * time.Minute)}
	ok, used = consume(t, qc, key, []ratelimit.QuotaWindow{d, a}, 1)
	require.True(t, ok)
	require.Equal(t, []int64{1, 1}, used)
	ok, used = consume(t, qc, key, []ratelimit.QuotaWindow{b, a, d}, 2)
	require.True(t, ok)
	require.Equal(t, []int64{2, 3, 3}, used, "each window kept a count of its own")
}

func testQuotaReadZeroReset(t *testing.T, qc ratelimit.QuotaCounter, c *clock) {
	key, other := quotaKey(t, "k"), quotaKey(t, "other")
	ws := []ratelimit.QuotaWindow{
		{Name: "minute", Max: 5, End: c.now().Add(time.Minute)},
		{Name: "hour", Max: 9, End: c.now().Add(time.Hour)},
	}
	ok, used := consume(t, qc, key, ws, 0)
	require.True(t, ok)
	require.Equal(t, []int64{0, 0}, used, "an unknown key has used nothing")
	require.Equal(t, []int64{0, 0}, read(t, qc, key, ws...), "reading charged nothing")
	ok, _ = consume(t, qc, key, ws, 5)
	require.True(t, ok)
	ok, _ = consume(t, qc, other, ws, 2)
	require.True(t, ok)
	ok, used = consume(t, qc, key, ws, 0)
	require.True(t, ok, "reading a spent window is not a refusal")
	require.Equal(t, []int64{5, 5}, used)

	require.NoError(t, qc.ResetQuota(context.Background(), key))
	require.Equal(t, []int64{0, 0}, read(t, qc, key, ws...), "a reset forgets every window of the key")
	require.Equal(t, []int64{2, 2}, read(t, qc, other, ws...), "and no other key's")
	ok, used = consume(t, qc, key, ws, 5)
	require.True(t, ok, "a reset key has its whole quota")
	require.Equal(t, []int64{5, 5}, used)
	require.NoError(t, qc.ResetQuota(context.Background(), quotaKey(t, "never-used")), "resetting an unknown key is fine")

	zero := []ratelimit.QuotaWindow{ws[1], {Name: "none", Max: 0, End: c.now().Add(time.Minute)}}
	ok, used = consume(t, qc, quotaKey(t, "zero"), zero, 1)
	require.False(t, ok, "a window of Max 0 refuses every charge")
	require.Equal(t, []int64{0, 0}, used)
	ok, _ = consume(t, qc, quotaKey(t, "zero"), zero, 0)
	require.True(t, ok, "reading it is not a refusal")
}

func testQuotaInvalid(t *testing.T, qc ratelimit.QuotaCounter, c *clock) {
	ctx := context.Background()
	key := quotaKey(t, "k")
	w := ratelimit.QuotaWindow{Name: "w", Max: 5, End: c.now().Add(time.Minute)}
	for _, tc := range []struct {
		name string
		ws   []ratelimit.QuotaWindow
		n    int64
		used []int64
	}{
		{"negative n", []ratelimit.QuotaWindow{w}, -1, make([]int64, 1)},
		{"negative Max", []ratelimit.QuotaWindow{w, {Name: "v", Max: -1, End: w.End}}, 1, make([]int64, 2)},
		{"no room for counts", []ratelimit.QuotaWindow{w}, 1, nil},
		{"empty name", []ratelimit.QuotaWindow{w, {Max: 5, End: w.End}}, 1, make([]int64, 2)},
		{"repeated name", []ratelimit.QuotaWindow{w, w}, 1, make([]int64, 2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := qc.Consume(ctx, key, tc.ws, tc.n, tc.used)
			require.True(t, errors.Is(err, ratelimit.ErrInvalidLimit), "%v", err)
		})
	}
	require.Equal(t, []int64{0}, read(t, qc, key, w), "invalid calls charged nothing")
}
