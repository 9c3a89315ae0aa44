package memory_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gatehousehq/gatehouse/ratelimit"
	"github.com/gatehousehq/gatehouse/ratelimit/limitertest"
	"github.com/gatehousehq/gatehouse/ratelimit/memory"
)

func TestQuotaConformance(t *testing.T) {
	limitertest.RunQuotas(t, func(_ *testing.T, now func() time.Time) ratelimit.QuotaCounter {
		return memory.New(memory.WithClock(now))
	})
}

// BenchmarkQuota charges one API key's quota windows (never spent):
// windows=1 is a daily quota alone, windows=3 throttling, daily and monthly
// together, on one hot key and cycling through 10,000 keys.
func BenchmarkQuota(b *testing.B) {
	now := time.Now()
	names := []string{"throttling", "daily", "monthly"}
	ends := []time.Time{now.Add(time.Hour), ratelimit.DayEnd(now).Add(24 * time.Hour), ratelimit.MonthEnd(now)}
	for _, tc := range []struct {
		name          string
		windows, keys int
	}{{"windows=1", 1, 1}, {"windows=3", 3, 1}, {"windows=3/keys=10000", 3, 10_000}} {
		b.Run(tc.name, func(b *testing.B) {
			l := memory.New()
			ctx := context.Background()
			keys := make([]string, tc.keys)
			for k := range keys {
				keys[k] = fmt.Sprintf("apikey:key-%05d", k)
			}
			ws := make([]ratelimit.QuotaWindow, tc.windows)
			for w := range ws {
				ws[w] = ratelimit.QuotaWindow{Name: names[w], Max: 1 << 40, End: ends[w]}
			}
			used := make([]int64, tc.windows)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if ok, err := l.Consume(ctx, keys[i], ws, 1, used); err != nil || !ok {
					b.Fatal(ok, err)
				}
				if i++; i == len(keys) {
					i = 0
				}
			}
		})
	}
}

func TestQuotaConformanceOneShard(t *testing.T) {
	limitertest.RunQuotas(t, func(_ *testing.T, now func() time.Time) ratelimit.QuotaCounter {
		return memory.New(memory.WithClock(now), memory.WithShards(1))
	})
}

func TestQuotaNoAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	l := memory.New()
	ctx := context.Background()
	now := time.Now()
	ws := []ratelimit.QuotaWindow{
		{Name: "throttling", Max: 1 << 40, End: now.Add(time.Hour)},
		{Name: "daily", Max: 1 << 40, End: now.Add(2 * time.Hour)},
		{Name: "monthly", Max: 1 << 40, End: now.Add(3 * time.Hour)},
	}
	used := make([]int64, len(ws))
	_, err := l.Consume(ctx, "apikey-auth:hot", ws, 1, used)
	require.NoError(t, err)
	require.Zero(t, testing.AllocsPerRun(1000, func() {
		_, _ = l.Consume(ctx, "apikey-auth:hot", ws, 1, used)
	}), "a charge")
	require.Zero(t, testing.AllocsPerRun(1000, func() {
		ws[0].End = ws[0].End.Add(time.Nanosecond) // the next window
		_, _ = l.Consume(ctx, "apikey-auth:hot", ws, 1, used)
	}), "a window starting again")
}
