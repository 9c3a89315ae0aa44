package memory_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehousehq/gatehouse/ratelimit"
	"github.com/gatehousehq/gatehouse/ratelimit/memory"
)

// A limit the hot-key benchmarks never exhaust, so every decision is allowed
// and writes.
var benchLimit = ratelimit.Limit{Count: 1 << 40, Window: time.Hour}

// A limit that keeps each of many keys live (not idle, so not swept) for
// hours while it is hit a few times: one request per hour.
var liveLimit = ratelimit.Limit{Count: 1 << 20, Window: (1 << 20) * time.Hour}

func BenchmarkAllowHotKey(b *testing.B) {
	l := memory.New()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Allow(ctx, "consumer-hot", benchLimit, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAllowHotKeyExactClock is BenchmarkAllowHotKey reading the
// monotonic clock on every decision (WithClockResolution(0)): the difference
// is what the default clock saves.
func BenchmarkAllowHotKeyExactClock(b *testing.B) {
	l := memory.New(memory.WithClockResolution(0))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Allow(ctx, "consumer-hot", benchLimit, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAllowRefused has one key whose limit is spent: every decision is
// a refusal.
func BenchmarkAllowRefused(b *testing.B) {
	l := memory.New()
	ctx := context.Background()
	spent := ratelimit.Limit{Count: 1, Window: time.Hour}
	if d, err := l.Allow(ctx, "consumer-spent", spent, 1); err != nil || !d.Allowed {
		b.Fatal(d, err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if d, err := l.Allow(ctx, "consumer-spent", spent, 1); err != nil || d.Allowed {
			b.Fatal(d, err)
		}
	}
}

func millionKeys() []string {
	keys := make([]string, 1_000_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("consumer-%08d", i)
	}
	return keys
}

// BenchmarkAllowMillionKeys cycles through 1M live keys: cache misses, the
// realistic worst case. The first pass inserts them; bytes/key is the heap
// they hold afterwards.
func BenchmarkAllowMillionKeys(b *testing.B) {
	keys := millionKeys()
	perKey := bytesPerKey(b, keys)
	l := memory.New()
	ctx := context.Background()
	for _, k := range keys {
		_, _ = l.Allow(ctx, k, liveLimit, 1)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := l.Allow(ctx, keys[i], liveLimit, 1); err != nil {
			b.Fatal(err)
		}
		if i++; i == len(keys) {
			i = 0
		}
	}
	b.ReportMetric(perKey, "bytes/key")
}

// BenchmarkAllowParallel spreads 1M keys over all goroutines.
func BenchmarkAllowParallel(b *testing.B) {
	keys := millionKeys()
	l := memory.New()
	ctx := context.Background()
	for _, k := range keys {
		_, _ = l.Allow(ctx, k, liveLimit, 1)
	}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1)*7919) % len(keys)
		for pb.Next() {
			if _, err := l.Allow(ctx, keys[i], liveLimit, 1); err != nil {
				b.Error(err)
				return
			}
			if i++; i == len(keys) {
				i = 0
			}
		}
	})
}

// BenchmarkAllowParallelHotKey has every goroutine on one key: one shard's
// mutex is the bottleneck, by design (the decisions must be serialised).
func BenchmarkAllowParallelHotKey(b *testing.B) {
	l := memory.New()
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Allow(ctx, "consumer-hot", benchLimit, 1); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAllowAll charges 2 and 4 keys together (a per-consumer limit and
// its group's, say), every call allowed.
func BenchmarkAllowAll(b *testing.B) {
	for _, size := range []int{2, 4} {
		b.Run(fmt.Sprint("keys=", size), func(b *testing.B) {
			l := memory.New()
			ctx := context.Background()
			reqs := make([]ratelimit.Request, size)
			for i := range reqs {
				reqs[i] = ratelimit.Request{Key: fmt.Sprint("consumer-hot-", i), Limit: benchLimit}
			}
			out := make([]ratelimit.Decision, size)
			b.ReportAllocs()
			for b.Loop() {
				ok, err := l.AllowAll(ctx, reqs, 1, out)
				if err != nil || !ok {
					b.Fatal(ok, err)
				}
			}
		})
	}
}
